//! ZFP fixed-precision compression of 2-D float tiles without a zfp header, the form the frontend's ZFP decoder
//! expects (nx = tile width, ny = tile height, row-major). libzfp is linked statically: libcfitsio exports a
//! `stream_open` of its own, and a dynamic libzfp would resolve its call to cfitsio's.

use std::os::raw::c_void;

use zfp_sys::{
    stream_close, stream_open, zfp_compress, zfp_decompress, zfp_field_2d, zfp_field_free,
    zfp_stream_close, zfp_stream_maximum_size, zfp_stream_open, zfp_stream_rewind,
    zfp_stream_set_bit_stream, zfp_stream_set_precision, zfp_type_zfp_type_float,
};

/// ZFP failed to compress or decompress (out of memory, or sizes that do not fit).
#[derive(Debug, thiserror::Error)]
#[error("ZFP {0} failed")]
pub struct ZfpError(&'static str);

/// Owns the libzfp objects for one call and frees them on every path.
struct Codec {
    field: *mut zfp_sys::zfp_field,
    zfp: *mut zfp_sys::zfp_stream,
    stream: *mut zfp_sys::bitstream,
}

impl Drop for Codec {
    fn drop(&mut self) {
        // SAFETY: each pointer is either null or was returned by the matching libzfp constructor and is freed
        // exactly once here.
        unsafe {
            if !self.stream.is_null() {
                stream_close(self.stream);
            }
            if !self.zfp.is_null() {
                zfp_stream_close(self.zfp);
            }
            if !self.field.is_null() {
                zfp_field_free(self.field);
            }
        }
    }
}

fn dims(width: usize, height: usize, len: usize) -> Result<(usize, usize), ZfpError> {
    if width == 0 || height == 0 || width.checked_mul(height) != Some(len) {
        return Err(ZfpError("size check"));
    }
    Ok((width, height))
}

/// Compresses `data` (`width`×`height`, finite values) at `precision` bit planes (1..=32).
pub fn compress(
    data: &[f32],
    width: usize,
    height: usize,
    precision: u32,
) -> Result<Vec<u8>, ZfpError> {
    let (nx, ny) = dims(width, height, data.len())?;
    let precision = precision.clamp(1, 32);
    // SAFETY: the field points at `data`, which outlives the codec; zfp only reads it during compression. The
    // output buffer is sized by zfp_stream_maximum_size, and the bit stream is closed before it is returned.
    unsafe {
        let mut codec = Codec {
            field: zfp_field_2d(
                data.as_ptr() as *mut c_void,
                zfp_type_zfp_type_float,
                nx,
                ny,
            ),
            zfp: zfp_stream_open(std::ptr::null_mut()),
            stream: std::ptr::null_mut(),
        };
        if codec.field.is_null() || codec.zfp.is_null() {
            return Err(ZfpError("set-up"));
        }
        zfp_stream_set_precision(codec.zfp, precision);
        let max = zfp_stream_maximum_size(codec.zfp, codec.field);
        let mut buffer = vec![0u8; max];
        codec.stream = stream_open(buffer.as_mut_ptr() as *mut c_void, buffer.len());
        if codec.stream.is_null() {
            return Err(ZfpError("stream open"));
        }
        zfp_stream_set_bit_stream(codec.zfp, codec.stream);
        zfp_stream_rewind(codec.zfp);
        let size = zfp_compress(codec.zfp, codec.field);
        if size == 0 {
            return Err(ZfpError("compression"));
        }
        drop(codec);
        buffer.truncate(size);
        Ok(buffer)
    }
}

/// Decompresses what [`compress`] produced (used by tests and tools).
pub fn decompress(
    bytes: &[u8],
    width: usize,
    height: usize,
    precision: u32,
) -> Result<Vec<f32>, ZfpError> {
    let mut out = vec![0f32; width * height];
    let (nx, ny) = dims(width, height, out.len())?;
    // SAFETY: as in `compress`; zfp writes exactly nx*ny floats into `out` and reads at most `bytes.len()` bytes.
    unsafe {
        let mut codec = Codec {
            field: zfp_field_2d(
                out.as_mut_ptr() as *mut c_void,
                zfp_type_zfp_type_float,
                nx,
                ny,
            ),
            zfp: zfp_stream_open(std::ptr::null_mut()),
            stream: std::ptr::null_mut(),
        };
        if codec.field.is_null() || codec.zfp.is_null() {
            return Err(ZfpError("set-up"));
        }
        zfp_stream_set_precision(codec.zfp, precision.clamp(1, 32));
        codec.stream = stream_open(bytes.as_ptr() as *mut c_void, bytes.len());
        if codec.stream.is_null() {
            return Err(ZfpError("stream open"));
        }
        zfp_stream_set_bit_stream(codec.zfp, codec.stream);
        zfp_stream_rewind(codec.zfp);
        if zfp_decompress(codec.zfp, codec.field) == 0 {
            return Err(ZfpError("decompression"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_within_precision() {
        let (w, h) = (37, 19);
        let data: Vec<f32> = (0..w * h)
            .map(|i| ((i as f32) * 0.37).sin() * 100.0 + 3.0)
            .collect();
        for precision in [11u32, 16, 24] {
            let bytes = compress(&data, w, h, precision).expect("compress");
            assert!(bytes.len() < data.len() * 4);
            let back = decompress(&bytes, w, h, precision).expect("decompress");
            let max_err = data
                .iter()
                .zip(&back)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            // Fixed precision p keeps roughly p - 5 significant bits of each 4x4 block's largest magnitude
            // (103 here) after the 2-D decorrelating transform.
            let bound = 103.0 * 2f32.powi(5 - precision as i32);
            assert!(
                max_err <= bound,
                "precision {precision}: error {max_err} > {bound}"
            );
        }
    }

    #[test]
    fn wrong_sizes_are_errors() {
        assert!(compress(&[1.0, 2.0], 3, 1, 11).is_err());
        assert!(compress(&[], 0, 0, 11).is_err());
    }
}
