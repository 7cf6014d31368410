//! FITS header cards: parsing 80-character cards into keyword, typed value and comment, and turning a header
//! into the `header_entries` the frontend builds its WCS from (value text unquoted, numbers typed).

use crate::protocol::pb::{EntryType, HeaderEntry};

/// A parsed card value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Logical(bool),
    Int(i64),
    Float(f64),
    /// A value field that is none of the above (complex numbers, malformed text), kept verbatim.
    Other(String),
}

/// One header card.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub keyword: String,
    /// `None` for commentary cards (COMMENT, HISTORY, blank keyword) and keywords without a value.
    pub value: Option<Value>,
    pub comment: String,
    /// For commentary cards: the text after the keyword.
    pub text: String,
}

/// A header: its cards in order (without END).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub cards: Vec<Card>,
}

fn parse_number(text: &str) -> Option<Value> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::Int(i));
    }
    // FITS allows D as the exponent letter.
    let f = t.replace(['D', 'd'], "E");
    f.parse::<f64>().ok().map(Value::Float)
}

/// Splits a value field (card columns 11–80) into value and comment.
fn parse_value_field(field: &str) -> (Option<Value>, String) {
    let trimmed = field.trim_start();
    if let Some(rest) = trimmed.strip_prefix('\'') {
        // A string: '' is an escaped quote; the closing quote is a ' not followed by another.
        let mut out = String::new();
        let mut chars = rest.char_indices().peekable();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    out.push('\'');
                    chars.next();
                } else {
                    end = i + 1;
                    break;
                }
            } else {
                out.push(c);
            }
        }
        let after = &rest[end.min(rest.len())..];
        let comment = after
            .find('/')
            .map(|p| after[p + 1..].trim().to_string())
            .unwrap_or_default();
        return (Some(Value::Text(out.trim_end().to_string())), comment);
    }
    let (value_text, comment) = match trimmed.find('/') {
        Some(p) => (&trimmed[..p], trimmed[p + 1..].trim().to_string()),
        None => (trimmed, String::new()),
    };
    let v = value_text.trim();
    let value = match v {
        "" => None,
        "T" => Some(Value::Logical(true)),
        "F" => Some(Value::Logical(false)),
        _ => Some(parse_number(v).unwrap_or_else(|| Value::Other(v.to_string()))),
    };
    (value, comment)
}

impl Card {
    /// Parses one card (up to 80 bytes; non-ASCII bytes are replaced).
    pub fn parse(raw: &[u8]) -> Card {
        let text = String::from_utf8_lossy(raw);
        let text: &str = &text;
        let keyword = text.get(..8).unwrap_or(text).trim_end().to_string();
        let rest = text.get(8..).unwrap_or("");
        if keyword == "HIERARCH" {
            if let Some(eq) = rest.find('=') {
                let (value, comment) = parse_value_field(&rest[eq + 1..]);
                return Card {
                    keyword: format!("HIERARCH {}", rest[..eq].trim()),
                    value,
                    comment,
                    text: String::new(),
                };
            }
        }
        if rest.starts_with("= ") || (rest.starts_with('=') && rest.len() == 1) {
            let (value, comment) = parse_value_field(&rest[1..]);
            Card {
                keyword,
                value,
                comment,
                text: String::new(),
            }
        } else {
            Card {
                keyword,
                value: None,
                comment: String::new(),
                text: rest.trim_end().to_string(),
            }
        }
    }

    pub fn is_commentary(&self) -> bool {
        self.value.is_none()
            && matches!(
                self.keyword.as_str(),
                "COMMENT" | "HISTORY" | "" | "CONTINUE"
            )
    }
}

impl Header {
    /// Builds a header from cards, folding CONTINUE long-string cards into the string they continue.
    pub fn from_cards(cards: impl IntoIterator<Item = Card>) -> Header {
        let mut out: Vec<Card> = Vec::new();
        for card in cards {
            if card.keyword == "CONTINUE" {
                if let Some(Card {
                    value: Some(Value::Text(prev)),
                    comment,
                    ..
                }) = out.last_mut()
                {
                    if prev.ends_with('&') {
                        let (v, more_comment) = parse_value_field(&card.text);
                        if let Some(Value::Text(more)) = v {
                            prev.pop();
                            prev.push_str(&more);
                            if !more_comment.is_empty() {
                                *comment = more_comment;
                            }
                            continue;
                        }
                    }
                }
            }
            out.push(card);
        }
        Header { cards: out }
    }

    /// The first card with this keyword.
    pub fn get(&self, keyword: &str) -> Option<&Value> {
        self.cards
            .iter()
            .find(|c| c.keyword == keyword)
            .and_then(|c| c.value.as_ref())
    }

    pub fn number(&self, keyword: &str) -> Option<f64> {
        match self.get(keyword)? {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Logical(b) => Some(f64::from(u8::from(*b))),
            Value::Text(t) | Value::Other(t) => t.trim().parse().ok(),
        }
    }

    pub fn int(&self, keyword: &str) -> Option<i64> {
        match self.get(keyword)? {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn text(&self, keyword: &str) -> Option<String> {
        match self.get(keyword)? {
            Value::Text(t) | Value::Other(t) => Some(t.trim_end().to_string()),
            Value::Logical(b) => Some(if *b { "T" } else { "F" }.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
        }
    }

    pub fn logical(&self, keyword: &str) -> Option<bool> {
        match self.get(keyword)? {
            Value::Logical(b) => Some(*b),
            _ => None,
        }
    }

    /// The header as the frontend's `header_entries`, the way carta_backend presents it: commentary cards carry
    /// their whole text as the name; strings are unquoted; floats are typed FLOAT with the value re-printed
    /// (`%.12E`, or shortest form for *PIX*, EQUINOX and EPOCH); integers INT; logicals the STRING `T`/`F`.
    pub fn entries(&self) -> Vec<HeaderEntry> {
        self.cards
            .iter()
            .filter(|c| !c.keyword.is_empty())
            .map(entry)
            .collect()
    }
}

fn entry(card: &Card) -> HeaderEntry {
    let mut e = HeaderEntry {
        name: card.keyword.clone(),
        comment: card.comment.clone(),
        ..Default::default()
    };
    let Some(value) = &card.value else {
        if !card.text.trim().is_empty() {
            e.name = format!("{} {}", card.keyword, card.text.trim());
        }
        return e;
    };
    let name = card.keyword.as_str();
    match value {
        Value::Text(t) => {
            e.value = if name.contains("UNIT") {
                super::format::normalize_unit(t)
            } else {
                t.clone()
            };
            e.set_entry_type(EntryType::String);
        }
        Value::Other(t) => {
            e.value = t.clone();
            e.set_entry_type(EntryType::String);
        }
        Value::Logical(b) => {
            e.value = if *b { "T" } else { "F" }.to_string();
            e.set_entry_type(EntryType::String);
        }
        Value::Int(i) => {
            e.value = i.to_string();
            e.numeric_value = *i as f64;
            e.set_entry_type(EntryType::Int);
        }
        Value::Float(f) => {
            e.value = if name.contains("PIX") || name == "EQUINOX" || name == "EPOCH" {
                f.to_string()
            } else {
                c_exponent(*f, 12)
            };
            e.numeric_value = *f;
            e.set_entry_type(EntryType::Float);
        }
    }
    e
}

/// C's `%.{digits}E`: mantissa with `digits` decimals and a signed, at least two-digit exponent.
pub fn c_exponent(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let s = format!("{v:.digits$E}");
    match s.split_once('E') {
        Some((mantissa, exp)) => {
            let (sign, num) = match exp.strip_prefix('-') {
                Some(n) => ('-', n),
                None => ('+', exp),
            };
            format!("{mantissa}E{sign}{num:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(s: &str) -> Card {
        Card::parse(format!("{s:<80}").as_bytes())
    }

    #[test]
    fn parses_typed_values_and_comments() {
        let c = card("OBJECT  = 'M''17 field'         / target name");
        assert_eq!(c.value, Some(Value::Text("M'17 field".into())));
        assert_eq!(c.comment, "target name");
        assert_eq!(
            card("SIMPLE  =                    T").value,
            Some(Value::Logical(true))
        );
        assert_eq!(
            card("NAXIS1  =                  640 / width").value,
            Some(Value::Int(640))
        );
        assert_eq!(
            card("RESTFRQ =   1.42040575200D+09").value,
            Some(Value::Float(1.4204057520e9))
        );
        let h = card("HISTORY made by a test");
        assert!(h.is_commentary());
        assert_eq!(h.text, "made by a test");
        assert_eq!(
            card("URL     = 'a/b/c'  / has slashes").value,
            Some(Value::Text("a/b/c".into()))
        );
    }

    #[test]
    fn entries_follow_carta_formatting() {
        let h = Header::from_cards([
            card("CRVAL3  =   1.42040575200E+09 / ref"),
            card("CRPIX1  =                 32.5"),
            card("NAXIS   =                    2"),
            card("BUNIT   = 'JY/BEAM '"),
            card("COMMENT hello there"),
        ]);
        let e = h.entries();
        assert_eq!(e[0].value, "1.420405752000E+09");
        assert_eq!(e[0].entry_type(), EntryType::Float);
        assert_eq!(e[0].comment, "ref");
        assert_eq!(e[1].value, "32.5");
        assert_eq!(e[2].entry_type(), EntryType::Int);
        assert_eq!(e[3].value, "Jy/beam");
        assert_eq!(e[4].name, "COMMENT hello there");
        assert_eq!(e[4].value, "");
    }

    #[test]
    fn long_strings_continue() {
        let h = Header::from_cards([card("LONGSTR = 'part one &'"), card("CONTINUE  'and two'")]);
        assert_eq!(h.text("LONGSTR").as_deref(), Some("part one and two"));
    }

    #[test]
    fn c_exponent_format() {
        assert_eq!(c_exponent(1.5e-5, 3), "1.500E-05");
        assert_eq!(c_exponent(-2.0, 2), "-2.00E+00");
        assert_eq!(c_exponent(1e100, 1), "1.0E+100");
    }
}
