//! The benchmark harness's protocol client and machine-limit probes (driven by `bench/harness.py`). Each command
//! prints one JSON object on stdout.
//!
//! - `open URL DIR FILE stats|histogram|tile`: a new session opens FILE and at once asks for the whole image's
//!   statistics, its histogram (sqrt(w·h) bins over the image's range) or the whole-image tile; prints the
//!   seconds from OPEN_FILE to the answer ("from disk" when the harness has evicted the file).
//! - `memory URL DIR FILE RUNS`: opens FILE, waits until it is loaded (its colour-scale histogram), then RUNS
//!   times asks for the statistics and the histogram again; with the server's result cache off
//!   (CARTAFLOW_ANALYSIS_CACHE_MB=0) every answer is a real pass ("in memory").
//! - `cursor URL DIR FILE N`: opens FILE, sets x/y spatial requirements, then N times moves the cursor and
//!   waits for its SPATIAL_PROFILE_DATA; prints round-trip percentiles.
//! - `limit-memory BYTES THREADS RUNS`: seconds for THREADS threads to read BYTES of memory once (median).
//! - `read FILE`: seconds to read FILE once sequentially (cold when the harness has evicted it).

use std::io::Read;
use std::time::{Duration, Instant};

use cartaflow::protocol::{self, pb, EventType, Header};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn fail(message: String) -> ! {
    eprintln!("bench_client: {message}");
    std::process::exit(1)
}

struct Client {
    ws: Ws,
    id: u32,
}

impl Client {
    async fn connect(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .unwrap_or_else(|e| fail(format!("connect {url}: {e}")));
        let mut c = Client { ws, id: 0 };
        c.send(
            EventType::RegisterViewer,
            &pb::RegisterViewer {
                session_id: 0,
                api_key: String::new(),
                client_feature_flags: 5,
            },
        )
        .await;
        c.wait(EventType::RegisterViewerAck, |_| true).await;
        c
    }

    async fn send(&mut self, event: EventType, msg: &impl prost::Message) {
        self.id += 1;
        let frame = Message::Binary(protocol::encode(event, self.id, msg));
        if let Err(e) = self.ws.send(frame).await {
            fail(format!("send {event:?}: {e}"));
        }
    }

    /// The payload of the next `event` message for which `accept` holds.
    async fn wait(&mut self, event: EventType, accept: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        loop {
            match tokio::time::timeout(Duration::from_secs(600), self.ws.next()).await {
                Ok(Some(Ok(Message::Binary(b)))) => {
                    if let Ok((h, payload)) = Header::split(&b) {
                        if h.event_type == EventType::ErrorData as u16 {
                            let e = pb::ErrorData::decode(payload).unwrap_or_default();
                            fail(format!("server error: {}", e.message));
                        }
                        if h.event_type == event as u16 && accept(payload) {
                            return payload.to_vec();
                        }
                    }
                }
                Ok(Some(Ok(_))) => {}
                other => fail(format!("connection ended waiting for {event:?}: {other:?}")),
            }
        }
    }

    /// Opens the file and returns its width and height once acknowledged.
    async fn open(&mut self, dir: &str, file: &str) -> (usize, usize) {
        let open = pb::OpenFile {
            directory: dir.into(),
            file: file.into(),
            file_id: 0,
            ..Default::default()
        };
        self.send(EventType::OpenFile, &open).await;
        let ack =
            pb::OpenFileAck::decode(self.wait(EventType::OpenFileAck, |_| true).await.as_slice())
                .unwrap_or_else(|e| fail(format!("OPEN_FILE_ACK: {e}")));
        if !ack.success {
            fail(format!("open {file}: {}", ack.message));
        }
        let info = ack.file_info_extended.unwrap_or_default();
        (info.width as usize, info.height as usize)
    }

    async fn stats(&mut self) {
        let req = pb::SetStatsRequirements {
            file_id: 0,
            region_id: -1,
            stats_configs: vec![pb::set_stats_requirements::StatsConfig {
                coordinate: "z".into(),
                // NumPixels, NanCount, Sum, FluxDensity, Mean, RMS, Sigma, SumSq, Min, Max, Extrema.
                stats_types: (0..=10).collect(),
            }],
        };
        self.send(EventType::SetStatsRequirements, &req).await;
        self.wait(EventType::RegionStatsData, |_| true).await;
    }

    async fn histogram(&mut self, width: usize, height: usize) {
        let bins = ((width as f64 * height as f64).sqrt() as i32).max(2);
        let req = pb::SetHistogramRequirements {
            file_id: 0,
            region_id: -1,
            histograms: vec![pb::HistogramConfig {
                coordinate: "z".into(),
                channel: -1,
                fixed_num_bins: true,
                num_bins: bins,
                fixed_bounds: false,
                bounds: None,
            }],
        };
        self.send(EventType::SetHistogramRequirements, &req).await;
        // The answer to this requirement echoes its config (the colour-scale histogram does not).
        self.wait(EventType::RegionHistogramData, |p| {
            pb::RegionHistogramData::decode(p)
                .ok()
                .and_then(|d| d.config)
                .is_some_and(|c| c.fixed_num_bins && c.num_bins == bins)
        })
        .await;
    }

    async fn first_tile(&mut self) {
        let tiles = pb::AddRequiredTiles {
            file_id: 0,
            tiles: vec![0],
            compression_type: 1,
            compression_quality: 11.0,
            current_tiles: vec![],
        };
        self.send(EventType::AddRequiredTiles, &tiles).await;
        self.wait(EventType::RasterTileData, |_| true).await;
    }

    /// Waits for the colour-scale histogram: the plane is loaded.
    async fn loaded(&mut self) {
        self.wait(EventType::RegionHistogramData, |_| true).await;
    }
}

fn arg(args: &[String], i: usize) -> &str {
    args.get(i).map(String::as_str).unwrap_or_else(|| {
        fail(format!(
            "missing argument {i}; see the module documentation"
        ))
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn list(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:.6}")).collect();
    format!("[{}]", items.join(","))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match arg(&args, 1) {
        "open" => {
            let (url, dir, file, what) =
                (arg(&args, 2), arg(&args, 3), arg(&args, 4), arg(&args, 5));
            let mut c = Client::connect(url).await;
            let start = Instant::now();
            let (w, h) = c.open(dir, file).await;
            match what {
                "stats" => c.stats().await,
                "histogram" => c.histogram(w, h).await,
                "tile" => c.first_tile().await,
                other => fail(format!("unknown measurement {other}")),
            }
            println!("{{\"seconds\":{:.6}}}", start.elapsed().as_secs_f64());
        }
        "memory" => {
            let (url, dir, file) = (arg(&args, 2), arg(&args, 3), arg(&args, 4));
            let runs: usize = arg(&args, 5).parse().unwrap_or(5);
            let mut c = Client::connect(url).await;
            let (w, h) = c.open(dir, file).await;
            c.loaded().await;
            let (mut stats, mut hist) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                let t = Instant::now();
                c.stats().await;
                stats.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                c.histogram(w, h).await;
                hist.push(t.elapsed().as_secs_f64());
            }
            println!(
                "{{\"stats\":{},\"histogram\":{}}}",
                list(&stats),
                list(&hist)
            );
        }
        "cursor" => {
            let (url, dir, file) = (arg(&args, 2), arg(&args, 3), arg(&args, 4));
            let n: usize = arg(&args, 5).parse().unwrap_or(1000);
            let mut c = Client::connect(url).await;
            let (w, h) = c.open(dir, file).await;
            c.loaded().await;
            let req = pb::SetSpatialRequirements {
                file_id: 0,
                region_id: 0,
                spatial_profiles: ["x", "y"]
                    .iter()
                    .map(|axis| pb::set_spatial_requirements::SpatialConfig {
                        coordinate: (*axis).into(),
                        mip: 1,
                        ..Default::default()
                    })
                    .collect(),
            };
            c.send(EventType::SetSpatialRequirements, &req).await;
            let mut state = 0x2545_f491_4f6c_dd1du64;
            let mut times = Vec::with_capacity(n);
            for _ in 0..n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let (x, y) = ((state % w as u64) as i32, ((state >> 32) % h as u64) as i32);
                let t = Instant::now();
                let cursor = pb::SetCursor {
                    file_id: 0,
                    point: Some(pb::Point {
                        x: x as f32,
                        y: y as f32,
                    }),
                    spatial_requirements: None,
                };
                c.send(EventType::SetCursor, &cursor).await;
                c.wait(EventType::SpatialProfileData, |p| {
                    pb::SpatialProfileData::decode(p).is_ok_and(|d| d.x == x && d.y == y)
                })
                .await;
                times.push(t.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
            println!(
                "{{\"n\":{n},\"p50\":{:.6},\"p99\":{:.6},\"max\":{:.6}}}",
                pct(0.5),
                pct(0.99),
                times[times.len() - 1]
            );
        }
        "limit-memory" => {
            let bytes: usize = arg(&args, 2).parse().unwrap_or(1 << 30);
            let threads: usize = arg(&args, 3).parse().unwrap_or(2);
            let runs: usize = arg(&args, 4).parse().unwrap_or(5);
            let words: Vec<u64> = (0..bytes / 8).map(|i| i as u64).collect();
            let mut times = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                let per = words.len().div_ceil(threads.max(1)).max(1);
                let total: u64 = std::thread::scope(|s| {
                    let handles: Vec<_> = words
                        .chunks(per)
                        .map(|part| {
                            s.spawn(move || {
                                // Four independent sums so the loop is bound by loads, not adds.
                                let mut acc = [0u64; 4];
                                for c in part.chunks_exact(4) {
                                    for k in 0..4 {
                                        acc[k] = acc[k].wrapping_add(c[k]);
                                    }
                                }
                                acc.iter().fold(0u64, |a, b| a.wrapping_add(*b))
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or(0))
                        .fold(0u64, u64::wrapping_add)
                });
                std::hint::black_box(total);
                times.push(t.elapsed().as_secs_f64());
            }
            println!(
                "{{\"seconds\":{:.6},\"runs\":{}}}",
                median(times.clone()),
                list(&times)
            );
        }
        "read" => {
            let path = arg(&args, 2);
            let t = Instant::now();
            let mut f = std::fs::File::open(path).unwrap_or_else(|e| fail(format!("{path}: {e}")));
            let mut buf = vec![0u8; 8 << 20];
            let mut total = 0usize;
            loop {
                match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => total += n,
                    Err(e) => fail(format!("{path}: {e}")),
                }
            }
            println!(
                "{{\"seconds\":{:.6},\"bytes\":{total}}}",
                t.elapsed().as_secs_f64()
            );
        }
        other => fail(format!(
            "unknown command {other}; see the module documentation"
        )),
    }
}
