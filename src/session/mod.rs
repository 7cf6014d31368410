//! `SessionActor`: one per WebSocket connection. Decodes each frame once (`protocol::decode`), dispatches it
//! once (`dispatch`), and owns what the client has built up: its open files (file id → file actor) and its
//! regions ([`RegionSet`]). Handlers live in one file per ICD area; `convert` turns ICD requirements into the
//! file layer's domain types (with the limits checked first), `events` turns the file actors' events into ICD
//! messages, and `reply` builds every ERROR_DATA. Blocking work goes to the runtime's I/O pool. The session
//! stays up through any bad input.

mod animation;
mod browse;
mod connection;
pub mod convert;
mod events;
mod images;
mod overlays;
mod pv;
pub mod region_set;
mod regions;
mod reply;
mod resume;
mod unavailable;

pub use region_set::RegionSet;
pub use reply::Tag;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, Addr, AsyncContext, Handler, Message, StreamHandler};
use actix_web_actors::ws;
use bytes::Bytes;
use tracing::{debug, info};

use crate::browse::Confinement;
use crate::config::Limits;
use crate::file::{FileActor, FileSettings};
use crate::protocol::{self, pb, Header, Request};
use crate::runtime::Runtime;

/// What every session of a server runs with, built once from the configuration.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub confinement: Confinement,
    pub read_only: bool,
    pub controller_deployment: bool,
    pub idle_timeout: Option<Duration>,
    pub file_list_progress_interval: Duration,
    pub limits: Limits,
    pub file: FileSettings,
}

/// A ready-to-send binary frame, produced off the actor (by the I/O pool).
#[derive(Message)]
#[rtype(result = "()")]
struct Outgoing(Bytes);

/// An image this session has open.
struct OpenImage {
    actor: Addr<FileActor>,
    /// The plane last asked for.
    plane: crate::image::Plane,
    /// Channels of the image (from its description).
    depth: usize,
    /// The name it is shown under.
    name: String,
    /// Its world coordinates (contours drawn over another image go through them).
    wcs: Arc<crate::image::wcs::Wcs>,
}

/// One client connection.
pub struct SessionActor {
    id: u32,
    runtime: Arc<Runtime>,
    settings: Arc<SessionSettings>,
    span: tracing::Span,
    last_binary: Instant,
    /// Cancel flag of the folder listing in flight, if any.
    file_list_cancel: Option<Arc<AtomicBool>>,
    /// Open images by the frontend's file id.
    files: HashMap<i32, OpenImage>,
    /// File ids being opened (they count towards the open-file limit).
    opening: HashSet<i32>,
    /// Last RASTER_TILE_SYNC id handed out (per session, from 1).
    sync_id: i32,
    regions: RegionSet,
    /// The last ADD_REQUIRED_TILES of each open image: the view animation frames use.
    views: HashMap<i32, pb::AddRequiredTiles>,
    animation: Option<animation::Animation>,
    /// Last animation id handed out.
    animation_ids: i32,
    /// The id of the image opened last (a generated image takes the next one, as the frontend counts).
    last_file_id: i32,
    /// Per source image, the suffix number of its last kept PV image.
    pv_names: HashMap<i32, u32>,
    /// The image each PV preview samples, by preview id.
    pv_previews: HashMap<i32, i32>,
}

impl SessionActor {
    pub fn new(
        runtime: Arc<Runtime>,
        settings: Arc<SessionSettings>,
        client: String,
    ) -> SessionActor {
        let id = runtime.counters.new_session_id();
        let span = tracing::info_span!("session", id, client = %client);
        let regions = RegionSet::new(
            settings.limits.regions_per_session,
            settings.limits.region_control_points,
        );
        SessionActor {
            id,
            runtime,
            settings,
            span,
            last_binary: Instant::now(),
            file_list_cancel: None,
            files: HashMap::new(),
            opening: HashSet::new(),
            sync_id: 0,
            regions,
            views: HashMap::new(),
            animation: None,
            animation_ids: 0,
            last_file_id: -1,
            pv_names: HashMap::new(),
            pv_previews: HashMap::new(),
        }
    }

    fn on_binary(&mut self, frame: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        self.last_binary = Instant::now();
        match protocol::decode(frame) {
            Ok((header, request)) => {
                debug!(parent: &self.span, event = request.name(), request_id = header.request_id, "request");
                self.dispatch(header, request, ctx);
            }
            Err(e) => {
                // The header may still be readable: answer with its request id.
                let request_id = Header::split(frame).map(|(h, _)| h.request_id).unwrap_or(0);
                self.send_error(
                    ctx,
                    request_id,
                    Tag::Protocol,
                    pb::ErrorSeverity::Error,
                    format!("Bad message: {e}"),
                )
            }
        }
    }

    /// The one place where requests are matched to handlers.
    fn dispatch(&mut self, header: Header, request: Request, ctx: &mut ws::WebsocketContext<Self>) {
        let id = header.request_id;
        match request {
            Request::RegisterViewer(m) => self.on_register_viewer(header, m, ctx),
            Request::FileList(m) => self.on_file_list(id, m, ctx),
            Request::StopFileList(_) => self.on_stop_file_list(),
            Request::FileInfo(m) => self.on_file_info(id, m, ctx),
            Request::OpenFile(m) => self.on_open_file(id, m, ctx),
            Request::CloseFile(m) => self.on_close_file(m.file_id, ctx),
            Request::AddRequiredTiles(m) => self.on_add_tiles(id, m, ctx),
            Request::RemoveRequiredTiles(m) => self.on_remove_tiles(id, m, ctx),
            Request::SetImageChannels(m) => self.on_set_image_channels(id, m, ctx),
            Request::SetCursor(m) => self.on_set_cursor(id, m, ctx),
            Request::SetSpatialRequirements(m) => self.on_set_spatial_requirements(id, m, ctx),
            Request::SetRegion(m) => self.on_set_region(id, m, ctx),
            Request::RemoveRegion(m) => self.on_remove_region(m.region_id),
            Request::SetStatsRequirements(m) => self.on_stats_requirements(id, m, ctx),
            Request::SetHistogramRequirements(m) => self.on_histogram_requirements(id, m, ctx),
            Request::SetSpectralRequirements(m) => self.on_spectral_requirements(id, m, ctx),
            Request::ChannelMapFlowControl(m) => self.on_channel_map_flow_control(m),
            Request::StartAnimation(m) => self.on_start_animation(id, m, ctx),
            Request::StopAnimation(m) => self.on_stop_animation(m, ctx),
            Request::AnimationFlowControl(m) => self.on_animation_flow_control(m, ctx),
            Request::ResumeSession(m) => self.on_resume_session(id, m, ctx),
            Request::SetContourParameters(m) => self.on_set_contour_parameters(id, m, ctx),
            Request::PvRequest(m) => self.on_pv_request(id, m, ctx),
            Request::StopPvCalc(m) => self.on_stop_pv(m.file_id),
            Request::StopPvPreview(m) => self.on_stop_pv_preview(m.preview_id),
            Request::ClosePvPreview(m) => self.on_close_pv_preview(m.preview_id),
            Request::SetVectorOverlayParameters(m) => {
                self.on_set_vector_overlay_parameters(id, m, ctx)
            }
            Request::ServerOnly(event) => self.send_error(
                ctx,
                id,
                Tag::Protocol,
                pb::ErrorSeverity::Warning,
                format!(
                    "{} is a server message; clients do not send it",
                    event.as_str_name()
                ),
            ),
            other => self.on_unavailable(id, other, ctx),
        }
    }

    fn check_idle(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        if let Some(limit) = self.settings.idle_timeout {
            if self.last_binary.elapsed() >= limit {
                info!(parent: &self.span, "closing idle session after {}s", limit.as_secs());
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Away,
                    description: Some("idle timeout".into()),
                }));
                ctx.stop();
            }
        }
    }
}

impl Actor for SessionActor {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.runtime.counters.session_opened();
        info!(parent: &self.span, "connected");
        if self.settings.idle_timeout.is_some() {
            ctx.run_interval(Duration::from_secs(1), |act, ctx| act.check_idle(ctx));
        }
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if let Some(flag) = self.file_list_cancel.take() {
            flag.store(true, Ordering::Relaxed);
        }
        self.close_files(-1);
        self.runtime.counters.session_closed();
        info!(parent: &self.span, "disconnected");
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for SessionActor {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        match msg {
            Ok(ws::Message::Binary(data)) => self.on_binary(&data, ctx),
            Ok(ws::Message::Text(text)) if text.trim() == "PING" => ctx.text("PONG"),
            Ok(ws::Message::Text(text)) => {
                debug!(parent: &self.span, "ignoring text frame {:?}", text.chars().take(32).collect::<String>())
            }
            Ok(ws::Message::Ping(p)) => ctx.pong(&p),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Ok(ws::Message::Continuation(_)) => self.send_error(
                ctx,
                0,
                Tag::Protocol,
                pb::ErrorSeverity::Error,
                "Fragmented messages are not supported".into(),
            ),
            Err(ws::ProtocolError::Overflow) => {
                // The frame cannot be read without holding all of it: say why, then close.
                let limit = self.settings.limits.frame_bytes;
                self.send_error(
                    ctx,
                    0,
                    Tag::Protocol,
                    pb::ErrorSeverity::Critical,
                    format!("A message was larger than the limit of {limit} bytes; closing"),
                );
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Size,
                    description: Some(format!("message larger than {limit} bytes")),
                }));
                ctx.stop();
            }
            Err(e) => {
                // Mostly a client that went away without a close frame.
                debug!(parent: &self.span, "WebSocket closed: {e}");
                ctx.stop();
            }
        }
    }
}

impl Handler<Outgoing> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: Outgoing, ctx: &mut Self::Context) {
        ctx.binary(msg.0);
    }
}
