//! Box intents: the means of many small regions at once, for a line's spatial profile (`BoxMeans`, one plane)
//! and a PV image (`BoxSpectra`, every channel of a range). Each chunk answers, per box, the sum and count of
//! the finite pixels of the box inside its own rows; the file adds the partials, so a box cut by a chunk
//! boundary is still one mean. Boxes are `analysis::region::Shape`s, rasterised as regions are. Also the
//! block-averaged sub-cube a PV preview samples (`BlockCube`).

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::intent::Intent;
use super::worker::ChunkAccess;
use super::ChunkError;
use crate::analysis::line_boxes::finite_sum;
use crate::analysis::region::{for_each_run, Shape};
use crate::image::{ImageShape, Plane};
use crate::tiles::downsample::BlockSums;
use crate::tiles::TileBounds;

/// Sum and count of finite pixels.
pub type Partial = (f64, u64);

/// Boxes with their bounding boxes in a `width × height` image, computed once per request.
fn bounded(
    boxes: &[Shape],
    width: usize,
    height: usize,
) -> Vec<Option<(usize, usize, usize, usize)>> {
    boxes
        .iter()
        .map(|b| b.bounding_box(width, height))
        .collect()
}

/// Rows any of the boxes touch.
fn rows_of(boxes: &[Shape], shape: &ImageShape) -> Range<usize> {
    bounded(boxes, shape.width, shape.height)
        .into_iter()
        .flatten()
        .fold(None, |acc: Option<Range<usize>>, (_, _, y0, y1)| {
            Some(match acc {
                None => y0..y1,
                Some(r) => r.start.min(y0)..r.end.max(y1),
            })
        })
        .unwrap_or(0..0)
}

/// Adds elementwise: the merge of two chunks' partials for the same boxes.
pub fn add(into: &mut [Partial], other: &[Partial]) {
    for (a, b) in into.iter_mut().zip(other) {
        a.0 += b.0;
        a.1 += b.1;
    }
}

/// Per box, the finite pixels of one plane inside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoxMeans {
    pub plane: Plane,
    pub boxes: Arc<Vec<Shape>>,
}

impl Intent for BoxMeans {
    type Partial = Vec<Partial>;

    fn rows(&self, shape: &ImageShape) -> Range<usize> {
        rows_of(&self.boxes, shape)
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<Vec<Partial>, ChunkError> {
        let (width, own) = (chunk.width(), chunk.rows());
        let pixels = chunk.plane(self.plane)?;
        let pixels = pixels.pixels();
        let mut out = vec![(0.0, 0); self.boxes.len()];
        for (i, b) in self.boxes.iter().enumerate() {
            let sum = &mut out[i];
            for_each_run(pixels, width, own.start, Some(b), |run| {
                let (s, n) = finite_sum(run);
                sum.0 += s;
                sum.1 += n;
            });
        }
        Ok(out)
    }
}

/// Per box and channel of `channels` (box-major: `out[box * channels.len() + c]`), the finite pixels of one
/// Stokes inside the box. Reads, per channel, only the rows of this chunk the boxes touch; with the image in
/// spectral order (a stored copy or the index), only each box's own pixels.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoxSpectra {
    pub stokes: usize,
    pub channels: Range<usize>,
    pub boxes: Arc<Vec<Shape>>,
}

impl Intent for BoxSpectra {
    type Partial = Vec<Partial>;

    fn rows(&self, shape: &ImageShape) -> Range<usize> {
        rows_of(&self.boxes, shape)
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<Vec<Partial>, ChunkError> {
        let (width, height, own) = (chunk.width(), chunk.height(), chunk.rows());
        let nc = self.channels.len();
        let mut out = vec![(0.0, 0); self.boxes.len() * nc];
        let extents = bounded(&self.boxes, width, height);
        // Rows of this chunk each box covers, and those of all of them.
        let clip = |(x0, x1, y0, y1): (usize, usize, usize, usize)| {
            let (a, b) = (y0.max(own.start), y1.min(own.end));
            (a < b).then_some((x0, x1, a, b))
        };
        let local: Vec<_> = extents.iter().map(|e| e.and_then(clip)).collect();
        let Some(rows) = local
            .iter()
            .flatten()
            .fold(None, |acc: Option<Range<usize>>, e| {
                Some(match acc {
                    None => e.2..e.3,
                    Some(r) => r.start.min(e.2)..r.end.max(e.3),
                })
            })
        else {
            return Ok(out);
        };
        if let Some(order) = chunk.spectral_order(self.stokes) {
            for (i, (b, e)) in self.boxes.iter().zip(&local).enumerate() {
                let Some((x0, x1, y0, y1)) = *e else { continue };
                chunk.check()?;
                let bw = x1 - x0;
                let mut inside = vec![false; bw * (y1 - y0)];
                for y in y0..y1 {
                    for (a, c) in b.row_spans(y, width) {
                        let (a, c) = (a.max(x0), c.min(x1));
                        if a < c {
                            inside[(y - y0) * bw + a - x0..(y - y0) * bw + c - x0].fill(true);
                        }
                    }
                }
                let spectra = &mut out[i * nc..(i + 1) * nc];
                let first = self.channels.start;
                order.visit(
                    self.stokes,
                    x0..x1,
                    y0..y1,
                    self.channels.clone(),
                    &mut |run| {
                        for k in 0..run.len() {
                            let (x, y) = run.at(k);
                            if !inside[(y - y0) * bw + x - x0] {
                                continue;
                            }
                            for (c, v) in run.pixel(k).iter().enumerate() {
                                if v.is_finite() {
                                    let s = &mut spectra[run.c0 - first + c];
                                    s.0 += f64::from(*v);
                                    s.1 += 1;
                                }
                            }
                        }
                    },
                )?;
            }
            return Ok(out);
        }
        for (c, channel) in self.channels.clone().enumerate() {
            let plane = Plane {
                channel,
                stokes: self.stokes,
            };
            let pixels = chunk.read(plane, rows.clone())?;
            for (i, (b, e)) in self.boxes.iter().zip(&local).enumerate() {
                if e.is_none() {
                    continue;
                }
                let s = &mut out[i * nc + c];
                for_each_run(&pixels, width, rows.start, Some(b), |run| {
                    let (sum, n) = finite_sum(run);
                    s.0 += sum;
                    s.1 += n;
                });
            }
        }
        Ok(out)
    }
}

/// A sub-cube block-averaged in `rebin`×`rebin` blocks (NaN-aware, as mip tiles are): the columns `xs` and
/// rows `ys` of channels `channels` of one Stokes. Each chunk answers the block rows whose first image row it
/// holds (reading their other rows as halo), for every channel: `values[c][row][column]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockCube {
    pub stokes: usize,
    pub channels: Range<usize>,
    pub xs: Range<usize>,
    pub ys: Range<usize>,
    pub rebin: usize,
}

/// A chunk's block rows of a [`BlockCube`]: rows `rows` of the block grid, channel after channel.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CubeBand {
    pub rows: Range<usize>,
    pub values: Vec<f32>,
}

impl BlockCube {
    /// Columns and rows of the block grid.
    pub fn grid(&self) -> (usize, usize) {
        let r = self.rebin.max(1);
        (self.xs.len().div_ceil(r), self.ys.len().div_ceil(r))
    }
}

impl Intent for BlockCube {
    type Partial = CubeBand;

    fn rows(&self, _: &ImageShape) -> Range<usize> {
        self.ys.clone()
    }

    fn compute(&self, chunk: &mut ChunkAccess<'_>) -> Result<CubeBand, ChunkError> {
        let r = self.rebin.max(1);
        let own = chunk.rows();
        let (gw, gh) = self.grid();
        // Block row g starts at image row ys.start + g·r; this chunk owns those starting in its rows.
        let first = |row: usize| (row.saturating_sub(self.ys.start)).div_ceil(r).min(gh);
        let grid = first(own.start.max(self.ys.start))..first(own.end.min(self.ys.end));
        if grid.is_empty() {
            return Ok(CubeBand {
                rows: grid,
                values: Vec::new(),
            });
        }
        let image = self.ys.start + grid.start * r..(self.ys.start + grid.end * r).min(self.ys.end);
        let width = chunk.width();
        let bounds = TileBounds {
            x0: self.xs.start,
            x1: self.xs.end,
            y0: image.start,
            y1: image.end,
            mip: r,
            width: gw,
            height: grid.len(),
        };
        let mut values = Vec::with_capacity(self.channels.len() * bounds.len());
        for channel in self.channels.clone() {
            let plane = Plane {
                channel,
                stokes: self.stokes,
            };
            let pixels = chunk.rows_around(plane, image.clone())?;
            if r == 1 {
                for row in pixels.chunks_exact(width) {
                    values.extend_from_slice(&row[self.xs.clone()]);
                }
            } else {
                let mut sums = BlockSums::new(bounds);
                sums.add_rows(&pixels, width, image.start);
                values.extend(sums.finish());
            }
        }
        Ok(CubeBand { rows: grid, values })
    }
}
