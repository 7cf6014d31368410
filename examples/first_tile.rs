//! Measures what an astronomer waits for, through the WebSocket protocol: OPEN_FILE → OPEN_FILE_ACK → first
//! RASTER_TILE_DATA of the whole-image tile (layer 0); then, with the image loaded, SET_STATS_REQUIREMENTS →
//! REGION_STATS_DATA and SET_HISTOGRAM_REQUIREMENTS (auto bins, the image's range) → REGION_HISTOGRAM_DATA for
//! the whole image; and the server's resident memory (from /health).
//!
//! Usage: cargo run --release --example first_tile -- ws://127.0.0.1:3002/?token=T DIRECTORY FILE [RUNS]

use std::time::{Duration, Instant};

use cartaflow::protocol::{self, pb, EventType, Header};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio_tungstenite::tungstenite::Message;

fn frame(event: EventType, id: u32, msg: &impl prost::Message) -> Message {
    Message::Binary(protocol::encode(event, id, msg))
}

async fn wait_for(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
    event: EventType,
) -> Vec<u8> {
    loop {
        match tokio::time::timeout(Duration::from_secs(120), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => {
                if let Ok((h, payload)) = Header::split(&b) {
                    if h.event_type == event as u16 {
                        return payload.to_vec();
                    }
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("connection ended while waiting for {event:?}: {other:?}"),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: first_tile WS_URL DIRECTORY FILE [RUNS]");
        std::process::exit(2);
    }
    let runs: usize = args.get(4).and_then(|r| r.parse().ok()).unwrap_or(1);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(args[1].as_str(), None, true)
        .await
        .expect("connect");
    let (mut tx, mut rx) = ws.split();
    tx.send(frame(
        EventType::RegisterViewer,
        1,
        &pb::RegisterViewer {
            session_id: 0,
            api_key: String::new(),
            client_feature_flags: 5,
        },
    ))
    .await
    .expect("send");
    wait_for(&mut rx, EventType::RegisterViewerAck).await;
    for run in 0..runs {
        let file_id = run as i32;
        let start = Instant::now();
        let open = pb::OpenFile {
            directory: args[2].clone(),
            file: args[3].clone(),
            file_id,
            ..Default::default()
        };
        tx.send(frame(EventType::OpenFile, 2, &open))
            .await
            .expect("send");
        let ack =
            pb::OpenFileAck::decode(wait_for(&mut rx, EventType::OpenFileAck).await.as_slice())
                .expect("ack");
        assert!(ack.success, "{}", ack.message);
        let acked = start.elapsed();
        let tiles = pb::AddRequiredTiles {
            file_id,
            tiles: vec![0],
            compression_type: 1,
            compression_quality: 11.0,
            current_tiles: vec![],
        };
        tx.send(frame(EventType::AddRequiredTiles, 3, &tiles))
            .await
            .expect("send");
        wait_for(&mut rx, EventType::RasterTileData).await;
        let first_tile = start.elapsed();
        println!(
            "run {run}: ack {:.1} ms, first tile {:.1} ms",
            acked.as_secs_f64() * 1e3,
            first_tile.as_secs_f64() * 1e3
        );
        let t = Instant::now();
        let stats = pb::SetStatsRequirements {
            file_id,
            region_id: -1,
            stats_configs: vec![pb::set_stats_requirements::StatsConfig {
                coordinate: "z".into(),
                stats_types: (0..=10).collect(),
            }],
        };
        tx.send(frame(EventType::SetStatsRequirements, 5, &stats))
            .await
            .expect("send");
        wait_for(&mut rx, EventType::RegionStatsData).await;
        let stats_time = t.elapsed();
        let t = Instant::now();
        let config = pb::HistogramConfig {
            coordinate: "z".into(),
            channel: -1,
            fixed_num_bins: true,
            num_bins: 0,
            ..Default::default()
        };
        let hist = pb::SetHistogramRequirements {
            file_id,
            region_id: -1,
            histograms: vec![config],
        };
        tx.send(frame(EventType::SetHistogramRequirements, 6, &hist))
            .await
            .expect("send");
        wait_for(&mut rx, EventType::RegionHistogramData).await;
        println!(
            "        statistics {:.1} ms, histogram {:.1} ms",
            stats_time.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
        // Resident memory with the image open (the server's /health), then close it.
        println!(
            "        server memory with the image open: {}",
            health(&args[1]).await
        );
        tx.send(frame(EventType::CloseFile, 4, &pb::CloseFile { file_id }))
            .await
            .expect("send");
    }
}

/// `rss_bytes` and `pixel_bytes` from GET /health on the server behind `ws_url`.
async fn health(ws_url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hostport = ws_url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:3002");
    let Ok(mut s) = tokio::net::TcpStream::connect(hostport).await else {
        return "unavailable".into();
    };
    let req = format!("GET /health HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return "unavailable".into();
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body).await;
    let field = |name: &str| {
        body.split(&format!("\"{name}\":"))
            .nth(1)
            .and_then(|r| r.split([',', '}']).next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    format!(
        "RSS {:.1} MiB, pixels held {:.1} MiB",
        field("rss_bytes").unwrap_or(f64::NAN) / 1048576.0,
        field("pixel_bytes").unwrap_or(f64::NAN) / 1048576.0
    )
}
