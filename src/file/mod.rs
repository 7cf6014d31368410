//! `FileActor`: one per open image in a session. Owns the image's chunk workers (one per strip, spread over the
//! chunk arbiters), the current channel and Stokes, the colour-scale histogram, the tile cache (moka) and the
//! cursor. Requests fan out to the chunk workers as messages; partial results merge here; replies go to the
//! session as ready-to-send frames. Channel changes drop stale tiles; cursor moves are latest-wins.

mod analysis;
mod cursor;
mod tiles;

pub use analysis::{
    RemoveRegion, SetHistogramRequirements, SetRegion, SetSpectralRequirements,
    SetStatsRequirements,
};
pub use cursor::{SetCursor, SetSpatialRequirements, SpatialConfig};
pub use tiles::RemoveTiles;
pub use tiles::TileBatch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::{
    Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, Recipient,
    WrapFuture,
};
use futures_util::future::join_all;
use tracing::{debug, warn};

use crate::analysis::histogram::{auto_bins, Histogram};
use crate::analysis::stats::BasicStats;
use crate::chunk::store::FileIdentity;
use crate::chunk::{ChunkWorker, ComputeHistogram, ComputeStats, Plane};
use crate::image::pixels::PixelSource;
use crate::image::ImageError;
use crate::protocol::{self, pb, EventType};
use crate::server::AppState;
use crate::session::Outgoing;

/// Bytes of one plane's strip a chunk worker aims to hold.
const TARGET_BLOCK_BYTES: usize = 4 << 20;

/// Rows per strip: a multiple of 256 (tile rows never straddle strips) — or of 512 for HDF5, whose datasets
/// are chunked 512×512 — holding about [`TARGET_BLOCK_BYTES`] of one plane.
pub fn rows_per_chunk(width: usize, height: usize, align: usize) -> usize {
    let row_bytes = (width * 4).max(1);
    let units = (TARGET_BLOCK_BYTES / (row_bytes * align)).max(1);
    (units * align)
        .min(height.div_ceil(align) * align)
        .max(align)
}

/// One open image.
pub struct FileActor {
    file_id: i32,
    state: Arc<AppState>,
    source: Arc<PixelSource>,
    workers: Vec<Addr<ChunkWorker>>,
    rows_per_chunk: usize,
    plane: Plane,
    session: Recipient<Outgoing>,
    /// Colour-scale histograms already computed, per plane.
    histograms: HashMap<Plane, pb::Histogram>,
    /// Planes whose colour-scale histogram is being computed.
    colour_scale_pending: std::collections::HashSet<Plane>,
    /// Whether the current plane's colour-scale histogram has gone out (tiles wait for it).
    histogram_sent: bool,
    /// Tile batches waiting for the histogram of their plane.
    waiting: Vec<TileBatch>,
    tile_cache: tiles::TileCache,
    /// Tiles of waiting batches being computed ahead of the histogram.
    pending_tiles: HashMap<tiles::TileKey, tiles::PendingTile>,
    /// Bumped on every plane change; tile streams of an older generation stop sending.
    generation: Arc<AtomicU64>,
    cursor: cursor::CursorState,
    analysis: analysis::AnalysisState,
    /// Beam area in pixels for Jy/beam images (flux density = sum / area).
    beam_area_pixels: Option<f64>,
    span: tracing::Span,
}

/// π/(4 ln 2) · BMAJ · BMIN / |CDELT1 · CDELT2| for an image in Jy/beam with a beam, else None.
fn beam_area_pixels(header: &crate::image::header::Header) -> Option<f64> {
    let unit = header.text("BUNIT")?.to_ascii_lowercase().replace(' ', "");
    if !unit.contains("jy/beam") {
        return None;
    }
    let (bmaj, bmin) = (header.number("BMAJ")?, header.number("BMIN")?);
    let (d1, d2) = (header.number("CDELT1")?, header.number("CDELT2")?);
    let area =
        std::f64::consts::PI / (4.0 * std::f64::consts::LN_2) * bmaj * bmin / (d1 * d2).abs();
    (area.is_finite() && area > 0.0).then_some(area)
}

impl FileActor {
    /// Builds the actor and its chunk workers (started on the shared chunk arbiters).
    pub fn new(
        file_id: i32,
        state: Arc<AppState>,
        source: Arc<PixelSource>,
        identity: FileIdentity,
        session: Recipient<Outgoing>,
        span: tracing::Span,
    ) -> FileActor {
        let shape = &source.shape;
        let align = if source.prefers_512_rows() { 512 } else { 256 };
        let rows = rows_per_chunk(shape.width, shape.height, align);
        let workers = (0..shape.height.div_ceil(rows))
            .map(|i| {
                let row0 = i * rows;
                let n = rows.min(shape.height - row0);
                let worker = ChunkWorker::new(source.clone(), identity.clone(), row0, n);
                let arbiter = state.chunk_arbiter(i);
                ChunkWorker::start_in_arbiter(&arbiter, move |_| worker)
            })
            .collect();
        let analysis = analysis::AnalysisState::new(state.config.analysis_cache_bytes);
        let beam_area = beam_area_pixels(&source.header);
        FileActor {
            file_id,
            tile_cache: tiles::new_cache(state.config.tile_cache_bytes),
            state,
            source,
            workers,
            rows_per_chunk: rows,
            plane: Plane {
                channel: 0,
                stokes: 0,
            },
            session,
            histograms: HashMap::new(),
            colour_scale_pending: Default::default(),
            histogram_sent: false,
            waiting: Vec::new(),
            pending_tiles: HashMap::new(),
            generation: Arc::new(AtomicU64::new(0)),
            cursor: cursor::CursorState::default(),
            analysis,
            beam_area_pixels: beam_area,
            span,
        }
    }

    fn send(&self, event: EventType, message: &impl prost::Message) {
        self.session
            .do_send(Outgoing(protocol::encode(event, 0, message)));
    }

    fn send_error(&self, message: String) {
        warn!(parent: &self.span, file_id = self.file_id, "{message}");
        let mut err = pb::ErrorData {
            tags: vec!["file".into()],
            message,
            data: self.file_id.to_string(),
            ..Default::default()
        };
        err.set_severity(pb::ErrorSeverity::Error);
        self.send(EventType::ErrorData, &err);
    }

    /// Chunk workers whose strips overlap rows `[y0, y1)`.
    fn workers_for_rows(&self, y0: usize, y1: usize) -> Vec<Addr<ChunkWorker>> {
        let first = y0 / self.rows_per_chunk;
        let last = y1.div_ceil(self.rows_per_chunk).min(self.workers.len());
        self.workers[first.min(last)..last].to_vec()
    }

    /// Switches plane (validated), then sends its colour-scale histogram; the tiles follow it.
    fn set_plane(&mut self, plane: Plane, ctx: &mut Context<Self>) -> bool {
        let shape = &self.source.shape;
        if plane.channel >= shape.depth || plane.stokes >= shape.stokes {
            self.send_error(format!(
                "Channel {} / Stokes {} is out of range: the image has {} channels and {} Stokes",
                plane.channel, plane.stokes, shape.depth, shape.stokes
            ));
            return false;
        }
        if plane != self.plane || !self.histogram_sent {
            let stokes_changed = plane.stokes != self.plane.stokes;
            self.plane = plane;
            self.generation.fetch_add(1, Ordering::SeqCst);
            self.histogram_sent = false;
            // Queued tiles of the old plane are stale.
            self.waiting.clear();
            self.send_channel_histogram(ctx);
            self.refresh_cursor(ctx);
            self.refresh_analysis(stokes_changed, ctx);
        }
        true
    }

    fn histogram_message(&self, plane: Plane, histogram: pb::Histogram) -> pb::RegionHistogramData {
        pb::RegionHistogramData {
            file_id: self.file_id,
            region_id: -1,
            channel: plane.channel as i32,
            stokes: plane.stokes as i32,
            histograms: Some(histogram),
            progress: 1.0,
            config: Some(pb::HistogramConfig {
                coordinate: "z".into(),
                channel: -1,
                fixed_num_bins: false,
                num_bins: -1,
                fixed_bounds: false,
                bounds: None,
            }),
        }
    }

    fn send_channel_histogram(&mut self, ctx: &mut Context<Self>) {
        let plane = self.plane;
        if let Some(h) = self.histograms.get(&plane).cloned() {
            self.send(
                EventType::RegionHistogramData,
                &self.histogram_message(plane, h),
            );
            self.histogram_sent = true;
            self.flush_waiting(ctx);
            return;
        }
        let workers = self.workers.clone();
        let bins = auto_bins(self.source.shape.width, self.source.shape.height);
        let work = async move { plane_histogram(&workers, plane, bins).await };
        self.colour_scale_pending.insert(plane);
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            act.colour_scale_pending.remove(&plane);
            let histogram = match result {
                Ok((h, stats, counts)) => {
                    act.analysis.record_plane(plane, stats, counts);
                    h
                }
                Err(e) => {
                    act.send_error(format!(
                        "Cannot compute the histogram of channel {}: {e}",
                        plane.channel
                    ));
                    degenerate_histogram(&BasicStats::default())
                }
            };
            act.histograms.insert(plane, histogram.clone());
            if act.plane == plane && !act.histogram_sent {
                act.send(
                    EventType::RegionHistogramData,
                    &act.histogram_message(plane, histogram),
                );
                act.histogram_sent = true;
                act.flush_waiting(ctx);
            }
            if std::mem::take(&mut act.analysis.deferred_image_histograms) {
                act.run_histograms(analysis::IMAGE_REGION, ctx);
            }
        }));
    }

    fn flush_waiting(&mut self, ctx: &mut Context<Self>) {
        for batch in std::mem::take(&mut self.waiting) {
            self.run_batch(batch, ctx);
        }
    }
}

/// Sends `make()` to every worker and collects the answers; the first error wins.
pub(crate) async fn fan_out<M, R>(
    workers: &[Addr<ChunkWorker>],
    make: impl Fn() -> M,
) -> Result<Vec<R>, ImageError>
where
    M: Message<Result = Result<R, ImageError>> + Send + 'static,
    R: Send + 'static,
    ChunkWorker: actix::Handler<M>,
{
    let answers = join_all(workers.iter().map(|w| w.send(make()))).await;
    answers
        .into_iter()
        .map(|a| a.map_err(|e| ImageError::Load(format!("chunk worker: {e}")))?)
        .collect()
}

pub(super) fn histogram_message(counts: &Histogram, stats: &BasicStats) -> pb::Histogram {
    pb::Histogram {
        num_bins: counts.bins.len() as i32,
        bin_width: counts.bin_width(),
        first_bin_center: counts.first_bin_center(),
        bins: counts
            .bins
            .iter()
            .map(|c| i32::try_from(*c).unwrap_or(i32::MAX))
            .collect(),
        mean: stats.mean(),
        std_dev: stats.std_dev(),
    }
}

/// Histogram of a constant or empty selection: one bin centred on the value, or no bins.
pub(super) fn degenerate_histogram(stats: &BasicStats) -> pb::Histogram {
    match stats.range() {
        Some((v, _)) => pb::Histogram {
            num_bins: 1,
            bin_width: 0.0,
            first_bin_center: v,
            bins: vec![i32::try_from(stats.count).unwrap_or(i32::MAX)],
            mean: stats.mean(),
            std_dev: stats.std_dev(),
        },
        None => pb::Histogram {
            mean: f64::NAN,
            std_dev: f64::NAN,
            ..Default::default()
        },
    }
}

/// The colour-scale histogram of a plane, with the plane's statistics and the counts: one pass for the range
/// (and mean, σ), one for the counts.
async fn plane_histogram(
    workers: &[Addr<ChunkWorker>],
    plane: Plane,
    bins: usize,
) -> Result<(pb::Histogram, BasicStats, Option<Histogram>), ImageError> {
    let stats = fan_out(workers, || ComputeStats { plane })
        .await?
        .into_iter()
        .fold(BasicStats::default(), BasicStats::merge);
    let Some((min, max)) = stats.range().filter(|(a, b)| a < b) else {
        return Ok((degenerate_histogram(&stats), stats, None));
    };
    let counts = fan_out(workers, || ComputeHistogram {
        plane,
        min,
        max,
        bins,
    })
    .await?
    .into_iter()
    .reduce(|a, b| a.merge(&b))
    .unwrap_or_else(|| Histogram::new(min, max, bins));
    Ok((histogram_message(&counts, &stats), stats, Some(counts)))
}

impl Actor for FileActor {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        debug!(parent: &self.span, file_id = self.file_id, "file closed");
    }
}

/// Starts streaming: the first plane's histogram.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Start;

/// Closes the file: stops the actor; its chunk workers stop with it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Close;

/// Changes channel/Stokes, optionally with the new plane's tiles.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetChannels {
    pub plane: Plane,
    pub tiles: Option<TileBatch>,
}

impl Handler<Start> for FileActor {
    type Result = ();

    fn handle(&mut self, _: Start, ctx: &mut Context<Self>) {
        self.set_plane(
            Plane {
                channel: 0,
                stokes: 0,
            },
            ctx,
        );
    }
}

impl Handler<Close> for FileActor {
    type Result = ();

    fn handle(&mut self, _: Close, ctx: &mut Context<Self>) {
        self.waiting.clear();
        ctx.stop();
    }
}

impl Handler<SetChannels> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetChannels, ctx: &mut Context<Self>) {
        if self.set_plane(msg.plane, ctx) {
            if let Some(batch) = msg.tiles {
                self.queue_batch(batch, ctx);
            }
        }
    }
}
