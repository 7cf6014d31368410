//! Restoring beams: the single beam of a header (BMAJ, BMIN, BPA in degrees), the per-channel and per-Stokes
//! beams of a FITS `BEAMS` binary table (as CASA writes them: columns BMAJ, BMIN, BPA, CHAN, POL with their
//! units in TUNITn), and the beam area in pixels that turns a Jy/beam sum into a flux density.

use super::header::Header;
use super::source::Beam;

/// Arcseconds in one unit of an angle unit name, for the units beam tables use.
fn arcsec_per(unit: &str) -> Option<f64> {
    match unit.trim().to_ascii_lowercase().as_str() {
        "arcsec" | "asec" | "\"" => Some(1.0),
        "arcmin" | "amin" | "'" => Some(60.0),
        "deg" | "degree" | "degrees" | "" => Some(3600.0),
        "rad" | "radian" | "radians" => Some(180.0 / std::f64::consts::PI * 3600.0),
        "mas" | "marcsec" => Some(1e-3),
        _ => None,
    }
}

/// The single beam of a header, if BMAJ and BMIN are present, finite and positive.
pub fn from_header(header: &Header) -> Vec<Beam> {
    let (Some(bmaj), Some(bmin)) = (header.number("BMAJ"), header.number("BMIN")) else {
        return Vec::new();
    };
    let bpa = header
        .number("BPA")
        .filter(|v| v.is_finite())
        .unwrap_or(0.0);
    if !(bmaj.is_finite() && bmin.is_finite() && bmaj > 0.0 && bmin > 0.0) {
        return Vec::new();
    }
    vec![Beam {
        channel: -1,
        stokes: -1,
        major_arcsec: bmaj * 3600.0,
        minor_arcsec: bmin * 3600.0,
        pa_deg: bpa,
    }]
}

/// One column of a binary table: where it sits in a row and how to read it.
struct Column {
    offset: usize,
    code: u8,
    unit: String,
}

impl Column {
    fn value(&self, row: &[u8]) -> Option<f64> {
        let at = |n: usize| row.get(self.offset..self.offset + n);
        Some(match self.code {
            b'E' => f64::from(f32::from_be_bytes(at(4)?.try_into().ok()?)),
            b'D' => f64::from_be_bytes(at(8)?.try_into().ok()?),
            b'I' => f64::from(i16::from_be_bytes(at(2)?.try_into().ok()?)),
            b'J' => f64::from(i32::from_be_bytes(at(4)?.try_into().ok()?)),
            b'K' => i64::from_be_bytes(at(8)?.try_into().ok()?) as f64,
            b'B' => f64::from(*at(1)?.first()?),
            _ => return None,
        })
    }
}

/// Bytes per element of a TFORM code.
fn code_size(code: u8) -> Option<usize> {
    Some(match code {
        b'L' | b'X' | b'B' | b'A' => 1,
        b'I' => 2,
        b'J' | b'E' => 4,
        b'K' | b'D' | b'C' | b'P' => 8,
        b'M' | b'Q' => 16,
        _ => return None,
    })
}

/// Parses a TFORM value ("1E", "D", "16A") into (repeat, code).
fn parse_tform(tform: &str) -> Option<(usize, u8)> {
    let t = tform.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let repeat = if digits == 0 {
        1
    } else {
        t[..digits].parse().ok()?
    };
    let code = *t.as_bytes().get(digits)?;
    Some((repeat, code))
}

/// The beams of a `BEAMS` binary table: `header` is the table's header, `data` its NAXIS1·NAXIS2 bytes.
/// Rows that cannot be read, or whose axes are not positive, are skipped.
pub fn from_table(header: &Header, data: &[u8]) -> Vec<Beam> {
    let (Some(row_len), Some(rows), Some(fields)) = (
        header.int("NAXIS1"),
        header.int("NAXIS2"),
        header.int("TFIELDS"),
    ) else {
        return Vec::new();
    };
    let (Ok(row_len), Ok(rows)) = (usize::try_from(row_len), usize::try_from(rows)) else {
        return Vec::new();
    };
    let mut columns = std::collections::HashMap::new();
    let mut offset = 0usize;
    for i in 1..=fields.clamp(0, 999) {
        let Some((repeat, code)) = header
            .text(&format!("TFORM{i}"))
            .and_then(|t| parse_tform(&t))
        else {
            return Vec::new();
        };
        let Some(size) = code_size(code) else {
            return Vec::new();
        };
        let name = header
            .text(&format!("TTYPE{i}"))
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase();
        let unit = header.text(&format!("TUNIT{i}")).unwrap_or_default();
        if repeat >= 1 {
            columns.insert(name, Column { offset, code, unit });
        }
        offset = match repeat.checked_mul(size).and_then(|n| n.checked_add(offset)) {
            Some(o) => o,
            None => return Vec::new(),
        };
    }
    let (Some(bmaj), Some(bmin), Some(bpa)) =
        (columns.get("BMAJ"), columns.get("BMIN"), columns.get("BPA"))
    else {
        return Vec::new();
    };
    let (Some(maj_scale), Some(min_scale)) = (arcsec_per(&bmaj.unit), arcsec_per(&bmin.unit))
    else {
        return Vec::new();
    };
    let pa_scale = arcsec_per(&bpa.unit).map(|a| a / 3600.0).unwrap_or(1.0);
    let chan = columns.get("CHAN");
    let pol = columns.get("POL");
    data.chunks_exact(row_len.max(1))
        .take(rows)
        .filter_map(|row| {
            let major = bmaj.value(row)? * maj_scale;
            let minor = bmin.value(row)? * min_scale;
            let pa = bpa.value(row)? * pa_scale;
            let channel = chan.and_then(|c| c.value(row)).unwrap_or(-1.0);
            let stokes = pol.and_then(|c| c.value(row)).unwrap_or(-1.0);
            (major.is_finite() && minor.is_finite() && major > 0.0 && minor > 0.0).then_some(Beam {
                channel: channel as i32,
                stokes: stokes as i32,
                major_arcsec: major,
                minor_arcsec: minor,
                pa_deg: if pa.is_finite() { pa } else { 0.0 },
            })
        })
        .collect()
}

/// The beam that applies to a plane: its own (channel, Stokes) entry of a beam table (an entry for every
/// Stokes has Stokes -1), else the image's single beam.
pub fn beam_for(beams: &[Beam], channel: usize, stokes: usize) -> Option<&Beam> {
    let (c, s) = (channel as i64, stokes as i64);
    beams
        .iter()
        .find(|b| i64::from(b.channel) == c && (i64::from(b.stokes) == s || b.stokes < 0))
        .or_else(|| beams.iter().find(|b| b.channel < 0))
}

/// π/(4 ln 2) · major · minor / |CDELT1 · CDELT2| (in degrees) for `beam` of an image in Jy/beam, else None:
/// what turns a sum in Jy/beam into a flux density in Jy.
pub fn area_pixels(header: &Header, beam: &Beam) -> Option<f64> {
    let unit = header.text("BUNIT")?.to_ascii_lowercase().replace(' ', "");
    if !unit.contains("jy/beam") {
        return None;
    }
    let (bmaj, bmin) = (beam.major_arcsec / 3600.0, beam.minor_arcsec / 3600.0);
    let (d1, d2) = (header.number("CDELT1")?, header.number("CDELT2")?);
    let area =
        std::f64::consts::PI / (4.0 * std::f64::consts::LN_2) * bmaj * bmin / (d1 * d2).abs();
    (area.is_finite() && area > 0.0).then_some(area)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::header::{Card, Value};

    fn header(cards: &[(&str, Value)]) -> Header {
        Header::from_cards(cards.iter().map(|(k, v)| Card {
            keyword: k.to_string(),
            value: Some(v.clone()),
            comment: String::new(),
            text: String::new(),
        }))
    }

    #[test]
    fn header_beam_is_in_arcsec() {
        let h = header(&[
            ("BMAJ", Value::Float(1.0 / 3600.0)),
            ("BMIN", Value::Float(0.5 / 3600.0)),
            ("BPA", Value::Float(30.0)),
        ]);
        let b = from_header(&h);
        assert_eq!(b.len(), 1);
        assert!((b[0].major_arcsec - 1.0).abs() < 1e-12);
        assert!((b[0].minor_arcsec - 0.5).abs() < 1e-12);
        assert_eq!((b[0].channel, b[0].stokes, b[0].pa_deg), (-1, -1, 30.0));
        assert!(from_header(&header(&[("BMAJ", Value::Float(1.0))])).is_empty());
    }

    #[test]
    fn table_rows_become_beams() {
        let h = header(&[
            ("NAXIS1", Value::Int(20)),
            ("NAXIS2", Value::Int(2)),
            ("TFIELDS", Value::Int(5)),
            ("TTYPE1", Value::Text("BMAJ".into())),
            ("TFORM1", Value::Text("1E".into())),
            ("TUNIT1", Value::Text("arcsec".into())),
            ("TTYPE2", Value::Text("BMIN".into())),
            ("TFORM2", Value::Text("1E".into())),
            ("TUNIT2", Value::Text("arcsec".into())),
            ("TTYPE3", Value::Text("BPA".into())),
            ("TFORM3", Value::Text("1E".into())),
            ("TUNIT3", Value::Text("deg".into())),
            ("TTYPE4", Value::Text("CHAN".into())),
            ("TFORM4", Value::Text("1J".into())),
            ("TTYPE5", Value::Text("POL".into())),
            ("TFORM5", Value::Text("1J".into())),
        ]);
        let mut data = Vec::new();
        for (maj, min, pa, c) in [(2.0f32, 1.0f32, 10.0f32, 0i32), (3.0, 1.5, 20.0, 1)] {
            data.extend(maj.to_be_bytes());
            data.extend(min.to_be_bytes());
            data.extend(pa.to_be_bytes());
            data.extend(c.to_be_bytes());
            data.extend(0i32.to_be_bytes());
        }
        let beams = from_table(&h, &data);
        assert_eq!(beams.len(), 2);
        assert_eq!(
            (beams[1].channel, beams[1].major_arcsec, beams[1].pa_deg),
            (1, 3.0, 20.0)
        );
        assert!(from_table(&h, &data[..10]).is_empty());
    }
}
