//! What a file asks its chunks, one request type per intent (statistics, histogram counts, tile sums, a stored
//! mip, a row or column cut, a region spectrum, a pixel spectrum), each with the partial a chunk answers. They
//! are plain serialisable data, so a remote chunk worker can stand behind the same handle. A chunk computes its
//! partial through [`ChunkAccess`] with the pure kernels of `analysis` and `tiles`; merging happens in the file.

use std::ops::Range;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::worker::ChunkAccess;
use super::ChunkError;
use crate::analysis::histogram::Histogram;
use crate::analysis::per_channel::PerChannel;
use crate::analysis::polarization::combine_pixels;
use crate::analysis::region::{for_each_run, Shape};
use crate::analysis::stats::BasicStats;
use crate::image::{ImageShape, Plane};
use crate::tiles::downsample::BlockSums;
use crate::tiles::TileBounds;

/// A kind of request the chunks handle can send.
pub trait Intent: Serialize + DeserializeOwned + Clone + Send + 'static {
    /// What one chunk answers; the asker merges these.
    type Partial: Serialize + DeserializeOwned + Send + 'static;

    /// The image rows the intent reads; chunks outside them are not asked.
    fn rows(&self, shape: &ImageShape) -> Range<usize>;

    /// This chunk's partial result.
    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<Self::Partial, ChunkError>;
}

/// Rows a region touches (all rows for the whole image).
fn region_rows(region: Option<&Shape>, shape: &ImageShape) -> Range<usize> {
    match region {
        None => 0..shape.height,
        Some(r) => match r.bounding_box(shape.width, shape.height) {
            Some((_, _, y0, y1)) => y0..y1,
            None => 0..0,
        },
    }
}

/// Basic statistics of a plane's pixels inside a region (all pixels without one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statistics {
    pub plane: Plane,
    pub region: Option<Arc<Shape>>,
    /// Whether a whole chunk's statistics taken while loading may answer (a kept result like any cached one,
    /// so not when result caching is configured off and every pass must be real).
    pub reuse_load_stats: bool,
}

impl Intent for Statistics {
    type Partial = BasicStats;

    fn rows(&self, shape: &ImageShape) -> Range<usize> {
        region_rows(self.region.as_deref(), shape)
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<BasicStats, ChunkError> {
        let pixels = chunk.plane(self.plane)?;
        if self.region.is_none() && self.reuse_load_stats {
            return Ok(pixels.stats());
        }
        let mut stats = BasicStats::default();
        let (width, row0) = (chunk.width(), chunk.rows().start);
        for_each_run(
            pixels.pixels(),
            width,
            row0,
            self.region.as_deref(),
            |run| {
                stats = stats.merge(BasicStats::of(run));
            },
        );
        Ok(stats)
    }
}

/// The range and bin count of a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub min: f64,
    pub max: f64,
    pub count: usize,
}

impl Bins {
    pub fn empty(self) -> Histogram {
        Histogram::new(self.min, self.max, self.count)
    }
}

/// Histogram counts of the pixels inside a region over channels `channels` of one Stokes (one channel for a
/// plane's histogram, all of them for the per-cube histogram).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistogramCounts {
    pub stokes: usize,
    pub channels: Range<usize>,
    pub region: Option<Arc<Shape>>,
    pub bins: Bins,
}

impl Intent for HistogramCounts {
    type Partial = Histogram;

    fn rows(&self, shape: &ImageShape) -> Range<usize> {
        region_rows(self.region.as_deref(), shape)
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<Histogram, ChunkError> {
        let mut h = self.bins.empty();
        let (width, row0) = (chunk.width(), chunk.rows().start);
        let region = self.region.as_deref();
        if self.channels.len() == 1 {
            // One plane: through the shared chunk store, where tiles and statistics find it too.
            let plane = Plane {
                channel: self.channels.start,
                stokes: self.stokes,
            };
            let pixels = chunk.plane(plane)?;
            for_each_run(pixels.pixels(), width, row0, region, |run| h.add(run));
            return Ok(h);
        }
        let rows = chunk.rows_touched(region);
        for channel in self.channels.clone() {
            let plane = Plane {
                channel,
                stokes: self.stokes,
            };
            let pixels = chunk.read(plane, rows.clone())?;
            for_each_run(&pixels, width, rows.start, region, |run| h.add(run));
        }
        Ok(h)
    }
}

/// A chunk's pixels added into a tile's block sums.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TileSums {
    pub plane: Plane,
    pub bounds: TileBounds,
}

impl Intent for TileSums {
    type Partial = BlockSums;

    fn rows(&self, _: &ImageShape) -> Range<usize> {
        self.bounds.y0..self.bounds.y1
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<BlockSums, ChunkError> {
        let pixels = chunk.plane(self.plane)?;
        let mut sums = BlockSums::new(self.bounds);
        sums.add_rows(pixels.pixels(), chunk.width(), chunk.rows().start);
        Ok(sums)
    }
}

/// A full-resolution tile's pixels in this chunk's rows: `(first image row, rows × tile width values)`. At mip 1
/// there is nothing to average, so the rows are copied as they are (no sums, counts or division).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TileRows {
    pub plane: Plane,
    pub bounds: TileBounds,
}

impl Intent for TileRows {
    type Partial = (usize, Vec<f32>);

    fn rows(&self, _: &ImageShape) -> Range<usize> {
        self.bounds.y0..self.bounds.y1
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<(usize, Vec<f32>), ChunkError> {
        let pixels = chunk.plane(self.plane)?;
        let (w, rows) = (chunk.width(), chunk.rows());
        let b = self.bounds;
        let (y0, y1) = (b.y0.max(rows.start), b.y1.min(rows.end));
        let px = pixels.pixels();
        let mut out = Vec::with_capacity(y1.saturating_sub(y0) * (b.x1 - b.x0));
        for y in y0..y1 {
            let row = (y - rows.start) * w;
            out.extend_from_slice(&px[row + b.x0..row + b.x1]);
        }
        Ok((y0, out))
    }
}

/// A tile read from a stored mip level: columns `xs`, rows `ys` in mip pixels. One chunk (the one holding the
/// tile's first row) answers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMip {
    pub plane: Plane,
    pub mip: usize,
    pub xs: Range<usize>,
    pub ys: Range<usize>,
}

impl Intent for StoredMip {
    type Partial = Vec<f32>;

    fn rows(&self, shape: &ImageShape) -> Range<usize> {
        let first = self.ys.start.saturating_mul(self.mip).min(shape.height);
        first..(first + 1).min(shape.height)
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<Vec<f32>, ChunkError> {
        let (xs, ys) = (self.xs.clone(), self.ys.clone());
        Ok(chunk.source().read_mip(self.mip, self.plane, xs, ys)?)
    }
}

/// A full row or column of a plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Line {
    Row(usize),
    Column(usize),
}

/// A row (answered by its chunk) or a column (each chunk its part, in chunk order) of a plane.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cut {
    pub plane: Plane,
    pub line: Line,
}

impl Intent for Cut {
    type Partial = Vec<f32>;

    fn rows(&self, shape: &ImageShape) -> Range<usize> {
        match self.line {
            Line::Row(y) if y < shape.height => y..y + 1,
            Line::Row(_) => 0..0,
            Line::Column(x) if x < shape.width => 0..shape.height,
            Line::Column(_) => 0..0,
        }
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<Vec<f32>, ChunkError> {
        let (w, rows) = (chunk.width(), chunk.rows());
        let pixels = chunk.plane(self.plane)?;
        let px = pixels.pixels();
        Ok(match self.line {
            Line::Row(y) => {
                let local = y
                    .checked_sub(rows.start)
                    .filter(|l| *l < rows.len())
                    .ok_or_else(|| ChunkError::Misrouted(format!("row {y}")))?;
                px[local * w..(local + 1) * w].to_vec()
            }
            Line::Column(x) => px.iter().skip(x).step_by(w.max(1)).copied().collect(),
        })
    }
}

/// Columns of a region read in spectral order at a time.
const SPECTRAL_SLICE: usize = 32;

/// Per-channel statistics of the pixels inside a region, for channels `channels` of one Stokes (a spectral
/// profile, or the first pass of a per-cube histogram). Reads the rows it needs without keeping them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionSpectrum {
    pub stokes: usize,
    pub channels: Range<usize>,
    pub region: Option<Arc<Shape>>,
}

impl Intent for RegionSpectrum {
    type Partial = Vec<BasicStats>;

    fn rows(&self, shape: &ImageShape) -> Range<usize> {
        region_rows(self.region.as_deref(), shape)
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<Vec<BasicStats>, ChunkError> {
        let region = self.region.as_deref();
        let rows = chunk.rows_touched(region);
        let width = chunk.width();
        if let Some(order) = chunk.spectral_order(self.stokes) {
            // In spectral order: the region's bounding box in this chunk's rows, one read, masked here.
            chunk.check()?;
            let (x0, x1) = match region.and_then(|r| r.bounding_box(width, chunk.height())) {
                Some((x0, x1, _, _)) => (x0, x1),
                None => (0, width),
            };
            let mut per_channel = PerChannel::new(self.channels.clone());
            if rows.is_empty() || x0 >= x1 {
                return Ok(per_channel.finish());
            }
            let bw = x1 - x0;
            let mut inside = vec![region.is_none(); bw * rows.len()];
            if let Some(r) = region {
                for y in rows.clone() {
                    let row = (y - rows.start) * bw;
                    for (a, b) in r.row_spans(y, width) {
                        let (a, b) = (a.max(x0), b.min(x1));
                        if a < b {
                            inside[row + a - x0..row + b - x0].fill(true);
                        }
                    }
                }
            }
            let r0 = rows.start;
            let mut mask = Vec::new();
            // In slices of columns: a read that blocks (HDF5 reads one at a time in the process) alternates
            // with adding up the last slice, so the chunks reading the other rows overlap with this one.
            for xs in (x0..x1)
                .step_by(SPECTRAL_SLICE)
                .map(|a| a..(a + SPECTRAL_SLICE).min(x1))
            {
                chunk.check()?;
                order.visit(
                    self.stokes,
                    xs,
                    rows.clone(),
                    self.channels.clone(),
                    &mut |run| {
                        let n = run.len();
                        let at = (run.y - r0) * bw + run.x - x0;
                        let run_mask = if run.along_x {
                            &inside[at..at + n]
                        } else {
                            mask.clear();
                            mask.extend((0..n).map(|i| inside[at + i * bw]));
                            &mask[..]
                        };
                        per_channel.add_run(run, run_mask);
                    },
                )?;
            }
            return Ok(per_channel.finish());
        }
        let mut out = Vec::with_capacity(self.channels.len());
        for channel in self.channels.clone() {
            let plane = Plane {
                channel,
                stokes: self.stokes,
            };
            let pixels = chunk.read(plane, rows.clone())?;
            let mut stats = BasicStats::default();
            for_each_run(&pixels, width, rows.start, region, |run| {
                stats = stats.merge(BasicStats::of(run))
            });
            out.push(stats);
        }
        Ok(out)
    }
}

/// The values of one pixel in channels `channels` of one Stokes (a cursor spectral profile).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PixelSpectrum {
    pub x: usize,
    pub y: usize,
    pub stokes: usize,
    pub channels: Range<usize>,
}

impl Intent for PixelSpectrum {
    type Partial = Vec<f32>;

    fn rows(&self, shape: &ImageShape) -> Range<usize> {
        if self.y < shape.height && self.x < shape.width {
            self.y..self.y + 1
        } else {
            0..0
        }
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<Vec<f32>, ChunkError> {
        let source = chunk.source();
        let shape = source.shape();
        let plane = Plane {
            channel: 0,
            stokes: self.stokes,
        };
        // From the spectral-order copy or index when there is one: one short read instead of one per plane.
        let order = source.spectral_order();
        let read = |stokes: usize| match &order {
            Some(order) => order.spectrum(self.x, self.y, stokes, self.channels.clone()),
            None => source.read_spectrum(self.x, self.y, stokes, self.channels.clone()),
        };
        let Some(kind) = shape.computed(plane) else {
            return Ok(read(self.stokes)?);
        };
        let parts = shape
            .sources_of(plane)
            .into_iter()
            .map(|p| read(p.stokes))
            .collect::<Result<Vec<_>, _>>()?;
        let slices: Vec<&[f32]> = parts.iter().map(Vec::as_slice).collect();
        Ok(combine_pixels(kind, &slices))
    }
}
