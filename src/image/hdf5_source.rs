//! IDIA-schema HDF5 images as a [`PixelSource`]: hyperslabs of `DATA` (stored slowest axis first, the reverse
//! of FITS order), the stored mip levels `MipMaps/DATA/DATA_XY_<m>`, and the stored per-plane statistics
//! `Statistics/XY` and per-cube `Statistics/XYZ`, and the spectral-order copy `SwizzledData/ZYX` (`ZYXW`) behind
//! the [`SpectralOrder`] seam. The dataset's chunk shape is its native layout.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hdf5::{Hyperslab, Selection, SliceOrIndex};

use super::hdf5 as h5;
use super::source::{
    ImageShape, Layout, PixelSource, Plane, SourceIdentity, SourceInfo, SourceKind,
    StoredStatistics,
};
use super::spectral::{Run, RunVisitor, SpectralOrder};
use super::ImageError;
use crate::analysis::stats::BasicStats;

/// One HDU group of an IDIA HDF5 file, opened.
pub struct Hdf5Source {
    info: SourceInfo,
    path: PathBuf,
    mips: Vec<usize>,
    layout: Layout,
    swizzled: Option<Arc<dyn SpectralOrder>>,
}

/// `SwizzledData/ZYX` (3D) or `ZYXW` (4D): `[stokes][x][y][channel]`, channels fastest.
struct Swizzled {
    path: PathBuf,
    hdu: String,
    name: &'static str,
    four_d: bool,
    /// The file and where the values start, when the dataset is contiguous, unfiltered little-endian float32
    /// (what fits2idia writes): then columns are read with positioned reads, which run in parallel (the HDF5
    /// library serialises all its calls in a process).
    direct: Option<(std::fs::File, u64)>,
    /// Width, height and depth, to address `direct`.
    dims: (usize, usize, usize),
}

impl Swizzled {
    /// Column `x` of Stokes `stokes`, rows `ys`, every channel, read straight from the file.
    fn read_column(
        &self,
        file: &std::fs::File,
        start: u64,
        stokes: usize,
        x: usize,
        ys: &Range<usize>,
        buffer: &mut Vec<f32>,
    ) -> Result<(), ImageError> {
        use std::os::unix::fs::FileExt;
        let (w, h, d) = self.dims;
        let first = ((stokes * w + x) * h + ys.start) * d;
        let len = ys.len() * d;
        buffer.resize(len, 0.0);
        file.read_exact_at(
            super::spectral::bytes_of_mut(buffer),
            start + (first as u64) * 4,
        )
        .map_err(ImageError::Io)?;
        if cfg!(target_endian = "big") {
            for v in buffer.iter_mut() {
                *v = f32::from_bits(v.to_bits().swap_bytes());
            }
        }
        Ok(())
    }
}

impl SpectralOrder for Swizzled {
    fn visit(
        &self,
        stokes: usize,
        xs: Range<usize>,
        ys: Range<usize>,
        channels: Range<usize>,
        visit: &mut RunVisitor<'_>,
    ) -> Result<(), ImageError> {
        if xs.is_empty() || ys.is_empty() || channels.is_empty() {
            return Ok(());
        }
        let (w, h, d) = self.dims;
        if let Some((file, start)) = &self.direct {
            if xs.end > w || ys.end > h || channels.end > d || (!self.four_d && stokes > 0) {
                return Err(ImageError::OutOfRange(format!(
                    "columns {}..{}, rows {}..{}, channels {}..{}",
                    xs.start, xs.end, ys.start, ys.end, channels.start, channels.end
                )));
            }
            let mut buffer = Vec::new();
            for x in xs {
                self.read_column(file, *start, stokes, x, &ys, &mut buffer)?;
                visit(&Run {
                    x,
                    y: ys.start,
                    along_x: false,
                    c0: channels.start,
                    channels: channels.len(),
                    stride: d,
                    offset: channels.start,
                    values: &buffer,
                });
            }
            return Ok(());
        }
        let mut parts = Vec::with_capacity(4);
        if self.four_d {
            parts.push(SliceOrIndex::Index(stokes));
        } else if stokes > 0 {
            return Err(ImageError::OutOfRange(format!("Stokes {stokes}")));
        }
        parts.push(SliceOrIndex::from(xs.clone()));
        parts.push(SliceOrIndex::from(ys.clone()));
        parts.push(SliceOrIndex::from(channels.clone()));
        let values = h5::read_selection(
            &self.path,
            &self.hdu,
            self.name,
            Selection::from(Hyperslab::from(parts)),
        )?;
        // One run per column: its rows, channels fastest.
        let (ny, nz) = (ys.len(), channels.len());
        for (i, column) in values.chunks_exact(ny * nz).enumerate() {
            visit(&Run {
                x: xs.start + i,
                y: ys.start,
                along_x: false,
                c0: channels.start,
                channels: nz,
                stride: nz,
                offset: 0,
                values: column,
            });
        }
        Ok(())
    }
}

impl Hdf5Source {
    /// Opens HDU group `hdu` ("" = "0") of an IDIA HDF5 file.
    pub fn open(path: &Path, hdu: &str) -> Result<Hdf5Source, ImageError> {
        let image = h5::read_image(path, hdu)?;
        let shape = ImageShape::new(image.shape.clone(), &image.header)?;
        let mips = h5::mip_levels(path, &image.hdu)?;
        let layout = match h5::chunk_shape(path, &image.hdu, h5::DATA)?.as_deref() {
            Some([.., h, w]) if *h > 0 && *w > 0 => Layout::Grid {
                width: *w,
                height: *h,
            },
            _ => Layout::Rows,
        };
        // The copy is a spectral one only when the third axis is the channel axis.
        let (name, four_d) = match shape.dims.len() {
            3 => ("SwizzledData/ZYX", false),
            _ => ("SwizzledData/ZYXW", true),
        };
        let expected: Vec<usize> = match shape.dims.as_slice() {
            [w, h, d] => vec![*w, *h, *d],
            [w, h, d, s] => vec![*s, *w, *h, *d],
            _ => Vec::new(),
        };
        let swizzled = (shape.depth > 1
            && shape.depth_axis == 3
            && h5::dataset_shape(path, &image.hdu, name).ok().flatten() == Some(expected))
        .then(|| {
            let direct = h5::contiguous_f32_offset(path, &image.hdu, name)
                .and_then(|offset| Some((std::fs::File::open(path).ok()?, offset)));
            Arc::new(Swizzled {
                path: path.to_path_buf(),
                hdu: image.hdu.clone(),
                name,
                four_d,
                direct,
                dims: (shape.width, shape.height, shape.depth),
            }) as Arc<dyn SpectralOrder>
        });
        Ok(Hdf5Source {
            swizzled,
            info: SourceInfo {
                identity: SourceIdentity::of_file(path, &image.hdu)?,
                shape,
                hdu: image.hdu,
                header: image.header,
                kind: SourceKind::Hdf5,
                extname: None,
            },
            path: path.to_path_buf(),
            mips,
            layout,
        })
    }

    /// The selection of columns `xs`, rows `ys` of `plane`.
    fn hyperslab(&self, xs: Range<usize>, ys: Range<usize>, plane: Plane) -> Selection {
        let parts: Vec<SliceOrIndex> = (1..=self.info.shape.dims.len())
            .rev()
            .map(|axis| match axis {
                1 => SliceOrIndex::from(xs.clone()),
                2 => SliceOrIndex::from(ys.clone()),
                a if a == self.info.shape.depth_axis => SliceOrIndex::Index(plane.channel),
                a if a == self.info.shape.stokes_axis => SliceOrIndex::Index(plane.stokes),
                _ => SliceOrIndex::Index(0),
            })
            .collect();
        Selection::from(Hyperslab::from(parts))
    }

    /// Position of `plane` in the `Statistics/XY` arrays (shaped like the axes after the first two).
    fn statistics_index(&self, plane: Plane) -> usize {
        let dims = &self.info.shape.dims;
        let along = |axis: usize| match axis {
            a if a == self.info.shape.depth_axis => plane.channel,
            a if a == self.info.shape.stokes_axis => plane.stokes,
            _ => 0,
        };
        // Slowest axis first: the last FITS axis is the outermost.
        (3..=dims.len())
            .rev()
            .fold(0, |index, axis| index * dims[axis - 1] + along(axis))
    }

    fn check_columns(&self, xs: &Range<usize>) -> Result<(), ImageError> {
        if xs.start > xs.end || xs.end > self.info.shape.width {
            return Err(ImageError::OutOfRange(format!(
                "columns {}..{} of {}",
                xs.start, xs.end, self.info.shape.width
            )));
        }
        Ok(())
    }
}

impl PixelSource for Hdf5Source {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn layout(&self) -> Layout {
        self.layout
    }

    fn read_rows(
        &self,
        plane: Plane,
        rows: Range<usize>,
        visit: &mut dyn FnMut(&[f32]),
    ) -> Result<Vec<f32>, ImageError> {
        self.info.shape.check(plane, &rows)?;
        let sel = self.hyperslab(0..self.info.shape.width, rows, plane);
        let values = h5::read_selection(&self.path, &self.info.hdu, h5::DATA, sel)?;
        visit(&values);
        Ok(values)
    }

    fn read_hyperslab(
        &self,
        plane: Plane,
        xs: Range<usize>,
        ys: Range<usize>,
    ) -> Result<Vec<f32>, ImageError> {
        self.info.shape.check(plane, &ys)?;
        self.check_columns(&xs)?;
        let sel = self.hyperslab(xs, ys, plane);
        h5::read_selection(&self.path, &self.info.hdu, h5::DATA, sel)
    }

    fn read_spectrum(
        &self,
        x: usize,
        y: usize,
        stokes: usize,
        channels: Range<usize>,
    ) -> Result<Vec<f32>, ImageError> {
        let plane = Plane { channel: 0, stokes };
        self.info.shape.check(plane, &(y..y + 1))?;
        if x >= self.info.shape.width
            || channels.start > channels.end
            || channels.end > self.info.shape.depth
        {
            return Err(ImageError::OutOfRange(format!(
                "pixel ({x}, {y}), channels {}..{}",
                channels.start, channels.end
            )));
        }
        let parts: Vec<SliceOrIndex> = (1..=self.info.shape.dims.len())
            .rev()
            .map(|axis| match axis {
                1 => SliceOrIndex::Index(x),
                2 => SliceOrIndex::Index(y),
                a if a == self.info.shape.depth_axis => SliceOrIndex::from(channels.clone()),
                a if a == self.info.shape.stokes_axis => SliceOrIndex::Index(stokes),
                _ => SliceOrIndex::Index(0),
            })
            .collect();
        h5::read_selection(
            &self.path,
            &self.info.hdu,
            h5::DATA,
            Selection::from(Hyperslab::from(parts)),
        )
    }

    fn mip_levels(&self) -> &[usize] {
        &self.mips
    }

    fn read_mip(
        &self,
        mip: usize,
        plane: Plane,
        xs: Range<usize>,
        ys: Range<usize>,
    ) -> Result<Vec<f32>, ImageError> {
        if !self.info.shape.stores(plane) || !self.mips.contains(&mip) {
            return Err(ImageError::OutOfRange(format!("no stored mip {mip}")));
        }
        let sel = self.hyperslab(xs, ys, plane);
        let name = format!("MipMaps/DATA/DATA_XY_{mip}");
        h5::read_selection(&self.path, &self.info.hdu, &name, sel)
    }

    fn stored_statistics(&self, plane: Plane) -> Option<StoredStatistics> {
        if !self.info.shape.stores(plane) {
            return None;
        }
        let index = self.statistics_index(plane);
        let value = |name: &str| {
            h5::read_numbers(&self.path, &self.info.hdu, &format!("Statistics/XY/{name}"))
                .ok()?
                .get(index)
                .copied()
        };
        let histogram = h5::read_counts(&self.path, &self.info.hdu, "Statistics/XY/HISTOGRAM")
            .ok()
            .and_then(|(counts, bins)| {
                let start = index.checked_mul(bins)?;
                counts
                    .get(start..start.checked_add(bins)?)
                    .map(<[i64]>::to_vec)
            });
        let plane_len = self.info.shape.plane_len() as u64;
        Some(StoredStatistics {
            stats: stored_stats(&value, plane_len)?,
            histogram,
        })
    }

    fn stored_cube_statistics(&self, stokes: usize) -> Option<StoredStatistics> {
        let shape = &self.info.shape;
        if shape.depth < 2 || shape.depth_axis != 3 || stokes >= shape.stokes {
            return None;
        }
        let value = |name: &str| {
            h5::read_numbers(
                &self.path,
                &self.info.hdu,
                &format!("Statistics/XYZ/{name}"),
            )
            .ok()?
            .get(stokes)
            .copied()
        };
        let histogram = h5::read_counts(&self.path, &self.info.hdu, "Statistics/XYZ/HISTOGRAM")
            .ok()
            .and_then(|(counts, bins)| {
                let start = stokes.checked_mul(bins)?;
                counts
                    .get(start..start.checked_add(bins)?)
                    .map(<[i64]>::to_vec)
            });
        let cube_len = (shape.plane_len() * shape.depth) as u64;
        Some(StoredStatistics {
            stats: stored_stats(&value, cube_len)?,
            histogram,
        })
    }

    fn stored_spectral_order(&self) -> Option<Arc<dyn SpectralOrder>> {
        self.swizzled.clone()
    }
}

/// Statistics from the stored MIN, MAX, SUM, SUM_SQ and NAN_COUNT of a selection of `len` pixels.
fn stored_stats(value: &dyn Fn(&str) -> Option<f64>, len: u64) -> Option<BasicStats> {
    let nan_count = value("NAN_COUNT")? as u64;
    Some(BasicStats::from_sums(
        len.saturating_sub(nan_count),
        nan_count,
        value("SUM")?,
        value("SUM_SQ")?,
        value("MIN")?,
        value("MAX")?,
    ))
}
