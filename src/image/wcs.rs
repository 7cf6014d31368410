//! A minimal FITS world coordinate system (WCS Papers I–III): reads the axis keywords of a header through the
//! [`Keywords`] trait, finds the celestial pair, the spectral axis and the Stokes axis, and converts pixel
//! coordinates to world coordinates. Celestial maths (projections, spherical rotation) lives in `projection`;
//! this module owns keyword parsing, the linear pixel→intermediate transform and the spectral conversions.
//!
//! Pixel coordinates are 1-based FITS pixel coordinates throughout (the centre of the first pixel is 1.0).

use super::projection::{Projection, SphericalRotation};

/// Speed of light in m/s.
pub const SPEED_OF_LIGHT: f64 = 299_792_458.0;

/// Planck constant in J s (for ENER axes).
const PLANCK: f64 = 6.626_070_15e-34;

/// Read access to header cards; the caller's header type implements it.
pub trait Keywords {
    /// Numeric value of a card (integer or float).
    fn number(&self, key: &str) -> Option<f64>;
    /// String value of a card, unquoted, trailing spaces trimmed.
    fn text(&self, key: &str) -> Option<String>;
}

/// A finite numeric keyword, also accepting a number written as a string.
pub fn keyword_number(kw: &dyn Keywords, key: &str) -> Option<f64> {
    kw.number(key)
        .or_else(|| kw.text(key).and_then(|t| t.trim().parse::<f64>().ok()))
        .filter(|v| v.is_finite())
}

/// A string keyword with surrounding blanks removed (may be empty when the card is blank).
pub fn keyword_text(kw: &dyn Keywords, key: &str) -> Option<String> {
    kw.text(key).map(|t| t.trim().to_string())
}

/// The per-axis keywords, with FITS defaults filled in (CRVAL 0, CRPIX 0, CDELT 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// CTYPEi, trimmed (may be empty).
    pub ctype: String,
    /// CUNITi, trimmed (may be empty).
    pub cunit: String,
    pub crval: f64,
    pub crpix: f64,
    pub cdelt: f64,
}

/// The celestial coordinate family, from the CTYPE prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CelestialSystem {
    /// RA/DEC.
    Equatorial,
    /// GLON/GLAT.
    Galactic,
    /// ELON/ELAT.
    Ecliptic,
    /// SLON/SLAT.
    Supergalactic,
    /// HLON/HLAT.
    Helioecliptic,
    /// Any other xLON/xLAT or xyLN/xyLT pair; holds the longitude prefix.
    Other(String),
}

/// The celestial pair of axes and the transformation to (lon, lat).
#[derive(Debug, Clone, PartialEq)]
pub struct Celestial {
    /// 0-based index of the longitude axis.
    pub lon_axis: usize,
    /// 0-based index of the latitude axis.
    pub lat_axis: usize,
    pub system: CelestialSystem,
    /// The three-letter projection code as written in CTYPE (e.g. "SIN", "NCP", "GLS").
    pub code: String,
    pub projection: Projection,
    /// Reference (lon, lat) in degrees.
    pub reference: (f64, f64),
    pub rotation: SphericalRotation,
    /// Projection-plane offset added before deprojecting (non-zero only for a displaced fiducial point).
    offset: (f64, f64),
}

/// Spectral axis types of WCS Paper III (AIPS spellings are mapped onto them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpectralKind {
    Freq,
    Ener,
    Wavn,
    Vrad,
    Wave,
    Vopt,
    Zopt,
    Awav,
    Velo,
    Beta,
}

/// The spectral axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectral {
    /// 0-based axis index.
    pub axis: usize,
    pub kind: SpectralKind,
    /// Factor from header units (CUNIT) to SI (Hz, J, 1/m, m/s, m); `None` for an unknown unit.
    pub to_si: Option<f64>,
}

/// A parsed header WCS. Parts that cannot be set up (bad keywords) are simply absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Wcs {
    pub axes: Vec<Axis>,
    /// Row-major `naxis × naxis` matrix from pixel offsets to intermediate world coordinates (header units).
    matrix: Vec<f64>,
    pub celestial: Option<Celestial>,
    pub spectral: Option<Spectral>,
    /// 0-based index of the STOKES axis.
    pub stokes: Option<usize>,
    pub radesys: Option<String>,
    pub equinox: Option<f64>,
    pub specsys: Option<String>,
    /// Rest frequency in Hz (RESTFRQ, RESTFREQ, or from RESTWAV).
    pub rest_frequency: Option<f64>,
    pub velref: Option<i64>,
}

const ALGORITHM_CODES: &[&str] = &[
    "F2W", "F2V", "F2A", "W2F", "W2V", "W2A", "V2F", "V2W", "V2A", "A2F", "A2W", "A2V", "LOG",
    "TAB", "GRI", "GRA",
];

/// The spectral type of a CTYPE, following WCSLIB's reading of AIPS `FREQ-LSR`/`VELO-HEL`/`FELO-xxx`.
pub fn spectral_kind(ctype: &str, velref: Option<i64>) -> Option<SpectralKind> {
    let c = ctype.trim().to_ascii_uppercase();
    let (head, tail) = (c.get(..4)?, c.get(4..).unwrap_or(""));
    if !(tail.is_empty() || tail.starts_with('-')) {
        return None;
    }
    let code = tail.trim_start_matches('-');
    let aips = !tail.is_empty() && !ALGORITHM_CODES.contains(&code);
    Some(match head {
        "FREQ" => SpectralKind::Freq,
        "ENER" => SpectralKind::Ener,
        "WAVN" => SpectralKind::Wavn,
        "VRAD" => SpectralKind::Vrad,
        "WAVE" => SpectralKind::Wave,
        "VOPT" | "FELO" => SpectralKind::Vopt,
        "ZOPT" => SpectralKind::Zopt,
        "AWAV" => SpectralKind::Awav,
        "BETA" => SpectralKind::Beta,
        "VELO" if aips => {
            if velref.unwrap_or(0) > 256 {
                SpectralKind::Vrad
            } else {
                SpectralKind::Vopt
            }
        }
        "VELO" => SpectralKind::Velo,
        _ => return None,
    })
}

/// Great-circle separation in degrees of two (lon, lat) positions in degrees (Vincenty's formula, accurate
/// at every separation).
pub fn angular_separation_deg(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (l1, b1) = (a.0.to_radians(), a.1.to_radians());
    let (l2, b2) = (b.0.to_radians(), b.1.to_radians());
    let dl = l2 - l1;
    let num = (b2.cos() * dl.sin()).hypot(b1.cos() * b2.sin() - b1.sin() * b2.cos() * dl.cos());
    let den = b1.sin() * b2.sin() + b1.cos() * b2.cos() * dl.cos();
    num.atan2(den).to_degrees()
}

/// Whether a CTYPE names the Stokes axis.
pub fn is_stokes(ctype: &str) -> bool {
    ctype.trim().eq_ignore_ascii_case("STOKES")
}

/// Longitude/latitude role of a CTYPE: `Some((true, prefix))` for longitude, `Some((false, prefix))` for
/// latitude, where `prefix` pairs the two (e.g. "RA"/"DEC" both give "EQ"). Requires the `xxxx-PPP` form.
fn celestial_role(ctype: &str) -> Option<(bool, String)> {
    let c = ctype.trim().to_ascii_uppercase();
    if c.len() < 8 || c.as_bytes().get(4) != Some(&b'-') {
        return None;
    }
    let head = c.get(..4)?;
    let role = match head {
        "RA--" => (true, "EQ".to_string()),
        "DEC-" => (false, "EQ".to_string()),
        _ if head.ends_with("LON") => (true, head[..1].to_string()),
        _ if head.ends_with("LAT") => (false, head[..1].to_string()),
        _ if head.ends_with("LN") => (true, head[..2].to_string()),
        _ if head.ends_with("LT") => (false, head[..2].to_string()),
        _ => return None,
    };
    Some(role)
}

/// Scale from an angular unit to degrees (empty means degrees).
pub fn angle_unit_to_deg(unit: &str) -> Option<f64> {
    match unit.trim() {
        "" | "deg" | "DEG" | "degree" | "degrees" | "DEGREE" | "DEGREES" => Some(1.0),
        "rad" | "RAD" => Some(180.0 / std::f64::consts::PI),
        "arcmin" | "ARCMIN" | "'" => Some(1.0 / 60.0),
        "arcsec" | "ARCSEC" | "\"" | "as" => Some(1.0 / 3600.0),
        "mas" | "MAS" => Some(1.0 / 3.6e6),
        _ => None,
    }
}

/// Scale from a spectral unit to SI for the given kind; empty means the kind's SI default. Matching ignores
/// case and blanks (no unit in these lists is ambiguous that way, e.g. there is no mHz).
pub fn spectral_unit_to_si(unit: &str, kind: SpectralKind) -> Option<f64> {
    const EV: f64 = 1.602_176_634e-19;
    let u: String = unit.chars().filter(|c| !c.is_whitespace()).collect();
    if u.is_empty() {
        return Some(1.0);
    }
    let table: &[(&str, f64)] = match kind {
        SpectralKind::Freq => &[
            ("Hz", 1.0),
            ("kHz", 1e3),
            ("MHz", 1e6),
            ("GHz", 1e9),
            ("THz", 1e12),
        ],
        SpectralKind::Vrad | SpectralKind::Vopt | SpectralKind::Velo => &[
            ("m/s", 1.0),
            ("ms-1", 1.0),
            ("m.s-1", 1.0),
            ("km/s", 1e3),
            ("kms-1", 1e3),
            ("km.s-1", 1e3),
            ("cm/s", 1e-2),
        ],
        SpectralKind::Wave | SpectralKind::Awav => &[
            ("m", 1.0),
            ("cm", 1e-2),
            ("mm", 1e-3),
            ("um", 1e-6),
            ("nm", 1e-9),
            ("Angstrom", 1e-10),
        ],
        SpectralKind::Ener => &[
            ("J", 1.0),
            ("erg", 1e-7),
            ("eV", EV),
            ("keV", 1e3 * EV),
            ("MeV", 1e6 * EV),
        ],
        SpectralKind::Wavn => &[
            ("/m", 1.0),
            ("1/m", 1.0),
            ("m-1", 1.0),
            ("/cm", 1e2),
            ("1/cm", 1e2),
            ("cm-1", 1e2),
        ],
        SpectralKind::Zopt | SpectralKind::Beta => &[],
    };
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&u))
        .map(|(_, scale)| *scale)
}

/// Vacuum wavelength from air wavelength (metres): the Edlén-type dispersion formula as WCSLIB applies it,
/// evaluated at the air wavenumber.
fn air_to_vacuum(awav: f64) -> f64 {
    let s = 1.0 / (awav * awav);
    awav * (1.000_064_328 + 2.554e8 / (0.41e14 - s) + 294.981e8 / (1.46e14 - s))
}

/// Radio velocity (m/s) of a frequency relative to a rest frequency.
pub fn radio_velocity(freq_hz: f64, rest_hz: f64) -> f64 {
    SPEED_OF_LIGHT * (1.0 - freq_hz / rest_hz)
}

/// Optical velocity (m/s) of a frequency relative to a rest frequency.
pub fn optical_velocity(freq_hz: f64, rest_hz: f64) -> f64 {
    SPEED_OF_LIGHT * (rest_hz / freq_hz - 1.0)
}

/// Frequency (Hz) of a radio velocity (m/s).
pub fn frequency_from_radio(v: f64, rest_hz: f64) -> f64 {
    rest_hz * (1.0 - v / SPEED_OF_LIGHT)
}

/// Frequency (Hz) of an optical velocity (m/s).
pub fn frequency_from_optical(v: f64, rest_hz: f64) -> f64 {
    rest_hz / (1.0 + v / SPEED_OF_LIGHT)
}

fn matrix_key(kw: &dyn Keywords, prefix: &str, i: usize, j: usize) -> Option<f64> {
    keyword_number(kw, &format!("{prefix}{i}_{j}"))
        .or_else(|| keyword_number(kw, &format!("{prefix}{i:03}{j:03}")))
}

impl Wcs {
    /// Reads the WCS of an image with `naxis` axes (WCSAXES, when larger, adds axes).
    pub fn from_keywords(kw: &dyn Keywords, naxis: usize) -> Wcs {
        let wcsaxes = keyword_number(kw, "WCSAXES")
            .filter(|v| *v >= 0.0 && *v <= 99.0)
            .map(|v| v as usize)
            .unwrap_or(0);
        let n = naxis.max(wcsaxes).min(99);
        let axes: Vec<Axis> = (1..=n)
            .map(|i| Axis {
                ctype: keyword_text(kw, &format!("CTYPE{i}")).unwrap_or_default(),
                cunit: keyword_text(kw, &format!("CUNIT{i}")).unwrap_or_default(),
                crval: keyword_number(kw, &format!("CRVAL{i}")).unwrap_or(0.0),
                crpix: keyword_number(kw, &format!("CRPIX{i}")).unwrap_or(0.0),
                cdelt: keyword_number(kw, &format!("CDELT{i}")).unwrap_or(1.0),
            })
            .collect();
        let velref = keyword_number(kw, "VELREF").map(|v| v as i64);
        let rest_frequency = keyword_number(kw, "RESTFRQ")
            .or_else(|| keyword_number(kw, "RESTFREQ"))
            .filter(|f| *f > 0.0)
            .or_else(|| {
                keyword_number(kw, "RESTWAV")
                    .filter(|w| *w > 0.0)
                    .map(|w| SPEED_OF_LIGHT / w)
            });
        let mut wcs = Wcs {
            matrix: Self::linear_matrix(kw, &axes),
            axes,
            celestial: None,
            spectral: None,
            stokes: None,
            radesys: keyword_text(kw, "RADESYS").or_else(|| keyword_text(kw, "RADECSYS")),
            equinox: keyword_number(kw, "EQUINOX").or_else(|| keyword_number(kw, "EPOCH")),
            specsys: keyword_text(kw, "SPECSYS"),
            rest_frequency,
            velref,
        };
        wcs.stokes = wcs.axes.iter().position(|a| is_stokes(&a.ctype));
        wcs.spectral = wcs.axes.iter().enumerate().find_map(|(i, a)| {
            let kind = spectral_kind(&a.ctype, velref)?;
            Some(Spectral {
                axis: i,
                kind,
                to_si: spectral_unit_to_si(&a.cunit, kind),
            })
        });
        wcs.celestial = wcs.setup_celestial(kw);
        wcs
    }

    /// The linear transformation (PCi_j × CDELTi, else CDi_j, else CROTA2-style rotation, else CDELTi).
    fn linear_matrix(kw: &dyn Keywords, axes: &[Axis]) -> Vec<f64> {
        let n = axes.len();
        let mut m = vec![0.0; n * n];
        let mut has_pc = false;
        let mut has_cd = false;
        let mut pc = vec![0.0; n * n];
        let mut cd = vec![0.0; n * n];
        for i in 0..n {
            pc[i * n + i] = 1.0;
            for j in 0..n {
                if let Some(v) = matrix_key(kw, "PC", i + 1, j + 1) {
                    pc[i * n + j] = v;
                    has_pc = true;
                }
                if let Some(v) = matrix_key(kw, "CD", i + 1, j + 1) {
                    cd[i * n + j] = v;
                    has_cd = true;
                }
            }
        }
        if has_cd && !has_pc {
            for i in 0..n {
                let untouched = (0..n).all(|k| cd[i * n + k] == 0.0 && cd[k * n + i] == 0.0);
                if untouched {
                    // An axis given no CDi_j at all gets a unit diagonal, as WCSLIB's cdfix does.
                    cd[i * n + i] = 1.0;
                }
            }
            return cd;
        }
        for i in 0..n {
            for j in 0..n {
                m[i * n + j] = axes[i].cdelt * pc[i * n + j];
            }
        }
        if !has_pc {
            // CROTAi on the latitude axis rotates the celestial pair.
            let lon = axes
                .iter()
                .position(|a| celestial_role(&a.ctype).is_some_and(|r| r.0));
            let lat = axes
                .iter()
                .position(|a| celestial_role(&a.ctype).is_some_and(|r| !r.0));
            if let (Some(i), Some(j)) = (lon, lat) {
                let rho = keyword_number(kw, &format!("CROTA{}", j + 1))
                    .or_else(|| keyword_number(kw, &format!("CROTA{}", i + 1)));
                if let Some(rho) = rho.filter(|r| *r != 0.0) {
                    let (s, c) = rho.to_radians().sin_cos();
                    let (di, dj) = (axes[i].cdelt, axes[j].cdelt);
                    m[i * n + i] = di * c;
                    m[i * n + j] = -dj * s;
                    m[j * n + i] = di * s;
                    m[j * n + j] = dj * c;
                }
            }
        }
        m
    }

    fn setup_celestial(&self, kw: &dyn Keywords) -> Option<Celestial> {
        let roles: Vec<Option<(bool, String)>> =
            self.axes.iter().map(|a| celestial_role(&a.ctype)).collect();
        let lon_axis = roles.iter().position(|r| r.as_ref().is_some_and(|r| r.0))?;
        let lon_prefix = roles[lon_axis].as_ref()?.1.clone();
        let lat_axis = roles
            .iter()
            .position(|r| r.as_ref().is_some_and(|r| !r.0 && r.1 == lon_prefix))?;
        let code_of = |i: usize| {
            self.axes[i]
                .ctype
                .trim()
                .to_ascii_uppercase()
                .get(5..8)
                .map(str::to_string)
        };
        let code = code_of(lon_axis)?;
        if code_of(lat_axis)? != code {
            return None;
        }
        let lon_scale = angle_unit_to_deg(&self.axes[lon_axis].cunit)?;
        let lat_scale = angle_unit_to_deg(&self.axes[lat_axis].cunit)?;
        let lon0 = self.axes[lon_axis].crval * lon_scale;
        let lat0 = self.axes[lat_axis].crval * lat_scale;
        let lat_pv = |m: u32| keyword_number(kw, &format!("PV{}_{}", lat_axis + 1, m));
        let lon_pv = |m: u32| keyword_number(kw, &format!("PV{}_{}", lon_axis + 1, m));
        let projection = Projection::from_code(&code, &lat_pv, lat0)?;
        let is_gls = code == "GLS";
        let phi0 = if is_gls {
            0.0
        } else {
            lon_pv(1).unwrap_or(0.0)
        };
        let theta0 = if is_gls {
            lat0
        } else {
            lon_pv(2).unwrap_or_else(|| projection.default_theta0())
        };
        let use_offset = is_gls || lon_pv(0).is_some_and(|v| v != 0.0);
        let offset = if use_offset {
            projection.project(phi0, theta0)?
        } else {
            (0.0, 0.0)
        };
        let lonpole = keyword_number(kw, "LONPOLE").or_else(|| lon_pv(3));
        let latpole = keyword_number(kw, "LATPOLE").or_else(|| lon_pv(4));
        let rotation = SphericalRotation::new(lon0, lat0, phi0, theta0, lonpole, latpole)?;
        // The 2×2 part of the linear transform must be invertible.
        let n = self.axes.len();
        let (a, b) = (
            self.matrix[lon_axis * n + lon_axis],
            self.matrix[lon_axis * n + lat_axis],
        );
        let (c, d) = (
            self.matrix[lat_axis * n + lon_axis],
            self.matrix[lat_axis * n + lat_axis],
        );
        let det = a * d - b * c;
        if det == 0.0 || !det.is_finite() {
            return None;
        }
        let system = match lon_prefix.as_str() {
            "EQ" => CelestialSystem::Equatorial,
            "G" => CelestialSystem::Galactic,
            "E" => CelestialSystem::Ecliptic,
            "S" => CelestialSystem::Supergalactic,
            "H" => CelestialSystem::Helioecliptic,
            other => CelestialSystem::Other(other.to_string()),
        };
        Some(Celestial {
            lon_axis,
            lat_axis,
            system,
            code,
            projection,
            reference: (lon0, lat0),
            rotation,
            offset,
        })
    }

    /// Number of axes described.
    pub fn naxis(&self) -> usize {
        self.axes.len()
    }

    /// Intermediate world coordinates (header units, relative to CRVAL) of a pixel; missing pixel
    /// coordinates are taken at the reference pixel.
    pub fn intermediate(&self, pixel: &[f64]) -> Vec<f64> {
        let n = self.axes.len();
        let offsets: Vec<f64> = (0..n)
            .map(|j| pixel.get(j).map(|p| p - self.axes[j].crpix).unwrap_or(0.0))
            .collect();
        (0..n)
            .map(|i| (0..n).map(|j| self.matrix[i * n + j] * offsets[j]).sum())
            .collect()
    }

    /// World coordinates of a pixel: celestial axes in degrees, all other axes CRVAL + intermediate in header
    /// units. `None` when the celestial part falls outside the projection.
    pub fn pixel_to_world(&self, pixel: &[f64]) -> Option<Vec<f64>> {
        let inter = self.intermediate(pixel);
        let mut world: Vec<f64> = inter
            .iter()
            .zip(&self.axes)
            .map(|(x, a)| a.crval + x)
            .collect();
        if let Some(cel) = &self.celestial {
            let (lon, lat) =
                self.celestial_from_intermediate(cel, inter[cel.lon_axis], inter[cel.lat_axis])?;
            world[cel.lon_axis] = lon;
            world[cel.lat_axis] = lat;
        }
        Some(world)
    }

    fn celestial_from_intermediate(&self, cel: &Celestial, x: f64, y: f64) -> Option<(f64, f64)> {
        let xs = x * angle_unit_to_deg(&self.axes[cel.lon_axis].cunit)?;
        let ys = y * angle_unit_to_deg(&self.axes[cel.lat_axis].cunit)?;
        let (phi, theta) = cel
            .projection
            .deproject(xs + cel.offset.0, ys + cel.offset.1)?;
        let (lon, lat) = cel.rotation.native_to_celestial(phi, theta);
        if lon.is_finite() && lat.is_finite() {
            Some((lon, lat))
        } else {
            None
        }
    }

    /// Celestial (lon, lat) in degrees at the given pixel of the longitude and latitude axes (all other axes
    /// at their reference pixels).
    pub fn celestial_at(&self, lon_pixel: f64, lat_pixel: f64) -> Option<(f64, f64)> {
        let cel = self.celestial.as_ref()?;
        let mut pixel: Vec<f64> = self.axes.iter().map(|a| a.crpix).collect();
        pixel[cel.lon_axis] = lon_pixel;
        pixel[cel.lat_axis] = lat_pixel;
        let inter = self.intermediate(&pixel);
        self.celestial_from_intermediate(cel, inter[cel.lon_axis], inter[cel.lat_axis])
    }

    /// Great-circle separation in arcseconds between two 0-based pixel positions of the celestial axes;
    /// `None` without celestial axes or where the projection does not reach.
    pub fn separation_arcsec(&self, a: (f64, f64), b: (f64, f64)) -> Option<f64> {
        let p = self.celestial_at(a.0 + 1.0, a.1 + 1.0)?;
        let q = self.celestial_at(b.0 + 1.0, b.1 + 1.0)?;
        Some(angular_separation_deg(p, q) * 3600.0)
    }

    /// The size of a pixel along the latitude axis in arcseconds (the column of the pixel-to-world matrix).
    pub fn lat_pixel_arcsec(&self) -> Option<f64> {
        let cel = self.celestial.as_ref()?;
        let n = self.axes.len();
        let j = cel.lat_axis;
        let (a, b) = (self.matrix[cel.lon_axis * n + j], self.matrix[j * n + j]);
        let v = a.hypot(b) * angle_unit_to_deg(&self.axes[j].cunit)? * 3600.0;
        (v.is_finite() && v > 0.0).then_some(v)
    }

    /// The pixel of the longitude and latitude axes (1-based FITS pixels, all other axes at their reference
    /// pixels) at celestial (lon, lat) in degrees: the inverse of [`Wcs::celestial_at`]. `None` where the
    /// projection does not reach.
    pub fn celestial_to_pixel(&self, lon: f64, lat: f64) -> Option<(f64, f64)> {
        let cel = self.celestial.as_ref()?;
        if !(lon.is_finite() && lat.is_finite()) || lat.abs() > 90.0 {
            return None;
        }
        let (phi, theta) = cel.rotation.celestial_to_native(lon, lat);
        let (xs, ys) = cel.projection.project(phi, theta)?;
        let x = (xs - cel.offset.0) / angle_unit_to_deg(&self.axes[cel.lon_axis].cunit)?;
        let y = (ys - cel.offset.1) / angle_unit_to_deg(&self.axes[cel.lat_axis].cunit)?;
        let n = self.axes.len();
        let (i, j) = (cel.lon_axis, cel.lat_axis);
        let (a, b) = (self.matrix[i * n + i], self.matrix[i * n + j]);
        let (c, d) = (self.matrix[j * n + i], self.matrix[j * n + j]);
        let det = a * d - b * c;
        if det == 0.0 || !det.is_finite() {
            return None;
        }
        let di = (d * x - b * y) / det;
        let dj = (a * y - c * x) / det;
        let p = (self.axes[i].crpix + di, self.axes[j].crpix + dj);
        (p.0.is_finite() && p.1.is_finite()).then_some(p)
    }

    /// Value on the spectral axis at a pixel of that axis, in header units (linear in pixel).
    pub fn spectral_value(&self, pixel: f64) -> Option<f64> {
        let s = self.spectral.as_ref()?;
        let n = self.axes.len();
        let a = &self.axes[s.axis];
        let v = a.crval + self.matrix[s.axis * n + s.axis] * (pixel - a.crpix);
        v.is_finite().then_some(v)
    }

    /// Frequency in Hz at a pixel of the spectral axis; velocity-like axes need the rest frequency.
    pub fn frequency_at(&self, pixel: f64) -> Option<f64> {
        let s = self.spectral.as_ref()?;
        let v = self.spectral_value(pixel)? * s.to_si?;
        let rest = self.rest_frequency;
        let c = SPEED_OF_LIGHT;
        let f = match s.kind {
            SpectralKind::Freq => v,
            SpectralKind::Ener => v / PLANCK,
            SpectralKind::Wavn => c * v,
            SpectralKind::Wave if v > 0.0 => c / v,
            SpectralKind::Awav if v > 0.0 => c / air_to_vacuum(v),
            SpectralKind::Vrad => frequency_from_radio(v, rest?),
            SpectralKind::Vopt if v > -c => frequency_from_optical(v, rest?),
            SpectralKind::Zopt if v > -1.0 => rest? / (1.0 + v),
            SpectralKind::Velo if v.abs() < c => rest? * ((c - v) / (c + v)).sqrt(),
            SpectralKind::Beta if v.abs() < 1.0 => rest? * ((1.0 - v) / (1.0 + v)).sqrt(),
            _ => return None,
        };
        (f.is_finite() && f > 0.0).then_some(f)
    }

    /// FITS Stokes codes along the Stokes axis (CRVAL + (i − CRPIX) × CDELT, rounded), `n` pixels long.
    pub fn stokes_codes(&self, n: usize) -> Option<Vec<i32>> {
        let a = &self.axes[self.stokes?];
        let n_ax = self.axes.len();
        let k = self.stokes?;
        let delta = self.matrix[k * n_ax + k];
        Some(
            (1..=n)
                .map(|p| {
                    let v = a.crval + (p as f64 - a.crpix) * delta;
                    let r = if v >= 0.0 { v + 0.01 } else { v - 0.01 };
                    r.clamp(i32::MIN as f64, i32::MAX as f64) as i32
                })
                .collect(),
        )
    }
}

/// A `HashMap`-backed header for unit tests: every value is stored as text, numbers are parsed on demand.
#[cfg(test)]
pub(super) struct TestHeader(std::collections::HashMap<String, String>);

#[cfg(test)]
impl TestHeader {
    /// Cards written as "KEY=value; KEY=value".
    pub(super) fn parse(cards: &str) -> TestHeader {
        TestHeader(
            cards
                .split(';')
                .filter_map(|card| card.split_once('='))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect(),
        )
    }
}

#[cfg(test)]
impl Keywords for TestHeader {
    fn number(&self, key: &str) -> Option<f64> {
        self.0.get(key)?.trim().parse().ok()
    }

    fn text(&self, key: &str) -> Option<String> {
        self.0.get(key).map(|v| v.trim_end().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct SpecCase {
        name: &'static str,
        /// "KEY=value; …" header cards.
        cards: &'static str,
        /// (pixel, frequency in Hz) from astropy.wcs after `sptr("FREQ-???")`.
        points: &'static [(f64, f64)],
    }

    // Expected values generated with astropy 8.0.2 (WCSLIB) from the same cards.
    const SPECTRAL_CASES: &[SpecCase] = &[
        SpecCase {
            name: "freq",
            cards: "CTYPE1=FREQ; CRVAL1=1420000000.0; CDELT1=100000.0; CRPIX1=1.0; RESTFRQ=1420405752.0",
            points: &[(1.0, 1420000000.0), (20.0, 1421900000.0), (10.5, 1420950000.0)],
        },
        SpecCase {
            name: "freq_mhz",
            cards: "CTYPE1=FREQ; CRVAL1=1420.0; CDELT1=0.1; CRPIX1=3.0; CUNIT1=MHz; RESTFRQ=1420405752.0",
            points: &[(1.0, 1419800000.0), (20.0, 1421700000.0), (10.5, 1420750000.0)],
        },
        SpecCase {
            name: "vrad_kms",
            cards: "CTYPE1=VRAD; CRVAL1=-20.0; CDELT1=0.5; CRPIX1=1.0; CUNIT1=km/s; RESTFRQ=115271204000.0",
            points: &[(1.0, 115278894066.97295), (40.0, 115271396251.67433), (20.5, 115275145159.32364)],
        },
        SpecCase {
            name: "velo_lsr_radio",
            cards: "CTYPE1=VELO-LSR; CRVAL1=5000.0; CDELT1=-1000.0; CRPIX1=8.0; VELREF=257; RESTFREQ=230538000000.0",
            points: &[(1.0, 230528772096.07455), (16.0, 230540306975.98138), (8.5, 230534539536.02795)],
        },
        SpecCase {
            name: "velo_rel",
            cards: "CTYPE1=VELO; CRVAL1=1000000.0; CDELT1=100000.0; CRPIX1=1.0; RESTFRQ=1420405752.0",
            points: &[(1.0, 1415675664.1851423), (10.0, 1411431967.7134643), (5.5, 1413552238.828365)],
        },
        SpecCase {
            name: "wave_um",
            cards: "CTYPE1=WAVE; CRVAL1=2.1; CDELT1=0.001; CRPIX1=1.0; CUNIT1=um",
            points: &[(1.0, 142758313333333.34), (50.0, 139503237785016.31), (25.5, 141112006589785.84)],
        },
        SpecCase {
            name: "awav_angstrom",
            cards: "CTYPE1=AWAV; CRVAL1=6562.8; CDELT1=0.5; CRPIX1=10.0; CUNIT1=Angstrom",
            points: &[(1.0, 456992917836152.0), (30.0, 455984770897598.25), (15.5, 456488287750772.94)],
        },
    ];

    #[test]
    fn spectral_frequencies_match_astropy() {
        for case in SPECTRAL_CASES {
            let header = TestHeader::parse(case.cards);
            let wcs = Wcs::from_keywords(&header, 1);
            assert!(wcs.spectral.is_some(), "{}: no spectral axis", case.name);
            for &(p, f) in case.points {
                let got = wcs.frequency_at(p).unwrap_or(f64::NAN);
                assert!(
                    ((got - f) / f).abs() < 1e-12,
                    "{} pixel {p}: {got} vs {f}",
                    case.name
                );
            }
        }
    }
}
