//! What the session may ask a file actor for, as domain types (the session converts from the ICD): which Stokes
//! a coordinate names, the statistics, histogram, spectral and spatial requirements, tile batches, and the
//! messages that carry them.

use std::sync::Arc;

use actix::Message;

use crate::image::wcs::Wcs;

pub use crate::analysis::line_boxes::{LineKind, LinePath};
pub use crate::analysis::polarization::ComputedStokes;
use crate::analysis::region::Shape;
use crate::analysis::stats::StatKind;
pub use crate::chunk::overlay::Smoothing;
use crate::image::Plane;
use crate::tiles::encode::Compression;

/// Which Stokes a coordinate ("z", "Qz", "Ptotalz", "x", "Iy", …) refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StokesChoice {
    /// The image's current Stokes (no prefix).
    Current,
    /// A stored Stokes parameter by its FITS code: I = 1, Q = 2, U = 3, V = 4.
    Stored(i32),
    Computed(ComputedStokes),
}

/// A requirement's coordinate: the text as sent (echoed in replies) and what it selects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Coordinate {
    pub text: String,
    pub stokes: StokesChoice,
}

/// SET_STATS_REQUIREMENTS: statistics of one Stokes.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsConfig {
    pub coordinate: Coordinate,
    pub kinds: Vec<StatKind>,
}

/// SET_HISTOGRAM_REQUIREMENTS: one histogram (channel -1 = current, -2 = the whole cube).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramConfig {
    pub coordinate: Coordinate,
    pub channel: i32,
    pub fixed_num_bins: bool,
    pub num_bins: i32,
    pub fixed_bounds: bool,
    pub bounds: Option<(f64, f64)>,
}

/// SET_SPECTRAL_REQUIREMENTS: a spectral profile of one Stokes with its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralConfig {
    pub coordinate: Coordinate,
    pub kinds: Vec<StatKind>,
}

/// Which way a spatial profile runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileAxis {
    X,
    Y,
}

/// SET_SPATIAL_REQUIREMENTS: a profile through the cursor, `[start, end)` (end 0 = whole), at `mip`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpatialConfig {
    pub coordinate: Coordinate,
    pub axis: ProfileAxis,
    pub start: usize,
    pub end: usize,
    /// As requested (0 and 1 both mean full resolution; the reply echoes it).
    pub mip: usize,
}

/// ADD_REQUIRED_TILES for one file, with the session-wide sync id it streams under.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct TileBatch {
    pub sync_id: i32,
    /// The animation the batch is a frame of (0: none).
    pub animation_id: i32,
    pub tiles: Vec<i32>,
    pub compression: Compression,
    pub quality: f32,
}

/// Starts streaming: the first plane's histogram.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Start;

/// Closes the file: stops the actor; its chunks stop with it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Close;

/// Changes channel/Stokes, optionally with the new plane's tiles.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetChannels {
    /// The SET_IMAGE_CHANNELS being answered (failures carry it).
    pub request_id: u32,
    pub plane: Plane,
    pub tiles: Option<TileBatch>,
}

/// REMOVE_REQUIRED_TILES: tiles no longer wanted (only batches not started yet can still drop them).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveTiles {
    pub tiles: Vec<i32>,
}

/// The cursor moved (image pixel coordinates).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetCursor {
    pub x: f32,
    pub y: f32,
}

/// The profiles wanted at the cursor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetSpatialRequirements {
    pub configs: Vec<SpatialConfig>,
}

/// A line's profile: the mean of each box along it, `width` pixels across, of one Stokes.
#[derive(Debug, Clone, PartialEq)]
pub struct LineConfig {
    pub coordinate: Coordinate,
    pub width: usize,
}

/// The profiles wanted of a region: x/y cuts through a point region, or profiles along a line or polyline.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetRegionSpatialRequirements {
    pub region_id: i32,
    pub points: Vec<SpatialConfig>,
    pub lines: Vec<LineConfig>,
}

/// A line or polyline region was created or edited (it has no area, so it is not a [`SetRegion`] shape).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetLine {
    pub region_id: i32,
    pub path: LinePath,
}

/// A region was created or edited: its shape in this image's pixels.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetRegion {
    pub region_id: i32,
    pub shape: Arc<Shape>,
}

/// A region was removed (or can no longer be analysed here).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveRegion {
    pub region_id: i32,
}

/// SET_STATS_REQUIREMENTS for one region of this file (empty: none any more).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatsRequirements {
    /// The request being answered (failures carry it).
    pub request_id: u32,
    pub region_id: i32,
    pub configs: Vec<StatsConfig>,
}

/// SET_HISTOGRAM_REQUIREMENTS for one region of this file (empty: none, and a cube histogram stops).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetHistogramRequirements {
    /// The request being answered (failures carry it).
    pub request_id: u32,
    pub region_id: i32,
    pub configs: Vec<HistogramConfig>,
}

/// SET_SPECTRAL_REQUIREMENTS for one region of this file (empty: none).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetSpectralRequirements {
    /// The request being answered (failures carry it).
    pub request_id: u32,
    pub region_id: i32,
    pub configs: Vec<SpectralConfig>,
}

/// SET_CONTOUR_PARAMETERS, validated: what to trace and how to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContourSettings {
    /// Levels in the order asked (each answered in its own contour sets).
    pub levels: Vec<f64>,
    pub smoothing: Smoothing,
    /// Vertices are rounded to 1/decimation pixel (when compressed).
    pub decimation: i32,
    /// zstd level; 0 sends raw floats.
    pub compression_level: i32,
    /// Vertices per message a level's lines are cut into (0: one message per level).
    pub chunk_size: usize,
    /// Echoed: the image the frontend draws the contours over.
    pub reference_file_id: u32,
    /// When that is another image: this image's WCS and the reference's, through which the vertices are
    /// moved into the reference's pixels.
    pub reproject: Option<Arc<(Wcs, Wcs)>>,
    /// Echoed: the bounds asked for (x_min, x_max, y_min, y_max).
    pub bounds: Option<[i32; 4]>,
}

/// New contour parameters (no levels: clear the contours).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetContours {
    pub request_id: u32,
    pub settings: ContourSettings,
}

/// SET_VECTOR_OVERLAY_PARAMETERS, validated. Sources are the ICD's codes, echoed in every tile message:
/// −1 not drawn, 0 the current plane, 1 computed from Q and U.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSettings {
    pub stokes_intensity: i32,
    pub stokes_angle: i32,
    /// Block size in pixels (the tiles' mip).
    pub mip: usize,
    pub fractional: bool,
    pub threshold: Option<f32>,
    /// PolarizationType code of what the threshold applies to (1 = I, 14 = Plinear; 0 = unset).
    pub threshold_option: i32,
    /// Debiasing errors (0 without debiasing).
    pub q_error: f32,
    pub u_error: f32,
    pub compression: crate::tiles::encode::Compression,
    pub quality: f32,
}

impl VectorSettings {
    /// Both sources off: the overlay is cleared.
    pub fn is_clear(&self) -> bool {
        self.stokes_intensity < 0 && self.stokes_angle < 0
    }
}

/// New vector overlay parameters.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetVectors {
    pub request_id: u32,
    pub settings: VectorSettings,
}
