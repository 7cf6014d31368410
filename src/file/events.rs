//! What a file actor tells its session: typed [`FileEvent`]s through the `Recipient` it was given when it
//! opened. They are domain values, not ICD messages; the session turns them into ICD messages in one place.

use std::sync::Arc;

use actix::Message;

use crate::analysis::stats::StatKind;
use crate::tiles::encode::{Compression, EncodedTile};

use super::requirements::HistogramConfig;

/// One event of one open image.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct FileEvent {
    pub file_id: i32,
    pub event: Event,
}

/// What happened.
#[derive(Debug)]
pub enum Event {
    Histogram(HistogramData),
    Statistics(StatisticsData),
    TileSync(TileSync),
    Tile(TileData),
    SpatialProfiles(SpatialProfiles),
    SpectralProfiles(SpectralProfiles),
    Contours(ContourData),
    Vectors(VectorTile),
    /// Progress of the PV image (or the preview cube, `preview_id` > 0) asked for by `request_id`.
    PvProgress {
        request_id: u32,
        preview_id: i32,
        progress: f64,
    },
    /// A new sample of a PV preview.
    PvPreview(Box<super::pv_preview::PvPreview>),
    Failed(Failure),
}

/// The ICD area a request or failure belongs to (ERROR_DATA's tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Channels,
    Tiles,
    Cursor,
    Spatial,
    Histogram,
    Stats,
    Spectral,
    Region,
    File,
    Contours,
    Vectors,
}

/// A request of this file that could not be answered, and why.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The request that failed (0 for work the file started itself).
    pub request_id: u32,
    pub area: Area,
    pub message: String,
}

/// A histogram ready to send: bins over [first_bin_center − width/2, …], with the selection's mean and σ.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramResult {
    pub bin_width: f64,
    pub first_bin_center: f64,
    pub bins: Vec<i64>,
    pub mean: f64,
    pub std_dev: f64,
}

#[derive(Debug, Clone)]
pub struct HistogramData {
    pub region_id: i32,
    pub channel: i32,
    pub stokes: i32,
    pub progress: f32,
    pub histogram: HistogramResult,
    /// The requirement it answers (echoed so the frontend can match it); None for the colour-scale histogram.
    pub config: Option<HistogramConfig>,
}

#[derive(Debug, Clone)]
pub struct StatisticsData {
    pub region_id: i32,
    pub channel: i32,
    pub stokes: i32,
    pub values: Vec<(StatKind, f64)>,
}

/// The start (`end` false) or end of a synchronised tile stream.
#[derive(Debug, Clone)]
pub struct TileSync {
    pub sync_id: i32,
    pub animation_id: i32,
    pub channel: i32,
    pub stokes: i32,
    pub tile_count: i32,
    pub end: bool,
}

#[derive(Debug, Clone)]
pub struct TileData {
    pub sync_id: i32,
    pub animation_id: i32,
    pub channel: i32,
    pub stokes: i32,
    pub compression: Compression,
    /// The ZFP precision used (or the quality asked for, uncompressed).
    pub quality: f32,
    pub tile: Arc<EncodedTile>,
}

#[derive(Debug, Clone)]
pub struct SpatialProfile {
    pub coordinate: String,
    pub start: i32,
    pub end: i32,
    pub mip: i32,
    pub values: Vec<f32>,
    /// The position axis of a line or polyline region's profile.
    pub line_axis: Option<LineAxis>,
}

/// The position axis of a profile along a line: value of sample i is `(i − crpix) · cdelt + crval`.
#[derive(Debug, Clone, PartialEq)]
pub struct LineAxis {
    /// Offset from the centre (a line) or distance from the first vertex (a polyline).
    pub offset: bool,
    pub crpix: f32,
    pub crval: f32,
    pub cdelt: f32,
    pub unit: &'static str,
}

#[derive(Debug, Clone)]
pub struct SpatialProfiles {
    pub region_id: i32,
    pub x: i32,
    pub y: i32,
    pub channel: i32,
    pub stokes: i32,
    /// The pixel value under the cursor.
    pub value: f32,
    pub profiles: Vec<SpatialProfile>,
}

#[derive(Debug, Clone)]
pub enum SpectralValues {
    /// Cursor profiles: the pixel's values.
    F32(Vec<f32>),
    /// Region profiles: a statistic per channel.
    F64(Vec<f64>),
}

#[derive(Debug, Clone)]
pub struct SpectralProfile {
    pub coordinate: String,
    pub stat: StatKind,
    pub values: SpectralValues,
}

#[derive(Debug, Clone)]
pub struct SpectralProfiles {
    pub region_id: i32,
    pub stokes: i32,
    pub progress: f32,
    pub profiles: Vec<SpectralProfile>,
}

/// One contour set of one level: its lines' vertices (encoded as the frontend decodes them) and where each
/// line starts (an index into the decoded floats).
#[derive(Debug, Clone)]
pub struct ContourSet {
    pub level: f64,
    pub vertices: crate::tiles::vertices::EncodedVertices,
    pub starts: Vec<i32>,
}

/// One tile of the vector overlay of the current plane, with the batch's progress after it.
#[derive(Debug, Clone)]
pub struct VectorTile {
    pub channel: i32,
    pub stokes_intensity: i32,
    pub stokes_angle: i32,
    pub compression: crate::tiles::encode::Compression,
    pub quality: f32,
    /// `None` for an output not drawn (sent as an empty tile, as carta_backend does).
    pub intensity: Option<crate::tiles::encode::EncodedTile>,
    pub angle: Option<crate::tiles::encode::EncodedTile>,
    pub progress: f64,
}

/// Part of the contours of the current plane: `progress` of its level (1 when the level is complete).
#[derive(Debug, Clone)]
pub struct ContourData {
    pub reference_file_id: u32,
    pub bounds: Option<[i32; 4]>,
    pub channel: i32,
    pub stokes: i32,
    pub progress: f64,
    pub sets: Vec<ContourSet>,
}
