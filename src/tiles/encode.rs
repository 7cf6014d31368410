//! A tile's pixels as the frontend decodes them: ZFP (fixed precision, no header) with NaN run lengths and NaNs
//! filled first so they do not spoil their 4×4 block, or raw little-endian f32 with NaN kept as NaN (what
//! carta_backend sends for uncompressed tiles).

use super::{nan, zfp, TileBounds, TileId};

/// How a tile's pixels are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Zfp,
}

/// An encoded tile, ready to go into a RASTER_TILE_DATA.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedTile {
    pub tile: TileId,
    pub bounds: TileBounds,
    pub image_data: Vec<u8>,
    /// Little-endian i32 run lengths (valid, NaN, valid, …); empty for uncompressed tiles.
    pub nan_encodings: Vec<u8>,
}

impl EncodedTile {
    /// Bytes it holds (for cache weights).
    pub fn weight(&self) -> usize {
        self.image_data.len() + self.nan_encodings.len() + 64
    }
}

/// The ZFP precision for a requested quality (what RasterTileData.compression_quality then reports).
pub fn precision(quality: f32) -> u32 {
    if quality.is_finite() {
        quality.round().clamp(1.0, 32.0) as u32
    } else {
        11
    }
}

/// Encodes a tile's pixels (`bounds.width × bounds.height`, row-major).
pub fn encode(
    mut pixels: Vec<f32>,
    tile: TileId,
    bounds: TileBounds,
    compression: Compression,
    precision: u32,
) -> Result<EncodedTile, zfp::ZfpError> {
    let (image_data, nan_encodings) = match compression {
        Compression::Zfp => {
            let runs = nan::run_lengths(&pixels);
            if runs.len() > 1 {
                nan::fill_for_compression(&mut pixels, bounds.width, bounds.height);
            }
            let data = zfp::compress(&pixels, bounds.width, bounds.height, precision)?;
            (data, nan::encode_runs(&runs))
        }
        Compression::None => (
            pixels.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Vec::new(),
        ),
    };
    Ok(EncodedTile {
        tile,
        bounds,
        image_data,
        nan_encodings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncompressed_tiles_keep_nan() {
        let b = TileBounds {
            x0: 0,
            x1: 2,
            y0: 0,
            y1: 1,
            mip: 1,
            width: 2,
            height: 1,
        };
        let tile = TileId {
            x: 0,
            y: 0,
            layer: 0,
        };
        let t = encode(vec![1.5, f32::NAN], tile, b, Compression::None, 11).expect("encode");
        assert_eq!(t.image_data[..4], 1.5f32.to_le_bytes());
        let second = f32::from_le_bytes(t.image_data[4..].try_into().expect("4 bytes"));
        assert!(second.is_nan());
        assert!(t.nan_encodings.is_empty());
    }

    #[test]
    fn quality_maps_to_precision() {
        assert_eq!(precision(11.0), 11);
        assert_eq!(precision(40.0), 32);
        assert_eq!(precision(f32::NAN), 11);
    }
}
