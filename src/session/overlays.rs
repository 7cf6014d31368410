//! Overlay handlers: SET_CONTOUR_PARAMETERS and SET_VECTOR_OVERLAY_PARAMETERS, converted (limits first) and
//! routed to the image's file actor, which streams CONTOUR_IMAGE_DATA or VECTOR_OVERLAY_TILE_DATA.

use std::sync::Arc;

use actix_web_actors::ws;

use super::convert;
use super::{SessionActor, Tag};
use crate::file::{self, Area};
use crate::protocol::pb;

impl SessionActor {
    pub(super) fn on_set_contour_parameters(
        &mut self,
        request_id: u32,
        msg: pb::SetContourParameters,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let Ok(file_id) = i32::try_from(msg.file_id) else {
            let text = format!("File id {} not found", msg.file_id);
            let tag = Tag::Area(Area::Contours);
            return self.send_error(ctx, request_id, tag, pb::ErrorSeverity::Error, text);
        };
        let Some(f) = self.file(request_id, file_id, Area::Contours, ctx) else {
            return;
        };
        let reference = i32::try_from(msg.reference_file_id).ok();
        let reproject = match reference.filter(|r| *r != file_id) {
            None => None,
            Some(r) => match (self.files.get(&file_id), self.files.get(&r)) {
                (Some(this), Some(other)) => Some(Arc::new((
                    this.wcs.as_ref().clone(),
                    other.wcs.as_ref().clone(),
                ))),
                _ => {
                    let text = format!("Contours: reference image {r} is not open");
                    let tag = Tag::Area(Area::Contours);
                    return self.send_error(ctx, request_id, tag, pb::ErrorSeverity::Error, text);
                }
            },
        };
        match convert::contour_settings(&msg, &self.settings.limits) {
            Ok(settings) => f.do_send(file::SetContours {
                request_id,
                settings: file::ContourSettings {
                    reproject,
                    ..settings
                },
            }),
            Err(e) => self.send_error_about(
                ctx,
                request_id,
                Tag::Area(Area::Contours),
                pb::ErrorSeverity::Error,
                format!("Contours: {e}"),
                file_id.to_string(),
            ),
        }
    }

    pub(super) fn on_set_vector_overlay_parameters(
        &mut self,
        request_id: u32,
        msg: pb::SetVectorOverlayParameters,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let tag = Tag::Area(Area::Vectors);
        let Ok(file_id) = i32::try_from(msg.file_id) else {
            let text = format!("File id {} not found", msg.file_id);
            return self.send_error(ctx, request_id, tag, pb::ErrorSeverity::Error, text);
        };
        let Some(f) = self.file(request_id, file_id, Area::Vectors, ctx) else {
            return;
        };
        match convert::vector_settings(&msg) {
            Ok(settings) => f.do_send(file::SetVectors {
                request_id,
                settings,
            }),
            Err(e) => self.send_error_about(
                ctx,
                request_id,
                tag,
                pb::ErrorSeverity::Error,
                format!("Vector overlay: {e}"),
                file_id.to_string(),
            ),
        }
    }
}
