//! The file browser's view of the disk: resolving client paths (`$BASE`, relative folders) inside the top-level
//! folder, refusing anything that escapes it, and listing folders. Knows nothing about image contents beyond the
//! type sniffing it asks `image::` for.

mod confine;
mod listing;

pub use confine::{Confinement, ResolvedPath};
pub use listing::{list_directory, ListOptions, Listing};

/// What can go wrong resolving or listing a client path. Messages never reveal anything about paths outside
/// the top-level folder.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("forbidden path '{0}': it is outside the top-level folder")]
    Forbidden(String),
    #[error("'{0}' does not exist")]
    NotFound(String),
    #[error("'{0}' is not a folder")]
    NotAFolder(String),
    #[error("'{0}' is not a file")]
    NotAFile(String),
    #[error("cannot read '{path}': {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("listing of '{0}' was cancelled")]
    Cancelled(String),
}

impl FilesError {
    pub(crate) fn io(shown: &str, source: std::io::Error) -> FilesError {
        if source.kind() == std::io::ErrorKind::NotFound {
            FilesError::NotFound(shown.to_string())
        } else {
            FilesError::Io {
                path: shown.to_string(),
                source,
            }
        }
    }
}
