//! Intents of the image overlays: contour lines of a plane, traced by every chunk over its own band of rows
//! (with the halo rows its smoothing stencil and the tracing need) and stitched by the asker at the seams.

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::intent::Intent;
use super::worker::ChunkAccess;
use super::ChunkError;
use crate::analysis::contour::{trace_band, BandContours};
use crate::analysis::smoothing::gaussian_valid;
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
}
