//! FITS structure without reading pixels: walks the HDUs of a plain or gzip-compressed FITS file, parsing each
//! header and skipping its data, so listing and file info stay fast on large files.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::header::{Card, Header};
use super::ImageError;

const BLOCK: usize = 2880;
const CARD: usize = 80;
/// Headers longer than this are refused rather than parsed forever (a corrupt file can look endless).
const MAX_HEADER_CARDS: usize = 500_000;

/// What an HDU holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HduKind {
    /// A primary array or IMAGE extension.
    Image,
    /// A tile-compressed image stored in a BINTABLE (fpack).
    CompressedImage,
    /// Anything else (tables, random groups).
    Other,
}

/// One HDU's header and where its data lies.
#[derive(Debug, Clone)]
pub struct Hdu {
    pub index: usize,
    pub header: Header,
    pub kind: HduKind,
    /// Axis lengths in FITS order (NAXIS1 first); for compressed images the ZNAXISn.
    pub shape: Vec<usize>,
    /// Byte offset of the data (in the uncompressed stream).
    pub data_offset: u64,
    /// Data length in bytes, without padding.
    pub data_len: u64,
}

impl Hdu {
    pub fn extname(&self) -> Option<String> {
        self.header.text("EXTNAME").filter(|s| !s.trim().is_empty())
    }

    /// An image with at least two axes, every one non-empty: what CARTA can show.
    pub fn is_image(&self) -> bool {
        self.kind != HduKind::Other && self.shape.len() >= 2 && self.shape.iter().all(|n| *n > 0)
    }
}

/// A byte stream the scanner can skip forward in.
trait Stream: Read {
    fn skip(&mut self, n: u64) -> io::Result<u64>;
}

impl Stream for BufReader<File> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let offset = i64::try_from(n).map_err(|_| io::Error::other("offset too large"))?;
        self.seek_relative(offset)?;
        Ok(n)
    }
}

impl Stream for io::Cursor<&[u8]> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let len = self.get_ref().len() as u64;
        let from = self.position().min(len);
        let to = from.saturating_add(n).min(len);
        self.set_position(to);
        Ok(to - from)
    }
}

impl<R: Read> Stream for MultiGzDecoder<R> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        io::copy(&mut self.by_ref().take(n), &mut io::sink())
    }
}

/// Whether the file is gzip-compressed (by its magic number).
pub fn is_gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == [0x1f, 0x8b]
}

/// Reads up to one block; returns the number of bytes read (less than a block only at end of stream).
fn read_block(stream: &mut dyn Stream, buf: &mut [u8; BLOCK]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < BLOCK {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn axis_lengths(header: &Header, prefix: &str) -> Result<Vec<usize>, String> {
    let naxis_key = format!("{prefix}NAXIS");
    let naxis = header
        .int(&naxis_key)
        .ok_or_else(|| format!("{naxis_key} missing"))?;
    if !(0..=999).contains(&naxis) {
        return Err(format!("{naxis_key} = {naxis} is out of range"));
    }
    (1..=naxis)
        .map(|i| {
            let key = format!("{prefix}NAXIS{i}");
            match header.int(&key) {
                Some(n) if n >= 0 => Ok(n as usize),
                Some(n) => Err(format!("{key} = {n} is negative")),
                None => Err(format!("{key} missing")),
            }
        })
        .collect()
}

fn data_length(header: &Header, primary: bool) -> Result<u64, String> {
    let bitpix = header.int("BITPIX").ok_or("BITPIX missing")?;
    if ![8, 16, 32, 64, -32, -64].contains(&bitpix) {
        return Err(format!("BITPIX = {bitpix} is not valid"));
    }
    let axes = axis_lengths(header, "")?;
    if axes.is_empty() {
        return Ok(0);
    }
    let groups = primary && header.logical("GROUPS") == Some(true) && axes[0] == 0;
    let counted = if groups { &axes[1..] } else { &axes[..] };
    let mut n: u64 = 1;
    for a in counted {
        n = n.checked_mul(*a as u64).ok_or("data size overflows")?;
    }
    let pcount = header.int("PCOUNT").unwrap_or(0).max(0) as u64;
    let gcount = header.int("GCOUNT").unwrap_or(1).max(1) as u64;
    let bytes = bitpix.unsigned_abs() / 8;
    bytes
        .checked_mul(gcount)
        .and_then(|x| x.checked_mul(pcount.checked_add(n)?))
        .ok_or_else(|| "data size overflows".to_string())
}

/// Reads one header starting at the stream position; `Ok(None)` at a clean end of stream.
fn read_header(stream: &mut dyn Stream, consumed: &mut u64) -> Result<Option<Header>, ImageError> {
    let mut buf = [0u8; BLOCK];
    let mut cards = Vec::new();
    loop {
        let n = read_block(stream, &mut buf).map_err(ImageError::Io)?;
        if n == 0 && cards.is_empty() {
            return Ok(None);
        }
        if n < BLOCK {
            return Err(ImageError::Truncated(
                "the header ends before its END card".into(),
            ));
        }
        *consumed += BLOCK as u64;
        for raw in buf.chunks_exact(CARD) {
            let card = Card::parse(raw);
            if card.keyword == "END" {
                return Ok(Some(Header::from_cards(cards)));
            }
            cards.push(card);
        }
        if cards.len() > MAX_HEADER_CARDS {
            return Err(ImageError::Corrupt(format!(
                "header has more than {MAX_HEADER_CARDS} cards"
            )));
        }
    }
}

fn classify(header: &Header, primary: bool) -> Result<(HduKind, Vec<usize>), ImageError> {
    let corrupt = ImageError::Corrupt;
    if primary {
        if header.cards.first().map(|c| c.keyword.as_str()) != Some("SIMPLE") {
            return Err(ImageError::NotFits("the first card is not SIMPLE".into()));
        }
        if header.logical("GROUPS") == Some(true) {
            return Ok((HduKind::Other, Vec::new()));
        }
        return Ok((HduKind::Image, axis_lengths(header, "").map_err(corrupt)?));
    }
    let xtension = header.text("XTENSION").unwrap_or_default();
    match xtension.trim() {
        "IMAGE" | "IUEIMAGE" => Ok((HduKind::Image, axis_lengths(header, "").map_err(corrupt)?)),
        "BINTABLE" if header.logical("ZIMAGE") == Some(true) => Ok((
            HduKind::CompressedImage,
            axis_lengths(header, "Z").map_err(corrupt)?,
        )),
        _ => Ok((HduKind::Other, Vec::new())),
    }
}

fn scan_stream(
    stream: &mut dyn Stream,
    file_len: Option<u64>,
    max_hdus: usize,
) -> Result<Vec<Hdu>, ImageError> {
    let mut hdus = Vec::new();
    let mut offset = 0u64;
    while hdus.len() < max_hdus {
        let primary = hdus.is_empty();
        let header = match read_header(stream, &mut offset) {
            Ok(Some(h)) => h,
            Ok(None) if primary => return Err(ImageError::NotFits("the file is empty".into())),
            Ok(None) => break,
            // Junk or a cut-off header after valid HDUs: keep what was read.
            Err(_) if !primary => break,
            Err(e) => return Err(e),
        };
        if !primary && header.cards.first().map(|c| c.keyword.as_str()) != Some("XTENSION") {
            break;
        }
        let (kind, shape) = classify(&header, primary)?;
        let data_len = data_length(&header, primary).map_err(ImageError::Corrupt)?;
        let data_offset = offset;
        hdus.push(Hdu {
            index: hdus.len(),
            header,
            kind,
            shape,
            data_offset,
            data_len,
        });
        let padded = data_len.div_ceil(BLOCK as u64) * BLOCK as u64;
        if let Some(len) = file_len {
            if data_offset + padded >= len {
                break;
            }
        }
        let skipped = stream.skip(padded).map_err(ImageError::Io)?;
        if skipped < padded {
            break;
        }
        offset += padded;
    }
    Ok(hdus)
}

/// Reads the headers of up to `max_hdus` HDUs of a FITS file (plain or gzip).
pub fn scan(path: &Path, max_hdus: usize) -> Result<Vec<Hdu>, ImageError> {
    let file = File::open(path).map_err(ImageError::Io)?;
    if is_gzip(path) {
        let mut stream = MultiGzDecoder::new(BufReader::new(file));
        scan_stream(&mut stream, None, max_hdus)
    } else {
        let len = file.metadata().map_err(ImageError::Io)?.len();
        let mut stream = BufReader::with_capacity(BLOCK * 4, file);
        stream.seek(SeekFrom::Start(0)).map_err(ImageError::Io)?;
        scan_stream(&mut stream, Some(len), max_hdus)
    }
}

/// Reads the headers of up to `max_hdus` HDUs of a FITS file held in memory (plain, not gzip).
pub fn scan_bytes(bytes: &[u8], max_hdus: usize) -> Result<Vec<Hdu>, ImageError> {
    let mut stream = io::Cursor::new(bytes);
    scan_stream(&mut stream, Some(bytes.len() as u64), max_hdus)
}

/// The HDU numbers (as text) of every image HDU, as the file list reports them.
pub fn image_hdus(path: &Path) -> Result<Vec<String>, ImageError> {
    Ok(scan(path, usize::MAX)?
        .iter()
        .filter(|h| h.is_image())
        .map(|h| h.index.to_string())
        .collect())
}

/// Picks the HDU a client asked for: a number (text before any ':'), or, when empty or "0" with an empty
/// primary array, the first image HDU.
pub fn select_hdu<'a>(hdus: &'a [Hdu], requested: &str) -> Result<&'a Hdu, ImageError> {
    let wanted = requested.split(':').next().unwrap_or("").trim();
    let first_image = || hdus.iter().find(|h| h.is_image());
    let chosen = match wanted {
        "" => first_image(),
        w => {
            let index: usize = w
                .parse()
                .map_err(|_| ImageError::NoSuchHdu(requested.to_string()))?;
            match hdus.get(index) {
                Some(h)
                    if index == 0 && !h.is_image() && h.shape.iter().product::<usize>() == 0 =>
                {
                    first_image()
                }
                Some(h) => Some(h),
                None => return Err(ImageError::NoSuchHdu(requested.to_string())),
            }
        }
    };
    let hdu = chosen.ok_or_else(|| ImageError::NotAnImage("the file has no image HDU".into()))?;
    if !hdu.is_image() {
        return Err(ImageError::NotAnImage(format!(
            "HDU {} holds no image",
            hdu.index
        )));
    }
    Ok(hdu)
}
