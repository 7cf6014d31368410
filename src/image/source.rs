//! The pixel-source seam: [`PixelSource`] is what every image format gives the layers above (shape and axes,
//! identity, native layout, rows, hyperslabs, spectra at a pixel, stored mips and statistics, beams). One
//! implementation per format lives in its own file (`fits_source`, `hdf5_source`, `memory`); nothing above the
//! trait knows which format it reads.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::computed::axis_roles;
use super::header::Header;
use super::spectral::{self, SpectralOrder};
use super::ImageError;
use crate::analysis::polarization::ComputedStokes;
use crate::analysis::stats::BasicStats;

/// A plane of an image: (channel, Stokes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Plane {
    pub channel: usize,
    pub stokes: usize,
}

impl Plane {
    pub const FIRST: Plane = Plane {
        channel: 0,
        stokes: 0,
    };

    /// The computed Stokes parameter this plane shows (Stokes index 13 … 17, as the ICD numbers them), if any.
    pub fn computed(self) -> Option<ComputedStokes> {
        i64::try_from(self.stokes)
            .ok()
            .and_then(ComputedStokes::from_index)
    }
}

/// Where a plane's pixels sit in the full shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// FITS order (NAXIS1 first).
    pub dims: Vec<usize>,
    pub width: usize,
    pub height: usize,
    pub depth: usize,
    pub stokes: usize,
    /// 1-based FITS axis numbers of the channel and Stokes axes (0: none).
    pub depth_axis: usize,
    pub stokes_axis: usize,
    /// The FITS Stokes code of each Stokes index (I = 1, Q = 2, U = 3, V = 4; RR = -1 … YX = -8), from the
    /// Stokes axis's values; `[1]` for an image without a Stokes axis.
    pub stokes_codes: Vec<i32>,
}

impl ImageShape {
    /// The shape of an image with axis lengths `dims` (FITS order) described by `header`; the first two axes
    /// must be the image axes.
    pub fn new(dims: Vec<usize>, header: &Header) -> Result<ImageShape, ImageError> {
        if !(2..=4).contains(&dims.len()) {
            return Err(ImageError::NotAnImage(format!(
                "{} axes; 2 to 4 are supported",
                dims.len()
            )));
        }
        if dims.contains(&0) {
            return Err(ImageError::NotAnImage("an axis has length 0".into()));
        }
        let roles = axis_roles(header, &dims);
        if (roles.render_x, roles.render_y) != (1, 2) {
            return Err(ImageError::NotAnImage(
                "the first two axes are not the image axes (a Stokes axis first is not supported)"
                    .into(),
            ));
        }
        let len = |axis: i32| {
            usize::try_from(axis - 1)
                .ok()
                .and_then(|i| dims.get(i))
                .copied()
                .unwrap_or(1)
        };
        let stokes = if roles.stokes > 0 {
            len(roles.stokes)
        } else {
            1
        };
        let wcs = super::wcs::Wcs::from_keywords(header, dims.len());
        let stokes_codes = match wcs.stokes_codes(stokes) {
            Some(codes) if roles.stokes > 0 => codes,
            _ if roles.stokes > 0 => (1..=stokes as i32).collect(),
            _ => vec![1],
        };
        let shape = ImageShape {
            width: dims[0],
            height: dims[1],
            depth: if roles.depth > 0 { len(roles.depth) } else { 1 },
            stokes,
            depth_axis: roles.depth.max(0) as usize,
            stokes_axis: roles.stokes.max(0) as usize,
            stokes_codes,
            dims,
        };
        shape
            .total_len()
            .ok_or_else(|| ImageError::NotAnImage("the image is too large to address".into()))?;
        Ok(shape)
    }

    /// Elements in one plane.
    pub fn plane_len(&self) -> usize {
        self.width * self.height
    }

    /// Elements in the whole image, if addressable.
    pub fn total_len(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |a, n| a.checked_mul(*n))
    }

    /// Index of the plane (channel, stokes) among all planes in FITS storage order (x fastest, then y, then
    /// the remaining axes in order).
    pub fn plane_index(&self, plane: Plane) -> usize {
        let stride = |axis: usize| {
            self.dims[2..axis.saturating_sub(1).max(2)]
                .iter()
                .product::<usize>()
        };
        let mut index = 0;
        if self.depth_axis >= 3 {
            index += plane.channel * stride(self.depth_axis);
        }
        if self.stokes_axis >= 3 {
            index += plane.stokes * stride(self.stokes_axis);
        }
        index
    }

    /// The Stokes index holding FITS Stokes code `code`, if the image has it.
    pub fn stokes_index(&self, code: i32) -> Option<usize> {
        self.stokes_codes.iter().position(|c| *c == code)
    }

    /// The stored Stokes indices a computed parameter is made from, in [`ComputedStokes::needs`] order, if the
    /// image has all of them.
    pub fn components(&self, kind: ComputedStokes) -> Option<Vec<usize>> {
        kind.needs()
            .iter()
            .map(|code| self.stokes_index(*code))
            .collect()
    }

    /// The computed parameters this image can show.
    pub fn computed_stokes(&self) -> Vec<ComputedStokes> {
        ComputedStokes::ALL
            .into_iter()
            .filter(|c| self.components(*c).is_some())
            .collect()
    }

    /// Whether `plane` exists in this image: a stored Stokes index, or a computed parameter it has the
    /// components of.
    pub fn contains(&self, plane: Plane) -> bool {
        plane.channel < self.depth
            && (plane.stokes < self.stokes
                || plane
                    .computed()
                    .is_some_and(|c| self.components(c).is_some()))
    }

    /// The computed parameter `plane` shows, if it is one (and not a stored Stokes index).
    pub fn computed(&self, plane: Plane) -> Option<ComputedStokes> {
        plane.computed().filter(|_| plane.stokes >= self.stokes)
    }

    /// The stored planes a plane is made of: itself, or a computed parameter's components.
    pub fn sources_of(&self, plane: Plane) -> Vec<Plane> {
        match self.computed(plane).and_then(|c| self.components(c)) {
            Some(indices) => indices
                .into_iter()
                .map(|stokes| Plane {
                    channel: plane.channel,
                    stokes,
                })
                .collect(),
            _ => vec![plane],
        }
    }

    /// Whether `plane` is stored (a Stokes index of the file, not a computed parameter).
    pub fn stores(&self, plane: Plane) -> bool {
        plane.channel < self.depth && plane.stokes < self.stokes
    }

    /// Checks that rows `rows` of stored plane `plane` exist (what a source may be asked to read).
    pub fn check(&self, plane: Plane, rows: &Range<usize>) -> Result<(), ImageError> {
        if !self.stores(plane) || rows.start > rows.end || rows.end > self.height {
            return Err(ImageError::OutOfRange(format!(
                "channel {}, Stokes {}, rows {}..{} of a {}x{}x{}x{} image",
                plane.channel,
                plane.stokes,
                rows.start,
                rows.end,
                self.width,
                self.height,
                self.depth,
                self.stokes
            )));
        }
        Ok(())
    }
}

/// Which version of which image a source reads: the key of its blocks in the shared block store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SourceIdentity {
    /// One HDU of one version of a file on disk.
    File {
        path: PathBuf,
        size: u64,
        modified_ns: u128,
        hdu: String,
    },
    /// An image made by the server (moments, PV, fitting models, expressions): unique in this process.
    Generated(u64),
}

impl SourceIdentity {
    /// The identity of HDU `hdu` of the file at `path` as it is now.
    pub fn of_file(path: &Path, hdu: &str) -> Result<SourceIdentity, ImageError> {
        let path = path.canonicalize().map_err(ImageError::Io)?;
        let meta = std::fs::metadata(&path).map_err(ImageError::Io)?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok(SourceIdentity::File {
            path,
            size: meta.len(),
            modified_ns,
            hdu: hdu.to_string(),
        })
    }

    /// A new identity for a generated image.
    pub fn generated() -> SourceIdentity {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        SourceIdentity::Generated(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// The file behind the source, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            SourceIdentity::File { path, .. } => Some(path),
            SourceIdentity::Generated(_) => None,
        }
    }
}

/// How the format stores pixels, so work can be cut along its grain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Whole rows one after another (FITS data units, in-memory images): any run of rows is one read.
    Rows,
    /// Rectangular chunks of `width`×`height` pixels of a plane (HDF5 chunked datasets; later zarr chunks and
    /// CASA tiles): reads should cover whole chunk rows.
    Grid { width: usize, height: usize },
}

/// What kind of image the file browser and the OPEN_FILE_ACK should call a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Fits,
    Hdf5,
    /// Made by the server; carta_backend reports these as CASA images.
    Generated,
}

/// A restoring beam in the units the ICD sends: axes in arcsec, position angle in degrees. Channel and Stokes
/// are -1 for a beam that applies to the whole image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beam {
    pub channel: i32,
    pub stokes: i32,
    pub major_arcsec: f64,
    pub minor_arcsec: f64,
    pub pa_deg: f64,
}

/// Statistics known for a plane or a cube without a pass over its pixels (IDIA HDF5 `Statistics/XY` and
/// `Statistics/XYZ`, or the spectral-order index of a FITS cube).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStatistics {
    pub stats: BasicStats,
    /// Counts over [min, max] in `int(max(sqrt(W·H), 2))` bins, when stored.
    pub histogram: Option<Vec<i64>>,
}

/// What every source knows about its image, whatever the format: header, shape and axes, identity, kind and
/// where in its file the image is.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    pub header: Header,
    pub shape: ImageShape,
    pub identity: SourceIdentity,
    pub kind: SourceKind,
    /// The HDU (FITS extension number, HDF5 group) the image comes from; empty for generated images.
    pub hdu: String,
    pub extname: Option<String>,
}

/// An opened image. Implementations are immutable and shared (`Arc`) between the file actor and its chunk
/// workers, so every method takes `&self` and may be called from several threads at once.
pub trait PixelSource: Send + Sync {
    fn info(&self) -> &SourceInfo;

    fn shape(&self) -> &ImageShape {
        &self.info().shape
    }
    fn header(&self) -> &Header {
        &self.info().header
    }
    fn identity(&self) -> &SourceIdentity {
        &self.info().identity
    }
    fn kind(&self) -> SourceKind {
        self.info().kind
    }
    fn hdu(&self) -> &str {
        &self.info().hdu
    }
    fn extname(&self) -> Option<&str> {
        self.info().extname.as_deref()
    }
    fn layout(&self) -> Layout {
        Layout::Rows
    }

    /// Rows `rows` of `plane`, full width, row-major, blanks as NaN. Every value is shown to `visit` once, in
    /// order, in pieces while they are still in cache (a load-time statistics pass then costs no extra trip
    /// through memory).
    fn read_rows(
        &self,
        plane: Plane,
        rows: Range<usize>,
        visit: &mut dyn FnMut(&[f32]),
    ) -> Result<Vec<f32>, ImageError>;

    /// Columns `xs` of rows `ys` of `plane`, row-major.
    fn read_hyperslab(
        &self,
        plane: Plane,
        xs: Range<usize>,
        ys: Range<usize>,
    ) -> Result<Vec<f32>, ImageError> {
        let width = self.shape().width;
        if xs.start > xs.end || xs.end > width {
            return Err(ImageError::OutOfRange(format!(
                "columns {}..{} of {width}",
                xs.start, xs.end
            )));
        }
        let rows = self.read_rows(plane, ys, &mut |_| {})?;
        if xs == (0..width) {
            return Ok(rows);
        }
        Ok(rows
            .chunks_exact(width.max(1))
            .flat_map(|row| row[xs.clone()].iter().copied())
            .collect())
    }

    /// The values of pixel (x, y) in channels `channels` of one Stokes (a cursor spectral profile).
    fn read_spectrum(
        &self,
        x: usize,
        y: usize,
        stokes: usize,
        channels: Range<usize>,
    ) -> Result<Vec<f32>, ImageError>;

    /// A hint that rows `rows` of `plane` will be read soon; the default ignores it.
    fn will_read(&self, _plane: Plane, _rows: Range<usize>) {}

    /// The downsampled levels the format stores (HDF5 `DATA_XY_<m>`), ascending; empty when none.
    fn mip_levels(&self) -> &[usize] {
        &[]
    }

    /// Columns `xs` and rows `ys`, in mip pixels, of stored level `mip` of `plane`.
    fn read_mip(
        &self,
        mip: usize,
        _plane: Plane,
        _xs: Range<usize>,
        _ys: Range<usize>,
    ) -> Result<Vec<f32>, ImageError> {
        Err(ImageError::OutOfRange(format!("no stored mip {mip}")))
    }

    /// Statistics the format stores for `plane`, if it stores any.
    fn stored_statistics(&self, _plane: Plane) -> Option<StoredStatistics> {
        None
    }

    /// Statistics the format stores for the whole cube of one Stokes, if it stores any.
    fn stored_cube_statistics(&self, _stokes: usize) -> Option<StoredStatistics> {
        None
    }

    /// The spectral-order copy the format stores (IDIA HDF5 `SwizzledData`), if any.
    fn stored_spectral_order(&self) -> Option<Arc<dyn SpectralOrder>> {
        None
    }

    /// The restoring beams (one for the whole image, or one per channel and Stokes); empty without a beam.
    fn beams(&self) -> Vec<Beam> {
        super::beams::from_header(self.header())
    }
}

impl dyn PixelSource + '_ {
    /// Rows `rows` of `plane` without a visitor.
    pub fn rows(&self, plane: Plane, rows: Range<usize>) -> Result<Vec<f32>, ImageError> {
        self.read_rows(plane, rows, &mut |_| {})
    }

    /// The image in spectral order: the format's own copy, else the spectral-order index once it is ready.
    pub fn spectral_order(&self) -> Option<Arc<dyn SpectralOrder>> {
        self.stored_spectral_order().or_else(|| {
            spectral::ready(self.identity()).map(|index| index as Arc<dyn SpectralOrder>)
        })
    }

    /// A stored plane's statistics without reading it: stored by the format, or taken by the index.
    pub fn known_statistics(&self, plane: Plane) -> Option<StoredStatistics> {
        if !self.shape().stores(plane) {
            return None;
        }
        self.stored_statistics(plane).or_else(|| {
            spectral::ready(self.identity()).and_then(|index| index.plane(plane).cloned())
        })
    }

    /// One Stokes's cube statistics without reading it: stored by the format, or taken by the index.
    pub fn known_cube_statistics(&self, stokes: usize) -> Option<StoredStatistics> {
        if stokes >= self.shape().stokes {
            return None;
        }
        self.stored_cube_statistics(stokes).or_else(|| {
            spectral::ready(self.identity()).and_then(|index| index.cube(stokes).cloned())
        })
    }
}
