//! Connection handlers: REGISTER_VIEWER (ICD version policy, session ids, feature flags, platform strings).

use std::collections::HashMap;

use actix_web_actors::ws;
use tracing::info;

use super::SessionActor;
use crate::protocol::{self, pb, EventType, Header};

impl SessionActor {
    pub(super) fn on_register_viewer(
        &mut self,
        header: Header,
        msg: pb::RegisterViewer,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let mut ack = pb::RegisterViewerAck::default();
        if !protocol::icd_version_supported(header.icd_version) {
            ack.success = false;
            ack.message = format!(
                "ICD version {} is not supported: this server speaks ICD {} and accepts {} to {}",
                header.icd_version,
                protocol::ICD_VERSION,
                protocol::MIN_ICD_VERSION,
                protocol::ICD_VERSION
            );
            ack.session_id = msg.session_id;
            self.send(ctx, EventType::RegisterViewerAck, header.request_id, &ack);
            return;
        }
        if msg.session_id != 0 {
            // A reconnecting frontend keeps its id; it will follow with RESUME_SESSION.
            ack.message = if msg.session_id == self.id {
                format!("Network reconnected with session id {}", msg.session_id)
            } else {
                format!(
                    "Session resumed with the frontend's session id {} (this server had given it {})",
                    msg.session_id, self.id
                )
            };
            self.id = msg.session_id;
            ack.set_session_type(pb::SessionType::Resumed);
        } else {
            ack.message = format!("Started a new session with id {}", self.id);
            ack.set_session_type(pb::SessionType::New);
        }
        ack.session_id = self.id;
        ack.success = true;
        if self.settings.read_only {
            ack.server_feature_flags = pb::ServerFeatureFlags::ReadOnly as u32;
        }
        ack.platform_strings = platform_strings(self.settings.controller_deployment);
        self.span.record("id", self.id);
        info!(parent: &self.span, session_id = self.id, icd = header.icd_version, "registered");
        self.send(ctx, EventType::RegisterViewerAck, header.request_id, &ack);
    }
}

fn platform_strings(controller: bool) -> HashMap<String, String> {
    let mut p = HashMap::new();
    p.insert("platform".into(), std::env::consts::OS.into());
    p.insert("architecture".into(), std::env::consts::ARCH.into());
    p.insert("deployment".into(), "cartaflow".into());
    p.insert(
        "server".into(),
        format!("cartaflow {}", env!("CARGO_PKG_VERSION")),
    );
    if let Ok(text) = std::fs::read_to_string("/etc/os-release") {
        if let Some(name) = text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")) {
            p.insert("release_info".into(), name.trim_matches('"').to_string());
        }
    }
    if controller {
        p.insert("controller_deployment".into(), "true".into());
    }
    p
}
