//! Raster tile batches: the synchronised stream (RASTER_TILE_SYNC start with the exact count, the tiles in the
//! requested order, RASTER_TILE_SYNC end), tiles computed concurrently by fan-out to the chunk workers (or read
//! from a stored HDF5 mip level), encoded on the I/O pool, cached (moka) per plane, tile and compression.
//! Batches asked for before their plane's colour-scale histogram is out are computed at once and sent after
//! it. Tiles of a plane that is no longer current are dropped.

use std::sync::Arc;

use actix::{ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture};
use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use futures_util::stream::{FuturesOrdered, StreamExt};
use tracing::debug;

use super::{fan_out, FileActor};
use crate::chunk::{ComputeTile, Plane};
use crate::image::ImageError;
use crate::protocol::{self, pb, EventType};
use crate::session::Outgoing;
use crate::tiles::downsample::BlockSums;
use crate::tiles::{nan, zfp, TileBounds, TileId};

/// ADD_REQUIRED_TILES for one file, with the session-wide sync id it streams under.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct TileBatch {
    pub sync_id: i32,
    pub tiles: Vec<i32>,
    pub compression: pb::CompressionType,
    pub quality: f32,
}

/// REMOVE_REQUIRED_TILES: tiles no longer wanted (only batches not started yet can still drop them).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveTiles {
    pub tiles: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    plane: Plane,
    tile: i32,
    compression: i32,
    precision: u32,
}

/// Encoded tiles, weighed by their bytes.
pub type TileCache = moka::sync::Cache<TileKey, Arc<pb::TileData>>;

pub fn new_cache(max_bytes: u64) -> TileCache {
    moka::sync::Cache::builder()
        .weigher(|_, t: &Arc<pb::TileData>| {
            u32::try_from(t.image_data.len() + t.nan_encodings.len() + 64).unwrap_or(u32::MAX)
        })
        .max_capacity(max_bytes)
        .build()
}

/// The ZFP precision for a requested quality (what RasterTileData.compression_quality then reports).
fn precision(quality: f32) -> u32 {
    if quality.is_finite() {
        quality.round().clamp(1.0, 32.0) as u32
    } else {
        11
    }
}

/// Encodes a tile's pixels: ZFP with NaN run lengths (NaNs filled first), or raw little-endian f32 with
/// -FLT_MAX for NaN.
pub fn encode_tile(
    mut pixels: Vec<f32>,
    tile: TileId,
    bounds: TileBounds,
    compression: pb::CompressionType,
    precision: u32,
) -> Result<pb::TileData, zfp::ZfpError> {
    let mut data = pb::TileData {
        layer: tile.layer as i32,
        x: tile.x as i32,
        y: tile.y as i32,
        width: bounds.width as i32,
        height: bounds.height as i32,
        mip: bounds.mip as i32,
        ..Default::default()
    };
    if compression == pb::CompressionType::Zfp {
        let runs = nan::run_lengths(&pixels);
        if runs.len() > 1 {
            nan::fill_for_compression(&mut pixels, bounds.width, bounds.height);
        }
        data.image_data = zfp::compress(&pixels, bounds.width, bounds.height, precision)?;
        data.nan_encodings = nan::encode_runs(&runs);
    } else {
        data.image_data = pixels
            .iter()
            .flat_map(|v| if v.is_nan() { -f32::MAX } else { *v }.to_le_bytes())
            .collect();
    }
    Ok(data)
}

/// Runs `f` on the shared I/O pool and awaits its result.
pub(crate) async fn on_pool<R: Send + 'static>(
    pool: &rayon::ThreadPool,
    f: impl FnOnce() -> R + Send + 'static,
) -> Option<R> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.ok()
}

/// A tile being computed ahead of its batch; None if it failed (the batch then computes it itself).
pub type PendingTile = Shared<LocalBoxFuture<'static, Option<Arc<pb::TileData>>>>;

/// The tiles of a batch: the ones that decode to a tile of this image, with their bounds.
fn batch_tiles(batch: &TileBatch, width: usize, height: usize) -> Vec<(TileId, TileBounds)> {
    batch
        .tiles
        .iter()
        .filter_map(|id| {
            let tile = TileId::decode(*id)?;
            Some((tile, TileBounds::of(tile, width, height)?))
        })
        .collect()
}

/// The compression a batch gets: ZFP when asked for, else raw.
fn batch_compression(batch: &TileBatch) -> pb::CompressionType {
    if batch.compression == pb::CompressionType::Zfp {
        pb::CompressionType::Zfp
    } else {
        pb::CompressionType::None
    }
}

impl FileActor {
    /// Runs a batch now, or, while its plane's colour-scale histogram is still being computed, queues it and
    /// starts computing its tiles: the chunk workers add their strips into the tiles as each strip loads,
    /// so the tiles are ready when the histogram goes out (they may not be sent before it).
    pub(super) fn queue_batch(&mut self, batch: TileBatch, ctx: &mut Context<Self>) {
        if self.histogram_sent {
            self.run_batch(batch, ctx);
            return;
        }
        let plane = self.plane;
        let (width, height) = (self.source.shape.width, self.source.shape.height);
        let (compression, precision) = (batch_compression(&batch), precision(batch.quality));
        for (tile, bounds) in batch_tiles(&batch, width, height) {
            let key = TileKey {
                plane,
                tile: tile.encode(),
                compression: compression as i32,
                precision,
            };
            if self.pending_tiles.contains_key(&key) || self.tile_cache.contains_key(&key) {
                continue;
            }
            let span = self.span.clone();
            let pending = self
                .compute_tile(key.clone(), tile, bounds, compression)
                .map(move |r| {
                    r.map_err(
                        |e| tracing::warn!(parent: &span, "tile ahead of its batch failed: {e}"),
                    )
                    .ok()
                })
                .boxed_local()
                .shared();
            self.pending_tiles.insert(key.clone(), pending.clone());
            ctx.spawn(pending.into_actor(self).map(move |_, act, _| {
                act.pending_tiles.remove(&key);
            }));
        }
        debug!(
            parent: &self.span,
            "{} tiles computed ahead of channel {}'s histogram",
            self.pending_tiles.len(),
            plane.channel
        );
        self.waiting.push(batch);
    }

    /// Streams one batch for the current plane.
    pub(super) fn run_batch(&mut self, batch: TileBatch, ctx: &mut Context<Self>) {
        let plane = self.plane;
        let (width, height) = (self.source.shape.width, self.source.shape.height);
        let tiles = batch_tiles(&batch, width, height);
        if tiles.is_empty() {
            return;
        }
        let compression = batch_compression(&batch);
        let precision = precision(batch.quality);
        let sync = |end_sync: bool| pb::RasterTileSync {
            file_id: self.file_id,
            channel: plane.channel as i32,
            stokes: plane.stokes as i32,
            sync_id: batch.sync_id,
            animation_id: 0,
            tile_count: tiles.len() as i32,
            end_sync,
        };
        self.send(EventType::RasterTileSync, &sync(false));
        let end = protocol::encode(EventType::RasterTileSync, 0, &sync(true));

        let mut ordered = FuturesOrdered::new();
        for (tile, bounds) in tiles {
            ordered.push_back(self.tile(plane, tile, bounds, compression, precision));
        }
        let session = self.session.clone();
        let header = pb::RasterTileData {
            file_id: self.file_id,
            channel: plane.channel as i32,
            stokes: plane.stokes as i32,
            compression_type: compression as i32,
            compression_quality: if compression == pb::CompressionType::Zfp {
                precision as f32
            } else {
                batch.quality
            },
            sync_id: batch.sync_id,
            animation_id: 0,
            tiles: Vec::new(),
        };
        let generation = self.generation.clone();
        let my_generation = generation.load(std::sync::atomic::Ordering::SeqCst);
        let span = self.span.clone();
        let work = async move {
            while let Some(result) = ordered.next().await {
                if generation.load(std::sync::atomic::Ordering::SeqCst) != my_generation {
                    debug!(parent: &span, "dropping stale tiles of channel {}", plane.channel);
                    break;
                }
                match result {
                    Ok(tile) => {
                        let mut message = header.clone();
                        message.tiles.push((*tile).clone());
                        session.do_send(Outgoing(protocol::encode(
                            EventType::RasterTileData,
                            0,
                            &message,
                        )));
                    }
                    Err(e) => tracing::warn!(parent: &span, "tile failed: {e}"),
                }
            }
            session.do_send(Outgoing(end));
        };
        ctx.spawn(work.into_actor(self));
    }

    /// One tile: from the cache, from its computation already under way, or computed now.
    fn tile(
        &self,
        plane: Plane,
        tile: TileId,
        bounds: TileBounds,
        compression: pb::CompressionType,
        precision: u32,
    ) -> impl std::future::Future<Output = Result<Arc<pb::TileData>, ImageError>> + use<> {
        let key = TileKey {
            plane,
            tile: tile.encode(),
            compression: compression as i32,
            precision,
        };
        let cached = self.tile_cache.get(&key);
        let pending = self.pending_tiles.get(&key).cloned();
        let compute = self.compute_tile(key, tile, bounds, compression);
        async move {
            if let Some(t) = cached {
                return Ok(t);
            }
            if let Some(pending) = pending {
                if let Some(t) = pending.await {
                    return Ok(t);
                }
            }
            compute.await
        }
    }

    /// Computes, encodes and caches one tile (lazily: nothing happens until the future is polled).
    fn compute_tile(
        &self,
        key: TileKey,
        tile: TileId,
        bounds: TileBounds,
        compression: pb::CompressionType,
    ) -> impl std::future::Future<Output = Result<Arc<pb::TileData>, ImageError>> + use<> {
        let (plane, precision) = (key.plane, key.precision);
        let cache = self.tile_cache.clone();
        let workers = self.workers_for_rows(bounds.y0, bounds.y1);
        let state = self.state.clone();
        let source = self.source.clone();
        async move {
            let pixels = if source.mip_levels().contains(&bounds.mip) {
                let m = bounds.mip;
                let src = source.clone();
                on_pool(&state.io_pool, move || {
                    src.read_mip(
                        m,
                        plane.channel,
                        plane.stokes,
                        (bounds.x0 / m, bounds.x1.div_ceil(m)),
                        (bounds.y0 / m, bounds.y1.div_ceil(m)),
                    )
                })
                .await
                .ok_or_else(|| ImageError::Load("I/O pool stopped".into()))??
            } else {
                let parts = fan_out(&workers, || ComputeTile { plane, bounds }).await?;
                parts
                    .into_iter()
                    .reduce(|a, b| a.merge(&b))
                    .unwrap_or_else(|| BlockSums::new(bounds))
                    .finish()
            };
            let encoded = on_pool(&state.io_pool, move || {
                encode_tile(pixels, tile, bounds, compression, precision)
            })
            .await
            .ok_or_else(|| ImageError::Load("I/O pool stopped".into()))?
            .map_err(|e| ImageError::Load(e.to_string()))?;
            let encoded = Arc::new(encoded);
            cache.insert(key, encoded.clone());
            Ok(encoded)
        }
    }
}

impl Handler<TileBatch> for FileActor {
    type Result = ();

    fn handle(&mut self, batch: TileBatch, ctx: &mut Context<Self>) {
        self.queue_batch(batch, ctx);
    }
}

impl Handler<RemoveTiles> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: RemoveTiles, _: &mut Context<Self>) {
        for batch in &mut self.waiting {
            batch.tiles.retain(|t| !msg.tiles.contains(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_compression_marks_nan_with_lowest_float() {
        let b = TileBounds {
            x0: 0,
            x1: 2,
            y0: 0,
            y1: 1,
            mip: 1,
            width: 2,
            height: 1,
        };
        let t = encode_tile(
            vec![1.5, f32::NAN],
            TileId {
                x: 0,
                y: 0,
                layer: 0,
            },
            b,
            pb::CompressionType::None,
            11,
        )
        .expect("encode");
        assert_eq!(t.image_data[..4], 1.5f32.to_le_bytes());
        assert_eq!(t.image_data[4..], (-f32::MAX).to_le_bytes());
    }

    #[test]
    fn quality_maps_to_precision() {
        assert_eq!(precision(11.0), 11);
        assert_eq!(precision(40.0), 32);
        assert_eq!(precision(f32::NAN), 11);
    }
}
