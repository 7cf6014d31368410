//! Basic statistics of finite pixels as a mergeable partial: count, NaN count, sum, sum of squares, min, max,
//! and a numerically stable variance (per-slice shifted sums, merged with Chan et al.'s pairwise rule).

/// Statistics of the finite values seen so far.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BasicStats {
    /// Finite values counted.
    pub count: u64,
    /// Non-finite values seen (NaN and ±Inf).
    pub nan_count: u64,
    pub sum: f64,
    pub sum_sq: f64,
    pub min: f64,
    pub max: f64,
    /// Mean of the finite values (0 when none).
    mean: f64,
    /// Sum of squared deviations from the mean.
    m2: f64,
}

impl Default for BasicStats {
    fn default() -> Self {
        BasicStats {
            count: 0,
            nan_count: 0,
            sum: 0.0,
            sum_sq: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            mean: 0.0,
            m2: 0.0,
        }
    }
}

impl BasicStats {
    /// Statistics from stored sums (a format's precomputed statistics): the variance then comes from the
    /// sums, as the format's reader computes it.
    pub fn from_sums(
        count: u64,
        nan_count: u64,
        sum: f64,
        sum_sq: f64,
        min: f64,
        max: f64,
    ) -> BasicStats {
        if count == 0 {
            return BasicStats {
                nan_count,
                ..BasicStats::default()
            };
        }
        let n = count as f64;
        let mean = sum / n;
        BasicStats {
            count,
            nan_count,
            sum,
            sum_sq,
            min,
            max,
            mean,
            m2: (sum_sq - sum * mean).max(0.0),
        }
    }

    /// Statistics of one slice in a single pass. Deviations are taken from the slice's first finite value so
    /// the variance does not suffer from cancellation when the values sit far from zero. One branch-free pass
    /// over lanes of f64 accumulators: AVX-512 or AVX2 intrinsics where the CPU has them (chosen at run time,
    /// so the binary still runs on any x86-64), else a portable build the compiler vectorises.
    pub fn of(data: &[f32]) -> BasicStats {
        let Some(first) = data.iter().position(|v| v.is_finite()) else {
            return BasicStats {
                nan_count: data.len() as u64,
                ..BasicStats::default()
            };
        };
        let shift = data[first];
        let sums = shifted_sums(&data[first..], shift);
        BasicStats::from_shifted(
            sums.count,
            data.len() as u64 - sums.count,
            f64::from(shift),
            sums.dsum,
            sums.dsq,
            f64::from(sums.min),
            f64::from(sums.max),
        )
    }

    /// Statistics from sums of deviations from `shift` (a value of the data, so the variance keeps its precision).
    pub(crate) fn from_shifted(
        count: u64,
        nan_count: u64,
        shift: f64,
        dsum: f64,
        dsq: f64,
        min: f64,
        max: f64,
    ) -> BasicStats {
        if count == 0 {
            return BasicStats {
                nan_count,
                ..BasicStats::default()
            };
        }
        let nf = count as f64;
        BasicStats {
            count,
            nan_count,
            sum: dsum + nf * shift,
            sum_sq: dsq + 2.0 * shift * dsum + nf * shift * shift,
            min,
            max,
            mean: shift + dsum / nf,
            m2: (dsq - dsum * dsum / nf).max(0.0),
        }
    }

    /// Combines two partials (order does not matter).
    pub fn merge(self, other: BasicStats) -> BasicStats {
        if other.count == 0 {
            return BasicStats {
                nan_count: self.nan_count + other.nan_count,
                ..self
            };
        }
        if self.count == 0 {
            return BasicStats {
                nan_count: self.nan_count + other.nan_count,
                ..other
            };
        }
        let n = self.count + other.count;
        let delta = other.mean - self.mean;
        let (na, nb, nf) = (self.count as f64, other.count as f64, n as f64);
        BasicStats {
            count: n,
            nan_count: self.nan_count + other.nan_count,
            sum: self.sum + other.sum,
            sum_sq: self.sum_sq + other.sum_sq,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
            mean: self.mean + delta * nb / nf,
            m2: self.m2 + other.m2 + delta * delta * na * nb / nf,
        }
    }

    /// Mean of the finite values; NaN when there are none.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.mean
        }
    }

    /// Sample standard deviation (n − 1); NaN for fewer than two values.
    pub fn std_dev(&self) -> f64 {
        if self.count < 2 {
            f64::NAN
        } else {
            (self.m2 / (self.count - 1) as f64).sqrt()
        }
    }

    /// Root mean square; NaN when there are no values.
    pub fn rms(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            (self.sum_sq / self.count as f64).sqrt()
        }
    }

    /// The finite range, if any finite value was seen.
    pub fn range(&self) -> Option<(f64, f64)> {
        (self.count > 0).then_some((self.min, self.max))
    }
}

/// Sums of deviations from `shift` over the finite values of a slice, with their count and range.
#[derive(Debug, Clone, Copy)]
struct ShiftedSums {
    count: u64,
    dsum: f64,
    dsq: f64,
    min: f32,
    max: f32,
}

impl ShiftedSums {
    const EMPTY: ShiftedSums = ShiftedSums {
        count: 0,
        dsum: 0.0,
        dsq: 0.0,
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };

    /// Adds the sums of another part of the same slice (same shift).
    #[inline(always)]
    fn add(&mut self, other: ShiftedSums) {
        self.count += other.count;
        self.dsum += other.dsum;
        self.dsq += other.dsq;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

/// Independent accumulators per pass: enough to hide the f64 add latency and fill two AVX2 registers.
const LANES: usize = 16;
/// Elements per block: lane partials are folded into the totals after each block, which keeps the u32 lane
/// counts safe and the summation error of long slices small (two-level summation).
const BLOCK: usize = 1 << 14;

/// The portable kernel: one pass, no branches on the data (a non-finite value is replaced by `shift` for the
/// sums and by ±∞ for the range, and not counted).
#[inline(always)]
fn shifted_sums_kernel(data: &[f32], shift: f32) -> ShiftedSums {
    let s64 = f64::from(shift);
    let mut total = ShiftedSums::EMPTY;
    for block in data.chunks(BLOCK) {
        let mut s = [0f64; LANES];
        let mut q = [0f64; LANES];
        let mut n = [0u32; LANES];
        let mut lo = [f32::INFINITY; LANES];
        let mut hi = [f32::NEG_INFINITY; LANES];
        let mut step = |c: &[f32; LANES]| {
            for i in 0..LANES {
                let v = c[i];
                let ok = v.is_finite();
                let d = f64::from(if ok { v } else { shift }) - s64;
                s[i] += d;
                q[i] += d * d;
                n[i] += u32::from(ok);
                let a = if ok { v } else { f32::INFINITY };
                let b = if ok { v } else { f32::NEG_INFINITY };
                lo[i] = if a < lo[i] { a } else { lo[i] };
                hi[i] = if b > hi[i] { b } else { hi[i] };
            }
        };
        let mut chunks = block.chunks_exact(LANES);
        for c in &mut chunks {
            if let Ok(c) = <&[f32; LANES]>::try_from(c) {
                step(c);
            }
        }
        // The tail, padded with NaN (not counted).
        let mut tail = [f32::NAN; LANES];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        step(&tail);
        total.add(ShiftedSums {
            count: n.iter().map(|&c| u64::from(c)).sum(),
            dsum: s.iter().sum(),
            dsq: q.iter().sum(),
            min: lo
                .iter()
                .fold(f32::INFINITY, |m, &v| if v < m { v } else { m }),
            max: hi
                .iter()
                .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m }),
        });
    }
    total
}

/// The AVX2 + FMA kernel: the same arithmetic as [`shifted_sums_kernel`] written with intrinsics, 16 values a
/// step into four f64 sum and four f64 square-sum registers (FMA), f32 min/max and i32 counts. `shift` must be
/// a finite value of `data` (it stands in for non-finite values).
///
/// # Safety
/// The CPU must support AVX2 and FMA (checked with `is_x86_feature_detected!` by the caller). Every load
/// reads inside `data` (whole 16-value chunks; the remainder goes to the portable kernel).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn shifted_sums_avx2(data: &[f32], shift: f32) -> ShiftedSums {
    use std::arch::x86_64::*;
    const STEP: usize = 16;
    let mut total = ShiftedSums::EMPTY;
    let shift8 = _mm256_set1_ps(shift);
    let shift4 = _mm256_set1_pd(f64::from(shift));
    let zero = _mm256_setzero_ps();
    let inf = _mm256_set1_ps(f32::INFINITY);
    let ninf = _mm256_set1_ps(f32::NEG_INFINITY);
    let hsum = |v: __m256d| -> f64 {
        let mut a = [0f64; 4];
        _mm256_storeu_pd(a.as_mut_ptr(), v);
        (a[0] + a[1]) + (a[2] + a[3])
    };
    for block in data.chunks(BLOCK) {
        let mut s = [_mm256_setzero_pd(); 4];
        let mut q = [_mm256_setzero_pd(); 4];
        let mut lo = [inf; 2];
        let mut hi = [ninf; 2];
        let mut n = [_mm256_setzero_si256(); 2];
        let mut chunks = block.chunks_exact(STEP);
        for c in &mut chunks {
            let p = c.as_ptr();
            prefetch_ahead(p);
            for k in 0..2 {
                // SAFETY: `c` holds STEP = 16 values, so both 8-value loads are in bounds.
                let v = _mm256_loadu_ps(p.add(8 * k));
                let ok = _mm256_cmp_ps::<_CMP_EQ_OQ>(_mm256_sub_ps(v, v), zero);
                // A non-finite value becomes `shift`: a value of this slice, so it changes neither the
                // range nor (as a zero deviation) the sums.
                let x = _mm256_blendv_ps(shift8, v, ok);
                lo[k] = _mm256_min_ps(lo[k], x);
                hi[k] = _mm256_max_ps(hi[k], x);
                n[k] = _mm256_sub_epi32(n[k], _mm256_castps_si256(ok));
                let d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), shift4);
                let d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps::<1>(x)), shift4);
                s[2 * k] = _mm256_add_pd(s[2 * k], d0);
                s[2 * k + 1] = _mm256_add_pd(s[2 * k + 1], d1);
                q[2 * k] = _mm256_fmadd_pd(d0, d0, q[2 * k]);
                q[2 * k + 1] = _mm256_fmadd_pd(d1, d1, q[2 * k + 1]);
            }
        }
        let mut counts = [0i32; 16];
        _mm256_storeu_si256(counts.as_mut_ptr() as *mut __m256i, n[0]);
        _mm256_storeu_si256(counts.as_mut_ptr().add(8) as *mut __m256i, n[1]);
        let mut lows = [0f32; 16];
        let mut highs = [0f32; 16];
        _mm256_storeu_ps(lows.as_mut_ptr(), _mm256_min_ps(lo[0], lo[1]));
        _mm256_storeu_ps(highs.as_mut_ptr(), _mm256_max_ps(hi[0], hi[1]));
        total.add(ShiftedSums {
            count: counts.iter().map(|&c| c as u64).sum(),
            dsum: hsum(_mm256_add_pd(
                _mm256_add_pd(s[0], s[1]),
                _mm256_add_pd(s[2], s[3]),
            )),
            dsq: hsum(_mm256_add_pd(
                _mm256_add_pd(q[0], q[1]),
                _mm256_add_pd(q[2], q[3]),
            )),
            min: lows[..8]
                .iter()
                .fold(f32::INFINITY, |m, &v| if v < m { v } else { m }),
            max: highs[..8]
                .iter()
                .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m }),
        });
        total.add(shifted_sums_kernel(chunks.remainder(), shift));
    }
    total
}

/// The AVX-512 kernel: [`shifted_sums_avx2`]'s arithmetic sixteen values a register, with mask registers for
/// the finiteness test and a population count for the finite count.
///
/// # Safety
/// The CPU must support AVX-512F (checked with `is_x86_feature_detected!` by the caller). Loads stay inside
/// `data` as in [`shifted_sums_avx2`]; the prefetch hint may point past it, which never faults.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn shifted_sums_avx512(data: &[f32], shift: f32) -> ShiftedSums {
    use std::arch::x86_64::*;
    const STEP: usize = 32;
    let mut total = ShiftedSums::EMPTY;
    let shift16 = _mm512_set1_ps(shift);
    let shift8 = _mm512_set1_pd(f64::from(shift));
    let zero = _mm512_setzero_ps();
    for block in data.chunks(BLOCK) {
        let mut s = [_mm512_setzero_pd(); 4];
        let mut q = [_mm512_setzero_pd(); 4];
        let mut lo = [_mm512_set1_ps(f32::INFINITY); 2];
        let mut hi = [_mm512_set1_ps(f32::NEG_INFINITY); 2];
        let mut n = 0u64;
        let mut chunks = block.chunks_exact(STEP);
        for c in &mut chunks {
            let p = c.as_ptr();
            prefetch_ahead(p);
            prefetch_ahead(p.wrapping_add(16));
            for k in 0..2 {
                // SAFETY: `c` holds STEP = 32 values, so both 16-value loads are in bounds.
                let v = _mm512_loadu_ps(p.add(16 * k));
                let ok = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(_mm512_sub_ps(v, v), zero);
                // A non-finite value becomes `shift` (see the AVX2 kernel).
                let x = _mm512_mask_blend_ps(ok, shift16, v);
                lo[k] = _mm512_min_ps(lo[k], x);
                hi[k] = _mm512_max_ps(hi[k], x);
                n += u64::from(ok.count_ones());
                let upper = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(x)));
                let d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(x)), shift8);
                let d1 = _mm512_sub_pd(_mm512_cvtps_pd(upper), shift8);
                s[2 * k] = _mm512_add_pd(s[2 * k], d0);
                s[2 * k + 1] = _mm512_add_pd(s[2 * k + 1], d1);
                q[2 * k] = _mm512_fmadd_pd(d0, d0, q[2 * k]);
                q[2 * k + 1] = _mm512_fmadd_pd(d1, d1, q[2 * k + 1]);
            }
        }
        total.add(ShiftedSums {
            count: n,
            dsum: _mm512_reduce_add_pd(_mm512_add_pd(
                _mm512_add_pd(s[0], s[1]),
                _mm512_add_pd(s[2], s[3]),
            )),
            dsq: _mm512_reduce_add_pd(_mm512_add_pd(
                _mm512_add_pd(q[0], q[1]),
                _mm512_add_pd(q[2], q[3]),
            )),
            min: _mm512_reduce_min_ps(_mm512_min_ps(lo[0], lo[1])),
            max: _mm512_reduce_max_ps(_mm512_max_ps(hi[0], hi[1])),
        });
        total.add(shifted_sums_kernel(chunks.remainder(), shift));
    }
    total
}

/// Bytes ahead of the current position that the vector kernels ask the cache for. The hardware prefetcher
/// alone leaves a compute-heavy pass well short of memory speed on a large image (measured here: 11–13 GiB/s
/// with two threads, 17–19 GiB/s with this hint).
pub(crate) const PREFETCH_BYTES: usize = 4096;

/// Hints that the cache line [`PREFETCH_BYTES`] past `p` will be read soon. Never faults, whatever the address.
#[inline(always)]
pub(crate) fn prefetch_ahead<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it does not fault on any address; wrapping_add keeps the pointer
    // arithmetic defined past the end of the slice.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((p as *const i8).wrapping_add(PREFETCH_BYTES));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The kernel for this CPU: AVX-512 or AVX2 when present (checked once, cached by std), else the portable
/// build.
fn shifted_sums(data: &[f32], shift: f32) -> ShiftedSums {
    #[cfg(target_arch = "x86_64")]
    if data.len() >= 2 * LANES && std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, checked just above.
        return unsafe { shifted_sums_avx512(data, shift) };
    }
    #[cfg(target_arch = "x86_64")]
    if data.len() >= 2 * LANES
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
    {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        return unsafe { shifted_sums_avx2(data, shift) };
    }
    shifted_sums_kernel(data, shift)
}

/// The portable kernel, whatever the CPU (benchmarks compare it with the dispatched one).
pub fn basic_stats_portable(data: &[f32]) -> (u64, f64, f64, f64) {
    let shift = data.iter().copied().find(|v| v.is_finite()).unwrap_or(0.0);
    let s = shifted_sums_kernel(data, shift);
    (s.count, s.dsum, f64::from(s.min), f64::from(s.max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_pass_and_merge_agree() {
        let data: Vec<f32> = (0..1000)
            .map(|i| 1e6 + (i % 17) as f32 * 0.25)
            .chain([f32::NAN, f32::INFINITY])
            .collect();
        let whole = BasicStats::of(&data);
        let merged = BasicStats::of(&data[..333]).merge(BasicStats::of(&data[333..]));
        assert_eq!(whole.count, 1000);
        assert_eq!(whole.nan_count, 2);
        assert_eq!(merged.count, whole.count);
        assert_eq!(merged.nan_count, 2);
        let xs: Vec<f64> = data
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| f64::from(*v))
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
        for s in [whole, merged] {
            assert!((s.mean() - mean).abs() <= 1e-12 * mean.abs());
            assert!(
                (s.std_dev() - var.sqrt()).abs() <= 1e-9 * var.sqrt(),
                "{} vs {}",
                s.std_dev(),
                var.sqrt()
            );
            assert_eq!(s.range(), Some((1e6, 1e6 + 4.0)));
        }
    }

    #[test]
    fn vector_kernel_matches_a_plain_f64_loop() {
        let mut state = 7u64;
        for n in [0usize, 1, 15, 16, 17, 100, 16_389, 70_001] {
            let data: Vec<f32> = (0..n)
                .map(|i| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let u = (state >> 40) as f32 / (1u64 << 24) as f32;
                    match i % 13 {
                        3 => f32::NAN,
                        7 => f32::NEG_INFINITY,
                        _ => 1000.0 + 50.0 * (u - 0.5),
                    }
                })
                .collect();
            let xs: Vec<f64> = data
                .iter()
                .filter(|v| v.is_finite())
                .map(|v| f64::from(*v))
                .collect();
            let s = BasicStats::of(&data);
            assert_eq!(s.count as usize, xs.len());
            assert_eq!(s.nan_count as usize, n - xs.len());
            if xs.is_empty() {
                continue;
            }
            let sum: f64 = xs.iter().sum();
            let sum_sq: f64 = xs.iter().map(|x| x * x).sum();
            let mean = sum / xs.len() as f64;
            let rel = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
            assert!(
                rel(s.sum, sum) && rel(s.sum_sq, sum_sq) && rel(s.mean(), mean),
                "n = {n}"
            );
            assert_eq!(s.min, xs.iter().copied().fold(f64::INFINITY, f64::min));
            assert_eq!(s.max, xs.iter().copied().fold(f64::NEG_INFINITY, f64::max));
            if xs.len() > 1 {
                let var =
                    xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
                assert!(
                    (s.std_dev() - var.sqrt()).abs() <= 1e-10 * var.sqrt(),
                    "n = {n}"
                );
            }
        }
    }

    /// Every kernel this CPU can run, on the same slice.
    fn every_kernel(data: &[f32], shift: f32) -> Vec<(&'static str, ShiftedSums)> {
        let mut out = vec![("portable", shifted_sums_kernel(data, shift))];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA, checked just above.
                out.push(("avx2", unsafe { shifted_sums_avx2(data, shift) }));
            }
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                out.push(("avx512", unsafe { shifted_sums_avx512(data, shift) }));
            }
        }
        out
    }

    #[test]
    fn every_kernel_agrees_with_the_portable_one() {
        let mut state = 11u64;
        for n in [31usize, 32, 33, 64, 1000, 16_384, 16_385, 100_003] {
            let data: Vec<f32> = (0..n)
                .map(|i| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                    match i % 17 {
                        5 => f32::NAN,
                        9 => f32::INFINITY,
                        _ => ((state >> 40) as f32) / 1e4 - 800.0,
                    }
                })
                .collect();
            let shift = data[0];
            let kernels = every_kernel(&data, shift);
            let want = kernels[0].1;
            let rel = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
            for (name, got) in &kernels {
                assert_eq!(
                    (got.count, got.min, got.max),
                    (want.count, want.min, want.max),
                    "{name}, n = {n}"
                );
                assert!(
                    rel(got.dsum, want.dsum) && rel(got.dsq, want.dsq),
                    "{name}, n = {n}"
                );
            }
        }
    }

    #[test]
    fn empty_and_all_nan() {
        let s = BasicStats::of(&[f32::NAN, f32::NAN]);
        assert_eq!((s.count, s.nan_count), (0, 2));
        assert!(s.mean().is_nan() && s.std_dev().is_nan() && s.range().is_none());
        let m = s.merge(BasicStats::of(&[2.0]));
        assert_eq!((m.count, m.nan_count, m.mean()), (1, 2, 2.0));
    }
}

/// What a client may ask for: the ICD's StatsType values, with the same numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatKind {
    NumPixels = 0,
    NanCount = 1,
    Sum = 2,
    FluxDensity = 3,
    Mean = 4,
    Rms = 5,
    Sigma = 6,
    SumSq = 7,
    Min = 8,
    Max = 9,
    Extrema = 10,
    Blc = 11,
    Trc = 12,
    MinPos = 13,
    MaxPos = 14,
    Blcf = 15,
    Trcf = 16,
    MinPosf = 17,
    MaxPosf = 18,
}

impl StatKind {
    const ALL: [StatKind; 19] = [
        StatKind::NumPixels,
        StatKind::NanCount,
        StatKind::Sum,
        StatKind::FluxDensity,
        StatKind::Mean,
        StatKind::Rms,
        StatKind::Sigma,
        StatKind::SumSq,
        StatKind::Min,
        StatKind::Max,
        StatKind::Extrema,
        StatKind::Blc,
        StatKind::Trc,
        StatKind::MinPos,
        StatKind::MaxPos,
        StatKind::Blcf,
        StatKind::Trcf,
        StatKind::MinPosf,
        StatKind::MaxPosf,
    ];

    /// The statistic with ICD number `code`.
    pub fn from_code(code: i32) -> Option<StatKind> {
        usize::try_from(code)
            .ok()
            .and_then(|i| StatKind::ALL.get(i).copied())
    }

    /// Its ICD number.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// The value of one statistic. `beam_area_pixels` converts Jy/beam sums to flux density (None: not applicable).
pub fn stat_value(kind: StatKind, s: &BasicStats, beam_area_pixels: Option<f64>) -> f64 {
    let none = s.count == 0;
    match kind {
        StatKind::NumPixels => s.count as f64,
        StatKind::NanCount => s.nan_count as f64,
        _ if none => f64::NAN,
        StatKind::Sum => s.sum,
        StatKind::FluxDensity => beam_area_pixels.map(|a| s.sum / a).unwrap_or(f64::NAN),
        StatKind::Mean => s.mean(),
        StatKind::Rms => s.rms(),
        StatKind::Sigma => s.std_dev(),
        StatKind::SumSq => s.sum_sq,
        StatKind::Min => s.min,
        StatKind::Max => s.max,
        StatKind::Extrema => {
            if s.min.abs() > s.max.abs() {
                s.min
            } else {
                s.max
            }
        }
        // Positions (Blc, Trc, MinPos, MaxPos and their f-forms): one double cannot carry a position; sent as
        // NaN, as the reference does.
        StatKind::Blc
        | StatKind::Trc
        | StatKind::MinPos
        | StatKind::MaxPos
        | StatKind::Blcf
        | StatKind::Trcf
        | StatKind::MinPosf
        | StatKind::MaxPosf => f64::NAN,
    }
}
