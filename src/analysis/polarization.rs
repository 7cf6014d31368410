//! Computed Stokes parameters from I, Q, U and V, with carta_backend's formulas: Ptotal = √(Q²+U²+V²),
//! Plinear = √(Q²+U²), PFtotal = 100·Ptotal/I and PFlinear = 100·Plinear/I (percent), Pangle = ½·atan2(U, Q)
//! in degrees. NaN in any input gives NaN. Pure functions over pixel slices and over statistics values.

/// A Stokes parameter computed from the stored ones; the numbers are the ICD's (and the frontend's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComputedStokes {
    Ptotal = 13,
    Plinear = 14,
    PFtotal = 15,
    PFlinear = 16,
    Pangle = 17,
}

/// FITS Stokes codes of the stored parameters the computed ones use.
pub const I: i32 = 1;
pub const Q: i32 = 2;
pub const U: i32 = 3;
pub const V: i32 = 4;

impl ComputedStokes {
    pub const ALL: [ComputedStokes; 5] = [
        ComputedStokes::Ptotal,
        ComputedStokes::Plinear,
        ComputedStokes::PFtotal,
        ComputedStokes::PFlinear,
        ComputedStokes::Pangle,
    ];

    /// By the name a coordinate uses ("Ptotal" …).
    pub fn from_name(name: &str) -> Option<ComputedStokes> {
        ComputedStokes::ALL.into_iter().find(|c| c.name() == name)
    }

    /// By the Stokes index the ICD uses for it (13 … 17).
    pub fn from_index(index: i64) -> Option<ComputedStokes> {
        ComputedStokes::ALL.into_iter().find(|c| *c as i64 == index)
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            ComputedStokes::Ptotal => "Ptotal",
            ComputedStokes::Plinear => "Plinear",
            ComputedStokes::PFtotal => "PFtotal",
            ComputedStokes::PFlinear => "PFlinear",
            ComputedStokes::Pangle => "Pangle",
        }
    }

    /// The stored parameters it needs, as FITS codes, in the order [`combine`] takes them: I (if used), Q,
    /// U, V (if used).
    pub fn needs(self) -> &'static [i32] {
        match self {
            ComputedStokes::Ptotal => &[Q, U, V],
            ComputedStokes::Plinear | ComputedStokes::Pangle => &[Q, U],
            ComputedStokes::PFtotal => &[I, Q, U, V],
            ComputedStokes::PFlinear => &[I, Q, U],
        }
    }

    /// The computed value from the stored ones, given in [`ComputedStokes::needs`] order.
    #[inline]
    pub fn combine(self, values: &[f64]) -> f64 {
        if values.iter().any(|v| v.is_nan()) {
            return f64::NAN;
        }
        match (self, values) {
            (ComputedStokes::Ptotal, [q, u, v]) => (q * q + u * u + v * v).sqrt(),
            (ComputedStokes::Plinear, [q, u]) => (q * q + u * u).sqrt(),
            (ComputedStokes::PFtotal, [i, q, u, v]) => 100.0 * ((q * q + u * u + v * v).sqrt() / i),
            (ComputedStokes::PFlinear, [i, q, u]) => 100.0 * ((q * q + u * u).sqrt() / i),
            (ComputedStokes::Pangle, [q, u]) => u.atan2(*q).to_degrees() / 2.0,
            _ => f64::NAN,
        }
    }
}

/// Combines equally long pixel slices of the stored parameters (in [`ComputedStokes::needs`] order) into the
/// computed parameter's pixels; non-finite results are NaN.
pub fn combine_pixels(kind: ComputedStokes, parts: &[&[f32]]) -> Vec<f32> {
    let n = parts.iter().map(|p| p.len()).min().unwrap_or(0);
    let mut values = [0f64; 4];
    (0..n)
        .map(|k| {
            for (slot, part) in values.iter_mut().zip(parts) {
                *slot = f64::from(part[k]);
            }
            let v = kind.combine(&values[..parts.len()]) as f32;
            if v.is_finite() {
                v
            } else {
                f32::NAN
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_carta_backends() {
        let (i, q, u, v) = (10.0, 3.0, 4.0, 12.0);
        assert_eq!(ComputedStokes::Ptotal.combine(&[q, u, v]), 13.0);
        assert_eq!(ComputedStokes::Plinear.combine(&[q, u]), 5.0);
        assert_eq!(ComputedStokes::PFtotal.combine(&[i, q, u, v]), 130.0);
        assert_eq!(ComputedStokes::PFlinear.combine(&[i, q, u]), 50.0);
        let pa = ComputedStokes::Pangle.combine(&[0.0, 1.0]);
        assert!((pa - 45.0).abs() < 1e-12);
        assert!(ComputedStokes::Plinear.combine(&[f64::NAN, 1.0]).is_nan());
        let px = combine_pixels(
            ComputedStokes::PFlinear,
            &[&[0.0, 2.0], &[1.0, 1.0], &[0.0, f32::NAN]],
        );
        assert!(px[0].is_nan(), "division by zero I is no value");
        assert!(px[1].is_nan());
        assert_eq!(
            ComputedStokes::from_index(15),
            Some(ComputedStokes::PFtotal)
        );
        assert_eq!(
            ComputedStokes::from_name("Pangle"),
            Some(ComputedStokes::Pangle)
        );
        assert_eq!(ComputedStokes::from_index(12), None);
    }
}
