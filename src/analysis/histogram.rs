//! Histograms with the frontend's bin rule: `num_bins` equal bins over [min, max]; bin i holds values in
//! [min + i·w, min + (i+1)·w), the maximum goes in the last bin, NaN and out-of-range values are not counted.
//! Partials over the same range merge by adding counts.

/// Counts over a fixed range.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    pub min: f64,
    pub max: f64,
    pub bins: Vec<i64>,
}

/// The automatic bin count for a `width`×`height` plane: `max(2, int(sqrt(width·height)))`.
pub fn auto_bins(width: usize, height: usize) -> usize {
    (((width as f64) * (height as f64)).sqrt() as usize).max(2)
}

impl Histogram {
    /// An empty histogram of `num_bins` (at least 1) over [min, max].
    pub fn new(min: f64, max: f64, num_bins: usize) -> Histogram {
        Histogram {
            min,
            max,
            bins: vec![0; num_bins.max(1)],
        }
    }

    pub fn bin_width(&self) -> f64 {
        (self.max - self.min) / self.bins.len() as f64
    }

    /// Counts the values of `data` that fall in range.
    pub fn add(&mut self, data: &[f32]) {
        let (min, max) = (self.min, self.max);
        let width = self.bin_width();
        if width.is_nan() || width <= 0.0 {
            // A zero-width range: everything equal to min is one bin.
            let hits = data.iter().filter(|v| f64::from(**v) == min).count() as i64;
            self.bins[0] += hits;
            return;
        }
        count_bins(&mut self.bins, data, min, max, width);
    }

    /// Adds the counts of a partial over the same range and bins.
    pub fn merge(mut self, other: &Histogram) -> Histogram {
        for (a, b) in self.bins.iter_mut().zip(&other.bins) {
            *a += b;
        }
        self
    }

    /// The centre of the first bin.
    pub fn first_bin_center(&self) -> f64 {
        self.min + self.bin_width() / 2.0
    }
}

/// Values whose bin indices are computed together (one pass of vector arithmetic, then the increments).
const LANES: usize = 8;

/// The portable kernel: bin indices for a group of values with branch-free vector arithmetic (the exact rule
/// `floor((x − min) / width)`, clamped to the last bin; values out of range or not finite go to a spare bin
/// past the end), then one increment each into u32 counts that are added into `bins` at the end.
#[inline(always)]
fn count_bins_kernel(bins: &mut [i64], data: &[f32], min: f64, max: f64, width: f64) {
    let n = bins.len();
    let last = (n - 1) as f64;
    let spare = n as f64;
    let mut counts = vec![0u32; n + 1];
    let mut group = |c: &[f32; LANES]| {
        let mut idx = [0u32; LANES];
        for i in 0..LANES {
            let x = f64::from(c[i]);
            let inside = x >= min && x <= max;
            let q = (x - min) / width;
            let q = if q < last { q } else { last };
            let q = if inside { q } else { spare };
            // q is in [0, n] here, so the conversion is exact truncation.
            idx[i] = q as i32 as u32;
        }
        for &i in &idx {
            counts[i as usize] += 1;
        }
    };
    let mut chunks = data.chunks_exact(LANES);
    for c in &mut chunks {
        if let Ok(c) = <&[f32; LANES]>::try_from(c) {
            group(c);
        }
    }
    let mut tail = [f32::NAN; LANES];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    group(&tail);
    add_counts(bins, &counts);
}

/// Bin counts up to this size get four interleaved copies (one per vector lane), so runs of equal bins do not
/// wait on each other's increments; larger ones are sparse enough to share one.
const INTERLEAVE_MAX_BINS: usize = 16 * 1024;

/// Zeroed u32 counts for `n` bins and a spare bin, as four interleaved tables (one per lane) for small `n`,
/// and the offset between tables (0 when there is one table).
fn interleaved_counts(n: usize) -> (Vec<u32>, usize) {
    if n < INTERLEAVE_MAX_BINS {
        (vec![0u32; 4 * (n + 1)], n + 1)
    } else {
        (vec![0u32; n + 1], 0)
    }
}

/// Adds the u32 counts (one or more tables of `bins.len()` bins and a spare bin) into `bins`.
fn add_counts(bins: &mut [i64], counts: &[u32]) {
    for table in counts.chunks_exact(bins.len() + 1) {
        for (b, c) in bins.iter_mut().zip(table) {
            *b += i64::from(*c);
        }
    }
}

/// Values whose bin indices the vector kernels compute and store before incrementing their counts.
const BATCH: usize = 64;

/// Calls `f` on `data` in batches of [`BATCH`] values; the last batch is padded with NaN, which the kernels
/// count in the spare bin that is dropped.
#[inline(always)]
fn for_each_batch(data: &[f32], mut f: impl FnMut(&[f32; BATCH])) {
    let mut batches = data.chunks_exact(BATCH);
    for batch in &mut batches {
        if let Ok(batch) = <&[f32; BATCH]>::try_from(batch) {
            f(batch);
        }
    }
    let mut tail = [f32::NAN; BATCH];
    tail[..batches.remainder().len()].copy_from_slice(batches.remainder());
    f(&tail);
}

/// One increment per index of a batch (each a bin plus its table's offset, below `counts.len()`). The indices
/// are read back from memory on purpose: left to itself the compiler moves each one out of its vector register
/// with an extract instruction, and those compete with the bin arithmetic for the same vector port (measured
/// here: 1.07 → 0.78 ns a value for the AVX-512 kernel).
#[inline(always)]
fn increment(counts: &mut [u32], idx: &[i32; BATCH]) {
    for k in 0..BATCH {
        // SAFETY: k < BATCH, inside the array.
        let i = unsafe { std::ptr::read_volatile(idx.as_ptr().add(k)) } as usize;
        debug_assert!(i < counts.len());
        // SAFETY: the kernels store only a bin in [0, n] (or the spare bin n) plus k·(n + 1) for a table k
        // that exists, so i < counts.len().
        *unsafe { counts.get_unchecked_mut(i) } += 1;
    }
}

/// Adding and then subtracting 1.5·2^52 rounds a double below 2^51 to the nearest integer.
const ROUNDING_MAGIC: f64 = 6_755_399_441_055_744.0;
/// How close to an integer a fast quotient must be for its group to be recomputed with the division.
const NEAR: f64 = 1e-6;

/// The AVX2 + FMA kernel. The bin index is `floor((x − min) · (1/width))`, which equals the exact rule's
/// `floor((x − min) / width)` unless the quotient lies within [`NEAR`] of an integer (a rounding step can
/// only move it a few ulps); for such values, which are rare, the group is recomputed with the division
/// itself, so the counts are exactly those of the rule.
///
/// # Safety
/// The CPU must support AVX2 and FMA (checked with `is_x86_feature_detected!` by the caller). Loads stay
/// inside the current batch, and every stored index is a bin of `bins` (clamped; checked by a debug
/// assertion before the unchecked increment).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn count_bins_avx2(bins: &mut [i64], data: &[f32], min: f64, max: f64, width: f64) {
    use std::arch::x86_64::*;
    let n = bins.len();
    let (mut counts, stride) = interleaved_counts(n);
    let (vmin, vmax) = (_mm256_set1_pd(min), _mm256_set1_pd(max));
    let (vwidth, vinv) = (_mm256_set1_pd(width), _mm256_set1_pd(1.0 / width));
    let vlast = _mm256_set1_pd((n - 1) as f64);
    let vspare = _mm256_set1_pd(n as f64);
    let (magic, eps) = (_mm256_set1_pd(ROUNDING_MAGIC), _mm256_set1_pd(NEAR));
    let abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(i64::MAX));
    let s = stride as i32;
    let offsets = _mm_setr_epi32(0, s, 2 * s, 3 * s);
    let index = |x: __m256d| {
        let inside = _mm256_and_pd(
            _mm256_cmp_pd::<_CMP_GE_OQ>(x, vmin),
            _mm256_cmp_pd::<_CMP_LE_OQ>(x, vmax),
        );
        let d = _mm256_sub_pd(x, vmin);
        let mut q = _mm256_mul_pd(d, vinv);
        // Distance to the nearest integer (q ≥ 0 in range, far below 2^51).
        let nearest = _mm256_sub_pd(_mm256_add_pd(q, magic), magic);
        let dist = _mm256_and_pd(_mm256_sub_pd(q, nearest), abs_mask);
        let near = _mm256_cmp_pd::<_CMP_LT_OQ>(dist, eps);
        if _mm256_movemask_pd(_mm256_and_pd(near, inside)) != 0 {
            q = _mm256_floor_pd(_mm256_div_pd(d, vwidth));
        }
        // In range q ≥ 0, so truncation is the floor.
        let f = _mm256_blendv_pd(vspare, _mm256_min_pd(q, vlast), inside);
        _mm_add_epi32(_mm256_cvttpd_epi32(f), offsets)
    };
    let mut idx = [0i32; BATCH];
    for_each_batch(data, |batch| {
        for g in 0..BATCH / 4 {
            // SAFETY: a batch holds BATCH values, so each 4-value load and store is in bounds.
            let i = index(_mm256_cvtps_pd(_mm_loadu_ps(batch.as_ptr().add(4 * g))));
            _mm_storeu_si128(idx.as_mut_ptr().add(4 * g) as *mut __m128i, i);
        }
        increment(&mut counts, &idx);
    });
    add_counts(bins, &counts);
}

/// The AVX-512 kernel: the AVX2 kernel's arithmetic eight values at a time, with mask registers for the
/// range test (same rule, same exactness fall-back).
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512VL (checked with `is_x86_feature_detected!` by the caller);
/// loads and indices are bounded as in [`count_bins_avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
unsafe fn count_bins_avx512(bins: &mut [i64], data: &[f32], min: f64, max: f64, width: f64) {
    use std::arch::x86_64::*;
    let n = bins.len();
    let (mut counts, stride) = interleaved_counts(n);
    let (vmin, vmax) = (_mm512_set1_pd(min), _mm512_set1_pd(max));
    let (vwidth, vinv) = (_mm512_set1_pd(width), _mm512_set1_pd(1.0 / width));
    let vlast = _mm512_set1_pd((n - 1) as f64);
    let spare = _mm256_set1_epi32(n as i32);
    let s = stride as i32;
    let offsets = _mm256_setr_epi32(0, s, 2 * s, 3 * s, 0, s, 2 * s, 3 * s);
    let (magic, eps) = (_mm512_set1_pd(ROUNDING_MAGIC), _mm512_set1_pd(NEAR));
    let index = |x: __m512d| {
        let inside =
            _mm512_cmp_pd_mask::<_CMP_GE_OQ>(x, vmin) & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(x, vmax);
        let d = _mm512_sub_pd(x, vmin);
        let mut q = _mm512_mul_pd(d, vinv);
        // Distance to the nearest integer (q ≥ 0 in range, far below 2^51).
        let nearest = _mm512_sub_pd(_mm512_add_pd(q, magic), magic);
        let dist = _mm512_abs_pd(_mm512_sub_pd(q, nearest));
        if _mm512_mask_cmp_pd_mask::<_CMP_LT_OQ>(inside, dist, eps) != 0 {
            q = _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(
                _mm512_div_pd(d, vwidth),
            );
        }
        // In range q ≥ 0, so truncation is the floor.
        let i = _mm512_cvttpd_epi32(_mm512_min_pd(q, vlast));
        _mm256_add_epi32(_mm256_mask_blend_epi32(inside, spare, i), offsets)
    };
    let mut idx = [0i32; BATCH];
    for_each_batch(data, |batch| {
        for g in 0..BATCH / 8 {
            // SAFETY: a batch holds BATCH values, so each 8-value load and store is in bounds.
            let i = index(_mm512_cvtps_pd(_mm256_loadu_ps(batch.as_ptr().add(8 * g))));
            _mm256_storeu_si256(idx.as_mut_ptr().add(8 * g) as *mut __m256i, i);
        }
        increment(&mut counts, &idx);
    });
    add_counts(bins, &counts);
}

/// Values per kernel call: the kernels count in u32.
const MAX_PART: usize = 1 << 31;

/// Counts `data` into `bins` by parts small enough for the kernels' u32 counts.
fn count_bins(bins: &mut [i64], data: &[f32], min: f64, max: f64, width: f64) {
    for part in data.chunks(MAX_PART) {
        count_bins_part(bins, part, min, max, width);
    }
}

/// The kernel for this CPU: AVX-512 or AVX2 when present (checked once, cached by std), else the portable
/// build.
fn count_bins_part(bins: &mut [i64], data: &[f32], min: f64, max: f64, width: f64) {
    #[cfg(target_arch = "x86_64")]
    if data.len() >= 4 * LANES
        && std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
    {
        // SAFETY: the CPU has AVX-512F and VL, checked just above.
        return unsafe { count_bins_avx512(bins, data, min, max, width) };
    }
    #[cfg(target_arch = "x86_64")]
    if data.len() >= 4 * LANES
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
    {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        return unsafe { count_bins_avx2(bins, data, min, max, width) };
    }
    count_bins_kernel(bins, data, min, max, width)
}

/// The portable kernel whatever the CPU (for benchmarks against the dispatched one).
pub fn count_bins_portable(h: &mut Histogram, data: &[f32]) {
    let (min, max, width) = (h.min, h.max, h.bin_width());
    if width > 0.0 {
        for part in data.chunks(MAX_PART) {
            count_bins_kernel(&mut h.bins, part, min, max, width);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_rules() {
        // The reference backend's test case: 10 bins over [0, 10].
        let data = [
            0.0,
            0.5,
            1.0,
            4.0,
            4.5,
            4.7,
            4.9,
            5.0,
            5.0,
            5.0,
            9.1,
            10.0,
            -1.0,
            -1e-9,
            1e9 + 10.0,
            11.0,
        ];
        let mut h = Histogram::new(0.0, 10.0, 10);
        h.add(&data);
        assert_eq!(h.bins, vec![2, 1, 0, 0, 4, 3, 0, 0, 0, 2]);
        assert_eq!(h.bins.iter().sum::<i64>(), 12);
        let mut nan = Histogram::new(0.0, 1.0, 4);
        nan.add(&[f32::NAN, f32::INFINITY]);
        assert_eq!(nan.bins.iter().sum::<i64>(), 0);
    }

    #[test]
    fn merge_and_auto_bins() {
        let mut a = Histogram::new(0.0, 4.0, 4);
        a.add(&[0.0, 1.5]);
        let mut b = Histogram::new(0.0, 4.0, 4);
        b.add(&[3.9, 4.0]);
        assert_eq!(a.merge(&b).bins, vec![1, 1, 0, 2]);
        assert_eq!(auto_bins(10, 10), 10);
        assert_eq!(auto_bins(1, 1), 2);
        assert_eq!(auto_bins(640, 480), 554);
    }

    /// Pseudo-random values with NaNs, infinities and values exactly on bin edges.
    fn awkward(n: usize, min: f64, max: f64, bins: usize) -> Vec<f32> {
        let mut state = 12345u64;
        let w = (max - min) / bins as f64;
        (0..n)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                match i % 11 {
                    0 => f32::NAN,
                    1 => f32::INFINITY,
                    2 => (min + ((state >> 20) as usize % (bins + 1)) as f64 * w) as f32,
                    3 => (min - 1.0 + u * (max - min + 2.0)) as f32,
                    _ => (min + u * (max - min)) as f32,
                }
            })
            .collect()
    }

    /// The rule, one value at a time, as the reference computes it.
    fn reference(data: &[f32], min: f64, max: f64, bins: usize) -> Vec<i64> {
        let w = (max - min) / bins as f64;
        let mut out = vec![0i64; bins];
        for &v in data {
            let x = f64::from(v);
            if x >= min && x <= max {
                out[(((x - min) / w).floor() as usize).min(bins - 1)] += 1;
            }
        }
        out
    }

    #[test]
    fn vector_kernels_count_exactly_the_rule() {
        for (min, max, bins) in [
            (0.0, 10.0, 10),
            (-3.3, 7.1, 7),
            (-1.0, 1.0, 2000),
            (0.1, 0.7, 20000),
            (-1e4, 3e4, 999),
        ] {
            let data = awkward(50_003, min, max, bins);
            let want = reference(&data, min, max, bins);
            let mut h = Histogram::new(min, max, bins);
            h.add(&data);
            assert_eq!(
                h.bins, want,
                "dispatched kernel, {bins} bins over [{min}, {max}]"
            );
            let mut p = Histogram::new(min, max, bins);
            count_bins_portable(&mut p, &data);
            assert_eq!(
                p.bins, want,
                "portable kernel, {bins} bins over [{min}, {max}]"
            );
            #[cfg(target_arch = "x86_64")]
            {
                let width = (max - min) / bins as f64;
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    let mut b = vec![0i64; bins];
                    // SAFETY: the CPU has AVX2 and FMA, checked just above.
                    unsafe { count_bins_avx2(&mut b, &data, min, max, width) };
                    assert_eq!(b, want, "AVX2 kernel, {bins} bins over [{min}, {max}]");
                }
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512vl")
                {
                    let mut b = vec![0i64; bins];
                    // SAFETY: the CPU has AVX-512F and VL, checked just above.
                    unsafe { count_bins_avx512(&mut b, &data, min, max, width) };
                    assert_eq!(b, want, "AVX-512 kernel, {bins} bins over [{min}, {max}]");
                }
            }
        }
    }
}
