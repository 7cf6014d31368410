//! Intents of the image overlays: contour lines of a plane, traced by every chunk over its own band of rows
//! (with the halo rows its smoothing stencil and the tracing need) and stitched by the asker at the seams;
//! polarisation vectors of a plane, each chunk answering the blocks whose first row it holds (reading the
//! rest of their rows as halo).

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::intent::Intent;
use super::worker::ChunkAccess;
use super::ChunkError;
use crate::analysis::contour::{trace_band, BandContours};
use crate::analysis::smoothing::gaussian_valid;
use crate::analysis::vectors::{vectors, Inputs, VectorParams};
use crate::image::{ImageShape, Plane};
use crate::tiles::downsample::BlockSums;
use crate::tiles::TileBounds;

/// How the plane is smoothed before tracing (carta_backend's modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Smoothing {
    None,
    /// Means of `f`×`f` blocks (NaN-aware); vertices scaled back by `f`.
    Block(usize),
    /// A Gaussian of kernel size 2(f−1)+1 over the valid part; vertices offset by f−1.
    Gaussian(usize),
}

impl Smoothing {
    /// The mode as the tracing sees it: a factor below 2 smooths nothing.
    pub fn effective(self) -> Smoothing {
        match self {
            Smoothing::Block(f) | Smoothing::Gaussian(f) if f < 2 => Smoothing::None,
            other => other,
        }
    }
}

/// Contour lines of one plane at `levels`: each chunk's band, in contour-grid pixels shifted to image
/// coordinates (scale and offset of the smoothing applied), with its pieces' ends at the band seams.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Contours {
    pub plane: Plane,
    pub levels: Arc<Vec<f64>>,
    pub smoothing: Smoothing,
}

/// The rows of the contour grid a chunk owns, the image rows it reads for them, and the grid's geometry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Band {
    /// Grid rows owned (the halo row after them is read too unless `last`).
    grid: Range<usize>,
    last: bool,
    /// Image rows read.
    image: Range<usize>,
}

/// The band of the contour grid a chunk of image rows `rows` owns, for a `height`-row image.
fn band(smoothing: Smoothing, rows: &Range<usize>, height: usize) -> Option<Band> {
    // The grid's height, the grid rows the chunk owns, and how many image rows a grid row starts at / reaches.
    let (grid_height, grid, scale, reach) = match smoothing {
        Smoothing::Block(f) if f >= 2 => (
            height.div_ceil(f),
            rows.start.div_ceil(f)..rows.end.div_ceil(f),
            f,
            0,
        ),
        Smoothing::Gaussian(f) if f >= 2 => {
            let k = f - 1;
            let grid_height = height.checked_sub(2 * k)?;
            (
                grid_height,
                rows.start.saturating_sub(k)..rows.end.checked_sub(k)?,
                1,
                2 * k,
            )
        }
        _ => (height, rows.clone(), 1, 0),
    };
    let grid = grid.start..grid.end.min(grid_height);
    if grid.is_empty() {
        return None;
    }
    let last = grid.end >= grid_height;
    let with_halo = grid.end + usize::from(!last);
    Some(Band {
        image: grid.start * scale..(with_halo * scale + reach).min(height),
        grid,
        last,
    })
}

impl Intent for Contours {
    type Partial = BandContours;

    fn rows(&self, shape: &ImageShape) -> Range<usize> {
        0..shape.height
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<BandContours, ChunkError> {
        let (width, height) = (chunk.width(), chunk.height());
        let smoothing = self.smoothing.effective();
        let Some(band) = band(smoothing, &chunk.rows(), height) else {
            return Ok(BandContours {
                levels: vec![Vec::new(); self.levels.len()],
            });
        };
        let pixels = chunk.rows_around(self.plane, band.image.clone())?;
        chunk.check()?;
        let mut traced = match smoothing {
            Smoothing::Block(f) => {
                let bounds = TileBounds {
                    x0: 0,
                    x1: width,
                    y0: band.image.start,
                    y1: band.image.end,
                    mip: f,
                    width: width.div_ceil(f),
                    height: band.image.len().div_ceil(f),
                };
                let mut sums = BlockSums::new(bounds);
                sums.add_rows(&pixels, width, band.image.start);
                let grid = sums.finish();
                let mut t = trace_band(
                    &grid,
                    bounds.width,
                    band.grid.start,
                    band.last,
                    &self.levels,
                );
                transform(&mut t, f as f32, 0.0);
                t
            }
            Smoothing::Gaussian(f) => {
                let (grid, grid_width, _) = gaussian_valid(&pixels, width, band.image.len(), f);
                let mut t = trace_band(&grid, grid_width, band.grid.start, band.last, &self.levels);
                transform(&mut t, 1.0, (f - 1) as f32);
                t
            }
            Smoothing::None => trace_band(&pixels, width, band.grid.start, band.last, &self.levels),
        };
        traced.levels.resize(self.levels.len(), Vec::new());
        Ok(traced)
    }
}

/// Grid coordinates to image coordinates: `scale · v + offset` for every vertex.
fn transform(band: &mut BandContours, scale: f32, offset: f32) {
    for piece in band.levels.iter_mut().flatten() {
        for v in piece.coords.iter_mut() {
            *v = scale * *v + offset;
        }
    }
}

/// Polarisation vectors of one channel in blocks of `mip`×`mip` pixels: the Stokes planes each output is
/// made from are named by index (`current` the plane shown, which may be a computed Stokes parameter).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VectorField {
    pub channel: usize,
    pub mip: usize,
    pub current: usize,
    pub i: Option<usize>,
    pub q: Option<usize>,
    pub u: Option<usize>,
    pub params: VectorParams,
}

/// A chunk's rows of the vector grid (`grid_width` blocks wide, starting at grid row `grid_start`); an output
/// not asked for is empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VectorBand {
    pub grid_start: usize,
    pub grid_width: usize,
    pub intensity: Vec<f32>,
    pub angle: Vec<f32>,
}

/// The grid rows a chunk of image rows `rows` owns (those whose first image row it holds) and the image rows
/// they cover, for blocks of `mip` rows in a `height`-row image.
pub fn vector_band(mip: usize, rows: &Range<usize>, height: usize) -> (Range<usize>, Range<usize>) {
    let mip = mip.max(1);
    let grid = rows.start.div_ceil(mip)..rows.end.div_ceil(mip).min(height.div_ceil(mip));
    let image = (grid.start * mip).min(height)..(grid.end * mip).min(height);
    (grid, image)
}

impl Intent for VectorField {
    type Partial = VectorBand;

    fn rows(&self, shape: &ImageShape) -> Range<usize> {
        0..shape.height
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<VectorBand, ChunkError> {
        let (width, height) = (chunk.width(), chunk.height());
        let mip = self.mip.max(1);
        let (grid, image) = vector_band(mip, &chunk.rows(), height);
        let grid_width = width.div_ceil(mip);
        if grid.is_empty() {
            return Ok(VectorBand {
                grid_start: grid.start,
                grid_width,
                ..Default::default()
            });
        }
        let bounds = TileBounds {
            x0: 0,
            x1: width,
            y0: image.start,
            y1: image.end,
            mip,
            width: grid_width,
            height: grid.len(),
        };
        let mut blocks =
            |stokes: Option<usize>, wanted: bool| -> Result<Option<Vec<f32>>, ChunkError> {
                let Some(stokes) = stokes.filter(|_| wanted) else {
                    return Ok(None);
                };
                let plane = Plane {
                    channel: self.channel,
                    stokes,
                };
                let pixels = chunk.rows_around(plane, image.clone())?;
                if mip == 1 {
                    return Ok(Some(pixels));
                }
                let mut sums = BlockSums::new(bounds);
                sums.add_rows(&pixels, width, image.start);
                Ok(Some(sums.finish()))
            };
        let p = &self.params;
        let current = blocks(Some(self.current), p.needs_current())?;
        let i = blocks(self.i, p.needs_i())?;
        let q = blocks(self.q, p.needs_qu())?;
        let u = blocks(self.u, p.needs_qu())?;
        chunk.check()?;
        let inputs = Inputs {
            current: current.as_deref(),
            i: i.as_deref(),
            q: q.as_deref(),
            u: u.as_deref(),
        };
        let (intensity, angle) = vectors(bounds.len(), &inputs, p);
        Ok(VectorBand {
            grid_start: grid.start,
            grid_width,
            intensity,
            angle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_partition_the_grid_with_one_halo_row() {
        for (smoothing, height) in [
            (Smoothing::None, 1000usize),
            (Smoothing::Block(3), 1000),
            (Smoothing::Block(7), 513),
            (Smoothing::Gaussian(4), 1000),
            (Smoothing::Gaussian(2), 257),
        ] {
            let chunks: Vec<Range<usize>> = (0..height.div_ceil(256))
                .map(|i| i * 256..((i + 1) * 256).min(height))
                .collect();
            let bands: Vec<Band> = chunks
                .iter()
                .filter_map(|r| band(smoothing, r, height))
                .collect();
            let mut next = 0;
            for b in &bands {
                assert_eq!(b.grid.start, next, "{smoothing:?}");
                next = b.grid.end;
            }
            assert!(bands.last().is_some_and(|b| b.last));
            assert!(bands.iter().rev().skip(1).all(|b| !b.last));
            let grid_height = match smoothing {
                Smoothing::None => height,
                Smoothing::Block(f) => height.div_ceil(f),
                Smoothing::Gaussian(f) => height - 2 * (f - 1),
            };
            assert_eq!(next, grid_height, "{smoothing:?}");
        }
    }

    #[test]
    fn vector_bands_own_the_blocks_they_start() {
        for (mip, height) in [(1usize, 1000usize), (3, 1000), (4, 513), (300, 700)] {
            let mut next = 0;
            for i in 0..height.div_ceil(256) {
                let rows = i * 256..((i + 1) * 256).min(height);
                let (grid, image) = vector_band(mip, &rows, height);
                assert_eq!(grid.start, next.max(grid.start), "{mip}");
                if !grid.is_empty() {
                    assert_eq!(grid.start, next, "{mip} {height}");
                    assert_eq!(image.start, grid.start * mip);
                    next = grid.end;
                }
            }
            assert_eq!(next, height.div_ceil(mip), "{mip} {height}");
        }
    }
}
