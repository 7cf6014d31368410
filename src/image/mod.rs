//! Images: the [`PixelSource`] trait with one implementation per format (FITS, IDIA HDF5, in-memory), the one
//! [`open`] that detects a format by content, FITS and HDF5 structure and headers, WCS, beams, and the
//! `FileInfo` / `FileInfoExtended` descriptions the file browser and OPEN_FILE_ACK show. Knows nothing about
//! actors or sessions.

pub mod beams;
pub mod computed;
pub mod fits;
pub mod fits_source;
pub mod format;
pub mod hdf5;
pub mod hdf5_source;
pub mod header;
mod info;
pub mod memory;
mod open;
pub mod projection;
pub mod source;
pub mod spectral;
pub mod wcs;

pub use info::{describe, extended_info, Description, ExtendedInfoInput};
pub use open::{detect_folder, generated, open, FolderKind};
pub use source::{
    Beam, ImageShape, Layout, PixelSource, Plane, SourceIdentity, SourceInfo, SourceKind,
    StoredStatistics,
};

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::protocol::pb::{self, FileType};

/// Why an image file could not be described or opened.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Io(#[source] std::io::Error),
    #[error("not a FITS file: {0}")]
    NotFits(String),
    #[error("truncated file: {0}")]
    Truncated(String),
    #[error("corrupt header: {0}")]
    Corrupt(String),
    #[error("HDU '{0}' does not exist")]
    NoSuchHdu(String),
    #[error("not an image: {0}")]
    NotAnImage(String),
    #[error("HDF5 error: {0}")]
    Hdf5(String),
    #[error("not a FITS or HDF5 image")]
    UnknownType,
    #[error("{0} images (folders) cannot be opened yet")]
    UnsupportedFolder(&'static str),
    #[error("out of range: {0}")]
    OutOfRange(String),
    #[error("cannot load pixels: {0}")]
    Load(String),
}

/// Image formats this server reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Fits,
    Hdf5,
}

impl ImageFormat {
    pub fn file_type(self) -> FileType {
        match self {
            ImageFormat::Fits => FileType::Fits,
            ImageFormat::Hdf5 => FileType::Hdf5,
        }
    }
}

fn is_gz_fits_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".fits.gz", ".fit.gz", ".fts.gz"]
        .iter()
        .any(|s| lower.ends_with(s))
}

/// The format by content: "SIMPLE" for FITS, the HDF5 signature, or gzip magic on a `.fits.gz` name.
pub fn detect(path: &Path) -> Option<ImageFormat> {
    let mut magic = [0u8; 8];
    let mut f = File::open(path).ok()?;
    let n = f.read(&mut magic).ok()?;
    let name = path.file_name()?.to_string_lossy();
    detect_bytes(&magic[..n], &name)
}

/// [`detect`] on the first bytes of a file called `name`.
pub fn detect_bytes(magic: &[u8], name: &str) -> Option<ImageFormat> {
    if magic.starts_with(b"SIMPLE") {
        Some(ImageFormat::Fits)
    } else if magic.starts_with(b"\x89HDF\r\n\x1a\n") {
        Some(ImageFormat::Hdf5)
    } else if magic.starts_with(&[0x1f, 0x8b]) && is_gz_fits_name(name) {
        Some(ImageFormat::Fits)
    } else {
        None
    }
}

/// The format by file name only (the file browser's "extension" filter mode).
pub fn by_extension(name: &str) -> Option<ImageFormat> {
    let lower = name.to_ascii_lowercase();
    if [".fits", ".fit", ".fts", ".fz"]
        .iter()
        .any(|s| lower.ends_with(s))
        || is_gz_fits_name(&lower)
    {
        Some(ImageFormat::Fits)
    } else if [".hdf5", ".h5"].iter().any(|s| lower.ends_with(s)) {
        Some(ImageFormat::Hdf5)
    } else {
        None
    }
}

/// The HDU list the file browser shows: image HDU numbers for FITS, top-level groups for HDF5. A file whose
/// structure cannot be read still gets `["0"]`, so it is listed and FILE_INFO can say what is wrong.
pub fn hdu_list(path: &Path, format: ImageFormat) -> Vec<String> {
    let list = match format {
        ImageFormat::Fits => fits::image_hdus(path),
        ImageFormat::Hdf5 => hdf5::hdu_names(path),
    };
    match list {
        Ok(l) if !l.is_empty() => l,
        _ => vec!["0".to_string()],
    }
}

/// A file's modification time in seconds since the epoch (0 when unknown).
pub fn modified_seconds(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The basic `FileInfo` of a file (name, type, size, date, HDUs).
pub fn basic_info(path: &Path, name: &str, format: Option<ImageFormat>) -> pb::FileInfo {
    let meta = std::fs::metadata(path).ok();
    let mut info = pb::FileInfo {
        name: name.to_string(),
        size: meta.as_ref().map(|m| m.len() as i64).unwrap_or(0),
        date: meta.as_ref().map(modified_seconds).unwrap_or(0),
        hdu_list: format.map(|f| hdu_list(path, f)).unwrap_or_default(),
        ..Default::default()
    };
    info.set_type(
        format
            .map(ImageFormat::file_type)
            .unwrap_or(FileType::Unknown),
    );
    info
}

/// `FileInfoExtended` for the requested HDU, or for every image HDU when `hdu` is empty (FITS), keyed by HDU.
pub fn file_info_extended(
    path: &Path,
    name: &str,
    hdu: &str,
) -> Result<HashMap<String, pb::FileInfoExtended>, ImageError> {
    let format = detect(path).ok_or(ImageError::UnknownType)?;
    let mut out = HashMap::new();
    match format {
        ImageFormat::Fits => {
            let hdus = fits::scan(path, usize::MAX)?;
            let chosen: Vec<&fits::Hdu> = if hdu.trim().is_empty() {
                hdus.iter().filter(|h| h.is_image()).collect()
            } else {
                vec![fits::select_hdu(&hdus, hdu)?]
            };
            if chosen.is_empty() {
                return Err(ImageError::NotAnImage("the file has no image HDU".into()));
            }
            for h in chosen {
                let key = h.index.to_string();
                let input = ExtendedInfoInput {
                    name,
                    hdu: &key,
                    extname: h.extname(),
                    header: &h.header,
                    shape: &h.shape,
                    has_mipmaps: false,
                };
                out.insert(key.clone(), extended_info(&input));
            }
        }
        ImageFormat::Hdf5 => {
            let image = hdf5::read_image(path, hdu)?;
            let input = ExtendedInfoInput {
                name,
                hdu: &image.hdu,
                extname: None,
                header: &image.header,
                shape: &image.shape,
                has_mipmaps: image.has_mipmaps,
            };
            out.insert(image.hdu.clone(), extended_info(&input));
        }
    }
    Ok(out)
}
