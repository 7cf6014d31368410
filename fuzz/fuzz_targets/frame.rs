//! A client frame, as the session reads it: the header and payload decoded into a request, then the
//! request's conversion into the file layer's types (limits first), region geometry and tile ids included.
//! Nothing here may panic, whatever the bytes.

#![no_main]

use cartaflow::analysis::profile::pixel_index;
use cartaflow::config::Limits;
use cartaflow::protocol::{self, Request};
use cartaflow::session::convert;
use cartaflow::session::region_set::{Region, RegionSet, RegionStyle, RegionType};
use cartaflow::tiles::{TileBounds, TileId};
use libfuzzer_sys::fuzz_target;

/// The image size the converted requests are applied to.
const W: usize = 300;
const H: usize = 200;

fuzz_target!(|data: &[u8]| {
    let Ok((_, request)) = protocol::decode(data) else {
        return;
    };
    let limits = Limits::default();
    match request {
        Request::SetStatsRequirements(m) => {
            let _ = convert::stats_configs(&m, &limits);
        }
        Request::SetHistogramRequirements(m) => {
            let _ = convert::histogram_configs(&m, &limits);
        }
        Request::SetSpectralRequirements(m) => {
            let _ = convert::spectral_configs(&m, &limits);
        }
        Request::SetSpatialRequirements(m) => {
            let _ = convert::spatial_configs(&m, &limits);
        }
        Request::SetCursor(m) => {
            if let Some(p) = m.point {
                let _ = (pixel_index(p.x, W), pixel_index(p.y, H));
            }
            if let Some(r) = m.spatial_requirements {
                let _ = convert::spatial_configs(&r, &limits);
            }
        }
        Request::AddRequiredTiles(m) => {
            for id in convert::tile_batch(1, &m).tiles {
                if let Some(tile) = TileId::decode(id) {
                    let _ = TileBounds::of(tile, W, H);
                }
            }
        }
        Request::SetRegion(m) => {
            let Some(info) = m.region_info else { return };
            let mut set = RegionSet::new(limits.regions_per_session, limits.region_control_points);
            if set.check_points(info.control_points.len()).is_err() {
                return;
            }
            let region = Region {
                file_id: m.file_id,
                kind: RegionType(info.region_type),
                points: info
                    .control_points
                    .iter()
                    .map(|p| (f64::from(p.x), f64::from(p.y)))
                    .collect(),
                rotation_deg: f64::from(info.rotation),
                style: RegionStyle::default(),
            };
            if let Ok(Some(shape)) = region.shape() {
                if let Some((_, _, y0, y1)) = shape.bounding_box(W, H) {
                    for y in y0..y1 {
                        let _ = shape.row_spans(y, W);
                    }
                }
            }
            let _ = set.set(m.region_id, region);
        }
        _ => {}
    }
});
