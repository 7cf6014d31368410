//! The vector overlay of the current plane: SET_VECTOR_OVERLAY_PARAMETERS → VECTOR_OVERLAY_TILE_DATA. The
//! parameters are resolved against the image's Stokes axis (which planes are I, Q and U; what the threshold
//! applies to), every chunk computes the vectors of the blocks it starts (`chunk::overlay::VectorField`), and
//! the grid is cut into tiles of 256×256 blocks (each `256·mip` image pixels), encoded on the I/O pool and
//! sent in row-major order with the batch's progress. New parameters or a new plane supersede the lane.

use actix::{AsyncContext, Context, Handler, WrapFuture};

use super::events::{Area, Event, Failure, VectorTile};
use super::generations::Work;
use super::requirements::{SetVectors, VectorSettings};
use super::{FileActor, IMAGE_REGION};
use crate::analysis::vectors::{Source, ThresholdOn, VectorParams};
use crate::chunk::overlay::{VectorBand, VectorField};
use crate::chunk::ChunkError;
use crate::tiles::encode::{self, EncodedTile};
use crate::tiles::{total_layers, TileBounds, TileId, TILE_SIZE};

/// The vector overlay parameters of an image, once set (and not cleared).
#[derive(Debug, Default)]
pub(super) struct VectorState {
    settings: Option<VectorSettings>,
}

/// PolarizationType code of the threshold option on the polarised intensity.
const OPTION_PLINEAR: i32 = 14;

impl Handler<SetVectors> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetVectors, ctx: &mut Context<Self>) {
        if self.vectors.settings.as_ref() == Some(&msg.settings) {
            return; // The same parameters again: what was sent stands.
        }
        self.answering = msg.request_id;
        if msg.settings.is_clear() {
            // The frontend drops its own overlay; in-flight tiles are superseded.
            self.vectors.settings = None;
            self.generations
                .bump(&self.chunks, IMAGE_REGION, Work::Vectors);
        } else {
            self.vectors.settings = Some(msg.settings);
            self.send_vectors(ctx);
        }
        self.answering = 0;
    }
}

impl FileActor {
    /// The chunk intent of the settings on the current plane, or why the image cannot give it.
    fn vector_field(&self, s: &VectorSettings) -> Result<VectorField, String> {
        let shape = self.source.shape();
        let (i, q, u) = (
            shape.stokes_index(1),
            shape.stokes_index(2),
            shape.stokes_index(3),
        );
        let has_qu = q.is_some() && u.is_some();
        let source = |code: i32| match code {
            c if c < 0 => Source::Off,
            // Without Q and U (no Stokes axis, or not those parameters) both show the current plane.
            1 if has_qu => Source::Computed,
            _ => Source::Current,
        };
        let (intensity, angle) = (source(s.stokes_intensity), source(s.stokes_angle));
        let computed = intensity == Source::Computed || angle == Source::Computed;
        // Computed vectors are thresholded on the polarised intensity when asked (or when there is no I),
        // else on Stokes I; vectors of the current plane on the current plane.
        let threshold_on = if !computed {
            ThresholdOn::Current
        } else if s.threshold_option == OPTION_PLINEAR || i.is_none() {
            ThresholdOn::PolarisedIntensity
        } else {
            ThresholdOn::StokesI
        };
        if computed && s.fractional && i.is_none() {
            return Err(
                "a fractional polarised intensity needs Stokes I, and the image has none".into(),
            );
        }
        Ok(VectorField {
            channel: self.plane.channel,
            mip: s.mip,
            current: self.plane.stokes,
            i,
            q,
            u,
            params: VectorParams {
                intensity,
                angle,
                fractional: s.fractional && computed,
                threshold: s.threshold,
                threshold_on,
                q_error: s.q_error,
                u_error: s.u_error,
            },
        })
    }

    /// Computes and sends the vector overlay of the current plane, if one is set.
    pub(super) fn send_vectors(&mut self, ctx: &mut Context<Self>) {
        let ticket = self
            .generations
            .bump(&self.chunks, IMAGE_REGION, Work::Vectors);
        let Some(settings) = self.vectors.settings.clone() else {
            return;
        };
        let field = match self.vector_field(&settings) {
            Ok(f) => f,
            Err(e) => return self.fail(Area::Vectors, format!("Vector overlay: {e}")),
        };
        let shape = self.source.shape();
        let (width, height) = (shape.width, shape.height);
        let template = VectorTile {
            channel: self.plane.channel as i32,
            stokes_intensity: settings.stokes_intensity,
            stokes_angle: settings.stokes_angle,
            compression: settings.compression,
            quality: settings.quality,
            intensity: None,
            angle: None,
            progress: 0.0,
        };
        let work = self.chunks.ask(ticket.lane, ticket.generation, field);
        let (runtime, chunks, emitter) =
            (self.runtime.clone(), self.chunks.clone(), self.emitter());
        let answering = self.answering;
        ctx.spawn(
            async move {
                let bands = match work.await {
                    Ok(bands) => bands,
                    Err(ChunkError::Stale) => return,
                    Err(e) => {
                        emitter.emit(Event::Failed(Failure {
                            request_id: answering,
                            area: Area::Vectors,
                            message: format!("Vector overlay failed: {e}"),
                        }));
                        return;
                    }
                };
                let stale = move || chunks.is_stale(ticket.lane, ticket.generation);
                runtime
                    .on_pool(move || {
                        let grid = Grid::assemble(bands, width, height, settings.mip);
                        let tiles = grid.tiles();
                        let count = tiles.len();
                        for (k, (tile, bounds)) in tiles.into_iter().enumerate() {
                            if stale() {
                                return;
                            }
                            let cut = |values: &[f32]| -> Option<EncodedTile> {
                                if values.is_empty() {
                                    return None;
                                }
                                let pixels = grid.window(values, &bounds);
                                let precision = encode::precision(settings.quality);
                                encode::encode(
                                    pixels,
                                    tile,
                                    bounds,
                                    settings.compression,
                                    precision,
                                )
                                .ok()
                            };
                            emitter.emit(Event::Vectors(VectorTile {
                                intensity: cut(&grid.intensity),
                                angle: cut(&grid.angle),
                                progress: (k + 1) as f64 / count as f64,
                                ..template.clone()
                            }));
                        }
                    })
                    .await;
            }
            .into_actor(self),
        );
    }
}

/// The whole plane's vector grid (blocks of `mip` pixels), assembled from the chunks' bands.
struct Grid {
    width: usize,
    height: usize,
    image: (usize, usize),
    mip: usize,
    intensity: Vec<f32>,
    angle: Vec<f32>,
}

impl Grid {
    fn assemble(mut bands: Vec<VectorBand>, width: usize, height: usize, mip: usize) -> Grid {
        let mip = mip.max(1);
        let (gw, gh) = (width.div_ceil(mip), height.div_ceil(mip));
        bands.sort_by_key(|b| b.grid_start);
        let place = |pick: fn(&VectorBand) -> &Vec<f32>| -> Vec<f32> {
            if bands.iter().all(|b| pick(b).is_empty()) {
                return Vec::new();
            }
            let mut out = vec![f32::NAN; gw * gh];
            for b in &bands {
                let values = pick(b);
                let start = (b.grid_start * gw).min(out.len());
                let end = (start + values.len()).min(out.len());
                out[start..end].copy_from_slice(&values[..end - start]);
            }
            out
        };
        Grid {
            width: gw,
            height: gh,
            image: (width, height),
            mip,
            intensity: place(|b| &b.intensity),
            angle: place(|b| &b.angle),
        }
    }

    /// Every tile of the overlay in row-major order: 256×256 blocks each, at the layer of its mip.
    fn tiles(&self) -> Vec<(TileId, TileBounds)> {
        let (w, h) = self.image;
        let span = TILE_SIZE * self.mip;
        let total = total_layers(w, h);
        let layer = total.saturating_sub(self.mip.next_power_of_two().trailing_zeros());
        let mut out = Vec::new();
        for ty in 0..h.div_ceil(span) {
            for tx in 0..w.div_ceil(span) {
                let (x0, y0) = (tx * span, ty * span);
                let (x1, y1) = ((x0 + span).min(w), (y0 + span).min(h));
                let bounds = TileBounds {
                    x0,
                    x1,
                    y0,
                    y1,
                    mip: self.mip,
                    width: (x1 - x0).div_ceil(self.mip),
                    height: (y1 - y0).div_ceil(self.mip),
                };
                let tile = TileId {
                    x: tx as u32,
                    y: ty as u32,
                    layer,
                };
                out.push((tile, bounds));
            }
        }
        out
    }

    /// The grid values of one tile, row-major.
    fn window(&self, values: &[f32], b: &TileBounds) -> Vec<f32> {
        let (gx, gy) = (b.x0 / self.mip, b.y0 / self.mip);
        let mut out = Vec::with_capacity(b.len());
        for row in gy..(gy + b.height).min(self.height) {
            let start = row * self.width + gx;
            out.extend_from_slice(&values[start..start + b.width.min(self.width - gx)]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_cut_into_row_major_tiles_of_256_blocks() {
        let (w, h, mip) = (700usize, 300usize, 2usize);
        let (gw, gh) = (w.div_ceil(mip), h.div_ceil(mip));
        let values: Vec<f32> = (0..gw * gh).map(|k| k as f32).collect();
        let band = |start: usize, end: usize| VectorBand {
            grid_start: start,
            grid_width: gw,
            intensity: values[start * gw..end * gw].to_vec(),
            angle: Vec::new(),
        };
        let grid = Grid::assemble(vec![band(100, gh), band(0, 100)], w, h, mip);
        assert_eq!(grid.intensity, values);
        assert!(grid.angle.is_empty());
        let tiles = grid.tiles();
        assert_eq!(tiles.len(), 2, "700 px in spans of 512, 300 px in one");
        let (t1, b1) = tiles[1];
        assert_eq!((t1.x, t1.y), (1, 0));
        assert_eq!((b1.x0, b1.x1, b1.width, b1.height), (512, 700, 94, 150));
        let window = grid.window(&grid.intensity, &b1);
        assert_eq!(window.len(), 94 * 150);
        assert_eq!(window[0], 256.0);
        assert_eq!(window[94], (gw + 256) as f32);
    }
}
