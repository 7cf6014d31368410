//! Chunks: an image cut into bands of full rows (the unit of work everywhere: a *chunk*), each owned by a
//! chunk worker that loads its pixels lazily for every plane it is asked about and answers partial results.
//! Rows are the cut because a FITS data unit stores full rows one after another (a chunk of one plane is one
//! contiguous read) and full-resolution tiles (256 rows) never straddle two chunks.
//!
//! The file layer sees only the [`Chunks`] handle and the intents of [`intent`]; requests and partials are
//! plain serialisable data with a `u64` generation, so a remote implementation can stand behind the same
//! handle. The process-wide [`store::ChunkStore`] shares loaded pixels between sessions.

pub mod boxes;
mod handle;
pub mod intent;
pub mod overlay;
pub mod store;
mod worker;

pub use handle::{rows_per_chunk, Chunks};
pub use worker::{ChunkAccess, ChunkRequest};

use serde::{Deserialize, Serialize};

use crate::image::ImageError;

/// A stream of requests that supersede one another (a region's statistics, the cursor's profile, the current
/// plane's tiles): cancelling a lane drops its older generations. The file layer names its lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lane(pub u64);

/// Why a chunk could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("superseded by a newer request")]
    Stale,
    #[error("chunk worker stopped: {0}")]
    Stopped(String),
    #[error("request sent to the wrong chunk: {0}")]
    Misrouted(String),
}
