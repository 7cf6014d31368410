//! Image handlers: OPEN_FILE (through `file::open`, then a FileActor per file id), CLOSE_FILE (-1 closes all),
//! ADD/REMOVE_REQUIRED_TILES, SET_IMAGE_CHANNELS, SET_CURSOR and SET_SPATIAL_REQUIREMENTS, routed to the file's
//! actor. Sync ids for tile streams are handed out here, per session.

use std::sync::Arc;

use actix::{ActorFutureExt, Addr, AsyncContext, WrapFuture};
use actix_web_actors::ws;
use tracing::{info, warn};

use super::region_set::RegionType;
use super::{convert, OpenImage, SessionActor, Tag};
use crate::file::{self, Area, FileActor, FileContext, OpenedFile};
use crate::image::{ImageError, Plane};
use crate::protocol::{pb, EventType};

impl SessionActor {
    fn failed_open(
        &self,
        ctx: &mut ws::WebsocketContext<Self>,
        request_id: u32,
        file_id: i32,
        message: String,
    ) {
        warn!(parent: &self.span, "{message}");
        let ack = pb::OpenFileAck {
            success: false,
            file_id,
            message,
            ..Default::default()
        };
        self.send(ctx, EventType::OpenFileAck, request_id, &ack);
    }

    pub(super) fn on_open_file(
        &mut self,
        request_id: u32,
        msg: pb::OpenFile,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let file_id = msg.file_id;
        let opening = if msg.lel_expr {
            Err("image expressions are not available yet".to_string())
        } else {
            self.start_open(file_id, &msg.directory, &msg.file, &msg.hdu, ctx)
        };
        let opening = match opening {
            Ok(o) => o,
            Err(text) => {
                let text = format!("Cannot open '{}': {text}", msg.file);
                return self.failed_open(ctx, request_id, file_id, text);
            }
        };
        ctx.spawn(opening.into_actor(self).map(move |result, act, ctx| {
            act.opening.remove(&file_id);
            match result {
                Ok(opened) => {
                    let ack = act.adopt(file_id, opened, ctx);
                    act.send(ctx, EventType::OpenFileAck, request_id, &ack);
                }
                Err(e) => {
                    let text = format!("Cannot open '{}': {e}", msg.file);
                    act.failed_open(ctx, request_id, file_id, text);
                }
            }
        }));
    }

    /// Checks the open-file limit and confinement, then starts opening `file` in `directory` as `file_id`;
    /// the future yields the opened file (not yet adopted by the session).
    pub(super) fn start_open(
        &mut self,
        file_id: i32,
        directory: &str,
        file: &str,
        hdu: &str,
        ctx: &mut ws::WebsocketContext<Self>,
    ) -> Result<impl std::future::Future<Output = Result<OpenedFile, ImageError>> + use<>, String>
    {
        let limit = self.settings.limits.files_per_session;
        let replacing = self.files.contains_key(&file_id) || self.opening.contains(&file_id);
        if !replacing && self.files.len() + self.opening.len() >= limit {
            return Err(format!(
                "a session may have {limit} images open; close one first"
            ));
        }
        let path = match self.settings.confinement.resolve_file(directory, file) {
            Ok(p) if p.absolute.exists() => p,
            Ok(_) => return Err("no such file".into()),
            Err(e) => return Err(e.to_string()),
        };
        let context = self.file_context(file_id, &path.relative, ctx);
        self.opening.insert(file_id);
        Ok(file::open(
            context,
            file_id,
            path.absolute,
            hdu.to_string(),
            file.to_string(),
        ))
    }

    /// What the file actor of `file_id` (shown in logs as `label`) runs with.
    pub(super) fn file_context(
        &self,
        file_id: i32,
        label: &str,
        ctx: &mut ws::WebsocketContext<Self>,
    ) -> FileContext {
        FileContext {
            runtime: self.runtime.clone(),
            settings: self.settings.file.clone(),
            events: ctx.address().recipient(),
            span: tracing::info_span!(parent: &self.span, "file", id = file_id, path = %label),
        }
    }

    /// Takes an opened image as `file_id` (closing what had that id), starts its stream, and returns its
    /// OPEN_FILE_ACK.
    pub(super) fn adopt(
        &mut self,
        file_id: i32,
        opened: OpenedFile,
        ctx: &mut ws::WebsocketContext<Self>,
    ) -> pb::OpenFileAck {
        self.on_close_file(file_id, ctx);
        info!(parent: &self.span, file_id, name = %opened.description.file_info.name, "opened");
        let description = &opened.description;
        let ack = pb::OpenFileAck {
            success: true,
            file_id,
            file_info: Some(description.file_info.clone()),
            file_info_extended: Some(description.extended.clone()),
            beam_table: description.beams.clone(),
            ..Default::default()
        };
        opened.start();
        self.files.insert(
            file_id,
            OpenImage {
                actor: opened.actor,
                plane: Plane::FIRST,
                depth: usize::try_from(opened.description.extended.depth).unwrap_or(1),
                name: opened.description.file_info.name.clone(),
                wcs: Arc::new(opened.description.wcs.clone()),
            },
        );
        self.last_file_id = file_id;
        ack
    }

    pub(super) fn on_close_file(&mut self, file_id: i32, ctx: &mut ws::WebsocketContext<Self>) {
        if self
            .animation
            .as_ref()
            .is_some_and(|a| file_id == -1 || a.file_id == file_id)
        {
            self.stop_animation(ctx);
        }
        self.close_files(file_id);
    }

    /// Closes one image (`-1`: all) without touching the animation.
    pub(super) fn close_files(&mut self, file_id: i32) {
        let ids: Vec<i32> = if file_id == -1 {
            self.files.keys().copied().collect()
        } else {
            vec![file_id]
        };
        for id in ids {
            if let Some(image) = self.files.remove(&id) {
                image.actor.do_send(file::Close);
                self.pv_previews.retain(|_, f| *f != id);
                self.regions.remove_file(id);
                self.views.remove(&id);
            }
        }
    }

    /// The file's actor, or an ERROR_DATA (tagged with the request's area) saying the id is unknown.
    pub(super) fn file(
        &self,
        request_id: u32,
        file_id: i32,
        area: Area,
        ctx: &mut ws::WebsocketContext<Self>,
    ) -> Option<Addr<FileActor>> {
        let found = self.files.get(&file_id).map(|f| f.actor.clone());
        if found.is_none() {
            self.send_error_about(
                ctx,
                request_id,
                Tag::Area(area),
                pb::ErrorSeverity::Debug,
                format!("File id {file_id} not found"),
                file_id.to_string(),
            );
        }
        found
    }

    pub(super) fn next_sync_id(&mut self) -> i32 {
        self.sync_id = self.sync_id.checked_add(1).unwrap_or(1);
        self.sync_id
    }

    pub(super) fn on_add_tiles(
        &mut self,
        request_id: u32,
        msg: pb::AddRequiredTiles,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if msg.tiles.is_empty() {
            return;
        }
        let Some(f) = self.file(request_id, msg.file_id, Area::Tiles, ctx) else {
            return;
        };
        self.views.insert(msg.file_id, msg.clone());
        if self.animating(msg.file_id) {
            return; // The animation's next frames use the new view.
        }
        let batch = convert::tile_batch(self.next_sync_id(), &msg);
        f.do_send(batch);
    }

    pub(super) fn on_remove_tiles(
        &mut self,
        request_id: u32,
        msg: pb::RemoveRequiredTiles,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if let Some(f) = self.file(request_id, msg.file_id, Area::Tiles, ctx) {
            f.do_send(file::RemoveTiles { tiles: msg.tiles });
        }
    }

    pub(super) fn on_set_image_channels(
        &mut self,
        request_id: u32,
        msg: pb::SetImageChannels,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let Some(f) = self.file(request_id, msg.file_id, Area::Channels, ctx) else {
            return;
        };
        let refuse = |act: &Self, ctx: &mut _, text: String| {
            let tag = Tag::Area(Area::Channels);
            let data = msg.file_id.to_string();
            act.send_error_about(ctx, request_id, tag, pb::ErrorSeverity::Error, text, data)
        };
        let (Ok(channel), Ok(stokes)) = (usize::try_from(msg.channel), usize::try_from(msg.stokes))
        else {
            let text = format!("Invalid channel {} / Stokes {}", msg.channel, msg.stokes);
            return refuse(self, ctx, text);
        };
        if msg.channel_map_enabled {
            return self.channel_map(request_id, &msg, Plane { channel, stokes }, ctx);
        }
        let tiles = msg
            .required_tiles
            .as_ref()
            .filter(|t| !t.tiles.is_empty())
            .map(|t| convert::tile_batch(self.next_sync_id(), t));
        let plane = Plane { channel, stokes };
        if let Some(image) = self.files.get_mut(&msg.file_id) {
            image.plane = plane;
        }
        f.do_send(file::SetChannels {
            request_id,
            plane,
            tiles,
        });
    }

    /// SET_IMAGE_CHANNELS in the channel-map view: a tile stream for each channel of `channel_range`, the
    /// visible `current_range` first; `channel` stays the image's current channel.
    fn channel_map(
        &mut self,
        request_id: u32,
        msg: &pb::SetImageChannels,
        active: Plane,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let Some(image) = self.files.get_mut(&msg.file_id) else {
            return;
        };
        image.plane = active;
        let (actor, depth) = (image.actor.clone(), image.depth);
        let range = |b: Option<&pb::IntBounds>| -> Option<std::ops::RangeInclusive<usize>> {
            let b = b?;
            let (min, max) = (usize::try_from(b.min).ok()?, usize::try_from(b.max).ok()?);
            (min <= max && max < depth).then_some(min..=max)
        };
        let tiles = msg.required_tiles.as_ref().filter(|t| !t.tiles.is_empty());
        let channels = range(msg.channel_range.as_ref());
        if tiles.is_some() && channels.is_none() {
            let text = format!(
                "Channel map range {:?} is not within the image's {depth} channels",
                msg.channel_range
            );
            let tag = Tag::Area(Area::Channels);
            return self.send_error(ctx, request_id, tag, pb::ErrorSeverity::Error, text);
        }
        let visible = range(msg.current_range.as_ref())
            .or(channels.clone())
            .unwrap_or(active.channel..=active.channel);
        let streams = match (tiles, channels) {
            (Some(t), Some(channels)) => channels
                .map(|c| (c, convert::tile_batch(self.next_sync_id(), t)))
                .collect(),
            _ => Vec::new(),
        };
        actor.do_send(file::ChannelMapTiles {
            request_id,
            active,
            visible,
            streams,
        });
    }

    pub(super) fn on_channel_map_flow_control(&mut self, msg: pb::ChannelMapFlowControl) {
        if let (Some(image), Ok(channel)) = (
            self.files.get(&msg.file_id),
            usize::try_from(msg.received_channel),
        ) {
            image.actor.do_send(file::ChannelMapReceived { channel });
        }
    }

    pub(super) fn on_set_cursor(
        &mut self,
        request_id: u32,
        msg: pb::SetCursor,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let Some(f) = self.file(request_id, msg.file_id, Area::Cursor, ctx) else {
            return;
        };
        if let Some(req) = &msg.spatial_requirements {
            self.spatial_requirements(request_id, &f, req, ctx);
        }
        if let Some(p) = msg.point {
            f.do_send(file::SetCursor { x: p.x, y: p.y });
        }
    }

    pub(super) fn on_set_spatial_requirements(
        &mut self,
        request_id: u32,
        msg: pb::SetSpatialRequirements,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let Some(f) = self.file(request_id, msg.file_id, Area::Spatial, ctx) else {
            return;
        };
        if msg.region_id != 0 {
            return self.region_spatial_requirements(request_id, &f, &msg, ctx);
        }
        self.spatial_requirements(request_id, &f, &msg, ctx);
    }

    /// Profiles of a point region (x/y cuts, as the cursor) or a line or polyline (boxes along it).
    fn region_spatial_requirements(
        &self,
        request_id: u32,
        f: &Addr<FileActor>,
        msg: &pb::SetSpatialRequirements,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let tag = Tag::Area(Area::Spatial);
        let kind = self
            .regions
            .get(msg.region_id)
            .filter(|r| r.file_id == msg.file_id)
            .map(|r| r.kind);
        let converted = match kind {
            // Clearing the requirements of any region (even one gone, or one without spatial profiles, which
            // the 6.0.0 frontend does when a region is selected) is not an error.
            _ if msg.spatial_profiles.is_empty() => Ok((Vec::new(), Vec::new())),
            Some(RegionType::POINT) => convert::spatial_configs(msg, &self.settings.limits)
                .map(|points| (points, Vec::new())),
            Some(RegionType::LINE) | Some(RegionType::POLYLINE) => {
                convert::line_configs(msg, &self.settings.limits).map(|lines| (Vec::new(), lines))
            }
            // A closed region has no spatial profile. The 6.0.0 frontend asks for one whenever such a region
            // is selected with a spatial profiler open; that is ordinary use, not an error to show.
            Some(_) => {
                tracing::debug!(parent: &self.span, region_id = msg.region_id,
                    "no spatial profile for a closed region");
                return;
            }
            // The same for a region still being drawn: the frontend's temporary id −1 (its requirements can
            // go out before SET_REGION_ACK gives the region its id).
            None if msg.region_id < 0 => {
                tracing::debug!(parent: &self.span, region_id = msg.region_id,
                    "no spatial profile for a region not yet set");
                return;
            }
            None => Err(format!(
                "Spatial requirements failed for region {}: invalid region id or type (spatial \
                 profiles are of the cursor, points, lines and polylines)",
                msg.region_id
            )),
        };
        match converted {
            Ok((points, lines)) => f.do_send(file::SetRegionSpatialRequirements {
                region_id: msg.region_id,
                points,
                lines,
            }),
            Err(e) => self.send_error_about(
                ctx,
                request_id,
                tag,
                pb::ErrorSeverity::Error,
                e,
                msg.file_id.to_string(),
            ),
        }
    }

    fn spatial_requirements(
        &self,
        request_id: u32,
        f: &Addr<FileActor>,
        msg: &pb::SetSpatialRequirements,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        match convert::spatial_configs(msg, &self.settings.limits) {
            Ok(configs) => f.do_send(file::SetSpatialRequirements { configs }),
            Err(e) => self.send_error_about(
                ctx,
                request_id,
                Tag::Area(Area::Spatial),
                pb::ErrorSeverity::Error,
                e,
                msg.file_id.to_string(),
            ),
        }
    }
}
