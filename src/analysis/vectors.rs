//! Polarisation vectors of block-averaged planes: the intensity (polarised intensity √(Q²+U²), debiased with
//! the given errors, optionally as a percentage of I) and the angle (½·atan2(U, Q) in degrees) of each block,
//! or the current plane itself as either, with the threshold of carta_backend (HEAD formulas, in f32; the
//! threshold on Stokes I, on the polarised intensity or on the current plane as `threshold_option` and the
//! image's Stokes allow, the rule of carta-backend#1459 that the 6.0.0 frontend's option expects). Pure
//! functions over slices; the chunk workers call them on their bands.

use serde::{Deserialize, Serialize};

/// Where each output comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// Not drawn (the frontend's `None`).
    Off,
    /// The current plane's values.
    Current,
    /// Computed from Q and U.
    Computed,
}

/// What the threshold applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThresholdOn {
    Current,
    StokesI,
    PolarisedIntensity,
}

/// The parameters of one vector overlay, resolved against the image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VectorParams {
    pub intensity: Source,
    pub angle: Source,
    /// Polarised intensity as a percentage of Stokes I.
    pub fractional: bool,
    /// Values below it are not drawn.
    pub threshold: Option<f32>,
    pub threshold_on: ThresholdOn,
    /// Debiasing errors of Q and U (0 without debiasing).
    pub q_error: f32,
    pub u_error: f32,
}

impl VectorParams {
    /// Whether Q and U are read.
    pub fn needs_qu(&self) -> bool {
        self.intensity == Source::Computed
            || self.angle == Source::Computed
            || (self.threshold.is_some() && self.threshold_on == ThresholdOn::PolarisedIntensity)
    }

    /// Whether Stokes I is read.
    pub fn needs_i(&self) -> bool {
        let computed = self.intensity == Source::Computed || self.angle == Source::Computed;
        (computed && self.fractional)
            || (self.threshold.is_some() && self.threshold_on == ThresholdOn::StokesI)
    }

    /// Whether the current plane is read.
    pub fn needs_current(&self) -> bool {
        self.intensity == Source::Current
            || self.angle == Source::Current
            || (self.threshold.is_some() && self.threshold_on == ThresholdOn::Current)
    }
}

/// The block means a band of vectors is made from (each the same length, when read).
#[derive(Debug, Default)]
pub struct Inputs<'a> {
    pub current: Option<&'a [f32]>,
    pub i: Option<&'a [f32]>,
    pub q: Option<&'a [f32]>,
    pub u: Option<&'a [f32]>,
}

/// Polarised intensity of one block, debiased: √(Q² + U² − (σQ² + σU²)/2), NaN where it is imaginary.
pub fn polarised_intensity(q: f32, u: f32, q_error: f32, u_error: f32) -> f32 {
    let r = q * q + u * u - (q_error * q_error + u_error * u_error) / 2.0;
    if r >= 0.0 {
        r.sqrt()
    } else {
        f32::NAN
    }
}

/// Polarisation angle of one block in degrees, in (−90, 90].
pub fn polarisation_angle(q: f32, u: f32) -> f32 {
    u.atan2(q).to_degrees() / 2.0
}

/// The intensity and angle values of `n` blocks (empty for an output that is `Off`).
pub fn vectors(n: usize, inputs: &Inputs<'_>, p: &VectorParams) -> (Vec<f32>, Vec<f32>) {
    let at = |s: Option<&[f32]>, k: usize| s.and_then(|s| s.get(k)).copied().unwrap_or(f32::NAN);
    let pi_raw =
        |k: usize| polarised_intensity(at(inputs.q, k), at(inputs.u, k), p.q_error, p.u_error);
    // Whether block k passes the threshold.
    let kept = |k: usize| -> bool {
        let Some(t) = p.threshold else {
            return true;
        };
        let v = match p.threshold_on {
            ThresholdOn::Current => at(inputs.current, k),
            ThresholdOn::StokesI => at(inputs.i, k),
            ThresholdOn::PolarisedIntensity => pi_raw(k),
        };
        !v.is_nan() && v >= t
    };
    let one = |source: Source, computed: &dyn Fn(usize) -> f32| -> Vec<f32> {
        match source {
            Source::Off => Vec::new(),
            Source::Current => (0..n)
                .map(|k| {
                    if kept(k) {
                        at(inputs.current, k)
                    } else {
                        f32::NAN
                    }
                })
                .collect(),
            Source::Computed => (0..n)
                .map(|k| if kept(k) { computed(k) } else { f32::NAN })
                .collect(),
        }
    };
    let intensity = one(p.intensity, &|k| {
        let pi = pi_raw(k);
        if p.fractional {
            100.0 * pi / at(inputs.i, k)
        } else {
            pi
        }
    });
    let angle = one(p.angle, &|k| {
        let (q, u) = (at(inputs.q, k), at(inputs.u, k));
        // A fractional overlay draws nothing where I is missing.
        if q.is_nan() || u.is_nan() || (p.fractional && at(inputs.i, k).is_nan()) {
            f32::NAN
        } else {
            polarisation_angle(q, u)
        }
    });
    (intensity, angle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> VectorParams {
        VectorParams {
            intensity: Source::Computed,
            angle: Source::Computed,
            fractional: false,
            threshold: None,
            threshold_on: ThresholdOn::StokesI,
            q_error: 0.0,
            u_error: 0.0,
        }
    }

    #[test]
    fn intensity_and_angle_of_q_and_u() {
        let (q, u) = ([3.0f32, 0.0, -1.0, f32::NAN], [4.0f32, 2.0, 0.0, 1.0]);
        let inputs = Inputs {
            q: Some(&q),
            u: Some(&u),
            ..Default::default()
        };
        let (pi, pa) = vectors(4, &inputs, &params());
        assert_eq!(&pi[..3], &[5.0, 2.0, 1.0]);
        assert!(pi[3].is_nan() && pa[3].is_nan());
        assert!((pa[1] - 45.0).abs() < 1e-6);
        assert!((pa[2] - 90.0).abs() < 1e-6);
    }

    #[test]
    fn debiasing_fraction_and_threshold() {
        let (i, q, u) = (
            [10.0f32, 1.0, f32::NAN],
            [3.0f32, 3.0, 3.0],
            [4.0f32, 4.0, 4.0],
        );
        let inputs = Inputs {
            i: Some(&i),
            q: Some(&q),
            u: Some(&u),
            ..Default::default()
        };
        let mut p = params();
        p.q_error = 1.0;
        p.u_error = 1.0;
        assert_eq!(vectors(3, &inputs, &p).0[0], 24.0f32.sqrt());
        p.q_error = 10.0;
        assert!(
            vectors(3, &inputs, &p).0[0].is_nan(),
            "imaginary debiased PI"
        );
        let mut p = params();
        p.fractional = true;
        let (pi, pa) = vectors(3, &inputs, &p);
        assert_eq!(&pi[..2], &[50.0, 500.0]);
        assert!(pi[2].is_nan() && pa[2].is_nan() && !pa[0].is_nan());
        p.threshold = Some(5.0);
        let (pi, pa) = vectors(3, &inputs, &p);
        assert_eq!(pi[0], 50.0);
        assert!(pi[1].is_nan() && pa[1].is_nan(), "I below the threshold");
        p.threshold_on = ThresholdOn::PolarisedIntensity;
        p.threshold = Some(6.0);
        assert!(vectors(3, &inputs, &p).0.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn the_current_plane_as_both_with_its_threshold() {
        let cur = [1.0f32, 5.0, f32::NAN];
        let inputs = Inputs {
            current: Some(&cur),
            ..Default::default()
        };
        let p = VectorParams {
            intensity: Source::Current,
            angle: Source::Off,
            threshold: Some(2.0),
            threshold_on: ThresholdOn::Current,
            ..params()
        };
        let (pi, pa) = vectors(3, &inputs, &p);
        assert!(pa.is_empty());
        assert!(pi[0].is_nan() && pi[1] == 5.0 && pi[2].is_nan());
        assert!(p.needs_current() && !p.needs_qu() && !p.needs_i());
    }
}
