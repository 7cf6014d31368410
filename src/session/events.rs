//! The one place file events become ICD messages: histograms, statistics, tile streams, spatial and spectral
//! profiles, and failures (as ERROR_DATA tagged with their area). Events of a file closed since are dropped.

use actix::Handler;

use super::reply::error_data;
use super::{SessionActor, Tag};
use crate::file::{
    ContourData, Event, FileEvent, HistogramConfig, HistogramData, HistogramResult, PvPreview,
    SpatialProfiles, SpectralProfiles, SpectralValues, StatisticsData, TileData, TileSync,
    VectorTile,
};
use crate::protocol::{self, pb, EventType};
use crate::tiles::encode::{Compression, EncodedTile};

fn histogram(h: HistogramResult) -> pb::Histogram {
    pb::Histogram {
        num_bins: i32::try_from(h.bins.len()).unwrap_or(i32::MAX),
        bin_width: h.bin_width,
        first_bin_center: h.first_bin_center,
        bins: h
            .bins
            .iter()
            .map(|c| i32::try_from(*c).unwrap_or(i32::MAX))
            .collect(),
        mean: h.mean,
        std_dev: h.std_dev,
    }
}

fn histogram_config(config: Option<HistogramConfig>) -> pb::HistogramConfig {
    match config {
        Some(c) => pb::HistogramConfig {
            coordinate: c.coordinate.text,
            channel: c.channel,
            fixed_num_bins: c.fixed_num_bins,
            num_bins: c.num_bins,
            fixed_bounds: c.fixed_bounds,
            bounds: c.bounds.map(|(min, max)| pb::DoubleBounds { min, max }),
        },
        // The colour-scale histogram: the frontend recognises it by unfixed bins and bounds.
        None => pb::HistogramConfig {
            coordinate: "z".into(),
            channel: -1,
            fixed_num_bins: false,
            num_bins: -1,
            fixed_bounds: false,
            bounds: None,
        },
    }
}

fn histogram_data(file_id: i32, h: HistogramData) -> pb::RegionHistogramData {
    pb::RegionHistogramData {
        file_id,
        region_id: h.region_id,
        channel: h.channel,
        stokes: h.stokes,
        histograms: Some(histogram(h.histogram)),
        progress: h.progress,
        config: Some(histogram_config(h.config)),
    }
}

fn stats_data(file_id: i32, s: StatisticsData) -> pb::RegionStatsData {
    pb::RegionStatsData {
        file_id,
        region_id: s.region_id,
        channel: s.channel,
        stokes: s.stokes,
        statistics: s
            .values
            .into_iter()
            .map(|(kind, value)| pb::StatisticsValue {
                stats_type: kind.code(),
                value,
            })
            .collect(),
    }
}

fn tile_sync(file_id: i32, s: TileSync) -> pb::RasterTileSync {
    pb::RasterTileSync {
        file_id,
        channel: s.channel,
        stokes: s.stokes,
        sync_id: s.sync_id,
        animation_id: s.animation_id,
        tile_count: s.tile_count,
        end_sync: s.end,
    }
}

fn tile_data(file_id: i32, t: TileData) -> pb::RasterTileData {
    let tile = &t.tile;
    let mut data = pb::RasterTileData {
        file_id,
        channel: t.channel,
        stokes: t.stokes,
        compression_quality: t.quality,
        sync_id: t.sync_id,
        animation_id: t.animation_id,
        tiles: vec![pb_tile(tile)],
        ..Default::default()
    };
    data.set_compression_type(match t.compression {
        Compression::Zfp => pb::CompressionType::Zfp,
        Compression::None => pb::CompressionType::None,
    });
    data
}

fn spatial_data(file_id: i32, s: SpatialProfiles) -> pb::SpatialProfileData {
    pb::SpatialProfileData {
        file_id,
        region_id: s.region_id,
        x: s.x,
        y: s.y,
        channel: s.channel,
        stokes: s.stokes,
        value: s.value,
        profiles: s
            .profiles
            .into_iter()
            .map(|p| pb::SpatialProfile {
                start: p.start,
                end: p.end,
                raw_values_fp32: p.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                coordinate: p.coordinate,
                mip: p.mip,
                line_axis: p.line_axis.map(|a| pb::LineProfileAxis {
                    axis_type: if a.offset {
                        pb::ProfileAxisType::Offset
                    } else {
                        pb::ProfileAxisType::Distance
                    } as i32,
                    crpix: a.crpix,
                    crval: a.crval,
                    cdelt: a.cdelt,
                    unit: a.unit.to_string(),
                }),
            })
            .collect(),
    }
}

fn spectral_data(file_id: i32, s: SpectralProfiles) -> pb::SpectralProfileData {
    pb::SpectralProfileData {
        file_id,
        region_id: s.region_id,
        stokes: s.stokes,
        progress: s.progress,
        profiles: s
            .profiles
            .into_iter()
            .map(|p| {
                let (fp32, fp64) = match p.values {
                    SpectralValues::F32(v) => {
                        (v.iter().flat_map(|x| x.to_le_bytes()).collect(), Vec::new())
                    }
                    SpectralValues::F64(v) => {
                        (Vec::new(), v.iter().flat_map(|x| x.to_le_bytes()).collect())
                    }
                };
                pb::SpectralProfile {
                    coordinate: p.coordinate,
                    stats_type: p.stat.code(),
                    raw_values_fp32: fp32,
                    raw_values_fp64: fp64,
                }
            })
            .collect(),
    }
}

/// An encoded tile as the ICD's TileData.
fn pb_tile(t: &EncodedTile) -> pb::TileData {
    pb::TileData {
        layer: t.tile.layer as i32,
        x: t.tile.x as i32,
        y: t.tile.y as i32,
        width: t.bounds.width as i32,
        height: t.bounds.height as i32,
        image_data: t.image_data.clone(),
        nan_encodings: t.nan_encodings.clone(),
        mip: t.bounds.mip as i32,
    }
}

fn vector_data(file_id: i32, v: VectorTile) -> pb::VectorOverlayTileData {
    let mut data = pb::VectorOverlayTileData {
        file_id,
        channel: v.channel,
        stokes_intensity: v.stokes_intensity,
        stokes_angle: v.stokes_angle,
        compression_quality: v.quality,
        // An output not drawn is the empty TileData carta_backend sends.
        intensity_tiles: vec![v.intensity.as_ref().map(pb_tile).unwrap_or_default()],
        angle_tiles: vec![v.angle.as_ref().map(pb_tile).unwrap_or_default()],
        progress: v.progress,
        ..Default::default()
    };
    data.set_compression_type(match v.compression {
        Compression::Zfp => pb::CompressionType::Zfp,
        Compression::None => pb::CompressionType::None,
    });
    data
}

/// A PV preview sample as PV_PREVIEW_DATA (also the `preview_data` of the first PV_RESPONSE).
pub(super) fn pv_preview_data(p: PvPreview) -> pb::PvPreviewData {
    let mut data = pb::PvPreviewData {
        preview_id: p.preview_id,
        image_info: p.description.map(|d| d.extended),
        image_data: p.image_data,
        nan_encodings: p.nan_encodings,
        width: i32::try_from(p.width).unwrap_or(0),
        height: i32::try_from(p.height).unwrap_or(0),
        compression_quality: p.quality,
        histogram_bounds: Some(pb::FloatBounds {
            min: p.bounds.0,
            max: p.bounds.1,
        }),
        histogram: p.histogram.map(histogram),
        ..Default::default()
    };
    data.set_compression_type(match p.compression {
        Compression::Zfp => pb::CompressionType::Zfp,
        Compression::None => pb::CompressionType::None,
    });
    data
}

fn contour_data(file_id: i32, c: ContourData) -> pb::ContourImageData {
    pb::ContourImageData {
        file_id,
        reference_file_id: c.reference_file_id,
        image_bounds: c
            .bounds
            .map(|[x_min, x_max, y_min, y_max]| pb::ImageBounds {
                x_min,
                x_max,
                y_min,
                y_max,
            }),
        channel: c.channel,
        stokes: c.stokes,
        progress: c.progress,
        contour_sets: c
            .sets
            .into_iter()
            .map(|set| pb::ContourSet {
                level: set.level,
                decimation_factor: set.vertices.decimation,
                uncompressed_coordinates_size: i32::try_from(set.vertices.uncompressed_size)
                    .unwrap_or(i32::MAX),
                raw_coordinates: set.vertices.bytes,
                raw_start_indices: set.starts.iter().flat_map(|v| v.to_le_bytes()).collect(),
            })
            .collect(),
    }
}

impl Handler<FileEvent> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: FileEvent, ctx: &mut Self::Context) {
        let FileEvent { file_id, event } = msg;
        if !self.files.contains_key(&file_id) {
            return;
        }
        let frame = match event {
            Event::Histogram(h) => protocol::encode(
                EventType::RegionHistogramData,
                0,
                &histogram_data(file_id, h),
            ),
            Event::Statistics(s) => {
                protocol::encode(EventType::RegionStatsData, 0, &stats_data(file_id, s))
            }
            Event::TileSync(s) => {
                let frame_end = (s.end && s.animation_id != 0).then_some(s.animation_id);
                ctx.binary(protocol::encode(
                    EventType::RasterTileSync,
                    0,
                    &tile_sync(file_id, s),
                ));
                if let Some(animation_id) = frame_end {
                    self.frame_stream_ended(file_id, animation_id, ctx);
                }
                return;
            }
            Event::Tile(t) => {
                protocol::encode(EventType::RasterTileData, 0, &tile_data(file_id, t))
            }
            Event::SpatialProfiles(s) => {
                protocol::encode(EventType::SpatialProfileData, 0, &spatial_data(file_id, s))
            }
            Event::SpectralProfiles(s) => protocol::encode(
                EventType::SpectralProfileData,
                0,
                &spectral_data(file_id, s),
            ),
            Event::Contours(c) => {
                protocol::encode(EventType::ContourImageData, 0, &contour_data(file_id, c))
            }
            Event::PvProgress {
                request_id,
                preview_id,
                progress,
            } => protocol::encode(
                EventType::PvProgress,
                request_id,
                &pb::PvProgress {
                    file_id,
                    preview_id,
                    progress: progress as f32,
                },
            ),
            Event::PvPreview(p) => {
                protocol::encode(EventType::PvPreviewData, 0, &pv_preview_data(*p))
            }
            Event::Vectors(v) => protocol::encode(
                EventType::VectorOverlayTileData,
                0,
                &vector_data(file_id, v),
            ),
            Event::Failed(f) => {
                tracing::warn!(parent: &self.span, file_id, "{}", f.message);
                let err = error_data(
                    Tag::Area(f.area),
                    pb::ErrorSeverity::Error,
                    f.message,
                    file_id.to_string(),
                );
                protocol::encode(EventType::ErrorData, f.request_id, &err)
            }
        };
        ctx.binary(frame);
    }
}
