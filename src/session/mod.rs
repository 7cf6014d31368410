//! `SessionActor`: one per WebSocket connection. Decodes each frame once (`protocol::decode`), dispatches it
//! once (`dispatch`), and sends replies and streams. Handlers live in one file per ICD area; blocking work goes
//! to the shared I/O pool and comes back as [`Outgoing`] messages. Errors are mapped to ERROR_DATA or a failed
//! ACK here, at the session boundary; the session stays up.

mod connection;
mod files;
mod images;
mod regions;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, AsyncContext, Handler, Message, StreamHandler};
use actix_web_actors::ws;
use bytes::Bytes;
use tracing::{debug, info, warn};

use crate::protocol::{self, pb, EventType, Header, Request};
use crate::server::AppState;

/// A ready-to-send binary frame, produced off the actor (e.g. by the I/O pool).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Outgoing(pub Bytes);

/// One client connection.
pub struct SessionActor {
    id: u32,
    state: Arc<AppState>,
    span: tracing::Span,
    last_binary: Instant,
    /// Cancel flag of the folder listing in flight, if any.
    file_list_cancel: Option<Arc<AtomicBool>>,
    /// Open images by the frontend's file id.
    files: HashMap<i32, actix::Addr<crate::file::FileActor>>,
    /// Last RASTER_TILE_SYNC id handed out (per session, from 1).
    sync_id: i32,
    /// Region id → the file whose pixel coordinates it is defined in.
    regions: HashMap<i32, i32>,
    /// Last region id handed out (ids start at 1).
    last_region_id: i32,
}

impl SessionActor {
    pub fn new(state: Arc<AppState>, client: String) -> SessionActor {
        let id = state.new_session_id();
        let span = tracing::info_span!("session", id, client = %client);
        SessionActor {
            id,
            state,
            span,
            last_binary: Instant::now(),
            file_list_cancel: None,
            files: HashMap::new(),
            sync_id: 0,
            regions: HashMap::new(),
            last_region_id: 0,
        }
    }

    fn send(
        &self,
        ctx: &mut ws::WebsocketContext<Self>,
        event: EventType,
        request_id: u32,
        msg: &impl prost::Message,
    ) {
        ctx.binary(protocol::encode(event, request_id, msg));
    }

    /// Sends ERROR_DATA: the frontend shows it in its log (and as a toast for errors).
    fn send_error(
        &self,
        ctx: &mut ws::WebsocketContext<Self>,
        severity: pb::ErrorSeverity,
        tag: &str,
        message: String,
    ) {
        match severity {
            pb::ErrorSeverity::Error | pb::ErrorSeverity::Critical => {
                warn!(parent: &self.span, "{message}")
            }
            _ => debug!(parent: &self.span, "{message}"),
        }
        let mut err = pb::ErrorData {
            tags: vec![tag.to_string()],
            message,
            ..Default::default()
        };
        err.set_severity(severity);
        self.send(ctx, EventType::ErrorData, 0, &err);
    }

    fn on_binary(&mut self, frame: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        self.last_binary = Instant::now();
        match protocol::decode(frame) {
            Ok((header, request)) => {
                debug!(parent: &self.span, event = request.name(), request_id = header.request_id, "request");
                self.dispatch(header, request, ctx);
            }
            Err(e) => self.send_error(
                ctx,
                pb::ErrorSeverity::Error,
                "protocol",
                format!("Bad message: {e}"),
            ),
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
            Request::CloseFile(m) => self.on_close_file(m.file_id),
            Request::AddRequiredTiles(m) => self.on_add_tiles(m, ctx),
            Request::RemoveRequiredTiles(m) => self.on_remove_tiles(m, ctx),
            Request::SetImageChannels(m) => self.on_set_image_channels(m, ctx),
            Request::SetCursor(m) => self.on_set_cursor(m, ctx),
            Request::SetSpatialRequirements(m) => self.on_set_spatial_requirements(m, ctx),
            Request::SetRegion(m) => self.on_set_region(id, m, ctx),
            Request::RemoveRegion(m) => self.on_remove_region(m.region_id),
            Request::SetStatsRequirements(m) => self.on_stats_requirements(m, ctx),
            Request::SetHistogramRequirements(m) => self.on_histogram_requirements(m, ctx),
            Request::SetSpectralRequirements(m) => self.on_spectral_requirements(m, ctx),
            Request::ChannelMapFlowControl(_) => {}
            Request::Unsupported(event) => self.send_error(
                ctx,
                pb::ErrorSeverity::Warning,
                "unsupported",
                format!(
                    "{} is not supported by this server yet",
                    event.as_str_name()
                ),
            ),
        }
    }

    fn check_idle(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        if let Some(limit) = self.state.config.idle_timeout {
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
        self.state.session_opened();
        info!(parent: &self.span, "connected");
        if self.state.config.idle_timeout.is_some() {
            ctx.run_interval(Duration::from_secs(1), |act, ctx| act.check_idle(ctx));
        }
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if let Some(flag) = self.file_list_cancel.take() {
            flag.store(true, Ordering::Relaxed);
        }
        self.on_close_file(-1);
        self.state.session_closed();
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
                pb::ErrorSeverity::Error,
                "protocol",
                "Fragmented messages are not supported".into(),
            ),
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
