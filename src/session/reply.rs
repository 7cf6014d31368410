//! Replies: the one place binary frames go out to the client and the one place ERROR_DATA is built, with the
//! tag of the request's ICD area (as carta_backend tags them) and the request id whenever one is known.

use actix_web_actors::ws;
use tracing::{debug, warn};

use super::SessionActor;
use crate::file::Area;
use crate::protocol::{self, pb, EventType};

/// ERROR_DATA's tag: the area of the request or stream the error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Protocol,
    Unsupported,
    FileList,
    Open,
    Area(Area),
}

impl Tag {
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Protocol => "protocol",
            Tag::Unsupported => "unsupported",
            Tag::FileList => "file-list",
            Tag::Open => "file",
            Tag::Area(area) => match area {
                Area::Channels => "channels",
                Area::Tiles => "tiles",
                Area::Cursor => "cursor",
                Area::Spatial => "spatial",
                Area::Histogram => "histogram",
                Area::Stats => "stats",
                Area::Spectral => "spectral",
                Area::Region => "region",
                Area::File => "file",
                Area::Contours => "contours",
                Area::Vectors => "vector field",
            },
        }
    }
}

/// The ERROR_DATA message for `message`; `data` names the file it concerns, if any.
pub fn error_data(
    tag: Tag,
    severity: pb::ErrorSeverity,
    message: String,
    data: String,
) -> pb::ErrorData {
    let mut err = pb::ErrorData {
        tags: vec![tag.as_str().to_string()],
        message,
        data,
        ..Default::default()
    };
    err.set_severity(severity);
    err
}

impl SessionActor {
    pub(super) fn send(
        &self,
        ctx: &mut ws::WebsocketContext<Self>,
        event: EventType,
        request_id: u32,
        msg: &impl prost::Message,
    ) {
        ctx.binary(protocol::encode(event, request_id, msg));
    }

    /// Sends ERROR_DATA (the frontend logs it, and shows errors as a notice).
    pub(super) fn send_error(
        &self,
        ctx: &mut ws::WebsocketContext<Self>,
        request_id: u32,
        tag: Tag,
        severity: pb::ErrorSeverity,
        message: String,
    ) {
        self.send_error_about(ctx, request_id, tag, severity, message, String::new())
    }

    /// [`SessionActor::send_error`] about one file (`data` holds its id, as carta_backend's do).
    pub(super) fn send_error_about(
        &self,
        ctx: &mut ws::WebsocketContext<Self>,
        request_id: u32,
        tag: Tag,
        severity: pb::ErrorSeverity,
        message: String,
        data: String,
    ) {
        match severity {
            pb::ErrorSeverity::Error | pb::ErrorSeverity::Critical => {
                warn!(parent: &self.span, tag = tag.as_str(), "{message}")
            }
            _ => debug!(parent: &self.span, tag = tag.as_str(), "{message}"),
        }
        let err = error_data(tag, severity, message, data);
        self.send(ctx, EventType::ErrorData, request_id, &err);
    }
}
