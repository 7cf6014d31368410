//! Raster tile batches: the synchronised stream (sync start with the exact count, the tiles in the requested
//! order, sync end), tiles computed concurrently from the chunks' block sums (or read from a stored mip level),
//! encoded on the I/O pool and cached (moka) per plane, tile and compression. Batches asked for before their
//! plane's colour-scale histogram is out are computed at once and sent after it. Tiles of a plane that is no
//! longer current are dropped: a plane change cancels their chunk work and stops their streams.

use std::collections::HashMap;
use std::sync::Arc;

use actix::{
    ActorFutureExt, ActorStreamExt, AsyncContext, Context, Handler, WrapFuture, WrapStream,
};
use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use futures_util::stream::FuturesOrdered;
use tracing::debug;

use super::events::{Event, TileData, TileSync};
use super::generations::{Ticket, Work};
use super::requirements::{RemoveTiles, TileBatch};
use super::{FileActor, IMAGE_REGION};
use crate::chunk::intent::{StoredMip, TileRows, TileSums};
use crate::chunk::ChunkError;
use crate::image::{ImageError, Plane};
use crate::tiles::downsample::BlockSums;
use crate::tiles::encode::{self, Compression, EncodedTile};
use crate::tiles::{TileBounds, TileId};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    plane: Plane,
    tile: i32,
    compression: Compression,
    precision: u32,
}

/// Encoded tiles, weighed by their bytes.
type TileCache = moka::sync::Cache<TileKey, Arc<EncodedTile>>;

/// A tile being computed ahead of its batch; None if it failed (the batch then computes it itself).
type PendingTile = Shared<LocalBoxFuture<'static, Option<Arc<EncodedTile>>>>;

/// The file's tile work.
pub struct TileState {
    cache: TileCache,
    /// Tiles of waiting batches being computed ahead of the histogram.
    pending: HashMap<TileKey, PendingTile>,
    /// Tile batches waiting for the histogram of their plane.
    pub waiting: Vec<TileBatch>,
}

impl TileState {
    pub fn new(max_bytes: u64) -> TileState {
        TileState {
            cache: moka::sync::Cache::builder()
                .weigher(|_, t: &Arc<EncodedTile>| u32::try_from(t.weight()).unwrap_or(u32::MAX))
                .max_capacity(max_bytes)
                .build(),
            pending: HashMap::new(),
            waiting: Vec::new(),
        }
    }
}

/// The tiles of a batch that decode to a tile of this image, with their bounds; each tile once.
fn batch_tiles(batch: &TileBatch, width: usize, height: usize) -> Vec<(TileId, TileBounds)> {
    let mut seen = std::collections::HashSet::new();
    batch
        .tiles
        .iter()
        .filter(|id| seen.insert(**id))
        .filter_map(|id| {
            let tile = TileId::decode(*id)?;
            Some((tile, TileBounds::of(tile, width, height)?))
        })
        .collect()
}

impl FileActor {
    fn tile_key(&self, plane: Plane, tile: TileId, batch: &TileBatch) -> TileKey {
        TileKey {
            plane,
            tile: tile.encode(),
            compression: batch.compression,
            precision: encode::precision(batch.quality),
        }
    }

    /// Runs a batch now, or, while its plane's colour-scale histogram is still being computed, queues it and
    /// starts computing its tiles: the chunks add their rows into the tiles as each loads, so the tiles are
    /// ready when the histogram goes out (they may not be sent before it).
    pub(super) fn queue_batch(&mut self, batch: TileBatch, ctx: &mut Context<Self>) {
        if self.colour.sent {
            self.run_batch(batch, ctx);
            return;
        }
        let plane = self.plane;
        let ticket = self.generations.current(IMAGE_REGION, Work::Plane);
        self.compute_ahead(plane, &batch, ticket, ctx);
        debug!(
            parent: &self.span,
            "{} tiles computed ahead of channel {}'s histogram",
            self.tiles.pending.len(),
            plane.channel
        );
        self.tiles.waiting.push(batch);
    }

    /// Starts computing the tiles of `batch` for `plane` under `ticket`, into the cache, unless they are
    /// cached or under way; a stream asking for them later waits for these computations.
    pub(super) fn compute_ahead(
        &mut self,
        plane: Plane,
        batch: &TileBatch,
        ticket: Ticket,
        ctx: &mut Context<Self>,
    ) {
        let shape = self.source.shape();
        for (tile, bounds) in batch_tiles(batch, shape.width, shape.height) {
            let key = self.tile_key(plane, tile, batch);
            if self.tiles.pending.contains_key(&key) || self.tiles.cache.contains_key(&key) {
                continue;
            }
            let span = self.span.clone();
            let pending = self
                .compute_tile(key.clone(), tile, bounds, ticket)
                .map(move |r| {
                    r.map_err(|e| {
                        if !matches!(e, ChunkError::Stale) {
                            tracing::warn!(parent: &span, "tile computed ahead failed: {e}")
                        }
                    })
                    .ok()
                })
                .boxed_local()
                .shared();
            self.tiles.pending.insert(key.clone(), pending.clone());
            ctx.spawn(pending.into_actor(self).map(move |_, act, _| {
                act.tiles.pending.remove(&key);
            }));
        }
    }

    /// Streams the batches that waited for the colour-scale histogram.
    pub(super) fn flush_waiting(&mut self, ctx: &mut Context<Self>) {
        for batch in std::mem::take(&mut self.tiles.waiting) {
            self.run_batch(batch, ctx);
        }
    }

    /// Streams one batch for the current plane.
    fn run_batch(&mut self, batch: TileBatch, ctx: &mut Context<Self>) {
        let ticket = self.generations.current(IMAGE_REGION, Work::Plane);
        self.stream(self.plane, batch, ticket, ctx);
    }

    /// Streams `batch` for `plane` (the current one, or a channel of the channel-map view); the stream stops
    /// once `ticket` is superseded.
    pub(super) fn stream(
        &mut self,
        plane: Plane,
        batch: TileBatch,
        ticket: Ticket,
        ctx: &mut Context<Self>,
    ) {
        let shape = self.source.shape();
        let tiles = batch_tiles(&batch, shape.width, shape.height);
        // An animation frame always has its sync pair, so the animator sees the frame end.
        if tiles.is_empty() && batch.animation_id == 0 {
            return;
        }
        let precision = encode::precision(batch.quality);
        let sync = |end: bool| {
            Event::TileSync(TileSync {
                sync_id: batch.sync_id,
                animation_id: batch.animation_id,
                channel: plane.channel as i32,
                stokes: plane.stokes as i32,
                tile_count: tiles.len() as i32,
                end,
            })
        };
        self.emit(sync(false));
        let end = sync(true);
        let (sync_id, compression, animation_id) =
            (batch.sync_id, batch.compression, batch.animation_id);
        let quality = match compression {
            Compression::Zfp => precision as f32,
            Compression::None => batch.quality,
        };
        let tile_data = move |tile| TileData {
            sync_id,
            animation_id,
            channel: plane.channel as i32,
            stokes: plane.stokes as i32,
            compression,
            quality,
            tile,
        };
        let ordered: FuturesOrdered<_> = tiles
            .into_iter()
            .map(|(tile, bounds)| {
                self.tile(self.tile_key(plane, tile, &batch), tile, bounds, ticket)
            })
            .collect();
        let stream = ordered
            .into_actor(self)
            // A plane change ends the stream: its remaining tiles are stale.
            .take_while(move |_, act, _| actix::fut::ready(act.generations.is_current(ticket)))
            .map(move |result, act, _| match result {
                Ok(tile) => act.emit(Event::Tile(tile_data(tile))),
                Err(ChunkError::Stale) => {}
                Err(e) => tracing::warn!(parent: &act.span, "tile failed: {e}"),
            })
            .finish()
            .map(move |_, act, _| {
                if !act.generations.is_current(ticket) {
                    debug!(parent: &act.span, "dropped stale tiles of channel {}", plane.channel);
                }
                act.emit(end);
            });
        ctx.spawn(stream);
    }

    /// One tile: from the cache, from its computation already under way, or computed now.
    fn tile(
        &self,
        key: TileKey,
        tile: TileId,
        bounds: TileBounds,
        ticket: Ticket,
    ) -> impl std::future::Future<Output = Result<Arc<EncodedTile>, ChunkError>> + use<> {
        let cached = self.tiles.cache.get(&key);
        let pending = self.tiles.pending.get(&key).cloned();
        let compute = self.compute_tile(key, tile, bounds, ticket);
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
        ticket: Ticket,
    ) -> impl std::future::Future<Output = Result<Arc<EncodedTile>, ChunkError>> + use<> {
        let (plane, precision, compression) = (key.plane, key.precision, key.compression);
        let cache = self.tiles.cache.clone();
        let chunks = self.chunks.clone();
        let runtime = self.runtime.clone();
        // Stored mips hold stored planes only; a computed Stokes parameter is averaged from its own pixels.
        let stored_mip = self.source.mip_levels().contains(&bounds.mip)
            && self.source.shape().computed(key.plane).is_none();
        async move {
            let (lane, generation) = (ticket.lane, ticket.generation);
            let pixels = if stored_mip {
                let m = bounds.mip;
                let intent = StoredMip {
                    plane,
                    mip: m,
                    xs: bounds.x0 / m..bounds.x1.div_ceil(m),
                    ys: bounds.y0 / m..bounds.y1.div_ceil(m),
                };
                chunks
                    .ask(lane, generation, intent)
                    .await?
                    .into_iter()
                    .next()
                    .unwrap_or_default()
            } else if bounds.mip == 1 {
                // Full resolution: the chunks' rows of the tile, put together in place.
                let parts = chunks
                    .ask(lane, generation, TileRows { plane, bounds })
                    .await?;
                let width = bounds.x1 - bounds.x0;
                let mut tile = vec![f32::NAN; width * (bounds.y1 - bounds.y0)];
                for (row0, rows) in parts {
                    let at = (row0 - bounds.y0) * width;
                    if let Some(dst) = tile.get_mut(at..at + rows.len()) {
                        dst.copy_from_slice(&rows);
                    }
                }
                tile
            } else {
                let parts = chunks
                    .ask(lane, generation, TileSums { plane, bounds })
                    .await?;
                parts
                    .into_iter()
                    .reduce(|a, b| a.merge(&b))
                    .unwrap_or_else(|| BlockSums::new(bounds))
                    .finish()
            };
            let encoded = runtime
                .on_pool(move || encode::encode(pixels, tile, bounds, compression, precision))
                .await
                .ok_or_else(|| ImageError::Load("the I/O pool stopped".into()))?
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
        let removed: std::collections::HashSet<i32> = msg.tiles.into_iter().collect();
        for batch in &mut self.tiles.waiting {
            batch.tiles.retain(|t| !removed.contains(t));
        }
    }
}
