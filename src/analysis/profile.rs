//! Spatial profiles: a row or column cut to `[start, end)`, full resolution or, for `mip ≥ 2`, min/max
//! decimated the way the reference backend does it: endpoints rounded to `ceil(v / (2·mip))·2`, and each window
//! of `2·mip` pixels gives its minimum and maximum in the order they occur (NaN-aware).

/// A profile's values and the mip actually used.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub values: Vec<f32>,
    pub mip: usize,
}

/// Cuts `line` (a full row or column) to `[start, end)` (`end == 0` means the end) and decimates for `mip`.
pub fn profile(line: &[f32], start: usize, end: usize, mip: usize) -> Profile {
    let len = line.len();
    let end = if end == 0 || end > len { len } else { end };
    let start = start.min(end);
    if mip < 2 {
        return Profile {
            values: line[start..end].to_vec(),
            mip: 1,
        };
    }
    let window = 2 * mip;
    let first = start.div_ceil(window);
    let last = end.div_ceil(window);
    let mut values = Vec::with_capacity((last - first) * 2);
    for w in first..last {
        let lo = w * window;
        let hi = ((w + 1) * window).min(len);
        let mut min: Option<(usize, f32)> = None;
        let mut max: Option<(usize, f32)> = None;
        for (i, v) in line[lo.min(len)..hi].iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            if min.is_none_or(|(_, m)| *v < m) {
                min = Some((i, *v));
            }
            if max.is_none_or(|(_, m)| *v > m) {
                max = Some((i, *v));
            }
        }
        match (min, max) {
            (Some((imin, vmin)), Some((imax, vmax))) => {
                if imin <= imax {
                    values.extend([vmin, vmax]);
                } else {
                    values.extend([vmax, vmin]);
                }
            }
            _ => values.extend([f32::NAN, f32::NAN]),
        }
    }
    Profile { values, mip }
}

/// The nearest pixel index to a cursor coordinate (halves round away from zero), if inside `0..len`.
pub fn pixel_index(coordinate: f32, len: usize) -> Option<usize> {
    let r = coordinate.round();
    (r >= 0.0 && (r as usize) < len).then_some(r as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_cut() {
        let line: Vec<f32> = (0..10).map(|v| v as f32).collect();
        assert_eq!(profile(&line, 0, 0, 1).values, line);
        assert_eq!(profile(&line, 2, 5, 1).values, vec![2.0, 3.0, 4.0]);
        assert_eq!(profile(&line, 0, 99, 0).values.len(), 10);
    }

    #[test]
    fn min_max_decimation_sizes_and_order() {
        // 130 px at mip 2 gives 66 values (reference backend's test oracle).
        let line: Vec<f32> = (0..130).map(|v| ((v * 37) % 11) as f32).collect();
        assert_eq!(profile(&line, 0, 130, 2).values.len(), 66);
        let p = profile(&[9.0, 1.0, f32::NAN, 5.0, 2.0, 2.0], 0, 6, 2);
        assert_eq!(p.values[..2], [9.0, 1.0], "max came first");
        assert_eq!(p.values[2..], [2.0, 2.0], "one value: both the same");
        assert_eq!(p.mip, 2);
        let all_nan = profile(&[f32::NAN; 4], 0, 4, 2);
        assert!(all_nan.values.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn cursor_rounding() {
        assert_eq!(pixel_index(2.5, 10), Some(3));
        assert_eq!(pixel_index(-0.4, 10), Some(0));
        assert_eq!(pixel_index(-0.6, 10), None);
        assert_eq!(pixel_index(9.6, 10), None);
    }
}
