//! NaN-aware block averaging into a tile, as mergeable partial sums: each chunk of rows adds the finite pixels it
//! holds into the (sum, count) of the output pixels they fall in; merging adds; finishing divides (NaN where a
//! block had no finite pixel). Partial blocks at the right and bottom edges average the pixels present.

use super::TileBounds;

/// Partial block sums for one tile.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
    /// at row `row0`). Compiled for AVX2 too and chosen at run time where the CPU has it.
    pub fn add_rows(&mut self, data: &[f32], width: usize, row0: usize) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.add_rows_avx2(data, width, row0) };
        }
        self.add_rows_kernel(data, width, row0)
    }

    /// [`BlockSums::add_rows`] built for any x86-64 (for benchmarks against the dispatched one).
    pub fn add_rows_portable(&mut self, data: &[f32], width: usize, row0: usize) {
        self.add_rows_kernel(data, width, row0)
    }

    /// [`BlockSums::add_rows_kernel`] compiled with AVX2 enabled.
    ///
    /// # Safety
    /// The CPU must support AVX2 (checked with `is_x86_feature_detected!` by the caller).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add_rows_avx2(&mut self, data: &[f32], width: usize, row0: usize) {
        self.add_rows_kernel(data, width, row0)
    }

    #[inline(always)]
    fn add_rows_kernel(&mut self, data: &[f32], width: usize, row0: usize) {
        let b = self.bounds;
        let rows = data.len() / width.max(1);
        let y_start = b.y0.max(row0);
        let y_end = b.y1.min(row0 + rows);
        let row = |y: usize| &data[(y - row0) * width + b.x0..(y - row0) * width + b.x1];
        if b.mip < LANES {
            for y in y_start..y_end {
                let oy = (y - b.y0) / b.mip;
                let out = oy * b.width..(oy + 1) * b.width;
                let (sums, counts) = (&mut self.sums[out.clone()], &mut self.counts[out]);
                for (block, (s, c)) in row(y).chunks(b.mip).zip(sums.iter_mut().zip(counts)) {
                    for v in block.iter().filter(|v| v.is_finite()) {
                        *s += f64::from(*v);
                        *c += 1;
                    }
                }
            }
            return;
        }
        // Wide blocks: the rows of one output row add into per-block lane sums (elementwise, so the loop
        // vectorises), folded into the output once per output row.
        let mut lanes = vec![[0f64; LANES]; b.width];
        let mut finite = vec![[0u32; LANES]; b.width];
        let mut y = y_start;
        while y < y_end {
            let oy = (y - b.y0) / b.mip;
            let next = (b.y0 + (oy + 1) * b.mip).min(y_end);
            for yy in y..next {
                for (block, (l, f)) in row(yy)
                    .chunks(b.mip)
                    .zip(lanes.iter_mut().zip(finite.iter_mut()))
                {
                    // Local copies, so the lanes stay in registers through the block.
                    let (mut sum, mut count) = (*l, *f);
                    let mut groups = block.chunks_exact(LANES);
                    for g in &mut groups {
                        for i in 0..LANES {
                            let ok = g[i].is_finite();
                            sum[i] += if ok { f64::from(g[i]) } else { 0.0 };
                            count[i] += u32::from(ok);
                        }
                    }
                    // The right edge's partial block.
                    for (i, v) in groups.remainder().iter().enumerate() {
                        let ok = v.is_finite();
                        sum[i] += if ok { f64::from(*v) } else { 0.0 };
                        count[i] += u32::from(ok);
                    }
                    (*l, *f) = (sum, count);
                }
            }
            let out = oy * b.width..(oy + 1) * b.width;
            for ((s, c), (l, f)) in self.sums[out.clone()]
                .iter_mut()
                .zip(&mut self.counts[out])
                .zip(lanes.iter_mut().zip(finite.iter_mut()))
            {
                *s += ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
                *c += f.iter().sum::<u32>();
                *l = [0.0; LANES];
                *f = [0; LANES];
            }
            y = next;
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

/// Lanes of independent sums per output pixel for blocks at least this wide: no chain of dependent f64 adds,
/// so the loop vectorises.
const LANES: usize = 8;

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

    /// Block means one value at a time, as the rule says.
    fn reference(plane: &[f32], w: usize, b: TileBounds) -> Vec<f32> {
        let mut out = vec![f32::NAN; b.len()];
        for oy in 0..b.height {
            for ox in 0..b.width {
                let (mut s, mut n) = (0f64, 0u32);
                for y in b.y0 + oy * b.mip..(b.y0 + (oy + 1) * b.mip).min(b.y1) {
                    for x in b.x0 + ox * b.mip..(b.x0 + (ox + 1) * b.mip).min(b.x1) {
                        let v = plane[y * w + x];
                        if v.is_finite() {
                            s += f64::from(v);
                            n += 1;
                        }
                    }
                }
                if n > 0 {
                    out[oy * b.width + ox] = (s / f64::from(n)) as f32;
                }
            }
        }
        out
    }

    #[test]
    fn kernels_match_the_rule_at_every_mip() {
        let (w, h) = (2100, 1300);
        let mut state = 7u64;
        let plane: Vec<f32> = (0..w * h)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                match i % 13 {
                    0 => f32::NAN,
                    1 if i % 3 == 0 => f32::INFINITY,
                    _ => ((state >> 40) as f32) / 1e5 - 50.0,
                }
            })
            .collect();
        for layer in 0..4 {
            for (x, y) in [(0, 0), (1, 1), (0, 1)] {
                let tile = TileId { x, y, layer };
                let Some(b) = TileBounds::of(tile, w, h) else {
                    continue;
                };
                let want = reference(&plane, w, b);
                let mut fast = BlockSums::new(b);
                fast.add_rows(&plane, w, 0);
                let mut portable = BlockSums::new(b);
                portable.add_rows_portable(&plane, w, 0);
                for (got, name) in [
                    (fast.finish(), "dispatched"),
                    (portable.finish(), "portable"),
                ] {
                    for (g, r) in got.iter().zip(&want) {
                        assert!(
                            (g.is_nan() && r.is_nan()) || (g - r).abs() <= 1e-6 * r.abs().max(1.0),
                            "{name} kernel, mip {}: {g} vs {r}",
                            b.mip
                        );
                    }
                }
            }
        }
    }
}
