//! Region statistics, histograms and spectral profiles of one open image, by fan-out to the chunk workers.
//!
//! Region ids follow the ICD: -1 the whole image, -2 the per-cube histogram, 0 the cursor, ≥ 1 regions set by
//! the client. Every (region, kind of work) has a generation counter: a newer request, a region edit or a
//! plane change bumps it, chunk workers skip work of an older generation, and results of an older generation
//! are not sent. Plane statistics and histograms are cached (moka) by region version, plane and parameters, so
//! a histogram whose range is already known costs one pass.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, WrapFuture};

use super::tiles::on_pool;
use super::{degenerate_histogram, fan_out, histogram_message, FileActor};
use crate::analysis::histogram::{auto_bins, Histogram};
use crate::analysis::region::Shape;
use crate::analysis::stats::{stat_value, BasicStats, StatKind};
use crate::chunk::{
    ChunkWorker, CubeHistogram, Generation, Plane, RegionHistogram, RegionSpectrum, RegionStats,
};
use crate::image::ImageError;
use crate::protocol::{self, pb, EventType};
use crate::session::Outgoing;

pub const IMAGE_REGION: i32 = -1;
pub const CUBE_REGION: i32 = -2;
pub const CURSOR_REGION: i32 = 0;
/// Partial spectral profiles and cube-histogram progress go out at most this often.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);
/// Bytes of pixels one batch of a multi-channel pass reads per chunk round.
const BATCH_BYTES: usize = 32 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Work {
    Stats,
    Histogram,
    Spectral,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StatsKey {
    region: i32,
    version: u64,
    plane: Plane,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct HistogramKey {
    stats: StatsKey,
    bins: usize,
    min: u64,
    max: u64,
}

/// Requirements, regions and caches of one file.
pub struct AnalysisState {
    regions: HashMap<i32, (Arc<Shape>, u64)>,
    next_version: u64,
    stats: HashMap<i32, Vec<pb::set_stats_requirements::StatsConfig>>,
    histograms: HashMap<i32, Vec<pb::HistogramConfig>>,
    spectral: HashMap<i32, Vec<pb::set_spectral_requirements::SpectralConfig>>,
    generations: HashMap<(i32, Work), Arc<AtomicU64>>,
    /// Result caches; None when result caching is configured off (`analysis_cache_mb = 0`).
    stats_cache: Option<moka::sync::Cache<StatsKey, BasicStats>>,
    histogram_cache: Option<moka::sync::Cache<HistogramKey, Arc<Histogram>>>,
    /// Statistics of whole planes already known from their colour-scale histograms: the range an image
    /// histogram needs, so it costs one counting pass even when result caching is off.
    pub known_plane_stats: HashMap<Plane, BasicStats>,
    /// Image histograms asked for while the plane's colour-scale pass was running; run when it ends.
    pub deferred_image_histograms: bool,
    /// Passes over pixels started (tests and logs: steering keeps this bounded).
    pub passes: Arc<AtomicU64>,
}

impl AnalysisState {
    /// State with result caches bounded to `cache_bytes` in all (0: no result caching).
    pub fn new(cache_bytes: u64) -> AnalysisState {
        let enabled = cache_bytes > 0;
        AnalysisState {
            regions: HashMap::new(),
            next_version: 1,
            stats: HashMap::new(),
            histograms: HashMap::new(),
            spectral: HashMap::new(),
            generations: HashMap::new(),
            stats_cache: enabled.then(|| {
                moka::sync::Cache::builder()
                    .weigher(|_, _: &BasicStats| 128)
                    .max_capacity(cache_bytes / 4)
                    .build()
            }),
            histogram_cache: enabled.then(|| {
                moka::sync::Cache::builder()
                    .weigher(|_, h: &Arc<Histogram>| {
                        u32::try_from(h.bins.len() * 8 + 64).unwrap_or(u32::MAX)
                    })
                    .max_capacity(cache_bytes - cache_bytes / 4)
                    .build()
            }),
            known_plane_stats: HashMap::new(),
            deferred_image_histograms: false,
            passes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Supersedes in-flight work of this kind for this region; returns the new generation.
    fn bump(&mut self, region: i32, work: Work) -> Generation {
        let counter = self.generations.entry((region, work)).or_default().clone();
        counter.fetch_add(1, Ordering::SeqCst);
        Generation::current(&counter)
    }

    fn is_current(&self, _region: i32, _work: Work, generation: &Generation) -> bool {
        !generation.is_stale()
    }

    /// Records a plane's colour-scale pass: its statistics, and its counts as the whole-image histogram of
    /// those bins over that range (a result like any other, so only when result caching is on).
    pub fn record_plane(&mut self, plane: Plane, stats: BasicStats, counts: Option<Histogram>) {
        self.known_plane_stats.insert(plane, stats);
        if let (Some(cache), Some(h)) = (&self.histogram_cache, counts) {
            let key = HistogramKey {
                stats: StatsKey {
                    region: IMAGE_REGION,
                    version: self.version(IMAGE_REGION),
                    plane,
                },
                bins: h.bins.len(),
                min: h.min.to_bits(),
                max: h.max.to_bits(),
            };
            cache.insert(key, Arc::new(h));
        }
    }

    fn version(&self, region: i32) -> u64 {
        self.regions.get(&region).map(|(_, v)| *v).unwrap_or(0)
    }
}

/// A region was created or edited (control points in this image's pixels).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetRegion {
    pub region_id: i32,
    pub shape: Shape,
}

/// A region was removed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveRegion {
    pub region_id: i32,
}

/// SET_STATS_REQUIREMENTS for this file.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatsRequirements(pub pb::SetStatsRequirements);

/// SET_HISTOGRAM_REQUIREMENTS for this file.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetHistogramRequirements(pub pb::SetHistogramRequirements);

/// SET_SPECTRAL_REQUIREMENTS for this file.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetSpectralRequirements(pub pb::SetSpectralRequirements);

fn kind(t: i32) -> StatKind {
    use pb::StatsType as T;
    match T::try_from(t).unwrap_or(T::Blc) {
        T::NumPixels => StatKind::NumPixels,
        T::NanCount => StatKind::NanCount,
        T::Sum => StatKind::Sum,
        T::FluxDensity => StatKind::FluxDensity,
        T::Mean => StatKind::Mean,
        T::Rms => StatKind::Rms,
        T::Sigma => StatKind::Sigma,
        T::SumSq => StatKind::SumSq,
        T::Min => StatKind::Min,
        T::Max => StatKind::Max,
        T::Extrema => StatKind::Extrema,
        _ => StatKind::Position,
    }
}

/// The Stokes index a coordinate names: "z" (or "x", "y") is the current one, "Iz"/"Qz"/"Uz"/"Vz" a fixed one.
fn stokes_of(coordinate: &str, current: usize, count: usize) -> usize {
    let wanted = match coordinate.chars().next() {
        Some('I') => 0,
        Some('Q') => 1,
        Some('U') => 2,
        Some('V') => 3,
        _ => current,
    };
    if wanted < count {
        wanted
    } else {
        current
    }
}

fn merge_all(parts: Vec<BasicStats>) -> BasicStats {
    parts
        .into_iter()
        .fold(BasicStats::default(), BasicStats::merge)
}

fn merge_columns(parts: Vec<Vec<BasicStats>>, len: usize) -> Vec<BasicStats> {
    let mut out = vec![BasicStats::default(); len];
    for part in parts {
        for (o, p) in out.iter_mut().zip(part) {
            *o = o.merge(p);
        }
    }
    out
}

impl FileActor {
    /// The shape of a region id (None for the whole image); `None` when the region does not exist here.
    fn region(&self, region_id: i32) -> Option<Option<Arc<Shape>>> {
        match region_id {
            IMAGE_REGION | CUBE_REGION => Some(None),
            id => self.analysis.regions.get(&id).map(|(s, _)| Some(s.clone())),
        }
    }

    fn workers_for_region(&self, region: Option<&Shape>) -> Vec<Addr<ChunkWorker>> {
        match region {
            None => self.workers.clone(),
            Some(shape) => {
                match shape.bounding_box(self.source.shape.width, self.source.shape.height) {
                    Some((_, _, y0, y1)) => self.workers_for_rows(y0, y1),
                    None => Vec::new(),
                }
            }
        }
    }

    /// Statistics of a plane inside a region, from the cache or by one fan-out pass.
    fn plane_stats(
        &self,
        region_id: i32,
        region: Option<Arc<Shape>>,
        plane: Plane,
        generation: Generation,
    ) -> impl std::future::Future<Output = Result<BasicStats, ImageError>> + use<> {
        let key = StatsKey {
            region: region_id,
            version: self.analysis.version(region_id),
            plane,
        };
        let cache = self.analysis.stats_cache.clone();
        let workers = self.workers_for_region(region.as_deref());
        let passes = self.analysis.passes.clone();
        async move {
            if let Some(s) = cache.as_ref().and_then(|c| c.get(&key)) {
                return Ok(s);
            }
            passes.fetch_add(1, Ordering::Relaxed);
            let parts = fan_out(&workers, || RegionStats {
                plane,
                region: region.clone(),
                generation: generation.clone(),
                reuse_load_stats: cache.is_some(),
            })
            .await?;
            let stats = merge_all(parts);
            if let Some(c) = &cache {
                c.insert(key, stats);
            }
            Ok(stats)
        }
    }

    /// Re-runs everything that depends on the plane (after a channel or Stokes change).
    pub(super) fn refresh_analysis(&mut self, stokes_changed: bool, ctx: &mut Context<Self>) {
        let ids: Vec<i32> = self.analysis.stats.keys().copied().collect();
        for id in ids {
            self.run_stats(id, ctx);
        }
        let ids: Vec<i32> = self
            .analysis
            .histograms
            .keys()
            .copied()
            .filter(|id| *id != CUBE_REGION)
            .collect();
        for id in ids {
            self.run_histograms(id, ctx);
        }
        if stokes_changed {
            let ids: Vec<i32> = self.analysis.spectral.keys().copied().collect();
            for id in ids {
                self.run_spectral(id, ctx);
            }
        }
    }

    fn run_stats(&mut self, region_id: i32, ctx: &mut Context<Self>) {
        let Some(configs) = self.analysis.stats.get(&region_id).cloned() else {
            return;
        };
        let Some(region) = self.region(region_id) else {
            return;
        };
        let generation = self.analysis.bump(region_id, Work::Stats);
        let beam = self.beam_area_pixels;
        for config in configs {
            let stokes = stokes_of(
                &config.coordinate,
                self.plane.stokes,
                self.source.shape.stokes,
            );
            let plane = Plane {
                channel: self.plane.channel,
                stokes,
            };
            let work = self.plane_stats(region_id, region.clone(), plane, generation.clone());
            let gen = generation.clone();
            ctx.spawn(work.into_actor(self).map(move |result, act, _| {
                if gen.is_stale() {
                    return;
                }
                match result {
                    Ok(stats) => {
                        let data = pb::RegionStatsData {
                            file_id: act.file_id,
                            region_id,
                            channel: plane.channel as i32,
                            stokes: plane.stokes as i32,
                            statistics: config
                                .stats_types
                                .iter()
                                .map(|t| pb::StatisticsValue {
                                    stats_type: *t,
                                    value: stat_value(kind(*t), &stats, beam),
                                })
                                .collect(),
                        };
                        act.send(EventType::RegionStatsData, &data);
                    }
                    Err(ImageError::Stale) => {}
                    Err(e) => {
                        act.send_error(format!("Statistics of region {region_id} failed: {e}"))
                    }
                }
            }));
        }
    }

    pub(super) fn run_histograms(&mut self, region_id: i32, ctx: &mut Context<Self>) {
        let Some(configs) = self.analysis.histograms.get(&region_id).cloned() else {
            return;
        };
        if region_id == IMAGE_REGION && self.colour_scale_pending.contains(&self.plane) {
            // The plane's colour-scale pass is under way and will bring its range (and, with result caching,
            // its counts): wait for it rather than reading the pixels a second time alongside it.
            self.analysis.deferred_image_histograms = true;
            return;
        }
        let Some(region) = self.region(region_id) else {
            return;
        };
        let generation = self.analysis.bump(region_id, Work::Histogram);
        for config in configs {
            if region_id == CUBE_REGION || config.channel == -2 {
                self.run_cube_histogram(config, generation.clone(), ctx);
                continue;
            }
            let channel = if config.channel < 0 {
                self.plane.channel
            } else {
                config.channel as usize
            };
            if channel >= self.source.shape.depth {
                self.send_error(format!(
                    "Histogram of channel {channel}: the image has {} channels",
                    self.source.shape.depth
                ));
                continue;
            }
            let plane = Plane {
                channel,
                stokes: self.plane.stokes,
            };
            let (w, h) = (self.source.shape.width, self.source.shape.height);
            let bins = if config.fixed_num_bins && config.num_bins > 0 {
                config.num_bins as usize
            } else {
                match region.as_deref().and_then(|s| s.bounding_box(w, h)) {
                    Some((x0, x1, y0, y1)) => auto_bins(x1 - x0, y1 - y0),
                    None => auto_bins(w, h),
                }
            };
            let fixed = config
                .fixed_bounds
                .then(|| config.bounds.map(|b| (b.min, b.max)))
                .flatten();
            let stats_work = self.plane_stats(region_id, region.clone(), plane, generation.clone());
            let key = StatsKey {
                region: region_id,
                version: self.analysis.version(region_id),
                plane,
            };
            let cache = self.analysis.histogram_cache.clone();
            let known = if region_id == IMAGE_REGION {
                self.analysis.known_plane_stats.get(&plane).copied()
            } else {
                None
            };
            let workers = self.workers_for_region(region.as_deref());
            let passes = self.analysis.passes.clone();
            let (region2, gen2) = (region.clone(), generation.clone());
            let work = async move {
                let stats = match known {
                    Some(stats) => stats,
                    None => stats_work.await?,
                };
                let Some((min, max)) = fixed.or(stats.range()) else {
                    return Ok(degenerate_histogram(&stats));
                };
                if min >= max || !min.is_finite() || !max.is_finite() {
                    return Ok(degenerate_histogram(&stats));
                }
                let hkey = HistogramKey {
                    stats: key,
                    bins,
                    min: min.to_bits(),
                    max: max.to_bits(),
                };
                let counts = match cache.as_ref().and_then(|c| c.get(&hkey)) {
                    Some(h) => h,
                    None => {
                        passes.fetch_add(1, Ordering::Relaxed);
                        let parts = fan_out(&workers, || RegionHistogram {
                            plane,
                            region: region2.clone(),
                            min,
                            max,
                            bins,
                            generation: gen2.clone(),
                        })
                        .await?;
                        let h = Arc::new(
                            parts
                                .into_iter()
                                .reduce(|a, b| a.merge(&b))
                                .unwrap_or_else(|| Histogram::new(min, max, bins)),
                        );
                        if let Some(c) = &cache {
                            c.insert(hkey, h.clone());
                        }
                        h
                    }
                };
                Ok::<_, ImageError>(histogram_message(&counts, &stats))
            };
            let gen = generation.clone();
            ctx.spawn(work.into_actor(self).map(move |result, act, _| {
                if gen.is_stale() {
                    return;
                }
                match result {
                    Ok(histogram) => {
                        let data = pb::RegionHistogramData {
                            file_id: act.file_id,
                            region_id,
                            channel: plane.channel as i32,
                            stokes: plane.stokes as i32,
                            histograms: Some(histogram),
                            progress: 1.0,
                            config: Some(config),
                        };
                        act.send(EventType::RegionHistogramData, &data);
                    }
                    Err(ImageError::Stale) => {}
                    Err(e) => {
                        act.send_error(format!("Histogram of region {region_id} failed: {e}"))
                    }
                }
            }));
        }
    }

    /// Channels per batch for multi-channel passes.
    fn batch_channels(&self) -> usize {
        (BATCH_BYTES / (self.source.shape.plane_len() * 4).max(1))
            .clamp(1, self.source.shape.depth.max(1))
    }

    /// The per-cube histogram: a statistics pass over every channel (progress 0 → 0.5), then a counting pass
    /// (0.5 → 1), with progress messages; superseded when the requirement changes.
    fn run_cube_histogram(
        &mut self,
        config: pb::HistogramConfig,
        generation: Generation,
        ctx: &mut Context<Self>,
    ) {
        let workers = self.workers.clone();
        let (depth, stokes) = (self.source.shape.depth, self.plane.stokes);
        let (w, h) = (self.source.shape.width, self.source.shape.height);
        let bins = if config.fixed_num_bins && config.num_bins > 0 {
            config.num_bins as usize
        } else {
            auto_bins(w, h)
        };
        let fixed = config
            .fixed_bounds
            .then(|| config.bounds.map(|b| (b.min, b.max)))
            .flatten();
        let batch = self.batch_channels();
        let session = self.session.clone();
        let file_id = self.file_id;
        let generation_final = generation.clone();
        let passes = self.analysis.passes.clone();
        let message = move |histogram: pb::Histogram, progress: f32| -> Outgoing {
            let data = pb::RegionHistogramData {
                file_id,
                region_id: CUBE_REGION,
                channel: -2,
                stokes: stokes as i32,
                histograms: Some(histogram),
                progress,
                config: Some(config.clone()),
            };
            Outgoing(protocol::encode(EventType::RegionHistogramData, 0, &data))
        };
        let final_message = message.clone();
        let work = async move {
            passes.fetch_add(1, Ordering::Relaxed);
            let mut last = Instant::now();
            let mut stats = BasicStats::default();
            for start in (0..depth).step_by(batch) {
                let channels = start..(start + batch).min(depth);
                let parts = fan_out(&workers, || RegionSpectrum {
                    stokes,
                    channels: channels.clone(),
                    region: None,
                    generation: generation.clone(),
                })
                .await?;
                stats = merge_all(merge_columns(parts, channels.len()));
                if last.elapsed() >= PROGRESS_INTERVAL && channels.end < depth {
                    last = Instant::now();
                    session.do_send(message(
                        pb::Histogram::default(),
                        0.5 * channels.end as f32 / depth as f32,
                    ));
                }
            }
            let Some((min, max)) = fixed.or(stats.range()).filter(|(a, b)| a < b) else {
                return Ok::<_, ImageError>(degenerate_histogram(&stats));
            };
            let mut counts = Histogram::new(min, max, bins);
            for start in (0..depth).step_by(batch) {
                let channels = start..(start + batch).min(depth);
                let parts = fan_out(&workers, || CubeHistogram {
                    stokes,
                    channels: channels.clone(),
                    min,
                    max,
                    bins,
                    generation: generation.clone(),
                })
                .await?;
                counts = parts.iter().fold(counts, |acc, p| acc.merge(p));
                if last.elapsed() >= PROGRESS_INTERVAL && channels.end < depth {
                    last = Instant::now();
                    let progress = 0.5 + 0.5 * channels.end as f32 / depth as f32;
                    session.do_send(message(histogram_message(&counts, &stats), progress));
                }
            }
            Ok(histogram_message(&counts, &stats))
        }
        .into_actor(self)
        .map(move |result, act, _| match result {
            Ok(h)
                if !act
                    .analysis
                    .is_current(CUBE_REGION, Work::Histogram, &generation_final) =>
            {
                drop(h)
            }
            Ok(h) => act.session.do_send(final_message(h, 1.0)),
            Err(ImageError::Stale) => {}
            Err(e) => act.send_error(format!("Cube histogram failed: {e}")),
        });
        ctx.spawn(work);
    }

    /// Spectral profiles of a region (≥ 1) or of the cursor (0), for every requested coordinate and statistic.
    pub(super) fn run_spectral(&mut self, region_id: i32, ctx: &mut Context<Self>) {
        let Some(configs) = self.analysis.spectral.get(&region_id).cloned() else {
            return;
        };
        let generation = self.analysis.bump(region_id, Work::Spectral);
        let (depth, nstokes) = (self.source.shape.depth, self.source.shape.stokes);
        let file_id = self.file_id;
        let session = self.session.clone();
        for config in configs {
            let stokes = stokes_of(&config.coordinate, self.plane.stokes, nstokes);
            if region_id == CURSOR_REGION {
                let Some((x, y)) = self.cursor_pixel() else {
                    continue;
                };
                let source = self.source.clone();
                let state = self.state.clone();
                let gen = generation.clone();
                let pool_gen = generation.clone();
                let work = async move {
                    // A newer cursor position supersedes this read before it starts.
                    on_pool(&state.io_pool, move || {
                        if pool_gen.is_stale() {
                            return Err(ImageError::Stale);
                        }
                        source.read_spectrum(x, y, stokes)
                    })
                    .await
                    .ok_or_else(|| ImageError::Load("I/O pool stopped".into()))?
                };
                ctx.spawn(work.into_actor(self).map(move |result, act, _| {
                    if gen.is_stale() {
                        return;
                    }
                    match result {
                        Ok(values) => {
                            let bytes: Vec<u8> =
                                values.iter().flat_map(|v| v.to_le_bytes()).collect();
                            let profiles = config
                                .stats_types
                                .iter()
                                .map(|t| pb::SpectralProfile {
                                    coordinate: config.coordinate.clone(),
                                    stats_type: *t,
                                    raw_values_fp32: bytes.clone(),
                                    raw_values_fp64: Vec::new(),
                                })
                                .collect();
                            let data = pb::SpectralProfileData {
                                file_id,
                                region_id,
                                stokes: stokes as i32,
                                progress: 1.0,
                                profiles,
                            };
                            act.send(EventType::SpectralProfileData, &data);
                        }
                        Err(ImageError::Stale) => {}
                        Err(e) => act.send_error(format!("Cursor spectral profile failed: {e}")),
                    }
                }));
                continue;
            }
            let Some(region) = self.region(region_id) else {
                continue;
            };
            let workers = self.workers_for_region(region.as_deref());
            let batch = self.batch_channels();
            let beam = self.beam_area_pixels;
            let gen = generation.clone();
            let session = session.clone();
            let passes = self.analysis.passes.clone();
            let message = move |per_channel: &[BasicStats], progress: f32| {
                let profiles = config
                    .stats_types
                    .iter()
                    .map(|t| {
                        let values = (0..depth).map(|c| {
                            per_channel
                                .get(c)
                                .map(|s| stat_value(kind(*t), s, beam))
                                .unwrap_or(f64::NAN)
                        });
                        pb::SpectralProfile {
                            coordinate: config.coordinate.clone(),
                            stats_type: *t,
                            raw_values_fp32: Vec::new(),
                            raw_values_fp64: values.flat_map(|v| v.to_le_bytes()).collect(),
                        }
                    })
                    .collect();
                let data = pb::SpectralProfileData {
                    file_id,
                    region_id,
                    stokes: stokes as i32,
                    progress,
                    profiles,
                };
                Outgoing(protocol::encode(EventType::SpectralProfileData, 0, &data))
            };
            let work = async move {
                passes.fetch_add(1, Ordering::Relaxed);
                let mut per_channel: Vec<BasicStats> = Vec::with_capacity(depth);
                let mut last = Instant::now();
                for start in (0..depth).step_by(batch) {
                    let channels = start..(start + batch).min(depth);
                    let parts = fan_out(&workers, || RegionSpectrum {
                        stokes,
                        channels: channels.clone(),
                        region: region.clone(),
                        generation: gen.clone(),
                    })
                    .await?;
                    per_channel.extend(merge_columns(parts, channels.len()));
                    if last.elapsed() >= PROGRESS_INTERVAL
                        && channels.end < depth
                        && !gen.is_stale()
                    {
                        last = Instant::now();
                        session.do_send(message(&per_channel, channels.end as f32 / depth as f32));
                    }
                }
                if !gen.is_stale() {
                    session.do_send(message(&per_channel, 1.0));
                }
                Ok::<_, ImageError>(())
            };
            ctx.spawn(
                work.into_actor(self)
                    .map(move |result, act, _| match result {
                        Ok(()) | Err(ImageError::Stale) => {}
                        Err(e) => act.send_error(format!(
                            "Spectral profile of region {region_id} failed: {e}"
                        )),
                    }),
            );
        }
    }

    fn run_all(&mut self, region_id: i32, ctx: &mut Context<Self>) {
        self.run_stats(region_id, ctx);
        self.run_histograms(region_id, ctx);
        self.run_spectral(region_id, ctx);
    }
}

impl Handler<SetRegion> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetRegion, ctx: &mut Context<Self>) {
        let version = self.analysis.next_version;
        self.analysis.next_version += 1;
        self.analysis
            .regions
            .insert(msg.region_id, (Arc::new(msg.shape), version));
        self.run_all(msg.region_id, ctx);
    }
}

impl Handler<RemoveRegion> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: RemoveRegion, _: &mut Context<Self>) {
        let id = msg.region_id;
        for work in [Work::Stats, Work::Histogram, Work::Spectral] {
            self.analysis.bump(id, work);
        }
        self.analysis.regions.remove(&id);
        self.analysis.stats.remove(&id);
        self.analysis.histograms.remove(&id);
        self.analysis.spectral.remove(&id);
    }
}

impl Handler<SetStatsRequirements> for FileActor {
    type Result = ();

    fn handle(&mut self, SetStatsRequirements(msg): SetStatsRequirements, ctx: &mut Context<Self>) {
        if msg.stats_configs.is_empty() {
            self.analysis.stats.remove(&msg.region_id);
            self.analysis.bump(msg.region_id, Work::Stats);
            return;
        }
        self.analysis.stats.insert(msg.region_id, msg.stats_configs);
        self.run_stats(msg.region_id, ctx);
    }
}

impl Handler<SetHistogramRequirements> for FileActor {
    type Result = ();

    fn handle(
        &mut self,
        SetHistogramRequirements(msg): SetHistogramRequirements,
        ctx: &mut Context<Self>,
    ) {
        if msg.histograms.is_empty() {
            // Also how the frontend cancels a per-cube histogram.
            self.analysis.histograms.remove(&msg.region_id);
            self.analysis.bump(msg.region_id, Work::Histogram);
            return;
        }
        self.analysis
            .histograms
            .insert(msg.region_id, msg.histograms);
        self.run_histograms(msg.region_id, ctx);
    }
}

impl Handler<SetSpectralRequirements> for FileActor {
    type Result = ();

    fn handle(
        &mut self,
        SetSpectralRequirements(msg): SetSpectralRequirements,
        ctx: &mut Context<Self>,
    ) {
        if msg.spectral_profiles.is_empty() {
            self.analysis.spectral.remove(&msg.region_id);
            self.analysis.bump(msg.region_id, Work::Spectral);
            return;
        }
        self.analysis
            .spectral
            .insert(msg.region_id, msg.spectral_profiles);
        self.run_spectral(msg.region_id, ctx);
    }
}
