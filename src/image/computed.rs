//! The "computed entries" of FileInfoExtended (the File Info panel's summary) and the axis roles of an image,
//! reproducing carta_backend's names, order and value formatting (FileExtInfoLoader: header-derived entries,
//! then beam, then coordinate ranges computed through the WCS) and FileLoader::FindCoordinateAxes' axis
//! rules. Value formatting comes from `format`, WCS maths from `wcs`.

use super::format::{
    angle_string, angle_to_deg, coord_in_deg, fmt_g, fmt_shortest, increment_string, mvangle,
    normalize_unit,
};
use super::wcs::{keyword_number, keyword_text, CelestialSystem, Keywords, SpectralKind, Wcs};

/// What the caller knows about the image besides its header.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageShapeInfo {
    /// File name without directory.
    pub name: String,
    /// HDU as requested ("0", …); empty for none.
    pub hdu: String,
    pub extname: Option<String>,
    /// FITS order: NAXIS1 first.
    pub shape: Vec<usize>,
    pub has_mipmaps: bool,
}

/// One computed entry (carta sends these as HeaderEntry; the comment is always empty).
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedEntry {
    pub name: String,
    pub value: EntryValue,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EntryValue {
    Text(String),
    Float(f64),
    Int(i64),
}

/// 1-based FITS axis numbers of each role, 0 for none (the ICD's AxesNumbers, plus the two render axes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AxisRoles {
    pub spatial_x: i32,
    pub spatial_y: i32,
    pub spectral: i32,
    pub stokes: i32,
    /// The z axis the frontend steps through: the first axis that is neither rendered nor Stokes.
    pub depth: i32,
    /// The displayed image's x axis: the first axis that is not Stokes.
    pub render_x: i32,
    /// The displayed image's y axis: the second axis that is not Stokes.
    pub render_y: i32,
}

/// 0-based roles; `None` for absent.
struct Roles {
    spatial: [Option<usize>; 2],
    spectral: Option<usize>,
    stokes: Option<usize>,
    render: [usize; 2],
    depth: Option<usize>,
}

fn find_roles(wcs: &Wcs, shape: &[usize]) -> Option<Roles> {
    let ndim = shape.len();
    if ndim < 2 {
        return None;
    }
    let mut spectral = wcs.spectral.as_ref().map(|s| s.axis).filter(|a| *a < ndim);
    let mut stokes = wcs.stokes.filter(|a| *a < ndim);
    let non_stokes: Vec<usize> = (0..ndim).filter(|i| Some(*i) != stokes).collect();
    let render = [
        non_stokes.first().copied().unwrap_or(0),
        non_stokes.get(1).copied().unwrap_or(1),
    ];
    let spatial = match &wcs.celestial {
        Some(c) if c.lon_axis < ndim && c.lat_axis < ndim => [Some(c.lon_axis), Some(c.lat_axis)],
        _ => {
            let linear: Vec<usize> = (0..ndim)
                .filter(|i| Some(*i) != spectral && Some(*i) != stokes)
                .collect();
            [linear.first().copied(), linear.get(1).copied()]
        }
    };
    if ndim == 2 {
        return Some(Roles {
            spatial,
            spectral,
            stokes,
            render,
            depth: None,
        });
    }
    // Headers that do not say: guess like carta (axis 3 spectral; for 4D the long one, Stokes ≤ 4).
    if ndim == 3 && spectral.is_none() && stokes.is_none() {
        spectral = Some(2);
    }
    if ndim == 4 && (spectral.is_none() || stokes.is_none()) {
        match (spectral, stokes) {
            (None, Some(s)) => spectral = Some(if s == 3 { 2 } else { 3 }),
            (Some(f), None) => stokes = Some(if f == 3 { 2 } else { 3 }),
            _ => {
                if shape[3] > 4 && shape[2] <= 4 {
                    spectral = Some(3);
                    stokes = Some(2);
                } else {
                    spectral = Some(2);
                    stokes = Some(3);
                }
            }
        }
    }
    let depth = (0..ndim).find(|i| !render.contains(i) && Some(*i) != stokes);
    Some(Roles {
        spatial,
        spectral,
        stokes,
        render,
        depth,
    })
}

fn one_based(a: Option<usize>) -> i32 {
    a.and_then(|i| i32::try_from(i + 1).ok()).unwrap_or(0)
}

/// The axis roles carta reports in AxesNumbers (FileLoader::FindCoordinateAxes rules).
pub fn axis_roles(kw: &dyn Keywords, shape: &[usize]) -> AxisRoles {
    let wcs = Wcs::from_keywords(kw, shape.len());
    match find_roles(&wcs, shape) {
        Some(r) => AxisRoles {
            spatial_x: one_based(r.spatial[0]),
            spatial_y: one_based(r.spatial[1]),
            spectral: one_based(r.spectral),
            stokes: one_based(r.stokes),
            depth: one_based(r.depth),
            render_x: one_based(Some(r.render[0])),
            render_y: one_based(Some(r.render[1])),
        },
        None => AxisRoles::default(),
    }
}

fn text(name: &str, value: impl Into<String>) -> ComputedEntry {
    ComputedEntry {
        name: name.to_string(),
        value: EntryValue::Text(value.into()),
        comment: String::new(),
    }
}

fn int(name: &str, value: usize) -> ComputedEntry {
    ComputedEntry {
        name: name.to_string(),
        value: EntryValue::Int(i64::try_from(value).unwrap_or(i64::MAX)),
        comment: String::new(),
    }
}

/// The computed entries of one image, in carta_backend's order.
pub fn computed_entries(kw: &dyn Keywords, info: &ImageShapeInfo) -> Vec<ComputedEntry> {
    let mut out = vec![text("Name", info.name.clone())];
    if !info.hdu.is_empty() {
        out.push(text("HDU", info.hdu.clone()));
    }
    let extname = info
        .extname
        .clone()
        .or_else(|| keyword_text(kw, "EXTNAME"))
        .filter(|e| !e.trim().is_empty());
    if let Some(e) = extname {
        out.push(text("Extension name", e.trim()));
    }
    out.push(text("Data type", data_type(kw)));

    let shape = &info.shape;
    let wcs = Wcs::from_keywords(kw, shape.len());
    match find_roles(&wcs, shape).filter(|_| (2..=4).contains(&shape.len())) {
        Some(roles) => {
            out.push(text("Shape", shape_string(kw, shape, roles.stokes)));
            if let Some(s) = roles.spectral {
                out.push(int("Number of channels", shape[s]));
            }
            if let Some(s) = roles.stokes {
                out.push(int("Number of polarizations", shape[s]));
            }
            header_entries(kw, &roles, shape.len(), &mut out);
            if let Some(beam) = beam_entry(kw) {
                out.push(beam);
            }
            range_entries(&wcs, shape, &mut out);
        }
        None => out.push(text("Shape", shape_string(kw, shape, None))),
    }
    if info.has_mipmaps {
        out.push(text("Has mipmaps", "T"));
    }
    out
}

/// carta's "Data type": the BITPIX type, marked as rescaled when the FITS reader hands out floats.
fn data_type(kw: &dyn Keywords) -> &'static str {
    let hdf5 = ["SCHEMA_VERSION", "HDF5_CONVERTER", "H5SCHEMA", "H5CNVRTR"]
        .iter()
        .any(|k| kw.text(k).is_some());
    if hdf5 {
        return "float";
    }
    match keyword_number(kw, "BITPIX").map(|b| b as i64) {
        Some(8) => "uChar (rescaled to float)",
        Some(16) => "Short (rescaled to float)",
        Some(32) => "Int (rescaled to float)",
        Some(64) => "Int64",
        Some(-64) => "double",
        _ => "float",
    }
}

fn shape_string(kw: &dyn Keywords, shape: &[usize], stokes: Option<usize>) -> String {
    let dims: Vec<String> = shape.iter().map(|n| n.to_string()).collect();
    let names: Vec<String> = (0..shape.len())
        .map(|i| {
            let ctype = keyword_text(kw, &format!("CTYPE{}", i + 1)).unwrap_or_default();
            let name = ctype.split('-').next().unwrap_or("").trim().to_string();
            if !name.is_empty() {
                name
            } else if Some(i) == stokes {
                "STOKES".to_string()
            } else {
                "NA".to_string()
            }
        })
        .collect();
    format!("[{}] ({})", dims.join(", "), names.join(", "))
}

/// Splits "RA---SIN" into ("RA", "SIN"); the descriptor is empty without a '-'.
fn split_ctype(ctype: &str) -> (String, String) {
    match ctype.find('-') {
        Some(p) => (
            ctype[..p].to_string(),
            ctype[p..].trim_start_matches('-').to_string(),
        ),
        None => (ctype.to_string(), String::new()),
    }
}

/// CTYPE as carta's header entries hold it: AIPS "VELO-xxx" becomes "VELO"; anything after '/' dropped.
fn display_ctype(kw: &dyn Keywords, axis: usize) -> String {
    let v = keyword_text(kw, &format!("CTYPE{}", axis + 1)).unwrap_or_default();
    let v = if v.starts_with("VELO-") {
        "VELO".to_string()
    } else {
        v
    };
    v.split('/').next().unwrap_or("").trim().to_string()
}

/// The entries carta derives from the two render axes' keywords (AddComputedEntriesFromHeaders).
fn header_entries(kw: &dyn Keywords, roles: &Roles, ndim: usize, out: &mut Vec<ComputedEntry>) {
    let [a1, a2] = roles.render;
    let num = |k: &str, a: usize| keyword_number(kw, &format!("{k}{}", a + 1));
    let unit = |a: usize| match keyword_text(kw, &format!("CUNIT{}", a + 1)) {
        Some(u) => normalize_unit(u.split('/').next().unwrap_or("")),
        None => "deg".to_string(),
    };
    let (ctype1, ctype2) = (display_ctype(kw, a1), display_ctype(kw, a2));
    let (unit1, unit2) = (unit(a1), unit(a2));

    let equinox_like = ["EQUINOX", "TELEQUIN", "EPOCH"].iter().find_map(|k| {
        if let Some(v) = kw.number(k).filter(|v| v.is_finite()) {
            Some((fmt_shortest(v), v))
        } else {
            kw.text(k).map(|t| (t.trim().to_string(), 0.0))
        }
    });
    let frame = equinox_like.map(|(s, v)| {
        if s.contains("2000") || v == 2000.0 {
            "J2000".to_string()
        } else if s.contains("1950") || v == 1950.0 {
            "B1950".to_string()
        } else {
            s
        }
    });
    let mut radesys = keyword_text(kw, "RADESYS");

    let (mut name1, mut name2) = (ctype1.clone(), ctype2.clone());
    if !ctype1.is_empty() && !ctype2.is_empty() {
        let (n1, projection) = split_ctype(&ctype1);
        let (n2, _) = split_ctype(&ctype2);
        if radesys.as_deref().unwrap_or("").is_empty() && n1 == "GLON" {
            radesys = Some("GALACTIC".to_string());
        }
        radesys = radesys.filter(|r| !r.is_empty());
        name1 = coord_name(&n1);
        name2 = coord_name(&n2);
        out.push(text("Coordinate type", format!("{name1}, {name2}")));
        if !projection.is_empty() {
            out.push(text("Projection", projection));
        }
    }
    if let (Some(p1), Some(p2)) = (num("CRPIX", a1), num("CRPIX", a2)) {
        out.push(text(
            "Image reference pixels",
            format!("[{}, {}]", fmt_shortest(p1), fmt_shortest(p2)),
        ));
    }
    if let (Some(v1), Some(v2)) = (num("CRVAL", a1), num("CRVAL", a2)) {
        let c1 = angle_string(&name1, v1, &unit1);
        let c2 = angle_string(&name2, v2, &unit2);
        out.push(text("Image reference coords", format!("[{c1}, {c2}]")));
        if angle_to_deg(&unit1).is_some() || angle_to_deg(&unit2).is_some() {
            let d1 = coord_in_deg(&name1, v1, &unit1);
            let d2 = coord_in_deg(&name2, v2, &unit2);
            out.push(text("Image ref coords (deg)", format!("[{d1}, {d2}]")));
        }
    }
    if let (Some(d1), Some(d2)) = (num("CDELT", a1), num("CDELT", a2)) {
        out.push(text(
            "Pixel increment",
            format!(
                "{}, {}",
                increment_string(d1, &unit1),
                increment_string(d2, &unit2)
            ),
        ));
    }
    if let Some(bunit) = keyword_text(kw, "BUNIT").map(|b| normalize_unit(&b)) {
        if !bunit.is_empty() {
            out.push(text("Pixel unit", bunit));
        }
    }
    if let Some(frame) = frame {
        let value = match frame.as_str() {
            "J2000" => "FK5, J2000".to_string(),
            "B1950" => "FK4, B1950".to_string(),
            "ICRS" => "ICRS, J2000".to_string(),
            _ => frame,
        };
        out.push(text("Celestial frame", value));
    } else if let Some(r) = radesys {
        out.push(text("Celestial frame", r));
    }

    // SPECSYS, else the frame split from an AIPS "VELO-xxx", else the descriptor of the spectral CTYPE.
    let aips_velo = (1..=ndim).find_map(|i| {
        let c = keyword_text(kw, &format!("CTYPE{i}"))?;
        c.strip_prefix("VELO-").map(str::to_string)
    });
    let specsys = match keyword_text(kw, "SPECSYS").or(aips_velo) {
        Some(s) => s,
        None => roles
            .spectral
            .filter(|s| !roles.render.contains(s))
            .and_then(|s| keyword_text(kw, &format!("CTYPE{}", s + 1)))
            .map(|c| split_ctype(&c).1)
            .unwrap_or_default(),
    };
    if !specsys.is_empty() {
        out.push(text("Spectral frame", specsys));
    }
    if let Some(velref) = keyword_number(kw, "VELREF") {
        let v = velref as i64;
        let def = if v < 4 {
            "OPTICAL"
        } else if v > 256 {
            "RADIO"
        } else {
            "UNKNOWN"
        };
        out.push(text("Velocity definition", def));
    }
}

fn coord_name(n: &str) -> String {
    match n {
        "RA" => "Right Ascension",
        "DEC" => "Declination",
        "GLON" => "Longitude",
        "GLAT" => "Latitude",
        other => other,
    }
    .to_string()
}

/// Restoring beam from BMAJ/BMIN (degrees) and BPA (degrees, default 0).
fn beam_entry(kw: &dyn Keywords) -> Option<ComputedEntry> {
    let bmaj = keyword_number(kw, "BMAJ").filter(|v| *v > 0.0)?;
    let bmin = keyword_number(kw, "BMIN").filter(|v| *v > 0.0)?;
    let bpa = keyword_number(kw, "BPA").unwrap_or(0.0);
    let (major, minor) = if bmaj >= bmin {
        (bmaj, bmin)
    } else {
        (bmin, bmaj)
    };
    Some(text(
        "Restoring beam",
        format!(
            "{}\" X {}\", {} deg",
            fmt_g(major * 3600.0, 6),
            fmt_g(minor * 3600.0, 6),
            fmt_g(bpa, 6)
        ),
    ))
}

/// Coordinate ranges from the image corners, the spectral axis ends, and the Stokes axis (AddCoordRanges).
fn range_entries(wcs: &Wcs, shape: &[usize], out: &mut Vec<ComputedEntry>) {
    if let Some(cel) = wcs
        .celestial
        .as_ref()
        .filter(|c| c.lon_axis < shape.len() && c.lat_axis < shape.len())
    {
        let (nx, ny) = (shape[cel.lon_axis] as f64, shape[cel.lat_axis] as f64);
        let corners = [(1.0, 1.0), (nx, ny), (1.0, ny), (nx, 1.0)];
        let worlds: Vec<(f64, f64)> = corners
            .iter()
            .filter_map(|&(x, y)| wcs.celestial_at(x, y))
            .collect();
        let supported = !matches!(
            cel.system,
            CelestialSystem::Helioecliptic | CelestialSystem::Other(_)
        );
        if !worlds.is_empty() && supported && nx >= 1.0 && ny >= 1.0 {
            let fold = |f: fn(f64, f64) -> f64, pick: fn(&(f64, f64)) -> f64, init: f64| {
                worlds.iter().map(pick).fold(init, f)
            };
            let x_min = fold(f64::min, |w| w.0, f64::INFINITY);
            let x_max = fold(f64::max, |w| w.0, f64::NEG_INFINITY);
            let y_min = fold(f64::min, |w| w.1, f64::INFINITY);
            let y_max = fold(f64::max, |w| w.1, f64::NEG_INFINITY);
            let (xn, yn) = if cel.system == CelestialSystem::Equatorial {
                ("RA", "DEC")
            } else {
                ("LON", "LAT")
            };
            let fx = |d: f64| format_lon(&cel.system, d);
            let fy = |d: f64| format_lat(&cel.system, d);
            out.push(text(
                &format!("{xn} range"),
                format!("[{}, {}]", fx(x_min), fx(x_max)),
            ));
            out.push(text(
                &format!("{yn} range"),
                format!("[{}, {}]", fy(y_min), fy(y_max)),
            ));
        }
    }

    let casacore_kinds = [
        SpectralKind::Freq,
        SpectralKind::Vrad,
        SpectralKind::Velo,
        SpectralKind::Vopt,
        SpectralKind::Wave,
        SpectralKind::Awav,
    ];
    if let Some(spec) = wcs
        .spectral
        .as_ref()
        .filter(|s| s.axis < shape.len() && shape[s.axis] > 0)
    {
        let n = shape[spec.axis] as f64;
        if casacore_kinds.contains(&spec.kind) {
            if let Some(f_start) = wcs.frequency_at(1.0) {
                let f_end = if n > 1.0 { wcs.frequency_at(n) } else { None };
                out.push(match f_end {
                    Some(f_end) => text(
                        "Frequency range",
                        format!("[{:.4}, {:.4}] (GHz)", f_start / 1e9, f_end / 1e9),
                    ),
                    None => text("Frequency", format!("{:.4} (GHz)", f_start / 1e9)),
                });
                if let Some(rest) = wcs.rest_frequency {
                    let v = |f: f64| super::wcs::radio_velocity(f, rest) / 1e3;
                    out.push(match f_end {
                        Some(f_end) => text(
                            "Velocity range",
                            format!("[{:.4}, {:.4}] (km/s)", v(f_start), v(f_end)),
                        ),
                        None => text("Velocity", format!("{:.4} (km/s)", v(f_start))),
                    });
                }
            }
        }
    }

    if let Some(k) = wcs
        .stokes
        .filter(|k| *k < shape.len() && (1..=4).contains(&shape[*k]))
    {
        if let Some(codes) = wcs.stokes_codes(shape[k]) {
            let names: Vec<&str> = codes.iter().map(|c| stokes_name(*c)).collect();
            out.push(text("Stokes coverage", format!("[{}]", names.join(", "))));
        }
    }
}

/// A longitude the way casacore's DirectionCoordinate::format shows it by default: time for RA, else
/// fixed degrees normalised to [0, 360) ([-180, 180) for ecliptic).
fn format_lon(system: &CelestialSystem, d: f64) -> String {
    match system {
        CelestialSystem::Equatorial => mvangle(d.to_radians(), true, false, 9),
        CelestialSystem::Ecliptic => format!("{:.6}", normalize_deg(d, -180.0)),
        _ => format!("{:.6}", normalize_deg(d, 0.0)),
    }
}

/// A latitude as casacore shows it: ±dd.mm.ss.sss for Dec, else fixed degrees.
fn format_lat(system: &CelestialSystem, d: f64) -> String {
    match system {
        CelestialSystem::Equatorial => mvangle(d.to_radians(), false, true, 9),
        _ => format!("{d:.6}"),
    }
}

fn normalize_deg(d: f64, low: f64) -> f64 {
    let v = (d - low).rem_euclid(360.0) + low;
    if v >= low + 360.0 {
        low
    } else {
        v
    }
}

/// casacore's name for a FITS Stokes code (unsupported codes are "??").
fn stokes_name(code: i32) -> &'static str {
    match code {
        1 => "I",
        2 => "Q",
        3 => "U",
        4 => "V",
        -1 => "RR",
        -2 => "LL",
        -3 => "RL",
        -4 => "LR",
        -5 => "XX",
        -6 => "YY",
        -7 => "XY",
        -8 => "YX",
        5 | 6 => "PFlinear",
        7 => "Pangle",
        _ => "??",
    }
}

#[cfg(test)]
mod tests {
    use super::super::wcs::TestHeader;
    use super::*;

    /// The cards of carta_backend's fixture test/data/images/mix/M17_SWex_unit.fits that matter here.
    const M17: &str = "SIMPLE=T; BITPIX=-32; NAXIS=4; BMAJ=5.725136068132E-04; BMIN=4.142385721207E-04; \
        BPA=-7.462673187256E+01; BUNIT=Jy/beam; RADESYS=ICRS; LONPOLE=1.8E+02; LATPOLE=-1.620277777779E+01; \
        PC1_1=1.0; PC2_2=1.0; PC3_3=1.0; PC4_4=1.0; \
        CTYPE1=RA---SIN; CRVAL1=2.750875000001E+02; CDELT1=-1.111111111111E-04; CRPIX1=1.77E+02; CUNIT1=deg; \
        CTYPE2=DEC--SIN; CRVAL2=-1.620277777779E+01; CDELT2=1.111111111111E-04; CRPIX2=2.18E+02; CUNIT2=deg; \
        CTYPE3=FREQ; CRVAL3=8.675139618840E+10; CDELT3=-2.442377011414E+05; CRPIX3=-3.0; CUNIT3=Hz; \
        CTYPE4=STOKES; CRVAL4=1.0; CDELT4=1.0; CRPIX4=1.0; CUNIT4=; PV2_1=0.0; PV2_2=0.0; \
        RESTFRQ=8.675429000000E+10; SPECSYS=LSRK; VELREF=257";

    const TAN_CUBE: &str = "BITPIX=-32; CTYPE1=RA---TAN; CRVAL1=83.8; CRPIX1=50.5; CDELT1=-0.001; CUNIT1=deg; \
        CTYPE2=DEC--TAN; CRVAL2=-5.39; CRPIX2=60.5; CDELT2=0.001; CUNIT2=deg; \
        CTYPE3=FREQ; CRVAL3=1.42e9; CRPIX3=1; CDELT3=1e5; CUNIT3=Hz; CTYPE4=STOKES; CRVAL4=1; CRPIX4=1; CDELT4=1; \
        RESTFRQ=1.420405752e9; SPECSYS=LSRK; EQUINOX=2000.0; RADESYS=FK5; BUNIT=JY/BEAM; BMAJ=0.002; BMIN=0.001; BPA=45";

    fn dump(entries: &[ComputedEntry]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|e| {
                let v = match &e.value {
                    EntryValue::Text(t) => t.clone(),
                    EntryValue::Int(i) => format!("int:{i}"),
                    EntryValue::Float(f) => format!("float:{f}"),
                };
                (e.name.clone(), v)
            })
            .collect()
    }

    fn entries(cards: &str, shape: &[usize]) -> Vec<(String, String)> {
        dump(&computed_entries(&TestHeader::parse(cards), &info(shape)))
    }

    fn info(shape: &[usize]) -> ImageShapeInfo {
        ImageShapeInfo {
            name: "test.fits".into(),
            hdu: "0".into(),
            extname: None,
            shape: shape.to_vec(),
            has_mipmaps: false,
        }
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn has(got: &[(String, String)], name: &str, value: &str) -> bool {
        got.iter().any(|(n, v)| n == name && v == value)
    }

    fn roles(cards: &str, shape: &[usize]) -> [i32; 7] {
        let r = axis_roles(&TestHeader::parse(cards), shape);
        [
            r.spatial_x,
            r.spatial_y,
            r.spectral,
            r.stokes,
            r.depth,
            r.render_x,
            r.render_y,
        ]
    }

    /// Every value carta_backend's TestFileInfo.cc checks for this fixture is reproduced; the rest follows
    /// FileExtInfoLoader.
    #[test]
    fn m17_fixture_matches_carta() {
        let mut i = info(&[6, 6, 5, 1]);
        i.name = "M17_SWex_unit.fits".into();
        let expected = [
            ("Name", "M17_SWex_unit.fits"),
            ("HDU", "0"),
            ("Data type", "float"),
            ("Shape", "[6, 6, 5, 1] (RA, DEC, FREQ, STOKES)"),
            ("Number of channels", "int:5"),
            ("Number of polarizations", "int:1"),
            ("Coordinate type", "Right Ascension, Declination"),
            ("Projection", "SIN"),
            ("Image reference pixels", "[177, 218]"),
            ("Image reference coords", "[18:20:21.0000, -016.12.10.0000]"),
            ("Image ref coords (deg)", "[275.088 deg, -16.2028 deg]"),
            ("Pixel increment", "-0.4\", 0.4\""),
            ("Pixel unit", "Jy/beam"),
            ("Celestial frame", "ICRS"),
            ("Spectral frame", "LSRK"),
            ("Velocity definition", "RADIO"),
            ("Restoring beam", "2.06105\" X 1.49126\", -74.6267 deg"),
            ("RA range", "[18:20:25.749, 18:20:25.888]"),
            ("DEC range", "[-16.13.36.797, -16.13.34.797]"),
            ("Frequency range", "[86.7504, 86.7494] (GHz)"),
            ("Velocity range", "[13.3760, 16.7520] (km/s)"),
            ("Stokes coverage", "[I]"),
        ];
        assert_eq!(
            dump(&computed_entries(&TestHeader::parse(M17), &i)),
            pairs(&expected)
        );
        assert_eq!(roles(M17, &i.shape), [1, 2, 3, 4, 3, 1, 2]);
    }

    /// RA/DEC corners agree with astropy's `all_pix2world` printed by `Angle.to_string` (3 decimals);
    /// the velocities with astropy's `sptr("VRAD-???")`.
    #[test]
    fn tan_cube_with_freq_axis() {
        let mut i = info(&[100, 120, 20, 4]);
        i.extname = Some("SCI".into());
        i.has_mipmaps = true;
        let expected = [
            ("Name", "test.fits"),
            ("HDU", "0"),
            ("Extension name", "SCI"),
            ("Data type", "float"),
            ("Shape", "[100, 120, 20, 4] (RA, DEC, FREQ, STOKES)"),
            ("Number of channels", "int:20"),
            ("Number of polarizations", "int:4"),
            ("Coordinate type", "Right Ascension, Declination"),
            ("Projection", "TAN"),
            ("Image reference pixels", "[50.5, 60.5]"),
            ("Image reference coords", "[05:35:12.0000, -005.23.24.0000]"),
            ("Image ref coords (deg)", "[83.8 deg, -5.39 deg]"),
            ("Pixel increment", "-3.6\", 3.6\""),
            ("Pixel unit", "Jy/beam"),
            ("Celestial frame", "FK5, J2000"),
            ("Spectral frame", "LSRK"),
            ("Restoring beam", "7.2\" X 3.6\", 45 deg"),
            ("RA range", "[05:35:00.066, 05:35:23.934]"),
            ("DEC range", "[-05.26.58.193, -05.19.49.793]"),
            ("Frequency range", "[1.4200, 1.4219] (GHz)"),
            ("Velocity range", "[85.6385, -315.3777] (km/s)"),
            ("Stokes coverage", "[I, Q, U, V]"),
            ("Has mipmaps", "T"),
        ];
        let got = computed_entries(&TestHeader::parse(TAN_CUBE), &i);
        assert_eq!(dump(&got), pairs(&expected));
        // The frontend reads the extension name from index 2.
        assert_eq!(got[2].name, "Extension name");
    }

    #[test]
    fn galactic_car_ranges() {
        let cards =
            "CTYPE1=GLON-CAR; CTYPE2=GLAT-CAR; CRVAL1=120.0; CRVAL2=30.0; CRPIX1=100; CRPIX2=50; \
            CDELT1=-0.1; CDELT2=0.1";
        let got = entries(cards, &[200, 100]);
        assert!(has(&got, "Shape", "[200, 100] (GLON, GLAT)"));
        assert!(has(&got, "Coordinate type", "Longitude, Latitude"));
        assert!(has(&got, "Projection", "CAR"));
        assert!(has(
            &got,
            "Image reference coords",
            "[+120.00.00.0000, +030.00.00.0000]"
        ));
        assert!(has(&got, "Celestial frame", "GALACTIC"));
        // astropy corners: lon 107.887342..131.992477, lat 24.622074..34.482843.
        assert!(has(&got, "LON range", "[107.887342, 131.992477]"));
        assert!(has(&got, "LAT range", "[24.622074, 34.482843]"));
        assert!(!got.iter().any(|(n, _)| n == "Number of channels"));
    }

    #[test]
    fn no_wcs_images_still_describe_their_shape() {
        let expected = [
            ("Name", "test.fits"),
            ("HDU", "0"),
            ("Data type", "Short (rescaled to float)"),
            ("Shape", "[10, 12] (NA, NA)"),
        ];
        assert_eq!(entries("BITPIX=16", &[10, 12]), pairs(&expected));
        assert!(has(
            &entries("", &[10, 12, 7]),
            "Number of channels",
            "int:7"
        ));
        assert_eq!(roles("", &[10, 12, 7]), [1, 2, 3, 0, 3, 1, 2]);
        // 4D without headers: the axis longer than 4 is spectral, the other one Stokes.
        let got = entries("", &[10, 12, 3, 20]);
        assert!(has(&got, "Shape", "[10, 12, 3, 20] (NA, NA, STOKES, NA)"));
        assert!(has(&got, "Number of channels", "int:20"));
        assert!(has(&got, "Number of polarizations", "int:3"));
        assert_eq!(roles("", &[10, 12, 3, 20])[2..5], [4, 3, 4]);
        assert_eq!(roles("", &[10, 12, 2, 3])[2..5], [3, 4, 3]);
    }

    #[test]
    fn axis_roles_follow_header_types() {
        let cube = "CTYPE1=RA---SIN; CTYPE2=DEC--SIN; CTYPE3=STOKES; CTYPE4=VRAD";
        assert_eq!(roles(cube, &[8, 8, 2, 30]), [1, 2, 4, 3, 4, 1, 2]);
        let no_z = "CTYPE1=RA---SIN; CTYPE2=DEC--SIN; CTYPE3=STOKES";
        assert_eq!(roles(no_z, &[8, 8, 4]), [1, 2, 0, 3, 0, 1, 2]);
        // Stokes first: the render axes skip it.
        let stokes_first = "CTYPE1=STOKES; CTYPE2=RA---TAN; CTYPE3=DEC--TAN";
        assert_eq!(roles(stokes_first, &[2, 8, 8]), [2, 3, 0, 1, 0, 2, 3]);
        // Celestial axes in DEC, RA order: spatial_x is the longitude.
        assert_eq!(
            roles("CTYPE1=DEC--TAN; CTYPE2=RA---TAN", &[8, 8]),
            [2, 1, 0, 0, 0, 1, 2]
        );
        assert_eq!(roles("", &[5]), [0; 7]);
        assert_eq!(roles("", &[]), [0; 7]);
    }

    #[test]
    fn velocity_axes_and_single_channels() {
        let velo = "CTYPE1=RA---TAN; CTYPE2=DEC--TAN; CTYPE3=VELO-LSR; CRVAL3=5000; CDELT3=-1000; CRPIX3=8; \
            VELREF=257; RESTFREQ=2.30538e11";
        let got = entries(velo, &[4, 4, 16]);
        assert!(has(&got, "Shape", "[4, 4, 16] (RA, DEC, VELO)"));
        assert!(has(&got, "Spectral frame", "LSR"));
        assert!(has(&got, "Velocity definition", "RADIO"));
        assert!(has(&got, "Velocity range", "[12.0000, -3.0000] (km/s)"));
        // astropy: 230528772096 Hz and 230540306976 Hz.
        assert!(has(&got, "Frequency range", "[230.5288, 230.5403] (GHz)"));

        let got = entries(
            "CTYPE3=FREQ-LSR; CRVAL3=1.0e9; CRPIX3=1; CDELT3=0",
            &[4, 4, 1],
        );
        assert!(has(&got, "Frequency", "1.0000 (GHz)"));
        assert!(has(&got, "Spectral frame", "LSR"));
        assert!(!got.iter().any(|(n, _)| n.starts_with("Velocity")));
    }

    #[test]
    fn garbage_headers_do_not_panic() {
        let bad = [
            "CTYPE1=RA---TAN; CTYPE2=DEC--TAN; CDELT1=0; CDELT2=0",
            "CTYPE1=RA---TAN; CTYPE2=DEC--TAN; CD1_1=1; CD1_2=1; CD2_1=1; CD2_2=1",
            "CTYPE1=RA---XYZ; CTYPE2=DEC--XYZ; CRVAL1=abc; CRPIX1=",
            "CTYPE1=RA---NCP; CTYPE2=DEC--NCP; CRVAL2=0",
            "CTYPE1=RA---SIN; CTYPE2=DEC--SIN; CRVAL2=400; CDELT1=1e308",
            "CTYPE1=RA---; CTYPE2=-; CUNIT1=km/s; CUNIT2=",
            "CTYPE1=GLON-AIT; CTYPE2=GLAT-AIT; CDELT1=50; CDELT2=50",
            "CTYPE3=VOPT; CTYPE4=STOKES; CDELT4=0; CRVAL4=99; BMAJ=-1",
            "CTYPE3=WAVE; CUNIT3=furlong; CRVAL3=-5; EQUINOX=garbage",
            "BITPIX=nan; WCSAXES=1000000; VELREF=1e300; RESTFRQ=-1",
        ];
        let shapes: [&[usize]; 6] = [
            &[],
            &[1],
            &[0, 0],
            &[3, 3, 3],
            &[3, 3, 5, 9],
            &[2, 2, 2, 2, 2],
        ];
        for cards in bad {
            for shape in shapes {
                let got = entries(cards, shape);
                assert_eq!(got[0].0, "Name");
                let _ = roles(cards, shape);
            }
        }
        // A singular CD matrix leaves no celestial transform, hence no ranges.
        assert!(!entries(bad[1], &[4, 4])
            .iter()
            .any(|(n, _)| n.ends_with(" range")));
    }
}
