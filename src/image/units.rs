//! Brightness-unit spellings normalised the way carta_backend presents them (`JY/BEAM` → `Jy/beam`), so the
//! frontend's unit handling sees one spelling.

/// Replacements applied in order: common non-standard spellings of Jy/beam, pixel and degree.
const REPLACEMENTS: &[(&str, &str)] = &[
    ("JY", "Jy"),
    ("jy", "Jy"),
    ("Beam", "beam"),
    ("BEAM", "beam"),
    ("Jypb", "Jy/beam"),
    ("JyPB", "Jy/beam"),
    ("Jy beam^-1", "Jy/beam"),
    ("Jy beam-1", "Jy/beam"),
    ("Jy.beam-1", "Jy/beam"),
    ("beam^-1 Jy", "Jy/beam"),
    ("beam-1 Jy", "Jy/beam"),
    ("Pixel", "pixel"),
    ("PIXEL", "pixel"),
    ("DEGREE", "deg"),
    ("DEG", "deg"),
    ("\"", ""),
];

/// FITS upper-case unit names and their usual spelling.
const UPPER_NAMES: &[(&str, &str)] = &[
    ("K", "K"),
    ("HZ", "Hz"),
    ("M/S", "m/s"),
    ("KM/S", "km/s"),
    ("S", "s"),
];

/// Normalises a unit string; unknown units are returned unchanged (trimmed).
pub fn normalise(unit: &str) -> String {
    let mut u = unit.trim().to_string();
    for (from, to) in REPLACEMENTS {
        if u.contains(from) {
            u = u.replace(from, to);
        }
    }
    let upper = u.to_ascii_uppercase();
    if let Some((_, name)) = UPPER_NAMES.iter().find(|(k, _)| *k == upper && u == upper) {
        return (*name).to_string();
    }
    // Prefixed Jy/beam spelled in capitals, e.g. MJY/BEAM → handled above as MJy/beam; mJY → mJy.
    u
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn jy_per_beam_spellings() {
        for s in [
            "JY/BEAM",
            "Jy/Beam",
            "Jypb",
            "Jy beam-1",
            "Jy beam^-1",
            "jy/beam",
            "beam-1 Jy",
        ] {
            assert_eq!(normalise(s), "Jy/beam", "{s}");
        }
        assert_eq!(normalise("mJY/BEAM"), "mJy/beam");
        assert_eq!(normalise("MJy/beam"), "MJy/beam");
        assert_eq!(normalise("HZ"), "Hz");
        assert_eq!(normalise("DEGREE"), "deg");
        assert_eq!(normalise("K"), "K");
    }
}
