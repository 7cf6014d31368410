//! File-browsing handlers: FILE_LIST_REQUEST (with progress and STOP_FILE_LIST) and FILE_INFO_REQUEST.
//! Listing and header reads run on the I/O pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::AsyncContext;
use actix_web_actors::ws;
use tracing::{debug, warn};

use super::{Outgoing, SessionActor};
use crate::browse::{list_directory, FilesError, ListOptions};
use crate::image;
use crate::protocol::{self, pb, EventType};

impl SessionActor {
    pub(super) fn on_file_list(
        &mut self,
        request_id: u32,
        msg: pb::FileListRequest,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let confinement = self.settings.confinement.clone();
        let dir = match confinement.resolve_dir(&msg.directory) {
            Ok(d) => d,
            Err(e) => {
                debug!(parent: &self.span, "file list refused: {e}");
                let reply = pb::FileListResponse {
                    success: false,
                    message: e.to_string(),
                    directory: msg.directory.clone(),
                    ..Default::default()
                };
                self.send(ctx, EventType::FileListResponse, request_id, &reply);
                return;
            }
        };
        // A newer listing replaces the one in flight.
        if let Some(old) = self.file_list_cancel.take() {
            old.store(true, Ordering::Relaxed);
        }
        let cancel = Arc::new(AtomicBool::new(false));
        self.file_list_cancel = Some(cancel.clone());
        let options = ListOptions {
            filter: msg.filter_mode(),
            progress_interval: self.settings.file_list_progress_interval,
        };
        let addr = ctx.address();
        let span = self.span.clone();
        self.runtime.io_pool.spawn(move || {
            let _guard = span.enter();
            let progress_addr = addr.clone();
            let mut progress = |p: pb::ListProgress| {
                progress_addr.do_send(Outgoing(protocol::encode(
                    EventType::FileListProgress,
                    0,
                    &p,
                )));
            };
            let result = list_directory(&confinement, &dir, &options, &cancel, &mut progress);
            let reply = match result {
                Ok(listing) => pb::FileListResponse {
                    success: true,
                    directory: dir.directory_for_client(),
                    parent: dir.parent_for_client().unwrap_or_default(),
                    files: listing.files,
                    subdirectories: listing.subdirectories,
                    ..Default::default()
                },
                // Like carta_backend, a cancelled listing gets no response: the frontend has moved on.
                Err(FilesError::Cancelled(d)) => {
                    debug!("listing of {d} cancelled");
                    return;
                }
                Err(e) => pb::FileListResponse {
                    success: false,
                    message: e.to_string(),
                    directory: dir.directory_for_client(),
                    ..Default::default()
                },
            };
            addr.do_send(Outgoing(protocol::encode(
                EventType::FileListResponse,
                request_id,
                &reply,
            )));
        });
    }

    pub(super) fn on_stop_file_list(&mut self) {
        if let Some(flag) = self.file_list_cancel.take() {
            flag.store(true, Ordering::Relaxed);
        }
    }

    pub(super) fn on_file_info(
        &mut self,
        request_id: u32,
        msg: pb::FileInfoRequest,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let resolved = match self
            .settings
            .confinement
            .resolve_file(&msg.directory, &msg.file)
        {
            Ok(r) if r.absolute.is_file() => r,
            Ok(_) => {
                let reply = failed_info(
                    &msg.file,
                    FilesError::NotAFile(msg.file.clone()).to_string(),
                );
                self.send(ctx, EventType::FileInfoResponse, request_id, &reply);
                return;
            }
            Err(e) => {
                let reply = failed_info(&msg.file, e.to_string());
                self.send(ctx, EventType::FileInfoResponse, request_id, &reply);
                return;
            }
        };
        let addr = ctx.address();
        let span = self.span.clone();
        self.runtime.io_pool.spawn(move || {
            let _guard = span.enter();
            let format = image::detect(&resolved.absolute);
            let file_info = image::basic_info(&resolved.absolute, &msg.file, format);
            let reply = match image::file_info_extended(&resolved.absolute, &msg.file, &msg.hdu) {
                Ok(extended) => pb::FileInfoResponse {
                    success: true,
                    file_info: Some(file_info),
                    file_info_extended: extended,
                    ..Default::default()
                },
                Err(e) => {
                    warn!("file info for {} failed: {e}", resolved.relative);
                    let mut r = failed_info(&msg.file, format!("Cannot read '{}': {e}", msg.file));
                    r.file_info = Some(file_info);
                    r
                }
            };
            addr.do_send(Outgoing(protocol::encode(
                EventType::FileInfoResponse,
                request_id,
                &reply,
            )));
        });
    }
}

fn failed_info(file: &str, message: String) -> pb::FileInfoResponse {
    pb::FileInfoResponse {
        success: false,
        message,
        file_info: Some(pb::FileInfo {
            name: file.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}
