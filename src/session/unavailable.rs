//! Requests for features this server does not have yet. The frontend keeps a pending promise per request id
//! with no timeout, so every request it awaits gets its own response type with `success: false`, a message
//! saying the feature is not available yet, and the same request id; requests nobody awaits get an
//! ERROR_DATA warning with their request id.

use actix_web_actors::ws;

use super::{SessionActor, Tag};
use crate::protocol::{pb, EventType, Request};

/// What a failed response says.
fn not_yet(feature: &str) -> String {
    format!("{feature} is not available in this server yet")
}

impl SessionActor {
    pub(super) fn on_unavailable(
        &mut self,
        request_id: u32,
        request: Request,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let id = request_id;
        match request {
            Request::RegionListRequest(m) => self.send(
                ctx,
                EventType::RegionListResponse,
                id,
                &pb::RegionListResponse {
                    success: false,
                    message: not_yet("Region files"),
                    directory: m.directory.clone(),
                    ..Default::default()
                },
            ),
            Request::RegionFileInfoRequest(m) => self.send(
                ctx,
                EventType::RegionFileInfoResponse,
                id,
                &pb::RegionFileInfoResponse {
                    success: false,
                    message: not_yet("Region files"),
                    file_info: Some(pb::FileInfo {
                        name: m.file.clone(),
                        ..Default::default()
                    }),
                    contents: Vec::new(),
                },
            ),
            Request::ImportRegion(_) => self.send(
                ctx,
                EventType::ImportRegionAck,
                id,
                &pb::ImportRegionAck {
                    success: false,
                    message: not_yet("Region import"),
                    ..Default::default()
                },
            ),
            Request::ExportRegion(_) => self.send(
                ctx,
                EventType::ExportRegionAck,
                id,
                &pb::ExportRegionAck {
                    success: false,
                    message: not_yet("Region export"),
                    ..Default::default()
                },
            ),
            Request::CatalogListRequest(m) => self.send(
                ctx,
                EventType::CatalogListResponse,
                id,
                &pb::CatalogListResponse {
                    success: false,
                    message: not_yet("Catalogs"),
                    directory: m.directory.clone(),
                    ..Default::default()
                },
            ),
            Request::CatalogFileInfoRequest(_) => self.send(
                ctx,
                EventType::CatalogFileInfoResponse,
                id,
                &pb::CatalogFileInfoResponse {
                    success: false,
                    message: not_yet("Catalogs"),
                    ..Default::default()
                },
            ),
            Request::OpenCatalogFile(m) => self.send(
                ctx,
                EventType::OpenCatalogFileAck,
                id,
                &pb::OpenCatalogFileAck {
                    success: false,
                    message: not_yet("Catalogs"),
                    file_id: m.file_id,
                    ..Default::default()
                },
            ),
            Request::MomentRequest(_) => self.send(
                ctx,
                EventType::MomentResponse,
                id,
                &pb::MomentResponse {
                    success: false,
                    message: not_yet("The moment generator"),
                    ..Default::default()
                },
            ),
            Request::FittingRequest(_) => self.send(
                ctx,
                EventType::FittingResponse,
                id,
                &pb::FittingResponse {
                    success: false,
                    message: not_yet("Image fitting"),
                    ..Default::default()
                },
            ),
            Request::SaveFile(m) => self.send(
                ctx,
                EventType::SaveFileAck,
                id,
                &pb::SaveFileAck {
                    file_id: m.file_id,
                    success: false,
                    message: not_yet("Saving images"),
                    overwrite_confirmation_required: false,
                },
            ),
            Request::ConcatStokesFiles(_) => self.send(
                ctx,
                EventType::ConcatStokesFilesAck,
                id,
                &pb::ConcatStokesFilesAck {
                    success: false,
                    message: not_yet("Stokes concatenation"),
                    open_file_ack: None,
                },
            ),
            Request::RemoteFileRequest(_) => self.send(
                ctx,
                EventType::RemoteFileResponse,
                id,
                &pb::RemoteFileResponse {
                    success: false,
                    message: not_yet("Opening remote (HiPS) images"),
                    open_file_ack: None,
                },
            ),
            other => {
                let text = format!("{} is not supported by this server yet", other.name());
                self.send_error(
                    ctx,
                    request_id,
                    Tag::Unsupported,
                    pb::ErrorSeverity::Warning,
                    text,
                );
            }
        }
    }
}
