//! `FileActor`: one per open image in a session. Owns the current channel and Stokes, the requirements (domain
//! types), the regions' shapes in this image, the caches (moka) and the generations that steer its work. It
//! asks its [`Chunks`] for partial results by intent, merges them, and reports to its session through the
//! typed [`FileEvent`] recipient it was opened with. It knows neither the WebSocket nor the image's format.
//!
//! One file per intent: `tiles` (raster tile streams), `cursor` (cursor value, spatial profiles), `stats`,
//! `histograms` (colour scale, region and cube histograms), `spectra`, `contours`, `region_profiles`
//! (point and line profiles); `regions` keeps the shapes; `plan` holds the shared histogram plan, merges and channel batches; `open` is the one way an
//! image is opened.

mod animation;
mod channel_map;
mod contours;
mod cursor;
mod events;
mod generations;
mod histograms;
mod open;
mod plan;
mod pv;
mod pv_preview;
mod region_profiles;
mod regions;
mod requirements;
mod spectra;
mod stats;
mod tiles;
mod vectors;

pub use animation::{PrepareFrames, StopPreparing};
pub use channel_map::{ChannelMapReceived, ChannelMapTiles};
pub use events::{
    Area, ContourData, ContourSet, Event, Failure, FileEvent, HistogramData, HistogramResult,
    SpatialProfile, SpatialProfiles, SpectralProfile, SpectralProfiles, SpectralValues,
    StatisticsData, TileData, TileSync, VectorTile,
};
pub use open::{open, open_source, FileContext, OpenedFile};
pub use pv::{GeneratePv, PvImage, PvOutcome, StopPv};
pub use pv_preview::{
    ClosePvPreview, PreviewOutcome, PvPreview, StartPvPreview, StopPvPreview, UpdatePvPreview,
};
pub use requirements::{
    Close, ComputedStokes, ContourSettings, Coordinate, HistogramConfig, LineConfig, LineKind,
    LinePath, ProfileAxis, RemoveRegion, RemoveTiles, SetChannels, SetContours, SetCursor,
    SetHistogramRequirements, SetLine, SetRegion, SetRegionSpatialRequirements,
    SetSpatialRequirements, SetSpectralRequirements, SetStatsRequirements, SetVectors, Smoothing,
    SpatialConfig, SpectralConfig, Start, StatsConfig, StokesChoice, TileBatch, VectorSettings,
};

use std::sync::Arc;

use actix::{Actor, ActorContext, Context, Handler, Recipient};
use tracing::{debug, warn};

use crate::chunk::Chunks;
use crate::image::spectral::{self, IndexSettings, IndexSlot};
use crate::image::{PixelSource, Plane};
use crate::runtime::Runtime;
use generations::{Generations, Work};

/// IDs the ICD gives special meaning as regions.
pub const CURSOR_REGION: i32 = 0;
pub const IMAGE_REGION: i32 = -1;
pub const CUBE_REGION: i32 = -2;

/// A file actor's own settings (from the server's configuration).
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// Bytes of encoded tiles the image may cache.
    pub tile_cache_bytes: u64,
    /// Bytes of statistics and histogram results the image may cache (0: no result caching).
    pub analysis_cache_bytes: u64,
    /// The spectral-order index of cubes that do not store one.
    pub spectral_index: IndexSettings,
}

/// Sends one file's events.
#[derive(Clone)]
struct Emitter {
    file_id: i32,
    events: Recipient<FileEvent>,
}

impl Emitter {
    fn emit(&self, event: Event) {
        self.events.do_send(FileEvent {
            file_id: self.file_id,
            event,
        });
    }
}

/// One open image.
pub struct FileActor {
    file_id: i32,
    source: Arc<dyn PixelSource>,
    chunks: Chunks,
    runtime: Arc<Runtime>,
    events: Recipient<FileEvent>,
    plane: Plane,
    generations: Generations,
    /// The restoring beams (one, or one per channel and Stokes): flux density = sum / beam area.
    beams: Vec<crate::image::Beam>,
    colour: histograms::ColourScale,
    tiles: tiles::TileState,
    cursor: cursor::CursorState,
    analysis: regions::Analysis,
    channel_map: channel_map::ChannelMapState,
    contours: contours::ContourState,
    vectors: vectors::VectorState,
    /// The line region a PV image is being made of.
    pv_region: Option<i32>,
    pv_previews: pv_preview::PvPreviews,
    region_profiles: region_profiles::RegionProfiles,
    /// This image's spectral-order index, being built or ready (held so it lives while the image is open).
    _index: Option<Arc<IndexSlot>>,
    /// The id of the request being handled (0 outside a handler): failures found while answering it carry it.
    answering: u32,
    span: tracing::Span,
}

impl FileActor {
    fn new(file_id: i32, source: Arc<dyn PixelSource>, context: FileContext) -> FileActor {
        let FileContext {
            runtime,
            settings,
            events,
            span,
        } = context;
        let chunks = Chunks::start(source.clone(), &runtime);
        let index = spectral::ensure(source.clone(), &settings.spectral_index);
        FileActor {
            _index: index,
            file_id,
            beams: source.beams(),
            chunks,
            source,
            runtime,
            events,
            plane: Plane::FIRST,
            generations: Generations::default(),
            colour: histograms::ColourScale::default(),
            tiles: tiles::TileState::new(settings.tile_cache_bytes),
            cursor: cursor::CursorState::default(),
            analysis: regions::Analysis::new(settings.analysis_cache_bytes),
            channel_map: channel_map::ChannelMapState::default(),
            contours: contours::ContourState::default(),
            vectors: vectors::VectorState::default(),
            pv_region: None,
            pv_previews: pv_preview::PvPreviews::default(),
            region_profiles: region_profiles::RegionProfiles::default(),
            answering: 0,
            span,
        }
    }

    fn emit(&self, event: Event) {
        self.emitter().emit(event);
    }

    /// A sender of this file's events for work running off the actor (progress of long passes).
    fn emitter(&self) -> Emitter {
        Emitter {
            file_id: self.file_id,
            events: self.events.clone(),
        }
    }

    /// Reports a failure of the request being answered.
    fn fail(&self, area: Area, message: String) {
        self.fail_for(self.answering, area, message)
    }

    /// Reports a failure of request `request_id` (0: work the file started itself).
    fn fail_for(&self, request_id: u32, area: Area, message: String) {
        warn!(parent: &self.span, file_id = self.file_id, "{message}");
        self.emit(Event::Failed(Failure {
            request_id,
            area,
            message,
        }));
    }

    /// Switches plane (validated), then sends its colour-scale histogram; the tiles follow it.
    fn set_plane(&mut self, plane: Plane, ctx: &mut Context<Self>) -> bool {
        let shape = self.source.shape();
        if !shape.contains(plane) {
            let text = match plane.computed() {
                Some(c) if plane.channel < shape.depth => format!(
                    "{} cannot be shown: the image lacks the Stokes parameters it is computed from",
                    c.name()
                ),
                _ => format!(
                    "Channel {} / Stokes {} is out of range: the image has {} channels and {} Stokes",
                    plane.channel, plane.stokes, shape.depth, shape.stokes
                ),
            };
            self.fail(Area::Channels, text);
            return false;
        }
        if plane != self.plane || !self.colour.sent {
            let stokes_changed = plane.stokes != self.plane.stokes;
            self.plane = plane;
            self.generations
                .bump(&self.chunks, IMAGE_REGION, Work::Plane);
            self.colour.sent = false;
            // Queued tiles of the old plane are stale.
            self.tiles.waiting.clear();
            self.send_colour_scale(ctx);
            self.send_contours(false, ctx);
            self.send_vectors(ctx);
            self.refresh_cursor(ctx);
            self.refresh_region_profiles(ctx);
            self.refresh_analysis(stokes_changed, ctx);
        }
        true
    }

    /// The beam area in pixels of a plane's beam, for Jy/beam images (flux density = sum / area).
    fn beam_area(&self, plane: Plane) -> Option<f64> {
        let beam = crate::image::beams::beam_for(&self.beams, plane.channel, plane.stokes)?;
        crate::image::beams::area_pixels(self.source.header(), beam)
    }

    /// The Stokes index a coordinate selects (13 … 17 for a computed parameter), or why it cannot be served.
    fn stokes_index(&self, choice: StokesChoice, coordinate: &str) -> Result<usize, String> {
        let shape = self.source.shape();
        match choice {
            StokesChoice::Current => Ok(self.plane.stokes),
            StokesChoice::Stored(code) => shape
                .stokes_index(code)
                .ok_or_else(|| format!("'{coordinate}': the image has no such Stokes parameter")),
            StokesChoice::Computed(c) => match shape.components(c) {
                Some(_) => Ok(c.index()),
                None => Err(format!(
                    "'{coordinate}': {} needs Stokes {} and the image does not have them all",
                    c.name(),
                    c.needs()
                        .iter()
                        .map(|code| ["I", "Q", "U", "V"][(*code - 1) as usize])
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        }
    }
}

impl Actor for FileActor {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        debug!(parent: &self.span, file_id = self.file_id, "file closed");
    }
}

impl Handler<Start> for FileActor {
    type Result = ();

    fn handle(&mut self, _: Start, ctx: &mut Context<Self>) {
        self.set_plane(Plane::FIRST, ctx);
    }
}

impl Handler<Close> for FileActor {
    type Result = ();

    fn handle(&mut self, _: Close, ctx: &mut Context<Self>) {
        self.tiles.waiting.clear();
        ctx.stop();
    }
}

impl Handler<SetChannels> for FileActor {
    type Result = ();

    fn handle(&mut self, msg: SetChannels, ctx: &mut Context<Self>) {
        self.answering = msg.request_id;
        let unchanged = msg.plane == self.plane && self.colour.sent;
        if self.set_plane(msg.plane, ctx) {
            if let Some(batch) = msg.tiles {
                // Every animation frame follows its channel's histogram, even when the channel did not change.
                if unchanged && batch.animation_id != 0 {
                    self.send_colour_scale(ctx);
                }
                self.queue_batch(batch, ctx);
            }
        } else if let Some(batch) = msg.tiles.filter(|b| b.animation_id != 0) {
            // An animation frame that cannot be shown still ends, so the animator goes on.
            for end in [false, true] {
                self.emit(Event::TileSync(TileSync {
                    sync_id: batch.sync_id,
                    animation_id: batch.animation_id,
                    channel: msg.plane.channel as i32,
                    stokes: msg.plane.stokes as i32,
                    tile_count: 0,
                    end,
                }));
            }
        }
        self.answering = 0;
    }
}
