//! Pixel access for an opened image: rows of one plane (channel, Stokes) as f32 with blanks as NaN.
//!
//! FITS: positioned reads (`pread`) straight from the data unit, so chunk workers read their rows in parallel
//! without sharing a cursor; big-endian values are converted with BSCALE/BZERO, BLANK and non-finite values
//! become NaN. A gzip-compressed FITS is decompressed once into an unlinked temporary file, so only the loaded
//! blocks live in memory. HDF5 (IDIA): hyperslabs of `DATA`, and `MipMaps/DATA/DATA_XY_<m>` for coarse tiles.

use std::fs::File;
use std::io::{BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hdf5::{Hyperslab, Selection, SliceOrIndex};

use super::computed::axis_roles;
use super::header::Header;
use super::{fits, hdf5 as h5, ImageError, ImageFormat};

/// Where a plane's pixels sit in the full shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageShape {
    /// FITS order (NAXIS1 first).
    pub dims: Vec<usize>,
    pub width: usize,
    pub height: usize,
    pub depth: usize,
    pub stokes: usize,
    /// 1-based FITS axis numbers of the channel and Stokes axes (0: none).
    pub depth_axis: usize,
    pub stokes_axis: usize,
}

impl ImageShape {
    fn new(dims: Vec<usize>, header: &Header) -> Result<ImageShape, ImageError> {
        let roles = axis_roles(header, &dims);
        if (roles.render_x, roles.render_y) != (1, 2) {
            return Err(ImageError::NotAnImage(
                "the first two axes are not the image axes (a Stokes axis first is not supported)"
                    .into(),
            ));
        }
        let len = |axis: i32| {
            usize::try_from(axis - 1)
                .ok()
                .and_then(|i| dims.get(i))
                .copied()
                .unwrap_or(1)
        };
        Ok(ImageShape {
            width: dims[0],
            height: dims[1],
            depth: if roles.depth > 0 { len(roles.depth) } else { 1 },
            stokes: if roles.stokes > 0 {
                len(roles.stokes)
            } else {
                1
            },
            depth_axis: roles.depth.max(0) as usize,
            stokes_axis: roles.stokes.max(0) as usize,
            dims,
        })
    }

    /// Elements in one plane.
    pub fn plane_len(&self) -> usize {
        self.width * self.height
    }

    /// Index of the plane (channel, stokes) among all planes in storage order.
    fn plane_index(&self, channel: usize, stokes: usize) -> usize {
        let stride = |axis: usize| {
            self.dims[2..axis.saturating_sub(1).max(2)]
                .iter()
                .product::<usize>()
        };
        let mut index = 0;
        if self.depth_axis >= 3 {
            index += channel * stride(self.depth_axis);
        }
        if self.stokes_axis >= 3 {
            index += stokes * stride(self.stokes_axis);
        }
        index
    }

    /// The HDF5 selection of columns `xs`, rows `ys` of plane (channel, stokes); datasets are stored slowest
    /// axis first, the reverse of FITS order.
    fn hyperslab(
        &self,
        xs: (usize, usize),
        ys: (usize, usize),
        channel: usize,
        stokes: usize,
    ) -> Selection {
        let parts: Vec<SliceOrIndex> = (1..=self.dims.len())
            .rev()
            .map(|axis| match axis {
                1 => SliceOrIndex::from(xs.0..xs.1),
                2 => SliceOrIndex::from(ys.0..ys.1),
                a if a == self.depth_axis => SliceOrIndex::Index(channel),
                a if a == self.stokes_axis => SliceOrIndex::Index(stokes),
                _ => SliceOrIndex::Index(0),
            })
            .collect();
        Selection::from(Hyperslab::from(parts))
    }

    fn check(&self, channel: usize, stokes: usize, y0: usize, y1: usize) -> Result<(), ImageError> {
        if channel >= self.depth || stokes >= self.stokes || y0 > y1 || y1 > self.height {
            return Err(ImageError::OutOfRange(format!(
                "channel {channel}, Stokes {stokes}, rows {y0}..{y1} of a {}x{}x{}x{} image",
                self.width, self.height, self.depth, self.stokes
            )));
        }
        Ok(())
    }
}

/// How FITS values are stored and scaled.
#[derive(Debug, Clone, Copy)]
struct FitsEncoding {
    bitpix: i64,
    bscale: f64,
    bzero: f64,
    blank: Option<i64>,
}

enum Backend {
    Fits {
        file: File,
        data_offset: u64,
        encoding: FitsEncoding,
    },
    Hdf5 {
        path: PathBuf,
        hdu: String,
        mips: Vec<usize>,
    },
}

/// An opened image: its header, shape and a way to read rows.
pub struct PixelSource {
    pub header: Header,
    pub shape: ImageShape,
    pub hdu: String,
    pub extname: Option<String>,
    pub format: ImageFormat,
    backend: Backend,
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

impl PixelSource {
    /// Opens the image HDU `hdu` ("" = the first image) of a FITS or IDIA-HDF5 file.
    pub fn open(path: &Path, hdu: &str) -> Result<PixelSource, ImageError> {
        match super::detect(path).ok_or(ImageError::UnknownType)? {
            ImageFormat::Fits => Self::open_fits(path, hdu),
            ImageFormat::Hdf5 => Self::open_hdf5(path, hdu),
        }
    }

    fn open_fits(path: &Path, hdu: &str) -> Result<PixelSource, ImageError> {
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
        if chosen.data_offset + chosen.data_len > len {
            return Err(ImageError::Truncated(format!(
                "HDU {} needs {} data bytes but the file ends after {}",
                chosen.index,
                chosen.data_len,
                len.saturating_sub(chosen.data_offset)
            )));
        }
        let header = chosen.header.clone();
        let encoding = FitsEncoding {
            bitpix: header.int("BITPIX").unwrap_or(-32),
            bscale: f64_or(&header, "BSCALE", 1.0),
            bzero: f64_or(&header, "BZERO", 0.0),
            blank: header.int("BLANK"),
        };
        let shape = ImageShape::new(chosen.shape.clone(), &header)?;
        Ok(PixelSource {
            shape,
            hdu: chosen.index.to_string(),
            extname: chosen.extname(),
            header,
            format: ImageFormat::Fits,
            backend: Backend::Fits {
                file,
                data_offset: chosen.data_offset,
                encoding,
            },
        })
    }

    fn open_hdf5(path: &Path, hdu: &str) -> Result<PixelSource, ImageError> {
        let image = h5::read_image(path, hdu)?;
        let shape = ImageShape::new(image.shape.clone(), &image.header)?;
        let mips = h5::mip_levels(path, &image.hdu)?;
        Ok(PixelSource {
            shape,
            hdu: image.hdu.clone(),
            extname: None,
            header: image.header,
            format: ImageFormat::Hdf5,
            backend: Backend::Hdf5 {
                path: path.to_path_buf(),
                hdu: image.hdu,
                mips,
            },
        })
    }

    /// Whether the file's data is chunked in 512² blocks (HDF5), so reads should align to 512 rows.
    pub fn prefers_512_rows(&self) -> bool {
        matches!(self.backend, Backend::Hdf5 { .. })
    }

    /// Rows `[y0, y1)` of plane (channel, stokes), full width, row-major.
    pub fn read_rows(
        &self,
        channel: usize,
        stokes: usize,
        y0: usize,
        y1: usize,
    ) -> Result<Vec<f32>, ImageError> {
        self.read_rows_visiting(channel, stokes, y0, y1, &mut |_| {})
    }

    /// [`PixelSource::read_rows`], showing `visit` every converted value once, in order, in pieces: for float
    /// FITS each piece right after it is read and converted, while it is still in cache, so a pass over the
    /// values (the statistics of a block being loaded) costs no extra trip through memory.
    pub fn read_rows_visiting(
        &self,
        channel: usize,
        stokes: usize,
        y0: usize,
        y1: usize,
        visit: &mut dyn FnMut(&[f32]),
    ) -> Result<Vec<f32>, ImageError> {
        self.shape.check(channel, stokes, y0, y1)?;
        let width = self.shape.width;
        match &self.backend {
            Backend::Fits {
                file,
                data_offset,
                encoding,
            } => {
                let first =
                    self.shape.plane_index(channel, stokes) * self.shape.plane_len() + y0 * width;
                let count = (y1 - y0) * width;
                read_fits_values(file, *data_offset, first, count, *encoding, visit)
            }
            Backend::Hdf5 { path, hdu, .. } => {
                let sel = self.shape.hyperslab((0, width), (y0, y1), channel, stokes);
                let values = h5::read_selection(path, hdu, h5::DATA, sel)?;
                visit(&values);
                Ok(values)
            }
        }
    }

    /// Tells the kernel that rows `[y0, y1)` of a plane will be read soon (FITS: `posix_fadvise(WILLNEED)`),
    /// so the disk keeps reading while the caller converts what it has. Only a hint; errors are ignored.
    pub fn will_read(&self, channel: usize, stokes: usize, y0: usize, y1: usize) {
        let y1 = y1.min(self.shape.height);
        if self.shape.check(channel, stokes, y0, y1).is_err() || y0 >= y1 {
            return;
        }
        if let Backend::Fits {
            file,
            data_offset,
            encoding,
        } = &self.backend
        {
            use std::os::fd::AsRawFd;
            let size = (encoding.bitpix.unsigned_abs() / 8) as usize;
            let first = self.shape.plane_index(channel, stokes) * self.shape.plane_len()
                + y0 * self.shape.width;
            let offset = data_offset + (first * size) as u64;
            let len = (y1 - y0) * self.shape.width * size;
            if let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) {
                // SAFETY: a plain system call on a file descriptor this source owns.
                unsafe {
                    libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_WILLNEED);
                }
            }
        }
    }

    /// The values of pixel (x, y) in every channel of one Stokes (a cursor spectral profile).
    pub fn read_spectrum(&self, x: usize, y: usize, stokes: usize) -> Result<Vec<f32>, ImageError> {
        self.shape.check(0, stokes, y, y + 1)?;
        if x >= self.shape.width {
            return Err(ImageError::OutOfRange(format!("column {x}")));
        }
        match &self.backend {
            Backend::Fits {
                file,
                data_offset,
                encoding,
            } => (0..self.shape.depth)
                .map(|c| {
                    let first = self.shape.plane_index(c, stokes) * self.shape.plane_len()
                        + y * self.shape.width
                        + x;
                    Ok(
                        read_fits_values(file, *data_offset, first, 1, *encoding, &mut |_| {})?
                            .first()
                            .copied()
                            .unwrap_or(f32::NAN),
                    )
                })
                .collect(),
            Backend::Hdf5 { path, hdu, .. } => {
                let parts: Vec<SliceOrIndex> = (1..=self.shape.dims.len())
                    .rev()
                    .map(|axis| match axis {
                        1 => SliceOrIndex::Index(x),
                        2 => SliceOrIndex::Index(y),
                        a if a == self.shape.depth_axis => SliceOrIndex::from(0..self.shape.depth),
                        a if a == self.shape.stokes_axis => SliceOrIndex::Index(stokes),
                        _ => SliceOrIndex::Index(0),
                    })
                    .collect();
                h5::read_selection(path, hdu, h5::DATA, Selection::from(Hyperslab::from(parts)))
            }
        }
    }

    /// The mip levels stored in the file (HDF5 `DATA_XY_<m>`), ascending.
    pub fn mip_levels(&self) -> &[usize] {
        match &self.backend {
            Backend::Hdf5 { mips, .. } => mips,
            Backend::Fits { .. } => &[],
        }
    }

    /// A region of a stored mip level: columns `[x0, x1)` and rows `[y0, y1)` in mip pixels.
    pub fn read_mip(
        &self,
        mip: usize,
        channel: usize,
        stokes: usize,
        (x0, x1): (usize, usize),
        (y0, y1): (usize, usize),
    ) -> Result<Vec<f32>, ImageError> {
        self.shape.check(channel, stokes, 0, 0)?;
        let Backend::Hdf5 { path, hdu, mips } = &self.backend else {
            return Err(ImageError::OutOfRange(format!("no stored mip {mip}")));
        };
        if !mips.contains(&mip) {
            return Err(ImageError::OutOfRange(format!("no stored mip {mip}")));
        }
        let sel = self.shape.hyperslab((x0, x1), (y0, y1), channel, stokes);
        let name = format!("MipMaps/DATA/DATA_XY_{mip}");
        h5::read_selection(path, hdu, &name, sel)
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
/// them to `visit` (see [`PixelSource::read_rows_visiting`]).
fn read_fits_values(
    file: &File,
    data_offset: u64,
    first: usize,
    count: usize,
    enc: FitsEncoding,
    visit: &mut dyn FnMut(&[f32]),
) -> Result<Vec<f32>, ImageError> {
    if enc.bitpix == -32 {
        return read_f32_in_place(file, data_offset, first, count, enc, visit);
    }
    let size = (enc.bitpix.unsigned_abs() / 8) as usize;
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
    enc: FitsEncoding,
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
