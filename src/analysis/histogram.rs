//! Histograms with the frontend's bin rule: `num_bins` equal bins over [min, max]; bin i holds values in
//! [min + i·w, min + (i+1)·w), the maximum goes in the last bin, NaN and out-of-range values are not counted.
//! Partials over the same range merge by adding counts.

/// Counts over a fixed range.
#[derive(Debug, Clone, PartialEq)]
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
        let n = self.bins.len();
        let (min, max) = (self.min, self.max);
        let width = self.bin_width();
        if width.is_nan() || width <= 0.0 {
            // A zero-width range: everything equal to min is one bin.
            let hits = data.iter().filter(|v| f64::from(**v) == min).count() as i64;
            self.bins[0] += hits;
            return;
        }
        let last = n - 1;
        for &v in data {
            let x = f64::from(v);
            if x >= min && x <= max {
                let i = ((x - min) / width) as usize;
                self.bins[i.min(last)] += 1;
            }
        }
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
}
