//! Basic statistics of finite pixels as a mergeable partial: count, NaN count, sum, sum of squares, min, max,
//! and a numerically stable variance (per-slice shifted sums, merged with Chan et al.'s pairwise rule).

/// Statistics of the finite values seen so far.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// Statistics of one slice in a single pass. Deviations are taken from the slice's first finite value so
    /// the variance does not suffer from cancellation when the values sit far from zero.
    pub fn of(data: &[f32]) -> BasicStats {
        let shift = data
            .iter()
            .copied()
            .find(|v| v.is_finite())
            .map(f64::from)
            .unwrap_or(0.0);
        let (mut n, mut sum, mut sum_sq, mut dsum, mut dsq) =
            (0u64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
        let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in data {
            if v.is_finite() {
                let x = f64::from(v);
                n += 1;
                sum += x;
                sum_sq += x * x;
                let d = x - shift;
                dsum += d;
                dsq += d * d;
                min = min.min(v);
                max = max.max(v);
            }
        }
        if n == 0 {
            return BasicStats {
                nan_count: data.len() as u64,
                ..BasicStats::default()
            };
        }
        let nf = n as f64;
        BasicStats {
            count: n,
            nan_count: data.len() as u64 - n,
            sum,
            sum_sq,
            min: f64::from(min),
            max: f64::from(max),
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
    fn empty_and_all_nan() {
        let s = BasicStats::of(&[f32::NAN, f32::NAN]);
        assert_eq!((s.count, s.nan_count), (0, 2));
        assert!(s.mean().is_nan() && s.std_dev().is_nan() && s.range().is_none());
        let m = s.merge(BasicStats::of(&[2.0]));
        assert_eq!((m.count, m.nan_count, m.mean()), (1, 2, 2.0));
    }
}

/// What a client may ask for (the ICD's StatsType values the frontend's widgets use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKind {
    NumPixels,
    NanCount,
    Sum,
    FluxDensity,
    Mean,
    Rms,
    Sigma,
    SumSq,
    Min,
    Max,
    Extrema,
    /// Positions (Blc, Trc, MinPos, MaxPos): one double cannot carry a position; sent as NaN, as the reference does.
    Position,
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
        StatKind::Position => f64::NAN,
    }
}
