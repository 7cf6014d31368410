//! NaN-aware block averaging into a tile, as mergeable partial sums: each chunk of rows adds the finite pixels it
//! holds into the (sum, count) of the output pixels they fall in; merging adds; finishing divides (NaN where a
//! block had no finite pixel). Partial blocks at the right and bottom edges average the pixels present.

use super::TileBounds;

/// Partial block sums for one tile.
#[derive(Debug, Clone)]
pub struct BlockSums {
    pub bounds: TileBounds,
    sums: Vec<f64>,
    counts: Vec<u32>,
}

impl BlockSums {
    pub fn new(bounds: TileBounds) -> BlockSums {
        BlockSums {
            bounds,
            sums: vec![0.0; bounds.len()],
            counts: vec![0; bounds.len()],
        }
    }

    /// Adds the rows `[row0, row0 + rows)` of an image `width` pixels wide, given as `data` (row-major, starting
    /// at row `row0`).
    pub fn add_rows(&mut self, data: &[f32], width: usize, row0: usize) {
        let b = self.bounds;
        let rows = data.len() / width.max(1);
        let y_start = b.y0.max(row0);
        let y_end = b.y1.min(row0 + rows);
        let mip = b.mip;
        for y in y_start..y_end {
            let row = &data[(y - row0) * width + b.x0..(y - row0) * width + b.x1];
            let oy = (y - b.y0) / mip;
            let out_sums = &mut self.sums[oy * b.width..(oy + 1) * b.width];
            let out_counts = &mut self.counts[oy * b.width..(oy + 1) * b.width];
            for (block, (s, c)) in row
                .chunks(mip)
                .zip(out_sums.iter_mut().zip(out_counts.iter_mut()))
            {
                for v in block {
                    if v.is_finite() {
                        *s += f64::from(*v);
                        *c += 1;
                    }
                }
            }
        }
    }

    /// Adds another partial for the same tile.
    pub fn merge(mut self, other: &BlockSums) -> BlockSums {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self
    }

    /// The tile's pixels: block means, NaN for blocks without finite pixels.
    pub fn finish(&self) -> Vec<f32> {
        self.sums
            .iter()
            .zip(&self.counts)
            .map(|(s, c)| {
                if *c == 0 {
                    f32::NAN
                } else {
                    (s / f64::from(*c)) as f32
                }
            })
            .collect()
    }
}

/// A whole tile from a full plane in one go (tests and small images).
pub fn tile_from_plane(plane: &[f32], width: usize, bounds: TileBounds) -> Vec<f32> {
    let mut sums = BlockSums::new(bounds);
    sums.add_rows(plane, width, 0);
    sums.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::{TileBounds, TileId};

    #[test]
    fn block_average_ignores_nans_and_handles_edges() {
        // 5x3 image, mip 2 tile: output 3x2.
        let w = 5;
        let plane: Vec<f32> = vec![
            1.0,
            3.0,
            5.0,
            f32::NAN,
            9.0, //
            1.0,
            3.0,
            5.0,
            f32::NAN,
            f32::NAN, //
            2.0,
            f32::NAN,
            f32::NAN,
            f32::NAN,
            4.0,
        ];
        let b = TileBounds {
            x0: 0,
            x1: 5,
            y0: 0,
            y1: 3,
            mip: 2,
            width: 3,
            height: 2,
        };
        let out = tile_from_plane(&plane, w, b);
        assert_eq!(out[0], 2.0);
        assert_eq!(out[1], 5.0);
        assert_eq!(out[2], 9.0);
        assert_eq!(out[3], 2.0);
        assert!(out[4].is_nan());
        assert_eq!(out[5], 4.0);
    }

    #[test]
    fn partial_rows_merge_to_the_whole() {
        let (w, h) = (600, 520);
        let plane: Vec<f32> = (0..w * h)
            .map(|i| ((i * 7919) % 1000) as f32 * 0.5)
            .collect();
        let b = TileBounds::of(
            TileId {
                x: 0,
                y: 0,
                layer: 0,
            },
            w,
            h,
        )
        .expect("tile");
        let whole = tile_from_plane(&plane, w, b);
        let mut a = BlockSums::new(b);
        a.add_rows(&plane[..w * 100], w, 0);
        let mut c = BlockSums::new(b);
        c.add_rows(&plane[w * 100..], w, 100);
        assert_eq!(a.merge(&c).finish(), whole);
    }
}
