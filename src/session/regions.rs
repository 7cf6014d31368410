//! Region handlers: SET_REGION (into the session's `RegionSet`, ack with the region's id, then the derived
//! shape to the file actor that owns the pixels), REMOVE_REGION, and the statistics, histogram and spectral
//! requirements, converted (limits first) and routed to the file actor.

use std::sync::Arc;

use actix_web_actors::ws;
use tracing::debug;

use super::convert;
use super::region_set::{Region, RegionStyle, RegionType};
use super::{SessionActor, Tag};
use crate::file::{self, Area};
use crate::protocol::{pb, EventType};

/// A region of image `file_id` as the client describes it (control points and rotation as sent).
fn region_from(file_id: i32, info: &pb::RegionInfo, style: RegionStyle) -> Region {
    Region {
        file_id,
        kind: RegionType(info.region_type),
        points: info
            .control_points
            .iter()
            .map(|p| (f64::from(p.x), f64::from(p.y)))
            .collect(),
        rotation_deg: f64::from(info.rotation),
        style,
    }
}

impl SessionActor {
    pub(super) fn on_set_region(
        &mut self,
        request_id: u32,
        msg: pb::SetRegion,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if msg.preview_region {
            // A line being dragged with a PV preview open: only the preview follows it (no ack, no data
            // streams, the region itself is set by the final SET_REGION), as carta_backend does.
            let line = msg
                .region_info
                .as_ref()
                .and_then(|info| region_from(msg.file_id, info, Default::default()).line_path());
            match line {
                Some(path) if msg.region_id > 0 => {
                    self.move_pv_previews(msg.file_id, msg.region_id, path, true)
                }
                _ => debug!(parent: &self.span, "ignoring a preview region that is not a line"),
            }
            return;
        }
        let reply = |act: &Self, ctx: &mut ws::WebsocketContext<Self>, ack: pb::SetRegionAck| {
            act.send(ctx, EventType::SetRegionAck, request_id, &ack)
        };
        let fail = |message: String| pb::SetRegionAck {
            success: false,
            message,
            region_id: msg.region_id,
        };
        let Some(actor) = self.files.get(&msg.file_id).map(|f| f.actor.clone()) else {
            let ack = fail(format!("File id {} is not open", msg.file_id));
            return reply(self, ctx, ack);
        };
        let Some(info) = msg.region_info.as_ref() else {
            return reply(self, ctx, fail("The region has no region_info".into()));
        };
        if let Err(e) = self.regions.check_points(info.control_points.len()) {
            return reply(self, ctx, fail(format!("Invalid region: {e}")));
        }
        let style = self
            .regions
            .get(msg.region_id)
            .map(|r| r.style.clone())
            .unwrap_or_default();
        let region = region_from(msg.file_id, info, style);
        let shape = region.shape();
        let path = region.line_path();
        let moved_from = self
            .regions
            .get(msg.region_id)
            .map(|r| r.file_id)
            .filter(|f| *f != msg.file_id);
        let region_id = match self.regions.set(msg.region_id, region) {
            Ok(id) => id,
            Err(e) => return reply(self, ctx, fail(e.to_string())),
        };
        let ack = pb::SetRegionAck {
            success: true,
            message: String::new(),
            region_id,
        };
        reply(self, ctx, ack);
        // A region moved to another image is no longer analysed on the first.
        if let Some(old) = moved_from.and_then(|f| self.files.get(&f)) {
            old.actor.do_send(file::RemoveRegion { region_id });
        }
        match (shape, path) {
            (Ok(Some(shape)), _) => actor.do_send(file::SetRegion {
                region_id,
                shape: Arc::new(shape),
            }),
            // A line or polyline has no area; its profiles are sampled along it.
            (_, Some(path)) => {
                actor.do_send(file::SetLine {
                    region_id,
                    path: path.clone(),
                });
                self.move_pv_previews(msg.file_id, region_id, path, false);
            }
            // Lines, polylines and annotations are kept (the frontend draws them) but have no area to analyse;
            // an edit that turns a region into one of them removes its analysis.
            _ => actor.do_send(file::RemoveRegion { region_id }),
        }
    }

    pub(super) fn on_remove_region(&mut self, region_id: i32) {
        if let Some(region) = self.regions.remove(region_id) {
            if let Some(f) = self.files.get(&region.file_id) {
                f.actor.do_send(file::RemoveRegion { region_id });
            }
        }
    }

    /// Sends a converted requirement to the file, or says why it was refused.
    fn requirement<M>(
        &mut self,
        request_id: u32,
        file_id: i32,
        area: Area,
        converted: Result<M, String>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) where
        M: actix::Message<Result = ()> + Send + 'static,
        file::FileActor: actix::Handler<M>,
    {
        let Some(f) = self.file(request_id, file_id, area, ctx) else {
            return;
        };
        match converted {
            Ok(m) => f.do_send(m),
            Err(e) => self.send_error_about(
                ctx,
                request_id,
                Tag::Area(area),
                pb::ErrorSeverity::Error,
                e,
                file_id.to_string(),
            ),
        }
    }

    pub(super) fn on_stats_requirements(
        &mut self,
        request_id: u32,
        msg: pb::SetStatsRequirements,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let converted = convert::stats_configs(&msg, &self.settings.limits).map(|configs| {
            file::SetStatsRequirements {
                request_id,
                region_id: msg.region_id,
                configs,
            }
        });
        self.requirement(request_id, msg.file_id, Area::Stats, converted, ctx);
    }

    pub(super) fn on_histogram_requirements(
        &mut self,
        request_id: u32,
        msg: pb::SetHistogramRequirements,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let converted = convert::histogram_configs(&msg, &self.settings.limits).map(|configs| {
            file::SetHistogramRequirements {
                request_id,
                region_id: msg.region_id,
                configs,
            }
        });
        self.requirement(request_id, msg.file_id, Area::Histogram, converted, ctx);
    }

    pub(super) fn on_spectral_requirements(
        &mut self,
        request_id: u32,
        msg: pb::SetSpectralRequirements,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let converted = convert::spectral_configs(&msg, &self.settings.limits).map(|configs| {
            file::SetSpectralRequirements {
                request_id,
                region_id: msg.region_id,
                configs,
            }
        });
        self.requirement(request_id, msg.file_id, Area::Spectral, converted, ctx);
    }
}
