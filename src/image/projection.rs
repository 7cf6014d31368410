//! Celestial map projections and the native↔celestial spherical rotation of FITS WCS Paper II
//! (Calabretta & Greisen 2002). Owns the per-projection maths only: projection-plane coordinates in degrees to
//! native spherical coordinates (and back), and the rotation set up from the reference point, LONPOLE and
//! LATPOLE. Reading header keywords is left to `wcs`.

/// Degrees per radian: the "R0" scale of every projection in Paper II.
const R0: f64 = 180.0 / std::f64::consts::PI;

/// Slack allowed when a computed sine or cosine strays just outside [-1, 1] through rounding.
const TOL: f64 = 1.0e-10;

fn sind(d: f64) -> f64 {
    d.to_radians().sin()
}

fn cosd(d: f64) -> f64 {
    d.to_radians().cos()
}

fn atan2d(y: f64, x: f64) -> f64 {
    y.atan2(x).to_degrees()
}

/// `asin` in degrees, clamping values that overshoot [-1, 1] by rounding only.
fn asind(v: f64) -> Option<f64> {
    clamp_unit(v).map(|c| c.asin().to_degrees())
}

fn acosd(v: f64) -> Option<f64> {
    clamp_unit(v).map(|c| c.acos().to_degrees())
}

fn clamp_unit(v: f64) -> Option<f64> {
    if !v.is_finite() || v.abs() > 1.0 + TOL {
        None
    } else {
        Some(v.clamp(-1.0, 1.0))
    }
}

/// A supported projection with its parameters (PVi_m on the latitude axis where Paper II defines them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Projection {
    /// Gnomonic.
    Tan,
    /// Slant orthographic; `xi = eta = 0` is plain orthographic. NCP is SIN with `eta = cot(dec0)`.
    Sin { xi: f64, eta: f64 },
    /// Zenithal equidistant.
    Arc,
    /// Stereographic.
    Stg,
    /// Zenithal equal-area.
    Zea,
    /// Plate carrée.
    Car,
    /// Mercator.
    Mer,
    /// Sanson-Flamsteed (also the target of AIPS GLS).
    Sfl,
    /// Hammer-Aitoff.
    Ait,
    /// Cylindrical equal area with scale `lambda` (PVi_1, default 1).
    Cea { lambda: f64 },
}

impl Projection {
    /// The projection for a three-letter code. `pv(m)` returns PVi_m of the latitude axis; `dec0` is the
    /// reference latitude (needed to turn NCP into SIN). GLS is returned as SFL; the caller handles its offset.
    pub fn from_code(code: &str, pv: &dyn Fn(u32) -> Option<f64>, dec0: f64) -> Option<Projection> {
        let p = match code {
            "TAN" => Projection::Tan,
            "SIN" => Projection::Sin {
                xi: pv(1).unwrap_or(0.0),
                eta: pv(2).unwrap_or(0.0),
            },
            "NCP" => {
                let s = sind(dec0);
                if s == 0.0 || !s.is_finite() {
                    return None;
                }
                Projection::Sin {
                    xi: 0.0,
                    eta: cosd(dec0) / s,
                }
            }
            "ARC" => Projection::Arc,
            "STG" => Projection::Stg,
            "ZEA" => Projection::Zea,
            "CAR" => Projection::Car,
            "MER" => Projection::Mer,
            "SFL" | "GLS" => Projection::Sfl,
            "AIT" => Projection::Ait,
            "CEA" => {
                let lambda = pv(1).unwrap_or(1.0);
                if lambda <= 0.0 || lambda > 1.0 || !lambda.is_finite() {
                    return None;
                }
                Projection::Cea { lambda }
            }
            _ => return None,
        };
        match p {
            Projection::Sin { xi, eta } if !(xi.is_finite() && eta.is_finite()) => None,
            _ => Some(p),
        }
    }

    /// Zenithal projections have their native reference point at the native pole.
    pub fn is_zenithal(&self) -> bool {
        matches!(
            self,
            Projection::Tan
                | Projection::Sin { .. }
                | Projection::Arc
                | Projection::Stg
                | Projection::Zea
        )
    }

    /// Default native latitude of the fiducial point (theta_0).
    pub fn default_theta0(&self) -> f64 {
        if self.is_zenithal() {
            90.0
        } else {
            0.0
        }
    }

    /// Projection-plane (x, y) in degrees → native (phi, theta) in degrees; `None` outside the projection.
    pub fn deproject(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        if !(x.is_finite() && y.is_finite()) {
            return None;
        }
        let r = x.hypot(y);
        let phi_z = if r == 0.0 { 0.0 } else { atan2d(x, -y) };
        let out = match *self {
            Projection::Tan => (phi_z, atan2d(R0, r)),
            Projection::Arc => (phi_z, 90.0 - r),
            Projection::Stg => (phi_z, 90.0 - 2.0 * (r / (2.0 * R0)).atan().to_degrees()),
            Projection::Zea => (phi_z, 90.0 - 2.0 * asind(r / (2.0 * R0))?),
            Projection::Sin { xi, eta } => sin_to_native(x / R0, y / R0, xi, eta)?,
            Projection::Car => (x, y),
            Projection::Mer => (x, 2.0 * (y / R0).exp().atan().to_degrees() - 90.0),
            Projection::Sfl => {
                if y.abs() > 90.0 + TOL {
                    return None;
                }
                let c = cosd(y);
                let phi = if c.abs() < TOL {
                    if x.abs() > TOL {
                        return None;
                    }
                    0.0
                } else {
                    x / c
                };
                (phi, y.clamp(-90.0, 90.0))
            }
            Projection::Ait => {
                let u = x / (4.0 * R0);
                let v = y / (2.0 * R0);
                let z2 = 1.0 - u * u - v * v;
                if z2 < 0.5 - TOL {
                    return None;
                }
                let z = z2.max(0.5).sqrt();
                let phi = 2.0 * atan2d(z * x / (2.0 * R0), 2.0 * z * z - 1.0);
                (phi, asind(z * y / R0)?)
            }
            Projection::Cea { lambda } => (x, asind(lambda * y / R0)?),
        };
        if out.0.is_finite() && out.1.is_finite() {
            Some(out)
        } else {
            None
        }
    }

    /// Native (phi, theta) in degrees → projection-plane (x, y) in degrees; `None` where undefined.
    pub fn project(&self, phi: f64, theta: f64) -> Option<(f64, f64)> {
        let zenithal = |r: f64| (r * sind(phi), -r * cosd(phi));
        let out = match *self {
            Projection::Tan => {
                let s = sind(theta);
                if s <= 0.0 {
                    return None;
                }
                zenithal(R0 * cosd(theta) / s)
            }
            Projection::Arc => zenithal(90.0 - theta),
            Projection::Stg => {
                let s = 1.0 + sind(theta);
                if s == 0.0 {
                    return None;
                }
                zenithal(2.0 * R0 * cosd(theta) / s)
            }
            Projection::Zea => zenithal(R0 * (2.0 * (1.0 - sind(theta))).max(0.0).sqrt()),
            Projection::Sin { xi, eta } => {
                let t = 1.0 - sind(theta);
                (
                    R0 * (cosd(theta) * sind(phi) + xi * t),
                    -R0 * (cosd(theta) * cosd(phi) - eta * t),
                )
            }
            Projection::Car => (phi, theta),
            Projection::Mer => {
                if theta.abs() >= 90.0 {
                    return None;
                }
                (phi, R0 * ((90.0 + theta) / 2.0).to_radians().tan().ln())
            }
            Projection::Sfl => (phi * cosd(theta), theta),
            Projection::Ait => {
                let d = 1.0 + cosd(theta) * cosd(phi / 2.0);
                if d <= 0.0 {
                    return None;
                }
                let g = R0 * (2.0 / d).sqrt();
                (2.0 * g * cosd(theta) * sind(phi / 2.0), g * sind(theta))
            }
            Projection::Cea { lambda } => (phi, R0 * sind(theta) / lambda),
        };
        if out.0.is_finite() && out.1.is_finite() {
            Some(out)
        } else {
            None
        }
    }
}

/// Inverse slant orthographic (Paper II eqs. 56–60) on plane coordinates already divided by R0.
fn sin_to_native(x: f64, y: f64, xi: f64, eta: f64) -> Option<(f64, f64)> {
    let r2 = x * x + y * y;
    if xi == 0.0 && eta == 0.0 {
        if r2 > 1.0 + TOL {
            return None;
        }
        let phi = if r2 == 0.0 { 0.0 } else { atan2d(x, -y) };
        // acos is ill-conditioned near the pole and asin near the horizon; pick the stable one.
        let theta = if r2 < 0.5 {
            acosd(r2.sqrt())?
        } else {
            asind((1.0 - r2).max(0.0).sqrt())?
        };
        return Some((phi, theta));
    }
    let a = xi * xi + eta * eta + 1.0;
    let b = xi * (x - xi) + eta * (y - eta);
    let c = (x - xi) * (x - xi) + (y - eta) * (y - eta) - 1.0;
    let disc = b * b - a * c;
    if disc < 0.0 {
        return None;
    }
    let s1 = (-b + disc.sqrt()) / a;
    let s2 = (-b - disc.sqrt()) / a;
    // The root nearer the native pole is the visible hemisphere.
    let mut s = s1.max(s2);
    if s > 1.0 {
        s = if s - 1.0 < TOL { 1.0 } else { s1.min(s2) };
    }
    let theta = asind(s)?;
    let t = 1.0 - s;
    let px = x - xi * t;
    let py = -(y - eta * t);
    let phi = if px == 0.0 && py == 0.0 {
        0.0
    } else {
        atan2d(px, py)
    };
    Some((phi, theta))
}

/// The spherical rotation from native to celestial coordinates (Paper II §2.3), stored as the celestial
/// coordinates of the native pole (alpha_p, delta_p) and the native longitude of the celestial pole (phi_p).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SphericalRotation {
    pub alpha_p: f64,
    pub delta_p: f64,
    pub phi_p: f64,
}

impl SphericalRotation {
    /// Sets up the rotation that puts the fiducial point (phi0, theta0) at celestial (lon0, lat0).
    /// `lonpole`/`latpole` are the header values, if any; defaults follow Paper II.
    pub fn new(
        lon0: f64,
        lat0: f64,
        phi0: f64,
        theta0: f64,
        lonpole: Option<f64>,
        latpole: Option<f64>,
    ) -> Option<SphericalRotation> {
        if ![lon0, lat0, phi0, theta0].iter().all(|v| v.is_finite()) || lat0.abs() > 90.0 + TOL {
            return None;
        }
        let phi_p = match lonpole.filter(|v| v.is_finite()) {
            Some(v) => v,
            None if lat0 >= theta0 => 0.0,
            None => 180.0,
        };
        if theta0 == 90.0 {
            return Some(SphericalRotation {
                alpha_p: lon0,
                delta_p: lat0,
                phi_p,
            });
        }
        let latpole = latpole.filter(|v| v.is_finite()).unwrap_or(90.0);
        let (s_lat0, c_lat0) = (sind(lat0), cosd(lat0));
        let (s_th0, c_th0) = (sind(theta0), cosd(theta0));
        let dphi = phi_p - phi0;
        let (s_dphi, c_dphi) = if dphi == 0.0 {
            (0.0, 1.0)
        } else {
            (sind(dphi), cosd(dphi))
        };

        let x = c_th0 * c_dphi;
        let y = s_th0;
        let z = x.hypot(y);
        let delta_p = if z == 0.0 {
            if s_lat0 != 0.0 {
                return None;
            }
            latpole
        } else {
            let ratio = s_lat0 / z;
            if ratio.abs() > 1.0 + TOL {
                return None;
            }
            let u = atan2d(y, x);
            let v = acosd(ratio)?;
            let wrap = |a: f64| {
                if a > 180.0 {
                    a - 360.0
                } else if a < -180.0 {
                    a + 360.0
                } else {
                    a
                }
            };
            let cand1 = wrap(u + v);
            let cand2 = wrap(u - v);
            let ok1 = cand1.abs() <= 90.0 + TOL;
            let ok2 = cand2.abs() <= 90.0 + TOL;
            let chosen = match (ok1, ok2) {
                (true, true) => {
                    if (latpole - cand1).abs() <= (latpole - cand2).abs() {
                        cand1
                    } else {
                        cand2
                    }
                }
                (true, false) => cand1,
                (false, true) => cand2,
                (false, false) => return None,
            };
            chosen.clamp(-90.0, 90.0)
        };

        let zz = cosd(delta_p) * c_lat0;
        let mut alpha_p = if zz.abs() < TOL {
            if c_lat0.abs() < TOL {
                lon0
            } else if delta_p > 0.0 {
                lon0 + phi_p - phi0 - 180.0
            } else {
                lon0 - phi_p + phi0
            }
        } else {
            let xx = (s_th0 - sind(delta_p) * s_lat0) / zz;
            let yy = s_dphi * c_th0 / c_lat0;
            if xx == 0.0 && yy == 0.0 {
                return None;
            }
            lon0 - atan2d(yy, xx)
        };
        // Keep the pole's longitude on the same side of zero as the reference longitude.
        if lon0 >= 0.0 {
            if alpha_p < 0.0 {
                alpha_p += 360.0;
            } else if alpha_p > 360.0 {
                alpha_p -= 360.0;
            }
        } else if alpha_p > 0.0 {
            alpha_p -= 360.0;
        } else if alpha_p < -360.0 {
            alpha_p += 360.0;
        }
        Some(SphericalRotation {
            alpha_p,
            delta_p,
            phi_p,
        })
    }

    /// Celestial (lon, lat) → native (phi, theta), degrees: the inverse of
    /// [`SphericalRotation::native_to_celestial`] (Paper II eq. 5).
    pub fn celestial_to_native(&self, lon: f64, lat: f64) -> (f64, f64) {
        let (s_dp, c_dp) = (sind(self.delta_p), cosd(self.delta_p));
        let (s_lat, c_lat) = (sind(lat), cosd(lat));
        let dlon = lon - self.alpha_p;
        let (s_dlon, c_dlon) = (sind(dlon), cosd(dlon));
        let mut x = s_lat * c_dp - c_lat * s_dp * c_dlon;
        if x.abs() < 1.0e-5 {
            // Rewritten to avoid cancellation near the pole of the rotation.
            x = -cosd(lat + 90.0 - self.delta_p) + c_lat * s_dp * (1.0 - c_dlon);
        }
        let y = -c_lat * s_dlon;
        let dphi = if x != 0.0 || y != 0.0 {
            atan2d(y, x)
        } else if self.delta_p < 90.0 {
            dlon - 180.0
        } else {
            -dlon
        };
        let mut phi = self.phi_p + dphi;
        if phi > 180.0 {
            phi -= 360.0;
        } else if phi < -180.0 {
            phi += 360.0;
        }
        let z = s_lat * s_dp + c_lat * c_dp * c_dlon;
        let theta = if z.abs() > 0.99 {
            x.hypot(y).min(1.0).acos().to_degrees().copysign(z)
        } else {
            z.asin().to_degrees()
        };
        (phi, theta)
    }

    /// Native (phi, theta) → celestial (lon, lat), degrees. Longitude is normalised like WCSLIB: to [0, 360]
    /// when the pole's longitude is non-negative, else to [-360, 0].
    pub fn native_to_celestial(&self, phi: f64, theta: f64) -> (f64, f64) {
        let (s_dp, c_dp) = (sind(self.delta_p), cosd(self.delta_p));
        let (s_th, c_th) = (sind(theta), cosd(theta));
        let dphi = phi - self.phi_p;
        let (s_dphi, c_dphi) = (sind(dphi), cosd(dphi));
        let mut x = s_th * c_dp - c_th * s_dp * c_dphi;
        if x.abs() < 1.0e-5 {
            // Rewritten to avoid cancellation near the pole of the rotation.
            x = -cosd(theta + 90.0 - self.delta_p) + c_th * s_dp * (1.0 - c_dphi);
        }
        let y = -c_th * s_dphi;
        let dlon = if x != 0.0 || y != 0.0 {
            atan2d(y, x)
        } else if self.delta_p < 90.0 {
            dphi + 180.0
        } else {
            -dphi
        };
        let mut lon = self.alpha_p + dlon;
        if self.alpha_p >= 0.0 {
            if lon < 0.0 {
                lon += 360.0;
            }
        } else if lon > 0.0 {
            lon -= 360.0;
        }
        if lon > 360.0 {
            lon -= 360.0;
        } else if lon < -360.0 {
            lon += 360.0;
        }
        let z = s_th * s_dp + c_th * c_dp * c_dphi;
        let lat = if z.abs() > 0.99 {
            x.hypot(y).min(1.0).acos().to_degrees().copysign(z)
        } else {
            z.asin().to_degrees()
        };
        (lon, lat)
    }
}

#[cfg(test)]
mod tests {
    use super::super::wcs::{TestHeader, Wcs};
    use super::*;

    fn none(_: u32) -> Option<f64> {
        None
    }

    #[test]
    fn round_trips_native_plane() {
        let codes = [
            "TAN", "SIN", "ARC", "STG", "ZEA", "CAR", "MER", "SFL", "AIT", "CEA",
        ];
        for code in codes {
            let p = Projection::from_code(code, &none, 30.0).expect(code);
            for &(phi, theta) in &[(10.0, 60.0), (-120.0, 45.0), (170.0, 80.0), (0.0, 89.0)] {
                let (x, y) = p.project(phi, theta).expect(code);
                let (phi2, theta2) = p.deproject(x, y).expect(code);
                assert!((phi - phi2).abs() < 1e-9, "{code} phi {phi} {phi2}");
                assert!(
                    (theta - theta2).abs() < 1e-9,
                    "{code} theta {theta} {theta2}"
                );
            }
        }
    }

    #[test]
    fn slant_sin_round_trip() {
        let p = Projection::Sin { xi: 0.1, eta: -0.3 };
        let (x, y) = p.project(33.0, 70.0).unwrap_or((f64::NAN, f64::NAN));
        let (phi, theta) = p.deproject(x, y).unwrap_or((f64::NAN, f64::NAN));
        assert!((phi - 33.0).abs() < 1e-9 && (theta - 70.0).abs() < 1e-9);
    }

    #[test]
    fn outside_projection_is_none() {
        assert!(Projection::Sin { xi: 0.0, eta: 0.0 }
            .deproject(100.0, 0.0)
            .is_none());
        assert!(Projection::Ait.deproject(400.0, 0.0).is_none());
        assert!(Projection::Zea.deproject(200.0, 0.0).is_none());
        assert!(Projection::Tan.deproject(f64::NAN, 0.0).is_none());
        assert!(Projection::from_code("NCP", &none, 0.0).is_none());
        assert!(Projection::from_code("XYZ", &none, 0.0).is_none());
    }

    struct CelCase {
        name: &'static str,
        /// "KEY=value; …" header cards.
        cards: &'static str,
        /// (pixel x, pixel y, lon, lat) from astropy.wcs `all_pix2world(..., 1)`; NaN where WCSLIB rejects.
        points: &'static [(f64, f64, f64, f64)],
    }

    // Expected values generated with astropy 8.0.2 (WCSLIB) from the same cards.
    const CELESTIAL_CASES: &[CelCase] = &[
        CelCase {
            name: "tan",
            cards: "CTYPE1=RA---TAN; CTYPE2=DEC--TAN; CRVAL1=83.8; CRVAL2=-5.39; CRPIX1=50.5; CRPIX2=60.5; CDELT1=-0.001; CDELT2=0.001",
            points: &[
                (1.0, 1.0, 83.84972470214676, -5.449497938736911),
                (100.0, 1.0, 83.75027529785324, -5.449497938736911),
                (1.0, 120.0, 83.84971495890068, -5.330498026319673),
                (100.0, 120.0, 83.75028504109932, -5.330498026319673),
                (50.5, 60.5, 83.8, -5.390000000000001),
                (-300.0, 400.0, 84.15185552483452, -5.050409232896476),
            ],
        },
        CelCase {
            name: "sin_slant_lonpole",
            cards: "CTYPE1=RA---SIN; CTYPE2=DEC--SIN; CRVAL1=200.0; CRVAL2=45.0; CRPIX1=10; CRPIX2=20; CDELT1=-0.01; CDELT2=0.01; PV2_1=0.05; PV2_2=-0.1; LONPOLE=170.0",
            points: &[
                (1.0, 1.0, 200.17145619031783, 44.82842057617359),
                (64.0, 1.0, 199.29775634395514, 44.71720988062035),
                (1.0, 48.0, 200.05680292611044, 45.29142956966913),
                (64.0, 48.0, 199.17625065125804, 45.17931522273697),
                (32.5, 24.5, 199.67551282433408, 45.00482739623604),
            ],
        },
        CelCase {
            name: "ncp",
            cards: "CTYPE1=RA---NCP; CTYPE2=DEC--NCP; CRVAL1=150.0; CRVAL2=40.0; CRPIX1=32; CRPIX2=32; CDELT1=-0.02; CDELT2=0.02",
            points: &[
                (1.0, 1.0, 150.80201739402838, 39.36909677131842),
                (64.0, 1.0, 149.17211462175396, 39.368648312615534),
                (1.0, 64.0, 150.8169548510775, 40.629021079082406),
                (64.0, 64.0, 149.15669551300994, 40.62857608603668),
                (32.5, 32.5, 149.98694401529036, 40.00999718811074),
            ],
        },
        CelCase {
            name: "car_gal_oblique",
            cards: "CTYPE1=GLON-CAR; CTYPE2=GLAT-CAR; CRVAL1=120.0; CRVAL2=30.0; CRPIX1=100; CRPIX2=50; CDELT1=-0.1; CDELT2=0.1",
            points: &[
                (1.0, 1.0, 130.86224037339468, 24.631543386975075),
                (200.0, 1.0, 109.02865176823747, 24.622074223986957),
                (1.0, 100.0, 131.99247703290993, 34.482843073319756),
                (200.0, 100.0, 107.88734199043995, 34.4724026217091),
                (100.5, 50.5, 119.94223587448585, 30.049987397823287),
            ],
        },
        CelCase {
            name: "car_gal_plain",
            cards: "CTYPE1=GLON-CAR; CTYPE2=GLAT-CAR; CRVAL1=0.0; CRVAL2=0.0; CRPIX1=100.5; CRPIX2=50.5; CDELT1=-0.1; CDELT2=0.1",
            points: &[
                (1.0, 1.0, 9.950000000000001, -4.95),
                (200.0, 1.0, 350.05, -4.95),
                (1.0, 100.0, 9.950000000000001, 4.95),
                (200.0, 100.0, 350.05, 4.95),
                (100.5, 50.5, 0.0, 0.0),
            ],
        },
        CelCase {
            name: "arc",
            cards: "CTYPE1=RA---ARC; CTYPE2=DEC--ARC; CRVAL1=10.0; CRVAL2=-70.0; CRPIX1=100; CRPIX2=100; CDELT1=-0.5; CDELT2=0.5",
            points: &[
                (1.0, 1.0, 137.36818252501212, -33.27127073407555),
                (200.0, 1.0, 242.81884268220742, -32.85362593868138),
                (1.0, 200.0, 51.691970252057764, -4.988520828184107),
                (200.0, 200.0, 327.958011722744, -4.712068493232097),
                (100.5, 100.5, 9.277737034667304, -69.7485200638869),
            ],
        },
        CelCase {
            name: "stg",
            cards: "CTYPE1=ELON-STG; CTYPE2=ELAT-STG; CRVAL1=300.0; CRVAL2=20.0; CRPIX1=50; CRPIX2=50; CDELT1=-0.5; CDELT2=0.5",
            points: &[
                (1.0, 1.0, 323.15115184428856, -4.786219245313244),
                (100.0, 1.0, 276.3902350306616, -4.811850711932135),
                (1.0, 100.0, 331.31847337240754, 41.1982311011044),
                (100.0, 100.0, 268.1003262811873, 41.06722342004987),
                (50.5, 50.5, 299.73353175494606, 20.249799581903922),
            ],
        },
        CelCase {
            name: "zea",
            cards: "CTYPE1=GLON-ZEA; CTYPE2=GLAT-ZEA; CRVAL1=45.0; CRVAL2=85.0; CRPIX1=60; CRPIX2=60; CDELT1=-1.0; CDELT2=1.0",
            points: &[
                (1.0, 1.0, 90.32440727904749, -6.987886637070607),
                (120.0, 1.0, 359.1265578129993, -7.996874176900835),
                (1.0, 120.0, 180.64766702278325, -0.9309207661163301),
                (120.0, 120.0, 269.7671817613808, -2.0008871170147122),
                (60.5, 60.5, 38.653196518282684, 85.4723803398203),
            ],
        },
        CelCase {
            name: "ait",
            cards: "CTYPE1=GLON-AIT; CTYPE2=GLAT-AIT; CRVAL1=0.0; CRVAL2=0.0; CRPIX1=180.5; CRPIX2=90.5; CDELT1=-1.0; CDELT2=1.0",
            points: &[
                (1.0, 1.0, f64::NAN, f64::NAN),
                (360.0, 1.0, f64::NAN, f64::NAN),
                (1.0, 180.0, f64::NAN, f64::NAN),
                (360.0, 180.0, f64::NAN, f64::NAN),
                (180.5, 90.5, 0.0, 0.0),
                (30.0, 90.0, 164.1927386374681, -0.37708101865307625),
                (300.0, 150.0, f64::NAN, f64::NAN),
            ],
        },
        CelCase {
            name: "ait_oblique",
            cards: "CTYPE1=RA---AIT; CTYPE2=DEC--AIT; CRVAL1=266.4; CRVAL2=-28.9; CRPIX1=50; CRPIX2=50; CDELT1=-0.5; CDELT2=0.5; LATPOLE=-30.0",
            points: &[
                (1.0, 1.0, 242.54398147640785, -1.7398167232168986),
                (100.0, 1.0, 290.7373683354913, -1.6396133471083578),
                (1.0, 100.0, 227.78293288197986, -49.68668648448919),
                (100.0, 100.0, 305.7272009725672, -49.51567185259292),
                (50.5, 50.5, 266.6862537214039, -29.14969823362391),
            ],
        },
        CelCase {
            name: "mer",
            cards: "CTYPE1=RA---MER; CTYPE2=DEC--MER; CRVAL1=30.0; CRVAL2=0.0; CRPIX1=50; CRPIX2=50; CDELT1=-0.5; CDELT2=0.5",
            points: &[
                (1.0, 1.0, 54.5, -23.785791613209142),
                (100.0, 1.0, 5.0, -23.785791613209142),
                (1.0, 100.0, 54.5, 24.24251240705452),
                (100.0, 100.0, 5.0, 24.24251240705452),
                (50.5, 50.5, 29.75, 0.24999920672924247),
            ],
        },
        CelCase {
            name: "sfl",
            cards: "CTYPE1=RA---SFL; CTYPE2=DEC--SFL; CRVAL1=30.0; CRVAL2=0.0; CRPIX1=50; CRPIX2=50; CDELT1=-0.5; CDELT2=0.5",
            points: &[
                (1.0, 1.0, 56.924222803899944, -24.5),
                (100.0, 1.0, 2.5263032613265857, -24.5),
                (1.0, 100.0, 57.032759014581046, 25.0),
                (100.0, 100.0, 2.415552025937707, 25.0),
                (50.5, 50.5, 29.74999762015753, 0.25),
            ],
        },
        CelCase {
            name: "gls",
            cards: "CTYPE1=RA---GLS; CTYPE2=DEC--GLS; CRVAL1=30.0; CRVAL2=40.0; CRPIX1=5; CRPIX2=5; CDELT1=-1.0; CDELT2=1.0",
            points: &[
                (1.0, 1.0, 34.94427190999916, 36.0),
                (10.0, 1.0, 23.81966011250105, 36.0),
                (1.0, 10.0, 35.65685424949238, 45.0),
                (10.0, 10.0, 22.928932188134524, 45.0),
                (5.5, 5.5, 29.342456500054606, 40.5),
            ],
        },
        CelCase {
            name: "cea",
            cards: "CTYPE1=RA---CEA; CTYPE2=DEC--CEA; CRVAL1=0.0; CRVAL2=0.0; CRPIX1=50; CRPIX2=50; CDELT1=-0.5; CDELT2=0.5; PV2_1=0.8",
            points: &[
                (1.0, 1.0, 24.5, -20.00392609764903),
                (100.0, 1.0, 335.0, -20.00392609764903),
                (1.0, 100.0, 24.5, 20.430188999824832),
                (100.0, 100.0, 335.0, 20.430188999824832),
                (50.5, 50.5, 359.75, 0.20000040615878675),
            ],
        },
        CelCase {
            name: "cd_rot",
            cards: "CTYPE1=RA---TAN; CTYPE2=DEC--TAN; CRVAL1=10.5; CRVAL2=41.2; CRPIX1=1024.5; CRPIX2=1000; CD1_1=-2.5e-05; CD1_2=1.2e-05; CD2_1=1.1e-05; CD2_2=2.4e-05",
            points: &[
                (1.0, 1.0, 10.518064743226901, 41.16476409327767),
                (2048.0, 1.0, 10.450069848368924, 41.18727171855153),
                (1.0, 2000.0, 10.549965529634182, 41.2127307015682),
                (2048.0, 2000.0, 10.481931746412645, 41.235257083373355),
                (1024.5, 1000.5, 10.50000797432511, 41.20001199999973),
            ],
        },
        CelCase {
            name: "crota2",
            cards: "CTYPE1=RA---TAN; CTYPE2=DEC--TAN; CRVAL1=10.5; CRVAL2=41.2; CRPIX1=50; CRPIX2=50; CDELT1=-0.001; CDELT2=0.002; CROTA2=30.0",
            points: &[
                (1.0, 1.0, 10.62141020021007, 41.13956579850372),
                (100.0, 1.0, 10.507561225987102, 41.09012939795983),
                (1.0, 100.0, 10.489928936155032, 41.31110196223354),
                (100.0, 100.0, 10.375880947588605, 41.261535868776754),
                (50.5, 50.5, 10.498759964119984, 41.200616018753244),
            ],
        },
        CelCase {
            name: "pc_arcsec",
            cards: "CTYPE1=RA---TAN; CTYPE2=DEC--TAN; CRVAL1=10.5; CRVAL2=41.2; CRPIX1=50; CRPIX2=50; CDELT1=-3.6; CDELT2=3.6; CUNIT1=arcsec; CUNIT2=arcsec; PC1_1=0.9; PC1_2=0.1; PC2_1=-0.2; PC2_2=1.1",
            points: &[
                (1.0, 1.0, 0.05191664816491237, -0.03265553490504046),
                (100.0, 1.0, 359.962816681347, -0.052455516215185585),
                (1.0, 100.0, 0.04201667020986822, 0.07624439906232584),
                (100.0, 100.0, 359.9529166705177, 0.05644441369928305),
                (50.5, 50.5, 0.0024166666559108426, 0.011894444443998696),
            ],
        },
        CelCase {
            name: "ra_wrap",
            cards: "CTYPE1=RA---TAN; CTYPE2=DEC--TAN; CRVAL1=0.01; CRVAL2=10.0; CRPIX1=50; CRPIX2=50; CDELT1=-0.001; CDELT2=0.001",
            points: &[
                (1.0, 1.0, 0.05974838957920703, 9.950996335901618),
                (100.0, 1.0, 359.9592363376901, 9.950996184328027),
                (1.0, 100.0, 0.05976354880331686, 10.04999627393406),
                (100.0, 100.0, 359.9592208690945, 10.04999612082129),
                (50.5, 50.5, 0.009492285912824399, 10.00049999961529),
            ],
        },
        CelCase {
            name: "pole",
            cards: "CTYPE1=RA---TAN; CTYPE2=DEC--TAN; CRVAL1=0.0; CRVAL2=90.0; CRPIX1=50; CRPIX2=50; CDELT1=-0.1; CDELT2=0.1",
            points: &[
                (1.0, 1.0, 225.0, 83.10384838906035),
                (100.0, 1.0, 134.42127443439222, 83.033815558114),
                (1.0, 100.0, 315.5787255656078, 83.033815558114),
                (100.0, 100.0, 45.0, 82.96450715423647),
                (50.5, 50.5, 45.0, 89.92928935778082),
            ],
        },
        CelCase {
            name: "neg_lon",
            cards: "CTYPE1=GLON-TAN; CTYPE2=GLAT-TAN; CRVAL1=-10.0; CRVAL2=-2.0; CRPIX1=50; CRPIX2=50; CDELT1=-0.1; CDELT2=0.1",
            points: &[
                (1.0, 1.0, -5.094349388805445, -6.863115225974619),
                (100.0, 1.0, -15.005262400285504, -6.862090609515588),
                (1.0, 100.0, -5.123716825467689, 2.976572202761984),
                (100.0, 100.0, -14.975304607495408, 2.976129680971257),
                (50.5, 50.5, -10.05002893991218, -1.9499992699015773),
            ],
        },
        CelCase {
            name: "m17_sin",
            cards: "CTYPE1=RA---SIN; CTYPE2=DEC--SIN; CRVAL1=275.0875000001; CRVAL2=-16.20277777779; CRPIX1=177.0; CRPIX2=218.0; CDELT1=-0.0001111111111111; CDELT2=0.0001111111111111; LONPOLE=180.0; LATPOLE=-16.20277777779; PV2_1=0.0; PV2_2=0.0",
            points: &[
                (1.0, 1.0, 275.10786692010174, -16.226887919760088),
                (6.0, 1.0, 275.10728831440196, -16.22688797408262),
                (1.0, 6.0, 275.10786686262816, -16.226332364159198),
                (6.0, 6.0, 275.10728825856114, -16.226332418481572),
                (3.5, 3.5, 275.10757758892277, -16.226610169316274),
            ],
        },
    ];

    #[test]
    fn pixel_to_world_matches_astropy() {
        for case in CELESTIAL_CASES {
            let header = TestHeader::parse(case.cards);
            let wcs = Wcs::from_keywords(&header, 2);
            assert!(wcs.celestial.is_some(), "{}: no celestial axes", case.name);
            for &(x, y, lon, lat) in case.points {
                let got = wcs.celestial_at(x, y);
                if lon.is_nan() {
                    assert!(
                        got.is_none(),
                        "{} ({x}, {y}): expected no solution, got {got:?}",
                        case.name
                    );
                    continue;
                }
                let Some((glon, glat)) = got else {
                    panic!(
                        "{} ({x}, {y}): no solution, expected ({lon}, {lat})",
                        case.name
                    );
                };
                assert!(
                    (glon - lon).abs() < 1e-9,
                    "{} ({x}, {y}): lon {glon} vs {lon}",
                    case.name
                );
                assert!(
                    (glat - lat).abs() < 1e-9,
                    "{} ({x}, {y}): lat {glat} vs {lat}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn rotation_round_trip() {
        let rot = SphericalRotation::new(120.0, 35.0, 0.0, 0.0, None, None).expect("rotation");
        let (lon, lat) = rot.native_to_celestial(0.0, 0.0);
        assert!((lon - 120.0).abs() < 1e-9 && (lat - 35.0).abs() < 1e-9);
        // The native pole lands on (alpha_p, delta_p).
        let (lon2, lat2) = rot.native_to_celestial(0.0, 90.0);
        assert!((lon2 - rot.alpha_p).abs() < 1e-9 && (lat2 - rot.delta_p).abs() < 1e-9);
    }
}
