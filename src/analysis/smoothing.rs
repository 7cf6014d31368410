//! The contour source plane: Gaussian smoothing as carta_backend does it for contours (smoothing factor f >= 2),
//! a separable "valid" convolution with a normalised kernel and carta_backend's NaN rule.

/// The 1-D Gaussian weights for smoothing factor `factor`: `2(f-1)+1` taps, sigma `(f-1)/2`, normalised to sum 1.
/// Factors below 2 give the identity kernel `[1.0]`.
pub fn gaussian_kernel(factor: usize) -> Vec<f64> {
    if factor < 2 {
        return vec![1.0];
    }
    let radius = factor - 1;
    let sigma = radius as f64 / 2.0;
    let weights: Vec<f64> = (0..=2 * radius)
        .map(|i| {
            let d = i as f64 - radius as f64;
            (-0.5 * d * d / (sigma * sigma)).exp()
        })
        .collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / total).collect()
}

/// Gaussian smoothing as carta_backend does for contours with smoothing factor f >= 2: kernel
/// [`gaussian_kernel`]`(f)` (size 2(f-1)+1, sigma (f-1)/2) applied separably, first along rows, then along columns,
/// as a "valid" convolution: the output is `(width - 2k) × (rows - 2k)` with k = f - 1, output pixel (x, y) being
/// centred on input pixel (x + k, y + k).
///
/// NaN rule (carta_backend's `RunKernel` / `GaussianSmooth`):
/// 1. In each 1-D pass a non-finite sample (NaN or ±∞) has weight 0 and the remaining weights are renormalised:
///    the result is `Σ w·v / Σ w` over the finite samples of the window, or NaN when none is finite. The vertical
///    pass applies this to the horizontal pass's results, so a NaN there (a row window with no finite value) is
///    skipped like any other NaN. (So with NaN present this is not a 2-D renormalised mean: each row of the window
///    is renormalised on its own first.)
/// 2. Output pixels whose source centre pixel is NaN are set back to NaN (an infinite centre is not; it gets the
///    mean of its finite neighbours).
///
/// Sums are accumulated in f32 as carta_backend does. A factor below 2 returns a copy of the input with its own
/// size; an `input` whose length is not `width × rows`, or a plane too small for the kernel, gives
/// `(vec![], 0, 0)`.
pub fn gaussian_valid(
    input: &[f32],
    width: usize,
    rows: usize,
    factor: usize,
) -> (Vec<f32>, usize, usize) {
    if width.checked_mul(rows) != Some(input.len()) {
        return (Vec::new(), 0, 0);
    }
    if factor < 2 {
        return (input.to_vec(), width, rows);
    }
    let k = factor - 1;
    let taps = 2 * k + 1;
    if width < taps || rows < taps {
        return (Vec::new(), 0, 0);
    }
    let (out_width, out_rows) = (width - 2 * k, rows - 2 * k);
    let kernel: Vec<f32> = gaussian_kernel(factor)
        .into_iter()
        .map(|w| w as f32)
        .collect();

    // Horizontal results in a ring of `taps` rows: input row j lives in slot j % taps.
    let mut ring = vec![0f32; taps * out_width];
    let mut sum = vec![0f32; out_width];
    let mut weight = vec![0f32; out_width];
    let horizontal = |y: usize, dest: &mut [f32], sum: &mut [f32], weight: &mut [f32]| {
        let row = &input[y * width..(y + 1) * width];
        sum.fill(0.0);
        weight.fill(0.0);
        for (i, &w) in kernel.iter().enumerate() {
            accumulate(&row[i..i + out_width], w, sum, weight);
        }
        finish(sum, weight, dest);
    };
    for y in 0..taps - 1 {
        horizontal(
            y,
            &mut ring[(y % taps) * out_width..][..out_width],
            &mut sum,
            &mut weight,
        );
    }

    let mut out = vec![0f32; out_width * out_rows];
    for (y, dest) in out.chunks_exact_mut(out_width).enumerate() {
        let newest = y + taps - 1;
        horizontal(
            newest,
            &mut ring[(newest % taps) * out_width..][..out_width],
            &mut sum,
            &mut weight,
        );
        sum.fill(0.0);
        weight.fill(0.0);
        for (i, &w) in kernel.iter().enumerate() {
            let slot = (y + i) % taps;
            accumulate(
                &ring[slot * out_width..][..out_width],
                w,
                &mut sum,
                &mut weight,
            );
        }
        finish(&sum, &weight, dest);
        // NaN put back where the centre pixel is NaN.
        let centre = &input[(y + k) * width + k..][..out_width];
        for (d, c) in dest.iter_mut().zip(centre) {
            if c.is_nan() {
                *d = f32::NAN;
            }
        }
    }
    (out, out_width, out_rows)
}

/// `sum += w·v`, `weight += w` over the finite `v` (branch-free, so it vectorises).
#[inline]
fn accumulate(values: &[f32], w: f32, sum: &mut [f32], weight: &mut [f32]) {
    for ((s, ws), &v) in sum.iter_mut().zip(weight.iter_mut()).zip(values) {
        let finite = v.is_finite();
        *s += if finite { w * v } else { 0.0 };
        *ws += if finite { w } else { 0.0 };
    }
}

/// `dest = sum / weight`, NaN where no weight.
#[inline]
fn finish(sum: &[f32], weight: &[f32], dest: &mut [f32]) {
    for ((d, &s), &w) in dest.iter_mut().zip(sum).zip(weight) {
        *d = if w > 0.0 { s / w } else { f32::NAN };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_plane(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64 * 10.0 - 3.0) as f32
            })
            .collect()
    }

    fn close(a: f32, b: f64) -> bool {
        (f64::from(a) - b).abs() <= 1e-5 * (1.0 + b.abs())
    }

    #[test]
    fn kernel_shape() {
        for f in 2..8 {
            let k = gaussian_kernel(f);
            let r = f - 1;
            assert_eq!(k.len(), 2 * r + 1);
            assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let sigma = r as f64 / 2.0;
            for (i, (&ki, &mirror)) in k.iter().zip(k.iter().rev()).enumerate() {
                assert!((ki - mirror).abs() < 1e-15);
                let d = i as f64 - r as f64;
                assert!((ki / k[r] - (-0.5 * d * d / (sigma * sigma)).exp()).abs() < 1e-12);
            }
        }
        assert_eq!(gaussian_kernel(1), vec![1.0]);
        assert_eq!(gaussian_kernel(0), vec![1.0]);
    }

    #[test]
    fn matches_direct_2d_convolution() {
        let (w, h) = (23, 19);
        let input = random_plane(w * h, 4);
        for f in 2..6 {
            let (out, ow, oh) = gaussian_valid(&input, w, h, f);
            let k = f - 1;
            assert_eq!((ow, oh), (w - 2 * k, h - 2 * k));
            assert_eq!(out.len(), ow * oh);
            let kern = gaussian_kernel(f);
            for y in 0..oh {
                for x in 0..ow {
                    let mut s = 0.0;
                    for (j, kj) in kern.iter().enumerate() {
                        for (i, ki) in kern.iter().enumerate() {
                            s += kj * ki * f64::from(input[(y + j) * w + x + i]);
                        }
                    }
                    assert!(
                        close(out[y * ow + x], s),
                        "f {f} ({x}, {y}): {} vs {s}",
                        out[y * ow + x]
                    );
                }
            }
        }
    }

    /// The documented rule, directly in f64.
    fn oracle(input: &[f32], w: usize, h: usize, f: usize) -> Vec<f64> {
        let kern = gaussian_kernel(f);
        let k = f - 1;
        let (ow, oh) = (w - 2 * k, h - 2 * k);
        let pass = |vals: &mut dyn Iterator<Item = f64>| {
            let (mut s, mut ws) = (0.0, 0.0);
            for (v, kw) in vals.zip(&kern) {
                if v.is_finite() {
                    s += kw * v;
                    ws += kw;
                }
            }
            if ws > 0.0 {
                s / ws
            } else {
                f64::NAN
            }
        };
        let mut horiz = vec![0.0; ow * h];
        for y in 0..h {
            for x in 0..ow {
                horiz[y * ow + x] =
                    pass(&mut (0..2 * k + 1).map(|i| f64::from(input[y * w + x + i])));
            }
        }
        let mut out = vec![0.0; ow * oh];
        for y in 0..oh {
            for x in 0..ow {
                out[y * ow + x] = if input[(y + k) * w + x + k].is_nan() {
                    f64::NAN
                } else {
                    pass(&mut (0..2 * k + 1).map(|j| horiz[(y + j) * ow + x]))
                };
            }
        }
        out
    }

    #[test]
    fn nan_rule() {
        let (w, h) = (31, 27);
        let mut input = random_plane(w * h, 9);
        // Scattered NaN and ±inf, and a NaN block larger than the kernel.
        for i in (0..w * h).step_by(7) {
            input[i] = f32::NAN;
        }
        input[100] = f32::INFINITY;
        input[200] = f32::NEG_INFINITY;
        for y in 12..22 {
            for x in 10..22 {
                input[y * w + x] = f32::NAN;
            }
        }
        for f in 2..5 {
            let (out, ow, _) = gaussian_valid(&input, w, h, f);
            let want = oracle(&input, w, h, f);
            let k = f - 1;
            for (i, (&o, &e)) in out.iter().zip(&want).enumerate() {
                let (x, y) = (i % ow, i / ow);
                if input[(y + k) * w + x + k].is_nan() {
                    assert!(o.is_nan());
                }
                if e.is_nan() {
                    assert!(o.is_nan(), "f {f} ({x}, {y}) {o}");
                } else {
                    assert!(close(o, e), "f {f} ({x}, {y}): {o} vs {e}");
                }
            }
            // Inside the block, beyond the kernel's reach of valid pixels, everything is NaN anyway; at its edge,
            // pixels with NaN neighbours but a valid centre are finite.
            assert!(out.iter().any(|v| v.is_finite()));
        }
        // A NaN neighbour is skipped with the weights renormalised: a constant plane stays constant.
        let mut flat = vec![2.5f32; 25];
        flat[7] = f32::NAN;
        flat[13] = f32::INFINITY;
        let (out, ow, oh) = gaussian_valid(&flat, 5, 5, 3);
        assert_eq!((ow, oh), (1, 1));
        assert!((out[0] - 2.5).abs() < 1e-6);
        // A NaN centre stays NaN; an infinite centre takes its neighbours' mean.
        flat[12] = f32::NAN;
        assert!(gaussian_valid(&flat, 5, 5, 3).0[0].is_nan());
        flat[12] = f32::INFINITY;
        assert!((gaussian_valid(&flat, 5, 5, 3).0[0] - 2.5).abs() < 1e-6);
        // All NaN: NaN.
        let (out, _, _) = gaussian_valid(&[f32::NAN; 49], 7, 7, 2);
        assert!(out.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn factor_one_is_the_input_and_bad_sizes_are_empty() {
        let input = random_plane(12, 1);
        assert_eq!(gaussian_valid(&input, 4, 3, 1), (input.clone(), 4, 3));
        assert_eq!(gaussian_valid(&input, 4, 3, 0), (input.clone(), 4, 3));
        assert_eq!(gaussian_valid(&input, 5, 3, 2), (Vec::new(), 0, 0));
        assert_eq!(gaussian_valid(&input, 4, 3, 3), (Vec::new(), 0, 0));
        assert_eq!(gaussian_valid(&[], 0, 0, 2), (Vec::new(), 0, 0));
        assert_eq!(gaussian_valid(&[], usize::MAX, 2, 2), (Vec::new(), 0, 0));
        let (out, ow, oh) = gaussian_valid(&input, 4, 3, 2);
        assert_eq!((out.len(), ow, oh), (2, 2, 1));
        let (out, ow, oh) = gaussian_valid(&input, 3, 4, 2);
        assert_eq!((out.len(), ow, oh), (2, 1, 2));
    }
}
