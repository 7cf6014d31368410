//! The one way in: [`open`] detects an image's format by content and returns its [`PixelSource`]. Folders are
//! accepted too, since CASA, MIRIAD and zarr images are folders; their readers come with later work, and until
//! then such a folder gets a clear refusal naming its kind.

use std::path::Path;
use std::sync::Arc;

use super::fits_source::FitsSource;
use super::hdf5_source::Hdf5Source;
use super::memory::MemoryImage;
use super::source::PixelSource;
use super::{detect, ImageError, ImageFormat};

/// Image formats stored as folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    Casa,
    Miriad,
    Zarr,
}

impl FolderKind {
    pub fn name(self) -> &'static str {
        match self {
            FolderKind::Casa => "CASA",
            FolderKind::Miriad => "MIRIAD",
            FolderKind::Zarr => "zarr",
        }
    }
}

/// The folder-image kind of a directory, by the items it holds.
pub fn detect_folder(path: &Path) -> Option<FolderKind> {
    let has = |name: &str| path.join(name).exists();
    if has("table.dat") && has("table.info") {
        Some(FolderKind::Casa)
    } else if has("header") && has("image") {
        Some(FolderKind::Miriad)
    } else if has("zarr.json") || has(".zgroup") || has(".zarray") || has(".zattrs") {
        Some(FolderKind::Zarr)
    } else {
        None
    }
}

/// Opens image HDU `hdu` ("" = the first image) of the file or folder at `path`.
pub fn open(path: &Path, hdu: &str) -> Result<Arc<dyn PixelSource>, ImageError> {
    if path.is_dir() {
        return Err(match detect_folder(path) {
            Some(kind) => ImageError::UnsupportedFolder(kind.name()),
            None => ImageError::NotAnImage("a folder that holds no image".into()),
        });
    }
    Ok(match detect(path).ok_or(ImageError::UnknownType)? {
        ImageFormat::Fits => Arc::new(FitsSource::open(path, hdu)?),
        ImageFormat::Hdf5 => Arc::new(Hdf5Source::open(path, hdu)?),
    })
}

/// A generated image as a source, for the same file-actor path as an opened file.
pub fn generated(image: MemoryImage) -> Arc<dyn PixelSource> {
    Arc::new(image)
}
