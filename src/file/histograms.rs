//! Histograms: the colour-scale histogram of every plane shown (sent unasked before the plane's tiles), region
//! and image histograms of SET_HISTOGRAM_REQUIREMENTS, and the per-cube histogram with progress. All go through
//! the one plan of `plan` (bin count, bounds, degenerate range).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix::{ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};

use super::events::{Area, Event, HistogramData, HistogramResult};
use super::generations::{Ticket, Work};
use super::plan::{
    add_counts, answer, bin_count, channel_batches, fixed_bounds, merge_columns, merge_stats,
    HistogramPlan, Progress,
};
use super::requirements::{HistogramConfig, SetHistogramRequirements};
use super::{FileActor, CUBE_REGION, IMAGE_REGION};
use crate::analysis::histogram::{auto_bins, Histogram};
use crate::analysis::stats::BasicStats;
use crate::chunk::intent::{HistogramCounts, RegionSpectrum, Statistics};
use crate::chunk::{ChunkError, Chunks};
use crate::image::{Plane, StoredStatistics};

use super::regions::HistogramKey;

/// Colour-scale histograms of the planes shown.
#[derive(Debug, Default)]
pub struct ColourScale {
    /// Already computed, per plane.
    histograms: HashMap<Plane, HistogramResult>,
    /// Being computed.
    pub pending: HashSet<Plane>,
    /// Whether the current plane's histogram has gone out (its tiles wait for it).
    pub sent: bool,
}

/// The stored counts of `known`, if they answer `plan` as they are (same range and bin count).
fn stored_counts(known: Option<&StoredStatistics>, plan: HistogramPlan) -> Option<Histogram> {
    let HistogramPlan::Counts(range) = plan else {
        return None;
    };
    let bins = known?.histogram.as_ref()?;
    let (min, max) = known?.stats.range()?;
    (bins.len() == range.count && min == range.min && max == range.max).then(|| Histogram {
        min,
        max,
        bins: bins.clone(),
    })
}

/// A plane's colour-scale histogram with the plane's statistics and the counts: from what the source already
/// knows (stored statistics and histogram), else the statistics come with the chunks as they load, then one
/// counting pass.
async fn colour_scale_pass(
    chunks: Chunks,
    ticket: Ticket,
    plane: Plane,
    bins: usize,
    known: Option<StoredStatistics>,
) -> Result<(HistogramResult, BasicStats, Option<Histogram>), ChunkError> {
    let stats = match &known {
        Some(k) => k.stats,
        None => {
            let whole = Statistics {
                plane,
                region: None,
                reuse_load_stats: true,
            };
            merge_stats(chunks.ask(ticket.lane, ticket.generation, whole).await?)
        }
    };
    let plan = HistogramPlan::new(bins, None, &stats);
    if let Some(counts) = stored_counts(known.as_ref(), plan) {
        return Ok((answer(plan, Some(&counts), &stats), stats, Some(counts)));
    }
    let HistogramPlan::Counts(range) = plan else {
        return Ok((answer(plan, None, &stats), stats, None));
    };
    let counting = HistogramCounts {
        stokes: plane.stokes,
        channels: plane.channel..plane.channel + 1,
        region: None,
        bins: range,
    };
    let (lane, generation) = (ticket.lane, ticket.generation);
    let counts = chunks
        .fold(lane, generation, counting, range.empty(), add_counts)
        .await?;
    Ok((answer(plan, Some(&counts), &stats), stats, Some(counts)))
}

impl FileActor {
    fn colour_scale_event(&self, plane: Plane, histogram: HistogramResult) -> Event {
        Event::Histogram(HistogramData {
            region_id: IMAGE_REGION,
            channel: plane.channel as i32,
            stokes: plane.stokes as i32,
            progress: 1.0,
            histogram,
            config: None,
        })
    }

    /// Sends the current plane's colour-scale histogram (computing it first if needed), then its tiles.
    pub(super) fn send_colour_scale(&mut self, ctx: &mut Context<Self>) {
        let plane = self.plane;
        if let Some(h) = self.colour.histograms.get(&plane).cloned() {
            self.emit(self.colour_scale_event(plane, h));
            self.colour.sent = true;
            self.flush_waiting(ctx);
            return;
        }
        let ticket = self.generations.current(IMAGE_REGION, Work::Plane);
        self.start_colour_scale(plane, ticket, ctx);
    }

    /// Starts computing `plane`'s colour-scale histogram under `ticket` (the current plane's, or frames
    /// prepared ahead); it goes out when done if the plane is shown then. Nothing to do if it is known or
    /// under way.
    pub(super) fn start_colour_scale(
        &mut self,
        plane: Plane,
        ticket: Ticket,
        ctx: &mut Context<Self>,
    ) {
        let answering = self.answering;
        if self.colour.histograms.contains_key(&plane) || !self.colour.pending.insert(plane) {
            return;
        }
        let shape = self.source.shape();
        let bins = auto_bins(shape.width, shape.height);
        let known = self.source.known_statistics(plane);
        let work = colour_scale_pass(self.chunks.clone(), ticket, plane, bins, known);
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            act.colour.pending.remove(&plane);
            let histogram = match result {
                Ok((h, stats, counts)) => {
                    act.analysis.record_plane(plane, stats, counts);
                    h
                }
                // Superseded: computed again if the plane is shown (it may be shown now, if the pass was
                // one prepared ahead for an animation that stopped).
                Err(ChunkError::Stale) => {
                    if act.plane == plane && !act.colour.sent {
                        act.send_colour_scale(ctx);
                    }
                    return;
                }
                Err(e) => {
                    act.fail_for(
                        answering,
                        Area::Histogram,
                        format!(
                            "Cannot compute the histogram of channel {}: {e}",
                            plane.channel
                        ),
                    );
                    answer(HistogramPlan::Degenerate, None, &BasicStats::default())
                }
            };
            act.colour.histograms.insert(plane, histogram.clone());
            if act.plane == plane && !act.colour.sent {
                act.emit(act.colour_scale_event(plane, histogram));
                act.colour.sent = true;
                act.flush_waiting(ctx);
            }
            if let Some(request_id) = act.analysis.deferred_image_histograms.take() {
                act.answering = request_id;
                act.run_histograms(IMAGE_REGION, ctx);
                act.answering = 0;
            }
        }));
    }

    pub(super) fn run_histograms(&mut self, region_id: i32, ctx: &mut Context<Self>) {
        let answering = self.answering;
        let Some(configs) = self.analysis.histograms.get(&region_id).cloned() else {
            return;
        };
        if region_id == IMAGE_REGION && self.colour.pending.contains(&self.plane) {
            // The plane's colour-scale pass is under way and will bring its range (and, with result caching,
            // its counts): wait for it rather than reading the pixels a second time alongside it.
            self.analysis.deferred_image_histograms = Some(self.answering);
            return;
        }
        let Some(region) = self.analysis.region(region_id) else {
            return;
        };
        let ticket = self
            .generations
            .bump(&self.chunks, region_id, Work::Histogram);
        let shape = self.source.shape().clone();
        for config in configs {
            let stokes = match self.stokes_index(config.coordinate.stokes, &config.coordinate.text)
            {
                Ok(s) => s,
                Err(e) => {
                    self.fail(
                        Area::Histogram,
                        format!("Histogram of region {region_id}: {e}"),
                    );
                    continue;
                }
            };
            if region_id == CUBE_REGION || config.channel == -2 {
                self.run_cube_histogram(config, stokes, ticket, ctx);
                continue;
            }
            let channel = if config.channel < 0 {
                self.plane.channel
            } else {
                config.channel as usize
            };
            if channel >= shape.depth {
                self.fail(
                    Area::Histogram,
                    format!(
                        "Histogram of channel {channel}: the image has {} channels",
                        shape.depth
                    ),
                );
                continue;
            }
            let plane = Plane { channel, stokes };
            let bins = match region
                .as_deref()
                .and_then(|s| s.bounding_box(shape.width, shape.height))
            {
                Some((x0, x1, y0, y1)) => bin_count(&config, x1 - x0, y1 - y0),
                None => bin_count(&config, shape.width, shape.height),
            };
            let stored = (region_id == IMAGE_REGION)
                .then(|| self.source.known_statistics(plane))
                .flatten();
            let known = (region_id == IMAGE_REGION)
                .then(|| self.analysis.known_plane_stats.get(&plane).copied())
                .flatten()
                .or(stored.as_ref().map(|s| s.stats));
            let work =
                self.region_histogram(region_id, plane, bins, &config, (known, stored), ticket);
            ctx.spawn(work.into_actor(self).map(move |result, act, _| {
                if !act.generations.is_current(ticket) {
                    return;
                }
                match result {
                    Ok(histogram) => act.emit(Event::Histogram(HistogramData {
                        region_id,
                        channel: plane.channel as i32,
                        stokes: plane.stokes as i32,
                        progress: 1.0,
                        histogram,
                        config: Some(config),
                    })),
                    Err(ChunkError::Stale) => {}
                    Err(e) => act.fail_for(
                        answering,
                        Area::Histogram,
                        format!("Histogram of region {region_id} failed: {e}"),
                    ),
                }
            }));
        }
    }

    /// A histogram of a region (or the whole image) in one plane: the range from known statistics, the cache
    /// or a pass, then the counts from the cache or a pass.
    fn region_histogram(
        &self,
        region_id: i32,
        plane: Plane,
        bins: usize,
        config: &HistogramConfig,
        (known, stored): (Option<BasicStats>, Option<StoredStatistics>),
        ticket: Ticket,
    ) -> impl Future<Output = Result<HistogramResult, ChunkError>> + use<> {
        let region = self.analysis.region(region_id).flatten();
        let stats_work = self.plane_stats(region_id, region.clone(), plane, ticket);
        let stats_key = self.analysis.stats_key(region_id, plane);
        let cache = self.analysis.histogram_cache.clone();
        let chunks = self.chunks.clone();
        let passes = self.analysis.passes.clone();
        let fixed = fixed_bounds(config);
        async move {
            let stats = match known {
                Some(stats) => stats,
                None => stats_work.await?,
            };
            let plan = HistogramPlan::new(bins, fixed, &stats);
            let HistogramPlan::Counts(range) = plan else {
                return Ok(answer(plan, None, &stats));
            };
            if let Some(counts) = stored_counts(stored.as_ref(), plan) {
                return Ok(answer(plan, Some(&counts), &stats));
            }
            let key = HistogramKey {
                stats: stats_key,
                bins: range.count,
                min: range.min.to_bits(),
                max: range.max.to_bits(),
            };
            let counts = match cache.as_ref().and_then(|c| c.get(&key)) {
                Some(h) => h,
                None => {
                    passes.fetch_add(1, Ordering::Relaxed);
                    let counting = HistogramCounts {
                        stokes: plane.stokes,
                        channels: plane.channel..plane.channel + 1,
                        region,
                        bins: range,
                    };
                    let (lane, generation) = (ticket.lane, ticket.generation);
                    let total = chunks
                        .fold(lane, generation, counting, range.empty(), add_counts)
                        .await?;
                    let h = Arc::new(total);
                    if let Some(c) = &cache {
                        c.insert(key, h.clone());
                    }
                    h
                }
            };
            Ok(answer(plan, Some(&counts), &stats))
        }
    }

    /// The per-cube histogram: a statistics pass over every channel (progress 0 → 0.5), then a counting pass
    /// (0.5 → 1), with progress messages; superseded when the requirement changes.
    fn run_cube_histogram(
        &mut self,
        config: HistogramConfig,
        stokes: usize,
        ticket: Ticket,
        ctx: &mut Context<Self>,
    ) {
        let answering = self.answering;
        let shape = self.source.shape();
        let (depth, plane_len) = (shape.depth, shape.plane_len());
        let bins = bin_count(&config, shape.width, shape.height);
        let fixed = fixed_bounds(&config);
        let chunks = self.chunks.clone();
        let emitter = self.emitter();
        let passes = self.analysis.passes.clone();
        let progress_config = config.clone();
        let message = move |histogram: HistogramResult, progress: f32| {
            Event::Histogram(HistogramData {
                region_id: CUBE_REGION,
                channel: -2,
                stokes: stokes as i32,
                progress,
                histogram,
                config: Some(progress_config.clone()),
            })
        };
        let final_message = message.clone();
        // The cube's statistics (and maybe its histogram) may be known already: stored by the format, or
        // taken by the spectral-order index. Then the statistics pass, or both passes, are not needed.
        let known = self.source.known_cube_statistics(stokes);
        let work = async move {
            if let Some(k) = &known {
                let plan = HistogramPlan::new(bins, fixed, &k.stats);
                if let Some(counts) = stored_counts(Some(k), plan) {
                    return Ok(answer(plan, Some(&counts), &k.stats));
                }
            }
            passes.fetch_add(1, Ordering::Relaxed);
            let (lane, generation) = (ticket.lane, ticket.generation);
            let mut progress = Progress::start();
            let mut stats = known.as_ref().map(|k| k.stats).unwrap_or_default();
            let first_pass = if known.is_some() { 0 } else { depth };
            for channels in channel_batches(first_pass, plane_len) {
                let end = channels.end;
                let intent = RegionSpectrum {
                    stokes,
                    channels: channels.clone(),
                    region: None,
                };
                let parts = chunks.ask(lane, generation, intent).await?;
                stats = stats.merge(merge_stats(merge_columns(parts, channels.len())));
                if progress.due(end, depth) && !chunks.is_stale(lane, generation) {
                    let empty = answer(HistogramPlan::Degenerate, None, &BasicStats::default());
                    emitter.emit(message(empty, 0.5 * end as f32 / depth as f32));
                }
            }
            let plan = HistogramPlan::new(bins, fixed, &stats);
            let HistogramPlan::Counts(range) = plan else {
                return Ok::<_, ChunkError>(answer(plan, None, &stats));
            };
            let mut counts = range.empty();
            for channels in channel_batches(depth, plane_len) {
                let end = channels.end;
                let intent = HistogramCounts {
                    stokes,
                    channels,
                    region: None,
                    bins: range,
                };
                counts = chunks
                    .fold(lane, generation, intent, counts, add_counts)
                    .await?;
                if progress.due(end, depth) && !chunks.is_stale(lane, generation) {
                    let partial = answer(plan, Some(&counts), &stats);
                    emitter.emit(message(partial, 0.5 + 0.5 * end as f32 / depth as f32));
                }
            }
            Ok(answer(plan, Some(&counts), &stats))
        }
        .into_actor(self)
        .map(move |result, act, _| match result {
            Ok(_) if !act.generations.is_current(ticket) => {}
            Ok(h) => act.emit(final_message(h, 1.0)),
            Err(ChunkError::Stale) => {}
            Err(e) => act.fail_for(
                answering,
                Area::Histogram,
                format!("Cube histogram failed: {e}"),
            ),
        });
        ctx.spawn(work);
    }
}

impl Handler<SetHistogramRequirements> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetHistogramRequirements, ctx: &mut Context<Self>) {
        self.answering = msg.request_id;
        self.set_histogram_requirement(msg, ctx);
        self.answering = 0;
    }
}

impl FileActor {
    fn set_histogram_requirement(
        &mut self,
        msg: SetHistogramRequirements,
        ctx: &mut Context<Self>,
    ) {
        if msg.configs.is_empty() {
            // Also how the frontend cancels a per-cube histogram.
            self.analysis.histograms.remove(&msg.region_id);
            self.generations
                .bump(&self.chunks, msg.region_id, Work::Histogram);
            return;
        }
        self.analysis.histograms.insert(msg.region_id, msg.configs);
        self.run_histograms(msg.region_id, ctx);
    }
}
