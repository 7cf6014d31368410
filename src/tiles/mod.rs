//! Raster tiles: tile ids (`layer << 24 | y << 12 | x`), tile geometry (which source pixels a tile covers at
//! which mip), NaN-aware block averaging into tiles, NaN run lengths, ZFP, the encoded tile, and the encoding
//! of contour vertices. Pure functions only.

pub mod downsample;
pub mod encode;
pub mod nan;
pub mod vertices;
pub mod zfp;

/// Tile edge in output pixels.
pub const TILE_SIZE: usize = 256;

/// A tile's coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TileId {
    pub x: u32,
    pub y: u32,
    pub layer: u32,
}

impl TileId {
    /// Decodes an ICD tile id; `None` for negative or malformed ids.
    pub fn decode(id: i32) -> Option<TileId> {
        if id < 0 {
            return None;
        }
        let id = id as u32;
        let tile = TileId {
            x: id & 0xfff,
            y: (id >> 12) & 0xfff,
            layer: (id >> 24) & 0x7f,
        };
        Some(tile)
    }

    pub fn encode(self) -> i32 {
        ((self.layer << 24) | (self.y << 12) | self.x) as i32
    }
}

/// Number of layers above layer 0: `ceil(log2(max(ceil(W/256), ceil(H/256))))`.
pub fn total_layers(width: usize, height: usize) -> u32 {
    let tiles = width
        .div_ceil(TILE_SIZE)
        .max(height.div_ceil(TILE_SIZE))
        .max(1);
    tiles.next_power_of_two().trailing_zeros()
}

/// The source region a tile covers and its output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TileBounds {
    pub x0: usize,
    pub x1: usize,
    pub y0: usize,
    pub y1: usize,
    pub mip: usize,
    /// Output width and height: the extent divided by mip, rounded up.
    pub width: usize,
    pub height: usize,
}

impl TileBounds {
    /// Geometry of `tile` in a `width`×`height` image; `None` when the tile lies outside it or its layer is
    /// above the full-resolution layer.
    pub fn of(tile: TileId, width: usize, height: usize) -> Option<TileBounds> {
        let total = total_layers(width, height);
        if tile.layer > total {
            return None;
        }
        let mip = 1usize << (total - tile.layer);
        let span = TILE_SIZE * mip;
        let x0 = tile.x as usize * span;
        let y0 = tile.y as usize * span;
        if x0 >= width || y0 >= height {
            return None;
        }
        let x1 = (x0 + span).min(width);
        let y1 = (y0 + span).min(height);
        Some(TileBounds {
            x0,
            x1,
            y0,
            y1,
            mip,
            width: (x1 - x0).div_ceil(mip),
            height: (y1 - y0).div_ceil(mip),
        })
    }

    pub fn len(&self) -> usize {
        self.width * self.height
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trip() {
        let t = TileId {
            x: 5,
            y: 3,
            layer: 2,
        };
        assert_eq!(t.encode(), (2 << 24) | (3 << 12) | 5);
        assert_eq!(TileId::decode(t.encode()), Some(t));
        assert_eq!(TileId::decode(-1), None);
        assert_eq!(
            TileId::decode(4095),
            Some(TileId {
                x: 4095,
                y: 0,
                layer: 0
            })
        );
    }

    #[test]
    fn layers_and_geometry() {
        assert_eq!(total_layers(256, 256), 0);
        assert_eq!(total_layers(257, 10), 1);
        assert_eq!(total_layers(640, 480), 2);
        assert_eq!(total_layers(20000, 20000), 7);
        // FRONTEND.md: L0:0,0 of a 640x480 image is 160x120 (mip 4).
        let b = TileBounds::of(
            TileId {
                x: 0,
                y: 0,
                layer: 0,
            },
            640,
            480,
        )
        .expect("tile");
        assert_eq!((b.mip, b.width, b.height), (4, 160, 120));
        let edge = TileBounds::of(
            TileId {
                x: 2,
                y: 1,
                layer: 2,
            },
            640,
            480,
        )
        .expect("tile");
        assert_eq!(
            (edge.x0, edge.x1, edge.y0, edge.y1, edge.width, edge.height),
            (512, 640, 256, 480, 128, 224)
        );
        assert_eq!(
            TileBounds::of(
                TileId {
                    x: 3,
                    y: 0,
                    layer: 2
                },
                640,
                480
            ),
            None
        );
        assert_eq!(
            TileBounds::of(
                TileId {
                    x: 0,
                    y: 0,
                    layer: 3
                },
                640,
                480
            ),
            None
        );
        let odd = TileBounds::of(
            TileId {
                x: 0,
                y: 0,
                layer: 0,
            },
            1001,
            999,
        )
        .expect("tile");
        assert_eq!((odd.mip, odd.width, odd.height), (4, 251, 250));
    }
}
