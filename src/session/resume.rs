//! RESUME_SESSION: after a reconnect (REGISTER_VIEWER with its old session id gets RESUMED, whether this server
//! knew the id or was restarted), the frontend sends what it had open; every image is reopened under its file
//! id (without OPEN_FILE_ACKs, as carta_backend does), set to its channel and Stokes, and given its regions
//! with their ids. RESUME_SESSION_ACK follows when all of that is done: success when every image and region
//! came back, and a message naming whatever did not (including vector overlays and catalogs, which this server
//! does not have yet). Contours come back with their settings.

use actix::{ActorFutureExt, AsyncContext, WrapFuture};
use actix_web_actors::ws;
use futures_util::future::join_all;
use futures_util::FutureExt;
use tracing::info;

use super::region_set::{Region, RegionStyle, RegionType};
use super::SessionActor;
use crate::file;
use crate::image::Plane;
use crate::protocol::{pb, EventType};

/// Whether contour settings ask for contours (the frontend sends none when they are off).
fn has_contours(c: &pb::SetContourParameters) -> bool {
    !c.levels.is_empty()
}

impl SessionActor {
    pub(super) fn on_resume_session(
        &mut self,
        request_id: u32,
        msg: pb::ResumeSession,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        // Resuming starts from nothing: whatever this session had is replaced by the frontend's state.
        self.stop_animation(ctx);
        self.close_files(-1);
        // What did not come back (the resume failed), and features not restored because this server does not
        // have them yet (the images are back; the message says what is missing).
        let mut problems: Vec<String> = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        let mut openings = Vec::new();
        for image in msg.images {
            let name = image.file.clone();
            if image.lel_expr || !image.stokes_files.is_empty() {
                problems.push(format!(
                    "'{name}': image expressions and Stokes concatenation are not available yet"
                ));
                continue;
            }
            // The frontend sends an empty message when no overlay is on; an overlay in use has its image bounds.
            if image
                .vector_overlay_settings
                .as_ref()
                .is_some_and(|v| v.image_bounds.is_some())
            {
                notes.push(format!("'{name}': vector overlays are not available yet"));
            }
            match self.start_open(
                image.file_id,
                &image.directory,
                &image.file,
                &image.hdu,
                ctx,
            ) {
                Ok(opening) => openings.push(opening.map(move |result| (image, result))),
                Err(e) => problems.push(format!("'{name}': {e}")),
            }
        }
        if !msg.catalog_files.is_empty() {
            notes.push(format!(
                "{} catalog(s): catalogs are not available yet",
                msg.catalog_files.len()
            ));
        }
        let work = join_all(openings)
            .into_actor(self)
            .map(move |results, act, ctx| {
                for (image, result) in results {
                    act.opening.remove(&image.file_id);
                    match result {
                        Ok(opened) => {
                            act.adopt(image.file_id, opened, ctx);
                            act.restore(&image, &mut problems);
                        }
                        Err(e) => problems.push(format!("'{}': {e}", image.file)),
                    }
                }
                let success = problems.is_empty();
                problems.extend(notes);
                let ack = pb::ResumeSessionAck {
                    success,
                    message: if problems.is_empty() {
                        "Session resumed".into()
                    } else {
                        format!("Session resumed, except: {}", problems.join("; "))
                    },
                };
                info!(parent: &act.span, success = ack.success, "{}", ack.message);
                act.send(ctx, EventType::ResumeSessionAck, request_id, &ack);
            });
        ctx.spawn(work);
    }

    /// Puts a reopened image back in its channel and Stokes and gives it its regions; what cannot be restored
    /// is named in `problems`.
    fn restore(&mut self, image: &pb::ImageProperties, problems: &mut Vec<String>) {
        let Some(open) = self.files.get_mut(&image.file_id) else {
            return;
        };
        let actor = open.actor.clone();
        match (
            usize::try_from(image.channel),
            usize::try_from(image.stokes),
        ) {
            (Ok(channel), Ok(stokes)) => {
                let plane = Plane { channel, stokes };
                open.plane = plane;
                if plane != Plane::FIRST {
                    actor.do_send(file::SetChannels {
                        request_id: 0,
                        plane,
                        tiles: None,
                    });
                }
            }
            _ => {
                problems.push(format!(
                    "'{}': channel {} / Stokes {} is not valid",
                    image.file, image.channel, image.stokes
                ));
            }
        }
        if let Some(c) = image.contour_settings.as_ref().filter(|c| has_contours(c)) {
            match super::convert::contour_settings(c, &self.settings.limits) {
                Ok(settings) => actor.do_send(file::SetContours {
                    request_id: 0,
                    settings,
                }),
                Err(e) => problems.push(format!("contours of '{}': {e}", image.file)),
            }
        }
        let mut regions: Vec<_> = image.regions.iter().collect();
        regions.sort_by_key(|(id, _)| **id);
        for (id, info) in regions {
            if *id == 0 {
                // Region 0 is the cursor: it comes back as the cursor position.
                if let Some(p) = info.control_points.first() {
                    actor.do_send(file::SetCursor { x: p.x, y: p.y });
                }
                continue;
            }
            if let Err(e) = self.regions.check_points(info.control_points.len()) {
                problems.push(format!("region {id} of '{}': {e}", image.file));
                continue;
            }
            let region = Region {
                file_id: image.file_id,
                kind: RegionType(info.region_type),
                points: info
                    .control_points
                    .iter()
                    .map(|p| (f64::from(p.x), f64::from(p.y)))
                    .collect(),
                rotation_deg: f64::from(info.rotation),
                style: RegionStyle::default(),
            };
            let shape = region.shape();
            match self.regions.set(*id, region) {
                Ok(region_id) => {
                    if let Ok(Some(shape)) = shape {
                        actor.do_send(file::SetRegion {
                            region_id,
                            shape: std::sync::Arc::new(shape),
                        });
                    }
                }
                Err(e) => problems.push(format!("region {id} of '{}': {e}", image.file)),
            }
        }
    }
}
