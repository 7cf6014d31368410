//! carta_backend's way of printing values in the File Info panel, outside of any particular entry: printf
//! `%g`, {fmt}'s shortest float form, casacore's sexagesimal angles (MVAngle), reference coordinates and
//! increments as FileExtInfoLoader words them, and its unit normalisation (NormalizeUnit).

/// FITS upper-case unit words and their casacore spelling.
const FITS_WORDS: &[(&str, &str)] = &[
    ("BEAM", "beam"),
    ("DAYS", "d"),
    ("DEGREES", "deg"),
    ("DEG", "deg"),
    ("HZ", "Hz"),
    ("JY", "Jy"),
    ("KELVINS", "K"),
    ("KELVIN", "K"),
    ("KM", "km"),
    ("METERS", "m"),
    ("M", "m"),
    ("PASCAL", "Pa"),
    ("PIXEL", "pixel"),
    ("SECONDS", "s"),
    ("SEC", "s"),
    ("S", "s"),
    ("VOLTS", "V"),
    ("YEARS", "a"),
    ("YEAR", "a"),
];

const UNIT_NAMES: &[&str] = &[
    "m", "g", "s", "A", "K", "mol", "cd", "rad", "sr", "Hz", "J", "W", "V", "N", "Pa", "C", "Ohm",
    "F", "Wb", "T", "H", "S", "lm", "lx", "Bq", "Gy", "Sv", "deg", "arcmin", "arcsec", "'", "''",
    "min", "h", "d", "a", "yr", "Jy", "beam", "pixel", "pc", "AU", "au", "ly", "Angstrom", "eV",
    "erg", "G", "L", "l", "_", "%", "mas",
];

const PREFIXES: &[&str] = &[
    "Y", "Z", "E", "P", "T", "G", "M", "k", "h", "da", "d", "c", "m", "u", "n", "p", "f", "a", "z",
    "y",
];

fn from_fits_words(u: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let mapped = FITS_WORDS
            .iter()
            .find(|(k, _)| *k == word.as_str())
            .map(|(_, v)| *v);
        out.push_str(mapped.unwrap_or(word.as_str()));
        word.clear();
    };
    for ch in u.chars() {
        if ch.is_ascii_alphabetic() {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            out.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn is_unit_word(w: &str) -> bool {
    UNIT_NAMES.contains(&w)
        || PREFIXES.iter().any(|p| {
            w.strip_prefix(p)
                .is_some_and(|rest| !rest.is_empty() && UNIT_NAMES.contains(&rest))
        })
}

/// A rough check of casacore's unit grammar: words (with optional SI prefix and integer power) joined by
/// '.', ' ', '*' or '/'.
fn is_known_unit(u: &str) -> bool {
    !u.is_empty()
        && u.split(['/', '.', ' ', '*', '(', ')'])
            .filter(|t| !t.is_empty())
            .all(|t| {
                let word = t.trim_end_matches(|c: char| {
                    c.is_ascii_digit() || c == '-' || c == '+' || c == '^'
                });
                word.is_empty() || is_unit_word(word)
            })
}

/// carta's NormalizeUnit: fix common spellings, then map FITS upper-case words, also behind an SI prefix.
pub fn normalize_unit(unit: &str) -> String {
    let mut u = unit.trim().to_string();
    for (from, to) in [
        ("JY", "Jy"),
        ("jy", "Jy"),
        ("Beam", "beam"),
        ("BEAM", "beam"),
        ("Jypb", "Jy/beam"),
        ("JyPB", "Jy/beam"),
        ("Jy beam-1", "Jy/beam"),
        ("Jy beam^-1", "Jy/beam"),
        ("beam-1 Jy", "Jy/beam"),
        ("beam^-1 Jy", "Jy/beam"),
        ("Pixel", "pixel"),
        ("DEGREE", "deg"),
        ("\"", ""),
    ] {
        u = u.replace(from, to);
    }
    if matches!(u.as_str(), "degree" | "degrees") {
        return "deg".to_string();
    }
    let direct = from_fits_words(&u);
    if is_known_unit(&direct) {
        return direct;
    }
    if let Some(first) = u.chars().next() {
        let rest = &u[first.len_utf8()..];
        if PREFIXES.contains(&first.to_string().as_str()) && !rest.is_empty() {
            let mapped = from_fits_words(&rest.to_ascii_uppercase());
            if is_known_unit(&mapped) {
                return format!("{first}{mapped}");
            }
        }
    }
    let upper = from_fits_words(&u.to_ascii_uppercase());
    if is_known_unit(&upper) {
        return upper;
    }
    u
}

/// Degrees per unit for angular units (after normalisation).
pub fn angle_to_deg(unit: &str) -> Option<f64> {
    match unit {
        "deg" => Some(1.0),
        "rad" => Some(180.0 / std::f64::consts::PI),
        "arcmin" | "'" => Some(1.0 / 60.0),
        "arcsec" | "''" => Some(1.0 / 3600.0),
        "mas" => Some(1.0 / 3.6e6),
        _ => None,
    }
}

/// Reference coordinate as carta's MakeAngleString: sexagesimal for RA (time) and Dec/Longitude/Latitude.
pub fn angle_string(name: &str, value: f64, unit: &str) -> String {
    if unit.is_empty() {
        return fmt_g(value, 6);
    }
    let time = name == "Right Ascension";
    let angle = name == "Declination" || name.contains("Longitude") || name.contains("Latitude");
    let Some(scale) = angle_to_deg(unit).filter(|_| time || angle) else {
        return format!("{} {unit}", fmt_g(value, 6));
    };
    let mut deg = value * scale;
    if name.contains("Longitude") && deg < 0.0 {
        deg += 360.0;
    }
    mvangle(deg * (std::f64::consts::PI / 180.0), time, false, 10)
}

/// A coordinate as a casacore Quantity printed in degrees where possible ("275.088 deg").
pub fn coord_in_deg(name: &str, value: f64, unit: &str) -> String {
    match angle_to_deg(unit) {
        Some(scale) => {
            let mut d = value * scale;
            if name == "Longitude" && d < 0.0 {
                d += 360.0;
            }
            format!("{} deg", fmt_g(d, 6))
        }
        None => format!("{} {unit}", fmt_g(value, 6)),
    }
}

/// One half of "Pixel increment": arcsec with a `"` sign when angular, else value and unit.
pub fn increment_string(value: f64, unit: &str) -> String {
    match angle_to_deg(unit) {
        Some(scale) => format!("{}\"", fmt_g(value * scale * 3600.0, 6)),
        None => format!("{} {unit}", fmt_g(value, 6)),
    }
}

/// casacore MVAngle formatting without the CLEAN flag: `time` gives hh:mm:ss.sss (normalised to 0–24 h),
/// otherwise signed ddd.mm.ss.sss (two degree digits with `dig2`). `prec` counts digits as casacore does.
pub fn mvangle(rad: f64, time: bool, dig2: bool, prec: u32) -> String {
    let mut out = String::new();
    let mut t = if time {
        let turns = rad / (2.0 * std::f64::consts::PI);
        let mut h = (turns - turns.floor()) * 24.0;
        if dig2 && h > 12.0 {
            h -= 24.0;
        }
        h
    } else {
        rad / (std::f64::consts::PI / 180.0)
    };
    if !t.is_finite() {
        return "nan".to_string();
    }
    let sep = if time { ':' } else { '.' };
    let mut t1 = 1.0;
    if prec > 2 {
        t1 /= 60.0;
    }
    if prec > 4 {
        t1 /= 60.0;
    }
    if prec > 6 {
        t1 /= 10f64.powi(prec as i32 - 6);
    }
    if !time || dig2 {
        out.push(if t < 0.0 { '-' } else { '+' });
    }
    t = (((t.abs() / t1 + 0.5).floor() + 0.1) * t1).abs();
    let h = t.floor();
    let wide = !time && !dig2;
    if (wide && h > 999.0) || (!wide && h > 99.0) {
        out.push_str(if wide { "***" } else { "**" });
    } else if wide {
        out.push_str(&format!("{:03}", h as i64));
    } else {
        out.push_str(&format!("{:02}", h as i64));
    }
    out.push(sep);
    if prec > 2 {
        t = (t % 1.0) * 60.0;
        out.push_str(&format!("{:02}", t.floor() as i64));
    }
    out.push(sep);
    if prec > 4 && prec < 7 {
        t = (t % 1.0) * 60.0;
        out.push_str(&format!("{:02}", t.floor() as i64));
    }
    if prec > 6 {
        let mut s = (((t % 1.0) - 6.0 * t1) * 60.0).abs();
        if s <= 0.0 {
            s = 0.0;
        }
        let decimals = (prec - 6) as usize;
        let width = (prec - 3) as usize;
        out.push_str(&format!("{s:0width$.decimals$}"));
    }
    out
}

/// printf `%.{prec}g`.
pub fn fmt_g(x: f64, prec: usize) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let p = prec.max(1);
    let e_form = format!("{:.*e}", p - 1, x);
    let (mant, exp) = e_form.split_once('e').unwrap_or((e_form.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mant = strip_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = usize::try_from(p as i32 - 1 - exp).unwrap_or(0);
        strip_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The shortest round-trip form `{fmt}` prints for `{}`: positional for exponents −4..15, else `1.5e+16`.
pub fn fmt_shortest(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let e_form = format!("{x:e}");
    let (mant, exp) = e_form.split_once('e').unwrap_or((e_form.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if x != 0.0 && !(-4..16).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.unsigned_abs())
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carta_number_formats() {
        assert_eq!(fmt_g(-0.4, 6), "-0.4");
        assert_eq!(fmt_g(2.061048984527, 6), "2.06105");
        assert_eq!(fmt_g(1234567.0, 6), "1.23457e+06");
        assert_eq!(fmt_g(100000.0, 6), "100000");
        assert_eq!(fmt_g(0.0001234, 6), "0.0001234");
        assert_eq!(fmt_g(0.00001234, 6), "1.234e-05");
        assert_eq!(fmt_g(0.0, 6), "0");
        assert_eq!(fmt_g(9.9999996, 6), "10");
        assert_eq!(fmt_shortest(177.0), "177");
        assert_eq!(fmt_shortest(256.5), "256.5");
        assert_eq!(fmt_shortest(-3.0), "-3");
        assert_eq!(fmt_shortest(1e16), "1e+16");
        assert_eq!(fmt_shortest(1.5e-5), "1.5e-05");
        assert_eq!(fmt_shortest(0.0001), "0.0001");
        let rad = |d: f64| d.to_radians();
        assert_eq!(
            mvangle(rad(275.0875000001), true, false, 10),
            "18:20:21.0000"
        );
        assert_eq!(
            mvangle(rad(-16.20277777779), false, false, 10),
            "-016.12.10.0000"
        );
        assert_eq!(
            mvangle(rad(-16.20277777779), false, true, 9),
            "-16.12.10.000"
        );
        assert_eq!(mvangle(rad(5.0), false, true, 9), "+05.00.00.000");
        assert_eq!(mvangle(rad(-1.0), true, false, 9), "23:56:00.000");
        assert_eq!(mvangle(rad(29.99999999999), true, false, 9), "02:00:00.000");
    }

    #[test]
    fn units_are_normalised_like_carta() {
        for u in [
            "Jy/beam",
            "JY/BEAM",
            "Jy/Beam",
            "jy/beam",
            "Jypb",
            "JYpb",
            "Jy beam-1",
            "beam-1 Jy",
        ] {
            assert_eq!(normalize_unit(u), "Jy/beam", "{u}");
        }
        assert_eq!(normalize_unit("mJY/BEAM"), "mJy/beam");
        assert_eq!(normalize_unit("MJy/beam"), "MJy/beam");
        assert_eq!(normalize_unit("DEG"), "deg");
        assert_eq!(normalize_unit("HZ"), "Hz");
        assert_eq!(normalize_unit("MHZ"), "MHz");
        assert_eq!(normalize_unit("KM/S"), "km/s");
        assert_eq!(normalize_unit("K"), "K");
        assert_eq!(normalize_unit("counts/s"), "counts/s");
    }
}
