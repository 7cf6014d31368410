//! Image handlers: OPEN_FILE (opened on the I/O pool, then a FileActor per file id), CLOSE_FILE (-1 closes all),
//! ADD/REMOVE_REQUIRED_TILES, SET_IMAGE_CHANNELS, SET_CURSOR and SET_SPATIAL_REQUIREMENTS, routed to the file's
//! actor. Sync ids for tile streams are handed out here, per session.

use std::sync::Arc;

use actix::{Actor, AsyncContext, Handler, Message};
use actix_web_actors::ws;
use tracing::{info, warn};

use super::SessionActor;
use crate::chunk::store::FileIdentity;
use crate::chunk::Plane;
use crate::file::{self, FileActor, SpatialConfig, TileBatch};
use crate::files::ResolvedPath;
use crate::image::pixels::PixelSource;
use crate::image::{self, ExtendedInfoInput, ImageError};
use crate::protocol::{pb, EventType};

/// An image opened on the I/O pool, back on the session.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Opened {
    request_id: u32,
    request: pb::OpenFile,
    path: ResolvedPath,
    result: Result<(Arc<PixelSource>, FileIdentity), ImageError>,
}

fn tile_batch(sync_id: i32, tiles: &pb::AddRequiredTiles) -> TileBatch {
    TileBatch {
        sync_id,
        tiles: tiles.tiles.clone(),
        compression: tiles.compression_type(),
        quality: tiles.compression_quality,
    }
}

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
        let path = match self
            .state
            .confinement
            .resolve_file(&msg.directory, &msg.file)
        {
            Ok(p) if p.absolute.is_file() => p,
            Ok(_) => {
                return self.failed_open(
                    ctx,
                    request_id,
                    msg.file_id,
                    format!("Cannot open '{}': not a file", msg.file),
                )
            }
            Err(e) => {
                return self.failed_open(
                    ctx,
                    request_id,
                    msg.file_id,
                    format!("Cannot open '{}': {e}", msg.file),
                )
            }
        };
        let addr = ctx.address();
        let span = self.span.clone();
        self.state.io_pool.spawn(move || {
            let _guard = span.enter();
            let result = PixelSource::open(&path.absolute, &msg.hdu).and_then(|source| {
                let identity = FileIdentity::of(&path.absolute, &source.hdu)?;
                Ok((Arc::new(source), identity))
            });
            addr.do_send(Opened {
                request_id,
                request: msg,
                path,
                result,
            });
        });
    }

    pub(super) fn on_close_file(&mut self, file_id: i32) {
        let ids: Vec<i32> = if file_id == -1 {
            self.files.keys().copied().collect()
        } else {
            vec![file_id]
        };
        for id in ids {
            if let Some(actor) = self.files.remove(&id) {
                actor.do_send(file::Close);
            }
        }
    }

    /// The file's actor, or an ERROR_DATA saying the id is unknown.
    pub(super) fn file(
        &self,
        file_id: i32,
        ctx: &mut ws::WebsocketContext<Self>,
    ) -> Option<actix::Addr<FileActor>> {
        let found = self.files.get(&file_id).cloned();
        if found.is_none() {
            self.send_error(
                ctx,
                pb::ErrorSeverity::Debug,
                "file",
                format!("File id {file_id} not found"),
            );
        }
        found
    }

    fn next_sync_id(&mut self) -> i32 {
        self.sync_id = self.sync_id.checked_add(1).unwrap_or(1);
        self.sync_id
    }

    pub(super) fn on_add_tiles(
        &mut self,
        msg: pb::AddRequiredTiles,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if msg.tiles.is_empty() {
            return;
        }
        if let Some(f) = self.file(msg.file_id, ctx) {
            let batch = tile_batch(self.next_sync_id(), &msg);
            f.do_send(batch);
        }
    }

    pub(super) fn on_remove_tiles(
        &mut self,
        msg: pb::RemoveRequiredTiles,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if let Some(f) = self.file(msg.file_id, ctx) {
            f.do_send(file::RemoveTiles { tiles: msg.tiles });
        }
    }

    pub(super) fn on_set_image_channels(
        &mut self,
        msg: pb::SetImageChannels,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let Some(f) = self.file(msg.file_id, ctx) else {
            return;
        };
        let (Ok(channel), Ok(stokes)) = (usize::try_from(msg.channel), usize::try_from(msg.stokes))
        else {
            let text = format!("Invalid channel {} / Stokes {}", msg.channel, msg.stokes);
            return self.send_error(ctx, pb::ErrorSeverity::Error, "file", text);
        };
        let tiles = msg
            .required_tiles
            .as_ref()
            .filter(|t| !t.tiles.is_empty())
            .map(|t| tile_batch(self.next_sync_id(), t));
        f.do_send(file::SetChannels {
            plane: Plane { channel, stokes },
            tiles,
        });
    }

    pub(super) fn on_set_cursor(
        &mut self,
        msg: pb::SetCursor,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let Some(f) = self.file(msg.file_id, ctx) else {
            return;
        };
        if let Some(req) = msg.spatial_requirements {
            f.do_send(file::SetSpatialRequirements {
                configs: spatial_configs(&req),
            });
        }
        if let Some(p) = msg.point {
            f.do_send(file::SetCursor { x: p.x, y: p.y });
        }
    }

    pub(super) fn on_set_spatial_requirements(
        &mut self,
        msg: pb::SetSpatialRequirements,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if msg.region_id != 0 {
            let text = format!(
                "Spatial profiles of region {} are not supported yet (cursor only)",
                msg.region_id
            );
            return self.send_error(ctx, pb::ErrorSeverity::Warning, "region", text);
        }
        if let Some(f) = self.file(msg.file_id, ctx) {
            f.do_send(file::SetSpatialRequirements {
                configs: spatial_configs(&msg),
            });
        }
    }
}

fn spatial_configs(req: &pb::SetSpatialRequirements) -> Vec<SpatialConfig> {
    req.spatial_profiles
        .iter()
        .filter(|c| c.coordinate == "x" || c.coordinate == "y")
        .map(|c| SpatialConfig {
            coordinate: c.coordinate.clone(),
            start: usize::try_from(c.start).unwrap_or(0),
            end: usize::try_from(c.end).unwrap_or(0),
            mip: usize::try_from(c.mip).unwrap_or(1),
        })
        .collect()
}

impl Handler<Opened> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: Opened, ctx: &mut Self::Context) {
        let Opened {
            request_id,
            request,
            path,
            result,
        } = msg;
        let (source, identity) = match result {
            Ok(r) => r,
            Err(e) => {
                return self.failed_open(
                    ctx,
                    request_id,
                    request.file_id,
                    format!("Cannot open '{}': {e}", request.file),
                )
            }
        };
        self.on_close_file(request.file_id);
        let format = Some(source.format);
        let mut file_info = image::basic_info(&path.absolute, &request.file, format);
        file_info.hdu_list = vec![source.hdu.clone()];
        let extended = image::extended_info(&ExtendedInfoInput {
            name: &request.file,
            hdu: &source.hdu,
            extname: source.extname.clone(),
            header: &source.header,
            shape: &source.shape.dims,
            has_mipmaps: !source.mip_levels().is_empty(),
        });
        let span = tracing::info_span!(parent: &self.span, "file", id = request.file_id, path = %path.relative);
        let actor = FileActor::new(
            request.file_id,
            self.state.clone(),
            source,
            identity,
            ctx.address().recipient(),
            span,
        )
        .start();
        info!(parent: &self.span, file_id = request.file_id, path = %path.relative, "opened");
        let ack = pb::OpenFileAck {
            success: true,
            file_id: request.file_id,
            file_info: Some(file_info),
            file_info_extended: Some(extended),
            ..Default::default()
        };
        self.send(ctx, EventType::OpenFileAck, request_id, &ack);
        actor.do_send(file::Start);
        self.files.insert(request.file_id, actor);
    }
}
