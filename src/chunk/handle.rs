//! [`Chunks`]: the one handle a file holds on its image's chunks. It knows the layout (how the image is cut
//! into chunks of full rows, aligned to the format's grain) and sends each intent to the chunks whose rows it
//! reads, answering with their partials in chunk order. Staleness is a `u64` generation per lane carried in
//! every request plus a cancel broadcast ([`Chunks::cancel`]); this local implementation broadcasts through a
//! board its workers read, so cancelled work queued in a mailbox is dropped before it touches pixels.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use actix::{Actor, Addr};
use futures_util::future::join_all;
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::intent::Intent;
use super::worker::{ChunkRequest, ChunkWorker};
use super::{ChunkError, Lane};
use crate::image::{ImageShape, Layout, PixelSource};
use crate::runtime::Runtime;

/// Bytes of one plane a chunk aims to hold.
const TARGET_CHUNK_BYTES: usize = 4 << 20;

/// Tile rows at full resolution (tiles must never straddle two chunks).
const TILE_ROWS: usize = 256;

/// Rows per chunk: a multiple of `align` holding about [`TARGET_CHUNK_BYTES`] of one plane.
pub fn rows_per_chunk(width: usize, height: usize, align: usize) -> usize {
    let row_bytes = (width * 4).max(1);
    let units = (TARGET_CHUNK_BYTES / (row_bytes * align)).max(1);
    (units * align)
        .min(height.div_ceil(align) * align)
        .max(align)
}

/// The chunk alignment for a layout: tile rows, or the format's grid rows when those are whole tile rows.
fn alignment(layout: Layout) -> usize {
    match layout {
        Layout::Grid { height, .. } if height >= TILE_ROWS && height % TILE_ROWS == 0 => height,
        _ => TILE_ROWS,
    }
}

/// Which generations of which lanes are cancelled: everything of a lane older than its floor.
#[derive(Debug, Default)]
pub(crate) struct CancelBoard {
    floors: Mutex<HashMap<Lane, u64>>,
}

impl CancelBoard {
    fn cancel(&self, lane: Lane, below: u64) {
        let mut floors = self.floors.lock().unwrap_or_else(|e| e.into_inner());
        let floor = floors.entry(lane).or_insert(0);
        *floor = (*floor).max(below);
    }

    pub(crate) fn is_stale(&self, lane: Lane, generation: u64) -> bool {
        let floors = self.floors.lock().unwrap_or_else(|e| e.into_inner());
        floors.get(&lane).is_some_and(|floor| generation < *floor)
    }
}

struct Inner {
    shape: ImageShape,
    rows_per_chunk: usize,
    workers: Vec<Addr<ChunkWorker>>,
    board: Arc<CancelBoard>,
}

/// The chunks of one open image. Cloning shares them; they stop when the last clone is dropped.
#[derive(Clone)]
pub struct Chunks(Arc<Inner>);

impl Chunks {
    /// Cuts `source` into chunks and starts a local worker per chunk, spread over the runtime's chunk arbiters.
    pub fn start(source: Arc<dyn PixelSource>, runtime: &Runtime) -> Chunks {
        let shape = source.shape().clone();
        let rows = rows_per_chunk(shape.width, shape.height, alignment(source.layout()));
        let board = Arc::new(CancelBoard::default());
        let workers = (0..shape.height.div_ceil(rows))
            .map(|i| {
                let row0 = i * rows;
                let worker = ChunkWorker::new(
                    source.clone(),
                    row0..(row0 + rows).min(shape.height),
                    board.clone(),
                    runtime.counters.clone(),
                );
                ChunkWorker::start_in_arbiter(&runtime.chunk_arbiter(i), move |_| worker)
            })
            .collect();
        Chunks(Arc::new(Inner {
            shape,
            rows_per_chunk: rows,
            workers,
            board,
        }))
    }

    pub fn shape(&self) -> &ImageShape {
        &self.0.shape
    }

    /// How many chunks the image is cut into.
    pub fn len(&self) -> usize {
        self.0.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.workers.is_empty()
    }

    /// The chunks holding rows `rows`.
    fn chunks_for(&self, rows: Range<usize>) -> Range<usize> {
        let n = self.0.workers.len();
        if rows.is_empty() {
            return 0..0;
        }
        let first = (rows.start / self.0.rows_per_chunk).min(n);
        let last = rows.end.div_ceil(self.0.rows_per_chunk).min(n);
        first..last.max(first)
    }

    /// Sends `intent` to every chunk whose rows it reads and collects their partials, in chunk order; the
    /// first error wins. The requests go out now; the future only waits for the answers.
    pub fn ask<I: Intent>(
        &self,
        lane: Lane,
        generation: u64,
        intent: I,
    ) -> impl Future<Output = Result<Vec<I::Partial>, ChunkError>> + use<I> {
        let targets = self.chunks_for(intent.rows(&self.0.shape));
        let requests: Vec<_> = targets
            .map(|chunk| {
                self.0.workers[chunk].send(ChunkRequest {
                    chunk,
                    lane,
                    generation,
                    intent: intent.clone(),
                })
            })
            .collect();
        async move {
            join_all(requests)
                .await
                .into_iter()
                .map(|answer| answer.map_err(|e| ChunkError::Stopped(e.to_string()))?)
                .collect()
        }
    }

    /// Like [`Chunks::ask`], but merges each partial into `init` with `merge` as it arrives, in any order,
    /// so only the partials not merged yet are held at once (histograms of many bins over many chunks).
    pub fn fold<I, T, F>(
        &self,
        lane: Lane,
        generation: u64,
        intent: I,
        init: T,
        mut merge: F,
    ) -> impl Future<Output = Result<T, ChunkError>> + use<I, T, F>
    where
        I: Intent,
        T: 'static,
        F: FnMut(T, I::Partial) -> T + 'static,
    {
        let targets = self.chunks_for(intent.rows(&self.0.shape));
        let mut requests: FuturesUnordered<_> = targets
            .map(|chunk| {
                self.0.workers[chunk].send(ChunkRequest {
                    chunk,
                    lane,
                    generation,
                    intent: intent.clone(),
                })
            })
            .collect();
        async move {
            let mut acc = init;
            while let Some(answer) = requests.next().await {
                acc = merge(
                    acc,
                    answer.map_err(|e| ChunkError::Stopped(e.to_string()))??,
                );
            }
            Ok(acc)
        }
    }

    /// Whether work of `lane` at `generation` has been cancelled (a newer generation superseded it).
    pub fn is_stale(&self, lane: Lane, generation: u64) -> bool {
        self.0.board.is_stale(lane, generation)
    }

    /// Cancels every request of `lane` older than `generation`, on every chunk at once.
    pub fn cancel(&self, lane: Lane, generation: u64) {
        self.0.board.cancel(lane, generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_align_to_tiles_or_the_format_grid() {
        assert_eq!(rows_per_chunk(1000, 100, 256), 256);
        assert_eq!(rows_per_chunk(20000, 20000, 256), 256);
        assert_eq!(rows_per_chunk(1024, 10000, 256), 1024);
        assert_eq!(alignment(Layout::Rows), 256);
        assert_eq!(
            alignment(Layout::Grid {
                width: 512,
                height: 512
            }),
            512
        );
        assert_eq!(
            alignment(Layout::Grid {
                width: 100,
                height: 100
            }),
            256
        );
    }

    #[test]
    fn cancelling_marks_older_generations_only() {
        let board = CancelBoard::default();
        let lane = Lane(7);
        assert!(!board.is_stale(lane, 0));
        board.cancel(lane, 3);
        assert!(board.is_stale(lane, 2));
        assert!(!board.is_stale(lane, 3));
        board.cancel(lane, 1);
        assert!(board.is_stale(lane, 2), "a floor never goes back");
        assert!(!board.is_stale(Lane(8), 0));
    }
}
