//! FITS images as a [`PixelSource`]: positioned reads (`pread`) straight from the data unit, so chunk workers
//! read their rows in parallel without sharing a cursor. Big-endian values are converted with BSCALE/BZERO;
//! BLANK and non-finite values become NaN. A gzip-compressed FITS is decompressed once into an unlinked
//! temporary file, so only the loaded blocks live in memory. Beams come from BMAJ/BMIN/BPA or a `BEAMS` table.

use std::fs::File;
use std::io::{BufReader, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::header::Header;
use super::source::{Beam, ImageShape, PixelSource, Plane, SourceIdentity, SourceInfo, SourceKind};
use super::{beams, fits, ImageError};

/// How FITS values are stored and scaled.
#[derive(Debug, Clone, Copy)]
struct Encoding {
    bitpix: i64,
    bscale: f64,
    bzero: f64,
    blank: Option<i64>,
}

impl Encoding {
    fn value_bytes(self) -> usize {
        (self.bitpix.unsigned_abs() / 8) as usize
    }
}

/// One image HDU of a FITS file, opened.
pub struct FitsSource {
    info: SourceInfo,
    file: File,
    data_offset: u64,
    encoding: Encoding,
    beams: Vec<Beam>,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Decompresses a gzip file into an anonymous temporary file (unlinked at once; freed when closed).
fn gunzip_to_temp(path: &Path) -> Result<File, ImageError> {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp_path = std::env::temp_dir().join(format!("cartaflow-{}-{n}.fits", std::process::id()));
    let mut out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&temp_path)
        .map_err(ImageError::Io)?;
    let _ = std::fs::remove_file(&temp_path);
    let input = File::open(path).map_err(ImageError::Io)?;
    let mut decoder = flate2::read::MultiGzDecoder::new(BufReader::new(input));
    std::io::copy(&mut decoder, &mut out).map_err(|e| ImageError::Corrupt(format!("gzip: {e}")))?;
    out.flush().map_err(ImageError::Io)?;
    Ok(out)
}

fn f64_or(header: &Header, key: &str, default: f64) -> f64 {
    header
        .number(key)
        .filter(|v| v.is_finite())
        .unwrap_or(default)
}

/// Bytes a BEAMS table may hold before it is ignored (a beam row is about 20 bytes).
const MAX_BEAM_TABLE_BYTES: u64 = 64 << 20;

/// The beams of the file's `BEAMS` table, if it has one that can be read.
fn table_beams(file: &File, hdus: &[fits::Hdu]) -> Vec<Beam> {
    let Some(table) = hdus.iter().find(|h| {
        h.header.text("XTENSION").as_deref().map(str::trim) == Some("BINTABLE")
            && h.header.text("EXTNAME").as_deref().map(str::trim) == Some("BEAMS")
    }) else {
        return Vec::new();
    };
    if table.data_len > MAX_BEAM_TABLE_BYTES {
        return Vec::new();
    }
    let mut bytes = vec![0u8; table.data_len as usize];
    if file.read_exact_at(&mut bytes, table.data_offset).is_err() {
        return Vec::new();
    }
    beams::from_table(&table.header, &bytes)
}

impl FitsSource {
    /// Opens image HDU `hdu` ("" = the first image) of a plain or gzip-compressed FITS file.
    pub fn open(path: &Path, hdu: &str) -> Result<FitsSource, ImageError> {
        let hdus = fits::scan(path, usize::MAX)?;
        let chosen = fits::select_hdu(&hdus, hdu)?;
        if chosen.kind == fits::HduKind::CompressedImage {
            return Err(ImageError::NotAnImage(
                "tile-compressed (fpack) images are not supported yet".into(),
            ));
        }
        let file = if fits::is_gzip(path) {
            gunzip_to_temp(path)?
        } else {
            File::open(path).map_err(ImageError::Io)?
        };
        let len = file.metadata().map_err(ImageError::Io)?.len();
        if chosen.data_offset.saturating_add(chosen.data_len) > len {
            return Err(ImageError::Truncated(format!(
                "HDU {} needs {} data bytes but the file ends after {}",
                chosen.index,
                chosen.data_len,
                len.saturating_sub(chosen.data_offset)
            )));
        }
        let header = chosen.header.clone();
        let encoding = Encoding {
            bitpix: header.int("BITPIX").unwrap_or(-32),
            bscale: f64_or(&header, "BSCALE", 1.0),
            bzero: f64_or(&header, "BZERO", 0.0),
            blank: header.int("BLANK"),
        };
        let shape = ImageShape::new(chosen.shape.clone(), &header)?;
        let from_table = table_beams(&file, &hdus);
        let beams = if from_table.is_empty() {
            beams::from_header(&header)
        } else {
            from_table
        };
        let hdu = chosen.index.to_string();
        Ok(FitsSource {
            info: SourceInfo {
                identity: SourceIdentity::of_file(path, &hdu)?,
                shape,
                extname: chosen.extname(),
                hdu,
                header,
                kind: SourceKind::Fits,
            },
            file,
            data_offset: chosen.data_offset,
            encoding,
            beams,
        })
    }

    /// Element index of row `y` of `plane` in the data unit.
    fn element(&self, plane: Plane, y: usize) -> usize {
        let shape = &self.info.shape;
        shape.plane_index(plane) * shape.plane_len() + y * shape.width
    }
}

impl PixelSource for FitsSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read_rows(
        &self,
        plane: Plane,
        rows: Range<usize>,
        visit: &mut dyn FnMut(&[f32]),
    ) -> Result<Vec<f32>, ImageError> {
        self.info.shape.check(plane, &rows)?;
        let first = self.element(plane, rows.start);
        let count = rows.len() * self.info.shape.width;
        read_values(
            &self.file,
            self.data_offset,
            first,
            count,
            self.encoding,
            visit,
        )
    }

    fn will_read(&self, plane: Plane, rows: Range<usize>) {
        let rows = rows.start..rows.end.min(self.info.shape.height);
        if rows.is_empty() || self.info.shape.check(plane, &rows).is_err() {
            return;
        }
        use std::os::fd::AsRawFd;
        let size = self.encoding.value_bytes();
        let offset = self.data_offset + (self.element(plane, rows.start) * size) as u64;
        let len = rows.len() * self.info.shape.width * size;
        if let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) {
            // SAFETY: a plain system call on a file descriptor this source owns.
            unsafe {
                libc::posix_fadvise(
                    self.file.as_raw_fd(),
                    offset,
                    len,
                    libc::POSIX_FADV_WILLNEED,
                );
            }
        }
    }

    fn read_spectrum(
        &self,
        x: usize,
        y: usize,
        stokes: usize,
        channels: Range<usize>,
    ) -> Result<Vec<f32>, ImageError> {
        if x >= self.info.shape.width || channels.end > self.info.shape.depth {
            return Err(ImageError::OutOfRange(format!(
                "pixel ({x}, {y}), channels {}..{}",
                channels.start, channels.end
            )));
        }
        channels
            .map(|channel| {
                let plane = Plane { channel, stokes };
                self.info.shape.check(plane, &(y..y + 1))?;
                let first = self.element(plane, y) + x;
                let value = read_values(
                    &self.file,
                    self.data_offset,
                    first,
                    1,
                    self.encoding,
                    &mut |_| {},
                )?;
                Ok(value.first().copied().unwrap_or(f32::NAN))
            })
            .collect()
    }

    fn beams(&self) -> Vec<Beam> {
        self.beams.clone()
    }
}

/// Fills `buf` from `offset`; a file that ends early is a truncated data unit.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> Result<(), ImageError> {
    file.read_exact_at(buf, offset).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            ImageError::Truncated("the data unit ends early".into())
        }
        _ => ImageError::Io(e),
    })
}

/// Reads `count` values starting at element `first` of a FITS data unit and converts them to f32, showing
/// them to `visit` (see [`PixelSource::read_rows`]).
fn read_values(
    file: &File,
    data_offset: u64,
    first: usize,
    count: usize,
    enc: Encoding,
    visit: &mut dyn FnMut(&[f32]),
) -> Result<Vec<f32>, ImageError> {
    if enc.bitpix == -32 {
        return read_f32_in_place(file, data_offset, first, count, enc, visit);
    }
    let size = enc.value_bytes();
    let mut raw = vec![0u8; count * size];
    read_exact_at(file, &mut raw, data_offset + (first * size) as u64)?;
    let scaled = enc.bscale != 1.0 || enc.bzero != 0.0;
    let scale = |v: f64| {
        if scaled {
            v * enc.bscale + enc.bzero
        } else {
            v
        }
    };
    let int = |v: i64| -> f32 {
        if enc.blank == Some(v) {
            f32::NAN
        } else {
            scale(v as f64) as f32
        }
    };
    let out: Vec<f32> = match enc.bitpix {
        -64 => raw
            .chunks_exact(8)
            .map(|b| {
                let v = f64::from_bits(u64::from_be_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]));
                if v.is_finite() {
                    scale(v) as f32
                } else {
                    f32::NAN
                }
            })
            .collect(),
        8 => raw.iter().map(|b| int(i64::from(*b))).collect(),
        16 => raw
            .chunks_exact(2)
            .map(|b| int(i64::from(i16::from_be_bytes([b[0], b[1]]))))
            .collect(),
        32 => raw
            .chunks_exact(4)
            .map(|b| int(i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))))
            .collect(),
        64 => raw
            .chunks_exact(8)
            .map(|b| {
                int(i64::from_be_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            })
            .collect(),
        other => return Err(ImageError::Corrupt(format!("BITPIX = {other}"))),
    };
    visit(&out);
    Ok(out)
}

/// Values per read of a float strip: small enough that a piece is still in cache when it is converted and
/// visited, large enough that the system calls cost nothing.
const PIECE_VALUES: usize = 1 << 16;

/// BITPIX −32, the common case: the bytes are read straight into the output buffer, a piece at a time, and
/// each piece is converted there (byte order, scaling, non-finite → NaN) and shown to `visit` while it is in
/// cache; a block costs one buffer and one trip through memory after the read.
fn read_f32_in_place(
    file: &File,
    data_offset: u64,
    first: usize,
    count: usize,
    enc: Encoding,
    visit: &mut dyn FnMut(&[f32]),
) -> Result<Vec<f32>, ImageError> {
    let mut out = vec![0f32; count];
    for (i, piece) in out.chunks_mut(PIECE_VALUES).enumerate() {
        {
            // SAFETY: any bit pattern is a valid f32, and the byte view covers exactly the piece's memory.
            let bytes = unsafe {
                std::slice::from_raw_parts_mut(piece.as_mut_ptr() as *mut u8, piece.len() * 4)
            };
            let offset = data_offset + ((first + i * PIECE_VALUES) * 4) as u64;
            read_exact_at(file, bytes, offset)?;
        }
        convert_be_f32(piece, enc.bscale, enc.bzero);
        visit(piece);
    }
    Ok(out)
}

/// Big-endian float bits to values in place: byte order, non-finite → NaN, then `v·bscale + bzero` unless
/// that is the identity. Built for AVX2 too (a byte shuffle per eight values) and chosen at run time.
fn convert_be_f32(values: &mut [f32], bscale: f64, bzero: f64) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { convert_be_f32_avx2(values, bscale, bzero) };
    }
    convert_be_f32_kernel(values, bscale, bzero)
}

/// [`convert_be_f32_kernel`] compiled with AVX2 enabled.
///
/// # Safety
/// The CPU must support AVX2 (check with `is_x86_feature_detected!("avx2")`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn convert_be_f32_avx2(values: &mut [f32], bscale: f64, bzero: f64) {
    convert_be_f32_kernel(values, bscale, bzero)
}

#[inline(always)]
fn convert_be_f32_kernel(values: &mut [f32], bscale: f64, bzero: f64) {
    if bscale != 1.0 || bzero != 0.0 {
        for v in values.iter_mut() {
            let x = f32::from_bits(u32::from_be(v.to_bits()));
            *v = if x.is_finite() {
                (f64::from(x) * bscale + bzero) as f32
            } else {
                f32::NAN
            };
        }
    } else {
        for v in values.iter_mut() {
            let x = f32::from_bits(u32::from_be(v.to_bits()));
            *v = if x.is_finite() { x } else { f32::NAN };
        }
    }
}
