//! What the file's analysis works on: the regions' shapes in this image's pixels (each edit a new version that
//! result caches key on), the statistics, histogram and spectral requirements per region, and the result
//! caches. Region ids follow the ICD: -1 the whole image, -2 the per-cube histogram, 0 the cursor, ≥ 1 regions.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use actix::{Context, Handler};

use super::generations::Work;
use super::requirements::{HistogramConfig, RemoveRegion, SetRegion, SpectralConfig, StatsConfig};
use super::{FileActor, CUBE_REGION, IMAGE_REGION};
use crate::analysis::histogram::Histogram;
use crate::analysis::region::Shape;
use crate::analysis::stats::BasicStats;
use crate::image::Plane;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatsKey {
    pub region: i32,
    pub version: u64,
    pub plane: Plane,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HistogramKey {
    pub stats: StatsKey,
    pub bins: usize,
    pub min: u64,
    pub max: u64,
}

pub type StatsCache = moka::sync::Cache<StatsKey, BasicStats>;
pub type HistogramCache = moka::sync::Cache<HistogramKey, Arc<Histogram>>;

/// Regions, requirements and result caches of one file.
pub struct Analysis {
    shapes: HashMap<i32, (Arc<Shape>, u64)>,
    next_version: u64,
    pub stats: HashMap<i32, Vec<StatsConfig>>,
    pub histograms: HashMap<i32, Vec<HistogramConfig>>,
    pub spectral: HashMap<i32, Vec<SpectralConfig>>,
    /// Result caches; None when result caching is configured off (`analysis_cache_mb = 0`).
    pub stats_cache: Option<StatsCache>,
    pub histogram_cache: Option<HistogramCache>,
    /// Statistics of whole planes already known from their colour-scale histograms: the range an image
    /// histogram needs, so it costs one counting pass even when result caching is off.
    pub known_plane_stats: HashMap<Plane, BasicStats>,
    /// Image histograms asked for (by this request id) while the plane's colour-scale pass was running; run
    /// when it ends.
    pub deferred_image_histograms: Option<u32>,
    /// Passes over pixels started (tests and logs: steering keeps this bounded).
    pub passes: Arc<AtomicU64>,
}

impl Analysis {
    /// State with result caches bounded to `cache_bytes` in all (0: no result caching).
    pub fn new(cache_bytes: u64) -> Analysis {
        let enabled = cache_bytes > 0;
        Analysis {
            shapes: HashMap::new(),
            next_version: 1,
            stats: HashMap::new(),
            histograms: HashMap::new(),
            spectral: HashMap::new(),
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
            deferred_image_histograms: None,
            passes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The shape of a region id (None for the whole image); `None` when the region does not exist here.
    pub fn region(&self, region_id: i32) -> Option<Option<Arc<Shape>>> {
        match region_id {
            IMAGE_REGION | CUBE_REGION => Some(None),
            id => self.shapes.get(&id).map(|(s, _)| Some(s.clone())),
        }
    }

    /// Forgets a region's shape (it became a line, which has no area).
    pub fn remove_shape(&mut self, region_id: i32) {
        self.shapes.remove(&region_id);
    }

    /// The version of a region's shape (0 for the whole image).
    pub fn version(&self, region: i32) -> u64 {
        self.shapes.get(&region).map(|(_, v)| *v).unwrap_or(0)
    }

    /// The cache key of a region's statistics in a plane.
    pub fn stats_key(&self, region: i32, plane: Plane) -> StatsKey {
        StatsKey {
            region,
            version: self.version(region),
            plane,
        }
    }

    /// Records a plane's colour-scale pass: its statistics, and its counts as the whole-image histogram of
    /// those bins over that range (a result like any other, so only when result caching is on).
    pub fn record_plane(&mut self, plane: Plane, stats: BasicStats, counts: Option<Histogram>) {
        self.known_plane_stats.insert(plane, stats);
        if let (Some(cache), Some(h)) = (&self.histogram_cache, counts) {
            let key = HistogramKey {
                stats: self.stats_key(IMAGE_REGION, plane),
                bins: h.bins.len(),
                min: h.min.to_bits(),
                max: h.max.to_bits(),
            };
            cache.insert(key, Arc::new(h));
        }
    }
}

impl FileActor {
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
            .shapes
            .insert(msg.region_id, (msg.shape, version));
        // A region that became an area is no longer a line.
        self.region_profiles.forget_line(msg.region_id);
        self.run_all(msg.region_id, ctx);
        self.run_region_profiles(msg.region_id, ctx);
    }
}

impl Handler<RemoveRegion> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: RemoveRegion, _: &mut Context<Self>) {
        let id = msg.region_id;
        for work in [Work::Stats, Work::Histogram, Work::Spectral, Work::Line] {
            self.generations.bump(&self.chunks, id, work);
        }
        self.region_profiles.remove(id);
        self.region_changed_for_pv(id);
        self.analysis.shapes.remove(&id);
        self.analysis.stats.remove(&id);
        self.analysis.histograms.remove(&id);
        self.analysis.spectral.remove(&id);
    }
}
