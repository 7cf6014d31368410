//! Per-channel statistics of pixels read in spectral order (a region spectrum from the spectral-order index or
//! a format's spectral copy): accumulators fed runs of pixels, each with its channels side by side, merged into
//! the [`BasicStats`] of every channel.

use super::stats::BasicStats;

/// Per-channel statistics fed one pixel spectrum (or a piece of one) at a time: what a region spectrum read in
/// spectral order accumulates. Deviations are taken from each channel's first finite value, as in
/// [`BasicStats::of`]. Until every channel has seen a finite value a short scalar pass finds the shifts; after
/// that the update is branch-free (non-finite values select zeros), so it vectorises, with an AVX2 build
/// chosen at run time.
#[derive(Debug, Clone)]
pub struct PerChannel {
    first: usize,
    /// Channels still without a finite value (their shift is NaN).
    unset: usize,
    shift: Vec<f64>,
    count: Vec<f64>,
    dsum: Vec<f64>,
    dsq: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
    /// Values seen per channel, finite or not.
    seen: Vec<f64>,
}

/// The accumulators of a window of channels.
struct Lanes<'a> {
    shift: &'a [f64],
    count: &'a mut [f64],
    dsum: &'a mut [f64],
    dsq: &'a mut [f64],
    min: &'a mut [f64],
    max: &'a mut [f64],
    seen: &'a mut [f64],
}

/// The masked pixels of a run added into `acc` (each pixel's values as long as the window). Counts are f64
/// (exact to 2^53) so every lane has one width; non-finite values select zeros, and f64::min and max ignore
/// the NaN they are turned into. A window of exactly [`RUN_LANES`] channels (a whole block of the index) is
/// accumulated in fixed-size local arrays the compiler keeps in vector registers (a scalar count of values
/// seen, so the AVX2 build's sixteen registers hold the rest).
#[inline(always)]
fn per_channel_pixels(acc: &mut Lanes<'_>, run: (&[f32], usize, usize), mask: &[bool]) {
    let (values, stride, offset) = run;
    let pixels = (values.len() / stride.max(1)).min(mask.len());
    let n = acc.shift.len();
    if n == RUN_LANES {
        let load = |s: &[f64]| -> [f64; RUN_LANES] {
            let mut a = [0.0; RUN_LANES];
            a.copy_from_slice(&s[..RUN_LANES]);
            a
        };
        let shift = load(acc.shift);
        let (mut count, mut dsum, mut dsq) = (load(acc.count), load(acc.dsum), load(acc.dsq));
        let (mut min, mut max) = (load(acc.min), load(acc.max));
        // Values seen are the same for every channel: one scalar count (fewer registers in the loop).
        let mut seen = 0.0;
        for p in (0..pixels).filter(|p| mask[*p]) {
            let start = p * stride + offset;
            let Some(v) = values.get(start..start + RUN_LANES) else {
                continue;
            };
            seen += 1.0;
            for i in 0..RUN_LANES {
                let v = f64::from(v[i]);
                let finite = v.abs() < f64::INFINITY;
                let d = if finite { v - shift[i] } else { 0.0 };
                let m = if finite { v } else { f64::NAN };
                count[i] += if finite { 1.0 } else { 0.0 };
                dsum[i] += d;
                dsq[i] += d * d;
                // NaN compares false: a non-finite value leaves min and max as they are.
                min[i] = if m < min[i] { m } else { min[i] };
                max[i] = if m > max[i] { m } else { max[i] };
            }
        }
        acc.count[..RUN_LANES].copy_from_slice(&count);
        acc.dsum[..RUN_LANES].copy_from_slice(&dsum);
        acc.dsq[..RUN_LANES].copy_from_slice(&dsq);
        acc.min[..RUN_LANES].copy_from_slice(&min);
        acc.max[..RUN_LANES].copy_from_slice(&max);
        for s in &mut acc.seen[..RUN_LANES] {
            *s += seen;
        }
        return;
    }
    // Every slice cut to the same length, so the loop below has no bounds checks.
    let (shift, count, dsum) = (&acc.shift[..n], &mut acc.count[..n], &mut acc.dsum[..n]);
    let (dsq, min, max, seen) = (
        &mut acc.dsq[..n],
        &mut acc.min[..n],
        &mut acc.max[..n],
        &mut acc.seen[..n],
    );
    for p in (0..pixels).filter(|p| mask[*p]) {
        let values = &values[p * stride + offset..p * stride + offset + n];
        for i in 0..n {
            let v = f64::from(values[i]);
            let finite = v.abs() < f64::INFINITY;
            let d = if finite { v - shift[i] } else { 0.0 };
            let m = if finite { v } else { f64::NAN };
            count[i] += if finite { 1.0 } else { 0.0 };
            seen[i] += 1.0;
            dsum[i] += d;
            dsq[i] += d * d;
            min[i] = min[i].min(m);
            max[i] = max[i].max(m);
        }
    }
}

/// Channels accumulated together in registers: one block of the spectral-order index.
const RUN_LANES: usize = crate::image::spectral::BLOCK_CHANNELS;

/// [`per_channel_pixels`] compiled for AVX2. The CPU must support AVX2 (checked by the caller).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn per_channel_avx2(acc: &mut Lanes<'_>, run: (&[f32], usize, usize), mask: &[bool]) {
    per_channel_pixels(acc, run, mask);
}

impl PerChannel {
    /// Accumulators for channels `channels`.
    pub fn new(channels: std::ops::Range<usize>) -> PerChannel {
        let n = channels.len();
        PerChannel {
            first: channels.start,
            unset: n,
            shift: vec![f64::NAN; n],
            count: vec![0.0; n],
            dsum: vec![0.0; n],
            dsq: vec![0.0; n],
            min: vec![f64::INFINITY; n],
            max: vec![f64::NEG_INFINITY; n],
            seen: vec![0.0; n],
        }
    }

    /// Adds one pixel's values for channels `c0 ..`.
    pub fn add(&mut self, c0: usize, values: &[f32]) {
        self.add_pixels(c0, values.len(), values.len(), 0, values, &[true]);
    }

    /// Adds the pixels of a run in spectral order whose `mask` entry is true.
    pub fn add_run(&mut self, run: &crate::image::spectral::Run<'_>, mask: &[bool]) {
        self.add_pixels(
            run.c0,
            run.channels,
            run.stride,
            run.offset,
            run.values,
            mask,
        );
    }

    /// Pixel `i` (with `mask[i]`) has values `values[i * stride + offset ..][.. channels]` for channels `c0 ..`.
    fn add_pixels(
        &mut self,
        c0: usize,
        channels: usize,
        stride: usize,
        offset: usize,
        values: &[f32],
        mask: &[bool],
    ) {
        let Some(start) = c0.checked_sub(self.first) else {
            return;
        };
        let end = (start + channels).min(self.count.len());
        if start >= end || stride == 0 {
            return;
        }
        let n = end - start;
        let pixels = (values.len() / stride).min(mask.len());
        if self.unset > 0 {
            for p in (0..pixels).filter(|p| mask[*p]) {
                let v = &values[p * stride + offset..p * stride + offset + n];
                for (s, v) in self.shift[start..end].iter_mut().zip(v) {
                    if s.is_nan() && v.is_finite() {
                        *s = f64::from(*v);
                        self.unset -= 1;
                    }
                }
                if self.unset == 0 {
                    break;
                }
            }
        }
        let r = start..end;
        let mut acc = Lanes {
            shift: &self.shift[r.clone()],
            count: &mut self.count[r.clone()],
            dsum: &mut self.dsum[r.clone()],
            dsq: &mut self.dsq[r.clone()],
            min: &mut self.min[r.clone()],
            max: &mut self.max[r.clone()],
            seen: &mut self.seen[r],
        };
        let run = (&values[..pixels * stride], stride, offset);
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { per_channel_avx2(&mut acc, run, mask) };
            return;
        }
        per_channel_pixels(&mut acc, run, mask);
    }

    /// The statistics of each channel, in channel order.
    pub fn finish(&self) -> Vec<BasicStats> {
        (0..self.count.len())
            .map(|i| {
                let count = self.count[i] as u64;
                BasicStats::from_shifted(
                    count,
                    self.seen[i] as u64 - count,
                    if count == 0 { 0.0 } else { self.shift[i] },
                    self.dsum[i],
                    self.dsq[i],
                    self.min[i],
                    self.max[i],
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_whole_blocks_with_a_mask_equal_basic_stats() {
        // Runs as the spectral-order index gives them: 16 channels a pixel, two blocks (0..16, 16..32), a
        // window of the second block (offset 3, 9 channels), every third pixel outside the region.
        let pixels = 41usize;
        let value = |p: usize, c: usize| -> f32 {
            match (p * 5 + c * 7) % 13 {
                0 => f32::NAN,
                1 if c == 20 => f32::INFINITY,
                _ => 2.5e4 - (p as f32) * 0.125 + (c as f32) * 1.5,
            }
        };
        let mask: Vec<bool> = (0..pixels).map(|p| p % 3 != 1).collect();
        let mut acc = PerChannel::new(0..28);
        for block in 0..2 {
            let values: Vec<f32> = (0..pixels)
                .flat_map(|p| (0..16).map(move |i| value(p, block * 16 + i)))
                .collect();
            let (offset, channels) = if block == 0 { (0, 16) } else { (0, 12) };
            let run = crate::image::spectral::Run {
                x: 0,
                y: 0,
                along_x: true,
                c0: block * 16 + offset,
                channels,
                stride: 16,
                offset,
                values: &values,
            };
            acc.add_run(&run, &mask);
        }
        for (c, got) in acc.finish().into_iter().enumerate() {
            let column: Vec<f32> = (0..pixels)
                .filter(|p| mask[*p])
                .map(|p| value(p, c))
                .collect();
            let want = BasicStats::of(&column);
            assert_eq!(
                (got.count, got.nan_count),
                (want.count, want.nan_count),
                "channel {c}"
            );
            assert_eq!((got.min, got.max), (want.min, want.max), "channel {c}");
            assert!(
                (got.sum - want.sum).abs() <= 1e-12 * want.sum.abs(),
                "channel {c}"
            );
            assert!(
                (got.std_dev() - want.std_dev()).abs() <= 1e-9 * want.std_dev(),
                "channel {c}"
            );
        }
    }

    #[test]
    fn per_channel_equals_basic_stats_of_each_channel() {
        // 37 pixels × 5 channels, channel-major reference; NaN and infinities in places, channel 4 all NaN.
        let (pixels, channels) = (37usize, 5usize);
        let value = |p: usize, c: usize| -> f32 {
            match (p * 7 + c * 3) % 11 {
                _ if c == 4 => f32::NAN,
                0 => f32::NAN,
                1 if c == 2 => f32::NEG_INFINITY,
                _ => 1.0e5 + (p as f32) * 0.25 - (c as f32) * 3.5,
            }
        };
        let mut acc = PerChannel::new(10..10 + channels);
        for p in 0..pixels {
            let spectrum: Vec<f32> = (0..channels).map(|c| value(p, c)).collect();
            // In two pieces, as blocks of the index come.
            acc.add(10, &spectrum[..2]);
            acc.add(12, &spectrum[2..]);
        }
        for (c, got) in acc.finish().into_iter().enumerate() {
            let column: Vec<f32> = (0..pixels).map(|p| value(p, c)).collect();
            let want = BasicStats::of(&column);
            assert_eq!(got.count, want.count, "channel {c}");
            assert_eq!(got.nan_count, want.nan_count, "channel {c}");
            if want.count > 0 {
                assert_eq!((got.min, got.max), (want.min, want.max), "channel {c}");
                assert!((got.sum - want.sum).abs() <= 1e-12 * want.sum.abs());
                assert!((got.std_dev() - want.std_dev()).abs() <= 1e-9 * want.std_dev());
            }
        }
    }
}
