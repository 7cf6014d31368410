//! Connection behaviour over a real WebSocket: registration and ICD versions, keep-alive, malformed frames,
//! authentication, and the HTTP endpoints beside the socket.

mod common;

use cartaflow::protocol::{pb, EventType};
use common::{frame, Server, TOKEN};
use futures_util::SinkExt;
use prost::Message as _;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn register_viewer_gets_ack_with_same_request_id_and_unique_sessions() {
    let server = Server::start(&[]);
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    let ack_a = a.register().await;
    let ack_b = b.register().await;
    assert!(ack_a.success && ack_b.success);
    assert_ne!(ack_a.session_id, 0);
    assert_ne!(ack_a.session_id, ack_b.session_id);
    assert_eq!(ack_a.session_type(), pb::SessionType::New);
}

#[tokio::test]
async fn reconnect_with_session_id_is_resumed() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    let msg = pb::RegisterViewer {
        session_id: 4242,
        api_key: String::new(),
        client_feature_flags: 5,
    };
    c.send(EventType::RegisterViewer, &msg).await;
    let (_, ack) = c
        .expect::<pb::RegisterViewerAck>(EventType::RegisterViewerAck)
        .await;
    assert!(ack.success);
    assert_eq!(ack.session_id, 4242);
    assert_eq!(ack.session_type(), pb::SessionType::Resumed);
}

#[tokio::test]
async fn icd_versions_outside_28_to_30_are_refused_with_reason() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    let payload = pb::RegisterViewer {
        session_id: 0,
        api_key: String::new(),
        client_feature_flags: 5,
    }
    .encode_to_vec();
    for (version, ok) in [
        (27u16, false),
        (28, true),
        (29, true),
        (30, true),
        (31, false),
    ] {
        c.send_raw(frame(EventType::RegisterViewer, version, 77, &payload))
            .await;
        let (h, ack) = c
            .expect::<pb::RegisterViewerAck>(EventType::RegisterViewerAck)
            .await;
        assert_eq!(h.request_id, 77);
        assert_eq!(ack.success, ok, "version {version}");
        if !ok {
            assert!(
                ack.message.contains(&version.to_string()),
                "message names the version: {}",
                ack.message
            );
        }
    }
}

#[tokio::test]
async fn text_ping_gets_pong() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.ws.send(Message::Text("PING".into())).await.expect("send");
    let (h, payload) = c.next().await;
    assert_eq!(h.event_type, 0);
    assert_eq!(payload, b"PONG");
}

async fn expect_error(c: &mut common::Client, needle: &str) {
    let (_, err) = c.expect::<pb::ErrorData>(EventType::ErrorData).await;
    assert!(
        err.message.contains(needle),
        "ERROR_DATA '{}' should mention '{needle}'",
        err.message
    );
}

#[tokio::test]
async fn malformed_frames_get_error_data_and_session_survives() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    c.send_raw(vec![1, 0, 30]).await;
    expect_error(&mut c, "shorter").await;
    // Event type 999 is not in the ICD.
    let mut unknown = frame(EventType::FileListRequest, 30, 6, &[]);
    unknown[0..2].copy_from_slice(&999u16.to_le_bytes());
    c.send_raw(unknown).await;
    expect_error(&mut c, "unknown event type 999").await;
    c.send_raw(frame(
        EventType::FileListRequest,
        30,
        7,
        &[0xff, 0xff, 0xff, 0xff],
    ))
    .await;
    expect_error(&mut c, "FILE_LIST_REQUEST").await;
    // An event the server does not implement yet, that nobody waits for an answer to.
    c.send(EventType::StopFitting, &pb::CloseFile { file_id: 0 })
        .await;
    expect_error(&mut c, "STOP_FITTING").await;
    // Still alive: a normal request is answered.
    let list = c.file_list("", pb::FileListFilterMode::Content).await;
    assert!(list.success);
}

#[tokio::test]
async fn channel_map_flow_control_is_accepted_silently() {
    let server = Server::start(&[]);
    let mut c = server.connect().await;
    c.register().await;
    c.send(
        EventType::ChannelMapFlowControl,
        &pb::ChannelMapFlowControl {
            file_id: 0,
            received_channel: 3,
        },
    )
    .await;
    c.ws.send(Message::Text("PING".into())).await.expect("send");
    let (h, payload) = c.next().await;
    assert_eq!(
        (h.event_type, payload.as_slice()),
        (0, &b"PONG"[..]),
        "no error before the PONG"
    );
}

#[tokio::test]
async fn wrong_or_missing_token_is_refused_and_token_sources_work() {
    let server = Server::start(&[]);
    assert!(server.connect_path("/").await.is_err());
    assert!(server.connect_path("/?token=wrong").await.is_err());
    assert!(server
        .connect_path(&format!("/?token={TOKEN}"))
        .await
        .is_ok());
    // Bearer header and cookie, as the frontend and carta-controller send them.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    for (name, value) in [
        ("Authorization", format!("Bearer {TOKEN}")),
        ("Cookie", format!("carta-auth-token={TOKEN}")),
        ("carta-auth-token", TOKEN.to_string()),
    ] {
        let mut req = format!("ws://127.0.0.1:{}/", server.port)
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert(name, value.parse().expect("header"));
        assert!(
            tokio_tungstenite::connect_async(req).await.is_ok(),
            "{name} accepted"
        );
    }
    let mut req = format!("ws://127.0.0.1:{}/", server.port)
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("Authorization", "Bearer nope".parse().expect("header"));
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
}

#[tokio::test]
async fn no_auth_accepts_the_frontends_placeholder_token() {
    let server = Server::start(&["--no-auth"]);
    assert!(server
        .connect_path("/?token=no_auth_configured")
        .await
        .is_ok());
    assert!(server.connect_path("/").await.is_ok());
}

#[tokio::test]
async fn health_reports_version_uptime_and_sessions_and_config_is_404() {
    let server = Server::start(&[]);
    let _c = server.connect().await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let json = common::health(&server).await;
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(json["uptime_seconds"].as_f64().is_some());
    assert_eq!(json["sessions"], 1);
    let (status, _) = common::http_get(&server, "/config").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn invalid_configuration_exits_with_code_2_naming_the_key() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cartaflow"))
        .args(["--top-level-folder", "/definitely/not/here", "--port", "0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("top_level_folder"));
    let dir = std::env::temp_dir().join(format!("cartaflow-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, "port = 3002\nno_such_option = true\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cartaflow"))
        .args(["--config", &cfg.to_string_lossy()])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no_such_option"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cartaflow"))
        .args(["--top-level-folder", "/", "--port", "0"])
        .env("CARTAFLOW_WORKERS", "many")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CARTAFLOW_WORKERS"));
}
