//! A randomised hostile client against the real binary: every client event type with extreme field values
//! (the integer extremes, NaN and infinities, huge repeated fields, paths with `..`), garbage and truncated
//! frames, with images open so the requests reach file and region code. The server must keep answering
//! (a PING gets its PONG, a file listing its response) and its memory must stay bounded.

mod common;

use std::time::{Duration, Instant};

use cartaflow::protocol::{pb, EventType};
use common::{frame, health, Server};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio_tungstenite::tungstenite::Message;

/// splitmix64: deterministic, so a failure is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn int(&mut self) -> i32 {
        const EDGES: [i32; 12] = [
            0,
            1,
            -1,
            -2,
            2,
            13,
            17,
            i32::MAX,
            i32::MIN,
            1 << 24,
            4096,
            -1000,
        ];
        if self.below(3) == 0 {
            self.next() as i32
        } else {
            EDGES[self.below(EDGES.len())]
        }
    }

    fn small(&mut self) -> i32 {
        [0, 1, 2, 3, -1, -2, 7, 100][self.below(8)]
    }

    fn float(&mut self) -> f32 {
        const EDGES: [f32; 11] = [
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            -f32::MAX,
            1e-38,
            1e30,
            -5.5,
            0.5,
        ];
        if self.below(2) == 0 {
            (self.next() % 1000) as f32 / 7.0 - 20.0
        } else {
            EDGES[self.below(EDGES.len())]
        }
    }

    fn double(&mut self) -> f64 {
        f64::from(self.float())
    }

    fn text(&mut self) -> String {
        match self.below(9) {
            0 => String::new(),
            1 => "z".into(),
            2 => "Ptotalz".into(),
            3 => "../../../../etc/passwd".into(),
            4 => "..".into(),
            5 => "$BASE".into(),
            6 => "x".repeat(10_000),
            7 => "\u{0}Qy\u{7f}é".into(),
            _ => [
                "x",
                "y",
                "Iz",
                "Vz",
                "Qx",
                "Panglez",
                "cube3d.fits",
                "wcs2d.fits",
            ][self.below(8)]
            .into(),
        }
    }

    /// A repeated field's length: mostly small, sometimes huge.
    fn count(&mut self) -> usize {
        [0, 1, 2, 3, 10, 1000, 100_000][self.below(7)]
    }

    fn points(&mut self) -> Vec<pb::Point> {
        (0..self.count())
            .map(|_| pb::Point {
                x: self.float(),
                y: self.float(),
            })
            .collect()
    }

    fn ints(&mut self) -> Vec<i32> {
        (0..self.count()).map(|_| self.int()).collect()
    }

    /// A repeated field inside each of many entries: at most `max` long.
    fn ints_up_to(&mut self, max: usize) -> Vec<i32> {
        (0..self.count().min(max)).map(|_| self.int()).collect()
    }
}

/// One hostile request of a random client event type.
fn hostile(rng: &mut Rng) -> (EventType, Vec<u8>) {
    use pb::set_spatial_requirements::SpatialConfig;
    use pb::set_spectral_requirements::SpectralConfig;
    use pb::set_stats_requirements::StatsConfig;
    let file_id = if rng.below(3) == 0 {
        rng.int()
    } else {
        rng.small()
    };
    let region_id = rng.int().clamp(-3, 5);
    match rng.below(30) {
        0 => (
            EventType::FileListRequest,
            pb::FileListRequest {
                directory: rng.text(),
                filter_mode: rng.int(),
            }
            .encode_to_vec(),
        ),
        1 => (
            EventType::FileInfoRequest,
            pb::FileInfoRequest {
                directory: rng.text(),
                file: rng.text(),
                hdu: rng.text(),
                support_aips_beam: rng.below(2) == 0,
            }
            .encode_to_vec(),
        ),
        2 => (
            EventType::OpenFile,
            pb::OpenFile {
                directory: ["", "pixels", "..", "sub"][rng.below(4)].into(),
                file: [
                    "cube4d.fits",
                    "tiles_nan.fits",
                    "../outside/secret.fits",
                    "fake.fits",
                    "truncated.fits",
                    "idia.hdf5",
                ][rng.below(6)]
                .into(),
                hdu: rng.text(),
                file_id,
                render_mode: rng.int(),
                lel_expr: rng.below(8) == 0,
                support_aips_beam: false,
            }
            .encode_to_vec(),
        ),
        3 => (
            EventType::CloseFile,
            pb::CloseFile { file_id }.encode_to_vec(),
        ),
        4 | 5 => (
            EventType::AddRequiredTiles,
            pb::AddRequiredTiles {
                file_id,
                tiles: rng.ints(),
                compression_type: rng.small(),
                compression_quality: rng.float(),
                current_tiles: rng.ints(),
            }
            .encode_to_vec(),
        ),
        6 => (
            EventType::RemoveRequiredTiles,
            pb::RemoveRequiredTiles {
                file_id,
                tiles: rng.ints(),
            }
            .encode_to_vec(),
        ),
        7 | 8 => (
            EventType::SetImageChannels,
            pb::SetImageChannels {
                file_id,
                channel: if rng.below(2) == 0 {
                    rng.small()
                } else {
                    rng.int()
                },
                stokes: rng.small(),
                required_tiles: Some(pb::AddRequiredTiles {
                    file_id,
                    tiles: rng.ints(),
                    compression_type: 1,
                    compression_quality: rng.float(),
                    current_tiles: Vec::new(),
                }),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        9 | 10 => (
            EventType::SetCursor,
            pb::SetCursor {
                file_id,
                point: Some(pb::Point {
                    x: rng.float(),
                    y: rng.float(),
                }),
                spatial_requirements: None,
            }
            .encode_to_vec(),
        ),
        11 => (
            EventType::SetSpatialRequirements,
            pb::SetSpatialRequirements {
                file_id,
                region_id: rng.small(),
                spatial_profiles: (0..rng.count().min(1000))
                    .map(|_| SpatialConfig {
                        coordinate: rng.text(),
                        start: rng.int(),
                        end: rng.int(),
                        mip: rng.int(),
                        width: rng.int(),
                    })
                    .collect(),
            }
            .encode_to_vec(),
        ),
        12..=14 => (
            EventType::SetRegion,
            pb::SetRegion {
                file_id,
                region_id,
                region_info: (rng.below(8) != 0).then(|| pb::RegionInfo {
                    region_type: rng.int().clamp(-1, 17),
                    control_points: rng.points(),
                    rotation: rng.float(),
                }),
                preview_region: rng.below(10) == 0,
            }
            .encode_to_vec(),
        ),
        15 => (
            EventType::RemoveRegion,
            pb::RemoveRegion { region_id }.encode_to_vec(),
        ),
        16 | 17 => (
            EventType::SetStatsRequirements,
            pb::SetStatsRequirements {
                file_id,
                region_id,
                stats_configs: (0..rng.count().min(1000))
                    .map(|_| StatsConfig {
                        coordinate: rng.text(),
                        stats_types: rng.ints_up_to(300),
                    })
                    .collect(),
            }
            .encode_to_vec(),
        ),
        18 | 19 => (
            EventType::SetHistogramRequirements,
            pb::SetHistogramRequirements {
                file_id,
                region_id,
                histograms: (0..rng.count().min(1000))
                    .map(|_| pb::HistogramConfig {
                        coordinate: rng.text(),
                        channel: rng.int().clamp(-3, 20),
                        fixed_num_bins: rng.below(2) == 0,
                        num_bins: rng.int(),
                        fixed_bounds: rng.below(2) == 0,
                        bounds: Some(pb::DoubleBounds {
                            min: rng.double(),
                            max: rng.double(),
                        }),
                    })
                    .collect(),
            }
            .encode_to_vec(),
        ),
        20 | 21 => (
            EventType::SetSpectralRequirements,
            pb::SetSpectralRequirements {
                file_id,
                region_id,
                spectral_profiles: (0..rng.count().min(1000))
                    .map(|_| SpectralConfig {
                        coordinate: rng.text(),
                        stats_types: rng.ints_up_to(300),
                    })
                    .collect(),
            }
            .encode_to_vec(),
        ),
        22 => (
            EventType::RegisterViewer,
            pb::RegisterViewer {
                session_id: rng.next() as u32,
                api_key: rng.text(),
                client_feature_flags: rng.next() as u32,
            }
            .encode_to_vec(),
        ),
        23 => {
            // Any other client event, with a payload that may or may not decode as its message.
            const OTHERS: [EventType; 24] = [
                EventType::StopFileList,
                EventType::ChannelMapFlowControl,
                EventType::StartAnimation,
                EventType::StopAnimation,
                EventType::AnimationFlowControl,
                EventType::RegionListRequest,
                EventType::RegionFileInfoRequest,
                EventType::ImportRegion,
                EventType::ExportRegion,
                EventType::SetContourParameters,
                EventType::CatalogListRequest,
                EventType::CatalogFileInfoRequest,
                EventType::OpenCatalogFile,
                EventType::CloseCatalogFile,
                EventType::CatalogFilterRequest,
                EventType::MomentRequest,
                EventType::StopMomentCalc,
                EventType::SaveFile,
                EventType::ConcatStokesFiles,
                EventType::PvRequest,
                EventType::FittingRequest,
                EventType::SetVectorOverlayParameters,
                EventType::RemoteFileRequest,
                EventType::ResumeSession,
            ];
            let event = OTHERS[rng.below(OTHERS.len())];
            let payload = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            (event, payload)
        }
        24 => (
            EventType::ResumeSession,
            pb::ResumeSession {
                images: (0..rng.count().min(1000))
                    .map(|_| pb::ImageProperties {
                        directory: rng.text(),
                        file: rng.text(),
                        file_id: rng.int(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        25 => (
            EventType::ExportRegion,
            pb::ExportRegion {
                directory: rng.text(),
                file: rng.text(),
                file_id,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        // Server-only events sent by a client.
        26 => (EventType::RasterTileData, vec![0x0a, 0x00]),
        _ => (
            EventType::StartAnimation,
            pb::StartAnimation {
                file_id,
                frame_rate: rng.int(),
                stokes_indices: rng.ints(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
    }
}

#[tokio::test]
async fn hostile_requests_leave_the_server_answering_with_memory_bounded() {
    let server = Server::start(&[]);
    let c = server.connect().await;
    let (mut tx, mut rx) = c.ws.split();
    // Drain everything the server sends, counting PONGs and FILE_LIST_RESPONSEs.
    let reader = tokio::spawn(async move {
        let (mut pongs, mut lists, mut frames) = (0u64, 0u64, 0u64);
        while let Some(Ok(msg)) = rx.next().await {
            match msg {
                Message::Text(t) if t.as_str() == "PONG" => pongs += 1,
                Message::Binary(b) if b.len() >= 8 => {
                    frames += 1;
                    if u16::from_le_bytes([b[0], b[1]]) == EventType::FileListResponse as u16 {
                        lists += 1;
                    }
                }
                Message::Close(reason) => {
                    eprintln!("hostile: the server closed the connection: {reason:?}");
                    break;
                }
                _ => {}
            }
        }
        (pongs, lists, frames)
    });
    let send = |event: EventType, id: u32, payload: &[u8]| frame(event, 30, id, payload);
    let register = pb::RegisterViewer {
        session_id: 0,
        api_key: String::new(),
        client_feature_flags: 5,
    };
    tx.send(Message::Binary(
        send(EventType::RegisterViewer, 1, &register.encode_to_vec()).into(),
    ))
    .await
    .expect("send");
    for (id, (dir, file)) in [("", "cube4d.fits"), ("pixels", "tiles_nan.fits")]
        .iter()
        .enumerate()
    {
        let open = pb::OpenFile {
            directory: dir.to_string(),
            file: file.to_string(),
            file_id: id as i32,
            ..Default::default()
        };
        tx.send(Message::Binary(
            send(EventType::OpenFile, 2 + id as u32, &open.encode_to_vec()).into(),
        ))
        .await
        .expect("send");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = health(&server).await["rss_bytes"].as_u64().expect("rss");

    // CARTAFLOW_HOSTILE_SEED=<n> replays another sequence.
    let seed = std::env::var("CARTAFLOW_HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut sent = 0u32;
    while sent < 10_000 && started.elapsed() < Duration::from_secs(60) {
        let (event, payload) = hostile(&mut rng);
        if payload.len() > 16 << 20 {
            continue; // Frames past the frame limit close the connection by design (tests/limits.rs).
        }
        let mut bytes = send(event, 10 + sent, &payload);
        match rng.below(20) {
            0 => bytes.truncate(rng.below(bytes.len() + 1)), // truncated frame
            1 => bytes = (0..rng.below(40)).map(|_| rng.next() as u8).collect(), // garbage
            _ => {}
        }
        if let Err(e) = tx.send(Message::Binary(bytes.into())).await {
            let alive = common::http_get(&server, "/health").await;
            panic!("the connection dropped after {sent} requests (last {event:?}): {e}; health: {alive:?}");
        }
        sent += 1;
    }
    eprintln!(
        "hostile: sent {sent} requests in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Still answering: a PING and a listing, after everything above.
    tx.send(Message::Text("PING".into())).await.expect("ping");
    let list = pb::FileListRequest {
        directory: String::new(),
        filter_mode: 0,
    };
    tx.send(Message::Binary(
        send(EventType::FileListRequest, 99_999, &list.encode_to_vec()).into(),
    ))
    .await
    .expect("send");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = health(&server).await;
    let rss = after["rss_bytes"].as_u64().expect("rss");
    let _ = tx.send(Message::Close(None)).await;
    let (pongs, lists, frames) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the reader ends")
        .expect("reader");
    assert!(
        pongs >= 1,
        "the final PING was answered ({frames} frames received)"
    );
    assert!(lists >= 1, "the final FILE_LIST_REQUEST was answered");
    assert!(
        rss < before + (768 << 20),
        "resident memory grew from {before} to {rss} bytes over {sent} hostile requests"
    );
    // And a fresh client is served normally.
    let mut c = server.connect().await;
    c.register().await;
    assert!(c.open_file("", "wcs2d.fits", "", 0).await.success);
}
