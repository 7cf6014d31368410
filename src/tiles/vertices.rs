//! Contour vertices as the frontend decodes them (CONTOUR_IMAGE_DATA's `ContourSet`): at compression level 0,
//! raw little-endian f32 pairs; otherwise rounded to 1/decimation pixel as i32, delta-encoded pair by pair over
//! the whole set, the bytes of each group of four integers transposed (byte 0 of all four, then byte 1, …; a
//! tail of fewer than four stays as it is), and compressed with zstd. The `zstd` crate (bindings to the
//! reference library) is used because the frontend decodes with that library's own decoder.

/// Decimation (rounding) factors the frontend accepts.
pub const DECIMATION: std::ops::RangeInclusive<i32> = 1..=32;
/// zstd levels carta_backend accepts (0: no compression).
pub const COMPRESSION: std::ops::RangeInclusive<i32> = 0..=20;

/// One level's vertices, encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedVertices {
    pub bytes: Vec<u8>,
    /// 0 for raw floats; the rounding factor otherwise (the frontend decodes by it).
    pub decimation: i32,
    /// Bytes before compression.
    pub uncompressed_size: usize,
}

/// Encodes `coords` (x, y pairs) at zstd `level` (clamped to 0..=20) with rounding to 1/`decimation` px
/// (clamped to 1..=32).
pub fn encode(coords: &[f32], decimation: i32, level: i32) -> EncodedVertices {
    let level = level.clamp(*COMPRESSION.start(), *COMPRESSION.end());
    if level < 1 || coords.is_empty() {
        let bytes: Vec<u8> = coords.iter().flat_map(|v| v.to_le_bytes()).collect();
        return EncodedVertices {
            uncompressed_size: bytes.len(),
            bytes,
            decimation: 0,
        };
    }
    let decimation = decimation.clamp(*DECIMATION.start(), *DECIMATION.end());
    let scale = decimation as f32;
    let mut ints: Vec<i32> = coords
        .iter()
        .map(|v| {
            let r = (v * scale).round_ties_even();
            // Out-of-range or NaN values cannot come from a plane's pixels; saturate rather than wrap.
            if r.is_nan() {
                0
            } else {
                r as i32
            }
        })
        .collect();
    let (mut last_x, mut last_y) = (0i32, 0i32);
    for pair in ints.chunks_exact_mut(2) {
        let (x, y) = (pair[0], pair[1]);
        pair[0] = x.wrapping_sub(last_x);
        pair[1] = y.wrapping_sub(last_y);
        (last_x, last_y) = (x, y);
    }
    let mut raw = Vec::with_capacity(ints.len() * 4);
    let blocks = ints.chunks_exact(4);
    let tail = blocks.remainder();
    for block in blocks {
        let bytes: Vec<[u8; 4]> = block.iter().map(|v| v.to_le_bytes()).collect();
        for b in 0..4 {
            raw.extend(bytes.iter().map(|v| v[b]));
        }
    }
    raw.extend(tail.iter().flat_map(|v| v.to_le_bytes()));
    let uncompressed_size = raw.len();
    let bytes = zstd::bulk::compress(&raw, level).unwrap_or_else(|_| raw.clone());
    EncodedVertices {
        bytes,
        decimation,
        uncompressed_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frontend's decoder (carta-frontend wasm_src/carta_computation decodeArray), restated.
    fn decode(e: &EncodedVertices) -> Vec<f32> {
        let raw = zstd::bulk::decompress(&e.bytes, e.uncompressed_size).expect("zstd");
        let n = raw.len() / 4;
        let mut ints = vec![0i32; n];
        let blocked = 4 * (n / 4);
        for v in (0..blocked).step_by(4) {
            for k in 0..4 {
                let i = 4 * v;
                ints[v + k] = i32::from_le_bytes([
                    raw[i + k],
                    raw[i + 4 + k],
                    raw[i + 8 + k],
                    raw[i + 12 + k],
                ]);
            }
        }
        for v in blocked..n {
            ints[v] =
                i32::from_le_bytes([raw[4 * v], raw[4 * v + 1], raw[4 * v + 2], raw[4 * v + 3]]);
        }
        let scale = 1.0 / e.decimation as f32;
        let mut out: Vec<f32> = ints.iter().map(|v| *v as f32 * scale).collect();
        let (mut x, mut y) = (0f32, 0f32);
        for pair in out.chunks_exact_mut(2) {
            x += pair[0];
            y += pair[1];
            pair[0] = x;
            pair[1] = y;
        }
        out
    }

    #[test]
    fn compressed_vertices_decode_within_the_rounding() {
        for n in [2usize, 6, 8, 14, 1000] {
            let coords: Vec<f32> = (0..n)
                .map(|i| 100.0 + (i as f32 * 0.37).sin() * 50.0)
                .collect();
            for decimation in [1, 4, 32] {
                let e = encode(&coords, decimation, 8);
                assert_eq!(e.decimation, decimation);
                assert_eq!(e.uncompressed_size, n * 4);
                let back = decode(&e);
                for (a, b) in coords.iter().zip(&back) {
                    assert!((a - b).abs() <= 0.5 / decimation as f32 + 1e-3, "{a} {b}");
                }
            }
        }
    }

    #[test]
    fn level_zero_is_raw_floats() {
        let coords = [1.5f32, 2.25, -3.0, 4.0];
        let e = encode(&coords, 4, 0);
        assert_eq!(e.decimation, 0);
        assert_eq!(e.bytes.len(), 16);
        assert_eq!(f32::from_le_bytes(e.bytes[4..8].try_into().unwrap()), 2.25);
        let e = encode(&[], 4, 9);
        assert!(e.bytes.is_empty());
    }
}
