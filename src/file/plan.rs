//! Plans shared by the file's intents: the one histogram plan (bin count, bounds, and the one rule for a range
//! that cannot be binned), merging of chunk partials, and the one way multi-channel passes are cut into
//! batches with throttled progress.

use std::ops::Range;
use std::time::{Duration, Instant};

use super::events::HistogramResult;
use super::requirements::HistogramConfig;
use crate::analysis::histogram::{auto_bins, Histogram};
use crate::analysis::stats::BasicStats;
use crate::chunk::intent::Bins;

/// Partial spectral profiles and cube-histogram progress go out at most this often.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// Bytes of pixels one batch of a multi-channel pass reads per round over the chunks.
const BATCH_BYTES: usize = 32 << 20;

/// The bin count a histogram requirement asks for: fixed, or automatic for a `width`×`height` selection.
pub fn bin_count(config: &HistogramConfig, width: usize, height: usize) -> usize {
    if config.fixed_num_bins && config.num_bins > 0 {
        config.num_bins as usize
    } else {
        auto_bins(width, height)
    }
}

/// The bounds a histogram requirement fixes, if it fixes them.
pub fn fixed_bounds(config: &HistogramConfig) -> Option<(f64, f64)> {
    config.bounds.filter(|_| config.fixed_bounds)
}

/// How a histogram is made: counts over a range, or the one degenerate answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HistogramPlan {
    Counts(Bins),
    /// No range can be binned: no finite pixel, constant data, or fixed bounds with min ≥ max (or not finite).
    Degenerate,
}

impl HistogramPlan {
    /// `bins` over the fixed bounds, else over the selection's range from `stats`.
    pub fn new(bins: usize, fixed: Option<(f64, f64)>, stats: &BasicStats) -> HistogramPlan {
        match fixed.or(stats.range()) {
            Some((min, max)) if min.is_finite() && max.is_finite() && min < max => {
                HistogramPlan::Counts(Bins {
                    min,
                    max,
                    count: bins.max(1),
                })
            }
            _ => HistogramPlan::Degenerate,
        }
    }
}

/// A histogram of counts with the selection's mean and σ.
pub fn result(counts: &Histogram, stats: &BasicStats) -> HistogramResult {
    HistogramResult {
        bin_width: counts.bin_width(),
        first_bin_center: counts.first_bin_center(),
        bins: counts.bins.clone(),
        mean: stats.mean(),
        std_dev: stats.std_dev(),
    }
}

/// The degenerate histogram: one bin of width 0 at the smallest finite value, holding every finite pixel; no
/// bins when there is no finite pixel.
pub fn degenerate(stats: &BasicStats) -> HistogramResult {
    match stats.range() {
        Some((v, _)) => HistogramResult {
            bin_width: 0.0,
            first_bin_center: v,
            bins: vec![i64::try_from(stats.count).unwrap_or(i64::MAX)],
            mean: stats.mean(),
            std_dev: stats.std_dev(),
        },
        None => HistogramResult {
            bin_width: 0.0,
            first_bin_center: 0.0,
            bins: Vec::new(),
            mean: f64::NAN,
            std_dev: f64::NAN,
        },
    }
}

/// The answer for `plan` once its counts (if any) are known.
pub fn answer(
    plan: HistogramPlan,
    counts: Option<&Histogram>,
    stats: &BasicStats,
) -> HistogramResult {
    match (plan, counts) {
        (HistogramPlan::Counts(_), Some(c)) => result(c, stats),
        _ => degenerate(stats),
    }
}

pub fn merge_stats(parts: impl IntoIterator<Item = BasicStats>) -> BasicStats {
    parts
        .into_iter()
        .fold(BasicStats::default(), BasicStats::merge)
}

/// Adds one chunk's counts into the total (same bins).
pub fn add_counts(total: Histogram, part: Histogram) -> Histogram {
    total.merge(&part)
}

/// Merges per-channel partials of several chunks into one column of `len` channels.
pub fn merge_columns(parts: Vec<Vec<BasicStats>>, len: usize) -> Vec<BasicStats> {
    let mut out = vec![BasicStats::default(); len];
    for part in parts {
        for (o, p) in out.iter_mut().zip(part) {
            *o = o.merge(p);
        }
    }
    out
}

/// Channels `0..depth` in batches of about [`BATCH_BYTES`] of pixels each.
pub fn channel_batches(depth: usize, plane_len: usize) -> impl Iterator<Item = Range<usize>> {
    let batch = (BATCH_BYTES / (plane_len * 4).max(1)).clamp(1, depth.max(1));
    (0..depth)
        .step_by(batch)
        .map(move |start| start..(start + batch).min(depth))
}

/// Says when a long pass should report progress: at most every [`PROGRESS_INTERVAL`], never at the end.
pub struct Progress {
    last: Instant,
}

impl Progress {
    pub fn start() -> Progress {
        Progress {
            last: Instant::now(),
        }
    }

    /// Whether to report after `done` of `total` steps.
    pub fn due(&mut self, done: usize, total: usize) -> bool {
        if done < total && self.last.elapsed() >= PROGRESS_INTERVAL {
            self.last = Instant::now();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_ranges_that_cannot_be_binned() {
        let constant = BasicStats::of(&[2.0, 2.0, f32::NAN]);
        assert_eq!(
            HistogramPlan::new(10, None, &constant),
            HistogramPlan::Degenerate
        );
        assert_eq!(
            HistogramPlan::new(10, Some((3.0, 3.0)), &BasicStats::of(&[1.0, 5.0])),
            HistogramPlan::Degenerate
        );
        assert_eq!(
            HistogramPlan::new(10, Some((f64::NAN, 3.0)), &BasicStats::of(&[1.0, 5.0])),
            HistogramPlan::Degenerate
        );
        let d = degenerate(&constant);
        assert_eq!(
            (d.bins.clone(), d.first_bin_center, d.bin_width),
            (vec![2], 2.0, 0.0)
        );
        assert!(degenerate(&BasicStats::of(&[f32::NAN])).bins.is_empty());
        assert_eq!(
            HistogramPlan::new(4, None, &BasicStats::of(&[1.0, 5.0])),
            HistogramPlan::Counts(Bins {
                min: 1.0,
                max: 5.0,
                count: 4
            })
        );
    }

    #[test]
    fn batches_cover_every_channel_once() {
        let batches: Vec<_> = channel_batches(10, 4 << 20).collect();
        assert_eq!(batches, vec![0..2, 2..4, 4..6, 6..8, 8..10]);
        assert_eq!(channel_batches(3, 1).collect::<Vec<_>>(), vec![0..3]);
        assert_eq!(channel_batches(0, 1).count(), 0);
    }
}
