//! Region handlers: SET_REGION (new ids from 1, validated geometry, ack), REMOVE_REGION, and the statistics,
//! histogram and spectral requirements, routed to the file actor that owns the pixels.

use actix_web_actors::ws;
use tracing::debug;

use super::SessionActor;
use crate::analysis::region::Shape;
use crate::file;
use crate::protocol::{pb, EventType};

impl SessionActor {
    pub(super) fn on_set_region(
        &mut self,
        request_id: u32,
        msg: pb::SetRegion,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if msg.preview_region {
            // PV previews are not supported; the reference sends no ack for them either.
            debug!(parent: &self.span, "ignoring preview region");
            return;
        }
        let fail = |message: String| pb::SetRegionAck {
            success: false,
            message,
            region_id: msg.region_id,
        };
        let Some(actor) = self.files.get(&msg.file_id).cloned() else {
            let ack = fail(format!("File id {} is not open", msg.file_id));
            return self.send(ctx, EventType::SetRegionAck, request_id, &ack);
        };
        let Some(info) = msg.region_info.as_ref() else {
            return self.send(
                ctx,
                EventType::SetRegionAck,
                request_id,
                &fail("The region has no region_info".into()),
            );
        };
        let points: Vec<(f64, f64)> = info
            .control_points
            .iter()
            .map(|p| (f64::from(p.x), f64::from(p.y)))
            .collect();
        // Lines, polylines and annotations are kept (the frontend draws them) but have no area to analyse.
        let without_area = matches!(
            pb::RegionType::try_from(info.region_type),
            Ok(pb::RegionType::Line | pb::RegionType::Polyline)
        ) || (7..=16).contains(&info.region_type);
        let shape = if without_area {
            if points.is_empty() || points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
                let ack = fail("Invalid region: control points must be finite numbers".into());
                return self.send(ctx, EventType::SetRegionAck, request_id, &ack);
            }
            None
        } else {
            match Shape::from_control_points(info.region_type, &points, f64::from(info.rotation)) {
                Ok(s) => Some(s),
                Err(e) => {
                    let ack = fail(format!("Invalid region: {e}"));
                    return self.send(ctx, EventType::SetRegionAck, request_id, &ack);
                }
            }
        };
        let region_id = if msg.region_id > 0 {
            msg.region_id
        } else {
            self.last_region_id += 1;
            self.last_region_id
        };
        self.last_region_id = self.last_region_id.max(region_id);
        self.regions.insert(region_id, msg.file_id);
        let ack = pb::SetRegionAck {
            success: true,
            message: String::new(),
            region_id,
        };
        self.send(ctx, EventType::SetRegionAck, request_id, &ack);
        match shape {
            Some(shape) => actor.do_send(file::SetRegion { region_id, shape }),
            // An edit that turns a region into one without area removes its analysis.
            None => actor.do_send(file::RemoveRegion { region_id }),
        }
    }

    pub(super) fn on_remove_region(&mut self, region_id: i32) {
        if let Some(file_id) = self.regions.remove(&region_id) {
            if let Some(actor) = self.files.get(&file_id) {
                actor.do_send(file::RemoveRegion { region_id });
            }
        }
    }

    pub(super) fn on_stats_requirements(
        &mut self,
        msg: pb::SetStatsRequirements,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if let Some(f) = self.file(msg.file_id, ctx) {
            f.do_send(file::SetStatsRequirements(msg));
        }
    }

    pub(super) fn on_histogram_requirements(
        &mut self,
        msg: pb::SetHistogramRequirements,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if let Some(f) = self.file(msg.file_id, ctx) {
            f.do_send(file::SetHistogramRequirements(msg));
        }
    }

    pub(super) fn on_spectral_requirements(
        &mut self,
        msg: pb::SetSpectralRequirements,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if let Some(f) = self.file(msg.file_id, ctx) {
            f.do_send(file::SetSpectralRequirements(msg));
        }
    }
}
