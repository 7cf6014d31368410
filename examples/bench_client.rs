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
//! - `cube URL HEALTH DIR FILE N RATE`: cube work in one session (the file stays open throughout, so its
//!   spectral-order index lives): N cursor spectra at random pixels right after open, then (once `/health` at
//!   HEALTH, `host:port`, reports the index ready, or at once for a file that stores its own copy) N more, five
//!   new 100×100 regions' spectra (mean, then again: sum), the per-cube histogram, and an animation over every
//!   channel at RATE frames per second with the tiles of the whole image at full resolution (ZFP precision 9,
//!   the frontend's default for animation), acknowledged as the frontend does, for 10 s.
//!   Prints percentiles, seconds and the frames per second sustained.
//! - `contours URL DIR FILE RUNS MODE FACTOR LEVELS`: overlay work as the 6.0.0 frontend asks for it (its default
//!   decimation 4, compression level 8 and chunk size 100000; the whole image's bounds): OPEN_FILE, then, as soon
//!   as it is acknowledged, SET_CONTOUR_PARAMETERS (smoothing MODE 0 none, 1 block, 2 Gaussian, with FACTOR; the
//!   comma-separated LEVELS), timed from OPEN_FILE until every level has arrived with progress 1; then RUNS
//!   times the same parameters again with the image open, each timed from SET_CONTOUR_PARAMETERS. Prints the
//!   seconds and, per level, the vertices and lines of the last run (from the sets' sizes).
//! - `pv URL HEALTH DIR FILE RUNS WIDTHS X0 Y0 X1 Y1`: OPEN_FILE, a LINE region from (X0, Y0) to (X1, Y1)
//!   (SET_REGION), and at once a PV_REQUEST over all channels at the first of the comma-separated WIDTHS, timed
//!   from OPEN_FILE to PV_RESPONSE; then waits until `/health` at HEALTH reports no spectral-order index
//!   building, and RUNS times per width PV_REQUEST → PV_RESPONSE (timed from PV_REQUEST, the region already
//!   set), closing each generated image. Prints the seconds, when the index was ready (if one was built, else
//!   null) and the PV image's width and height.
//! - `vectors URL DIR FILE RUNS MIP`: OPEN_FILE, then at once SET_VECTOR_OVERLAY_PARAMETERS as the frontend
//!   sends it for computed polarised intensity and angle (pixel averaging MIP, no threshold, no debiasing, not
//!   fractional, uncompressed), timed from OPEN_FILE to the VECTOR_OVERLAY_TILE_DATA with progress 1; then RUNS
//!   times cleared (intensity and angle sources -1, which the server answers with nothing) and set again, each
//!   timed from the second SET_VECTOR_OVERLAY_PARAMETERS to progress 1. Prints the seconds and the tiles.
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

/// Percentiles of seconds as JSON.
fn percentiles(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        v.get(((v.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    format!(
        "{{\"p50\":{:.6},\"p99\":{:.6},\"max\":{:.6},\"n\":{}}}",
        at(0.5),
        at(0.99),
        at(1.0),
        v.len()
    )
}

/// `GET /health` on `host:port`, parsed.
fn health(host: &str) -> serde_json::Value {
    use std::io::Write;
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return serde_json::Value::Null;
    };
    let _ = write!(s, "GET /health HTTP/1.0\r\nHost: {host}\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// A small deterministic generator for the random positions (the same in every run).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

impl Client {
    async fn cursor_spectrum(&mut self, x: usize, y: usize) -> f64 {
        let start = Instant::now();
        let cursor = pb::SetCursor {
            file_id: 0,
            point: Some(pb::Point {
                x: x as f32,
                y: y as f32,
            }),
            spatial_requirements: None,
        };
        self.send(EventType::SetCursor, &cursor).await;
        self.wait(EventType::SpectralProfileData, |p| {
            pb::SpectralProfileData::decode(p).is_ok_and(|d| d.region_id == 0 && d.progress >= 1.0)
        })
        .await;
        start.elapsed().as_secs_f64()
    }

    async fn region_spectrum(&mut self, region_id: i32, x: f32, y: f32) -> (i32, f64) {
        let set = pb::SetRegion {
            file_id: 0,
            region_id,
            region_info: Some(pb::RegionInfo {
                region_type: pb::RegionType::Rectangle as i32,
                control_points: vec![pb::Point { x, y }, pb::Point { x: 100.0, y: 100.0 }],
                rotation: 0.0,
            }),
            preview_region: false,
        };
        self.send(EventType::SetRegion, &set).await;
        let ack = pb::SetRegionAck::decode(
            self.wait(EventType::SetRegionAck, |_| true)
                .await
                .as_slice(),
        )
        .unwrap_or_default();
        let id = ack.region_id;
        (id, self.spectrum_of(id, pb::StatsType::Mean).await)
    }

    /// Seconds from a region's spectral requirement to its complete profile (the region is already set).
    async fn spectrum_of(&mut self, id: i32, stat: pb::StatsType) -> f64 {
        let start = Instant::now();
        let req = pb::SetSpectralRequirements {
            file_id: 0,
            region_id: id,
            spectral_profiles: vec![pb::set_spectral_requirements::SpectralConfig {
                coordinate: "z".into(),
                stats_types: vec![stat as i32],
            }],
        };
        self.send(EventType::SetSpectralRequirements, &req).await;
        self.wait(EventType::SpectralProfileData, |p| {
            pb::SpectralProfileData::decode(p).is_ok_and(|d| d.region_id == id && d.progress >= 1.0)
        })
        .await;
        start.elapsed().as_secs_f64()
    }

    async fn cube_histogram(&mut self) -> f64 {
        let req = pb::SetHistogramRequirements {
            file_id: 0,
            region_id: -2,
            histograms: vec![pb::HistogramConfig {
                coordinate: "z".into(),
                channel: -2,
                fixed_num_bins: false,
                num_bins: -1,
                fixed_bounds: false,
                bounds: None,
            }],
        };
        let start = Instant::now();
        self.send(EventType::SetHistogramRequirements, &req).await;
        self.wait(EventType::RegionHistogramData, |p| {
            pb::RegionHistogramData::decode(p).is_ok_and(|d| d.region_id == -2 && d.progress >= 1.0)
        })
        .await;
        start.elapsed().as_secs_f64()
    }

    /// Frames per second sustained over `seconds` of animation at `rate`, the whole image's full-resolution
    /// tiles in each frame.
    async fn animate(
        &mut self,
        width: usize,
        height: usize,
        depth: usize,
        rate: i32,
        seconds: f64,
    ) -> (f64, usize) {
        let layer = {
            let mut l = 0;
            while (256usize << l) < width.max(height) {
                l += 1;
            }
            l
        };
        let tiles: Vec<i32> = (0..height.div_ceil(256))
            .flat_map(|y| {
                (0..width.div_ceil(256)).map(move |x| ((layer << 24) | (y << 12) | x) as i32)
            })
            .collect();
        let frame = |channel: i32| Some(pb::AnimationFrame { channel, stokes: 0 });
        let start = pb::StartAnimation {
            file_id: 0,
            first_frame: frame(0),
            start_frame: frame(0),
            last_frame: frame(depth as i32 - 1),
            delta_frame: frame(1),
            frame_rate: rate,
            looping: true,
            reverse: false,
            required_tiles: Some(pb::AddRequiredTiles {
                file_id: 0,
                tiles,
                compression_type: pb::CompressionType::Zfp as i32,
                // The 6.0.0 frontend's default animation quality (its preference "animationCompressionQuality").
                compression_quality: 9.0,
                current_tiles: Vec::new(),
            }),
            matched_frames: Default::default(),
            stokes_indices: vec![0],
        };
        self.send(EventType::StartAnimation, &start).await;
        let ack = pb::StartAnimationAck::decode(
            self.wait(EventType::StartAnimationAck, |_| true)
                .await
                .as_slice(),
        )
        .unwrap_or_default();
        let began = Instant::now();
        let mut frames = 0usize;
        while began.elapsed().as_secs_f64() < seconds {
            let sync = pb::RasterTileSync::decode(
                self.wait(EventType::RasterTileSync, |p| {
                    pb::RasterTileSync::decode(p)
                        .is_ok_and(|s| s.end_sync && s.animation_id == ack.animation_id)
                })
                .await
                .as_slice(),
            )
            .unwrap_or_default();
            frames += 1;
            let flow = pb::AnimationFlowControl {
                file_id: 0,
                received_frame: frame(sync.channel),
                animation_id: ack.animation_id,
                timestamp: 0,
            };
            self.send(EventType::AnimationFlowControl, &flow).await;
        }
        let fps = frames as f64 / began.elapsed().as_secs_f64();
        self.send(
            EventType::StopAnimation,
            &pb::StopAnimation {
                file_id: 0,
                end_frame: frame(0),
            },
        )
        .await;
        (fps, frames)
    }
}

/// Counts of one contour level: vertices and lines.
#[derive(Default, Clone, Copy)]
struct LevelCount {
    vertices: usize,
    lines: usize,
}

impl Client {
    /// Opens FILE without waiting for the acknowledgement's extras; returns the extended file info.
    async fn open_info(&mut self, dir: &str, file: &str) -> pb::FileInfoExtended {
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
        ack.file_info_extended.unwrap_or_default()
    }

    /// Sends the contour parameters and reads CONTOUR_IMAGE_DATA until every level has come with progress 1.
    async fn contours(&mut self, params: &pb::SetContourParameters) -> Vec<LevelCount> {
        self.send(EventType::SetContourParameters, params).await;
        let levels = &params.levels;
        let mut counts = vec![LevelCount::default(); levels.len()];
        let mut done = vec![false; levels.len()];
        while done.iter().any(|d| !d) {
            let payload = self.wait(EventType::ContourImageData, |_| true).await;
            let data = pb::ContourImageData::decode(payload.as_slice())
                .unwrap_or_else(|e| fail(format!("CONTOUR_IMAGE_DATA: {e}")));
            for set in &data.contour_sets {
                let Some(i) = levels
                    .iter()
                    .position(|l| l.to_bits() == set.level.to_bits())
                else {
                    fail(format!("contour set of level {} never asked", set.level))
                };
                // Two f32 (x, y) per vertex before compression; one i32 start index per line.
                counts[i].vertices +=
                    usize::try_from(set.uncompressed_coordinates_size).unwrap_or(0) / 8;
                counts[i].lines += set.raw_start_indices.len() / 4;
                if data.progress >= 1.0 {
                    done[i] = true;
                }
            }
        }
        counts
    }

    /// A LINE region from `a` to `b`; returns its id.
    async fn line_region(&mut self, a: (f32, f32), b: (f32, f32)) -> i32 {
        let set = pb::SetRegion {
            file_id: 0,
            region_id: -1,
            region_info: Some(pb::RegionInfo {
                region_type: pb::RegionType::Line as i32,
                control_points: vec![pb::Point { x: a.0, y: a.1 }, pb::Point { x: b.0, y: b.1 }],
                rotation: 0.0,
            }),
            preview_region: false,
        };
        self.send(EventType::SetRegion, &set).await;
        let ack = pb::SetRegionAck::decode(
            self.wait(EventType::SetRegionAck, |_| true)
                .await
                .as_slice(),
        )
        .unwrap_or_else(|e| fail(format!("SET_REGION_ACK: {e}")));
        if !ack.success {
            fail(format!("line region: {}", ack.message));
        }
        ack.region_id
    }

    /// PV_REQUEST over all channels → PV_RESPONSE; returns the generated image's file id, width and height.
    async fn pv(&mut self, region_id: i32, width: i32) -> (i32, i32, i32) {
        let req = pb::PvRequest {
            file_id: 0,
            region_id,
            width,
            spectral_range: None,
            reverse: false,
            keep: false,
            preview_settings: None,
        };
        self.send(EventType::PvRequest, &req).await;
        let response =
            pb::PvResponse::decode(self.wait(EventType::PvResponse, |_| true).await.as_slice())
                .unwrap_or_else(|e| fail(format!("PV_RESPONSE: {e}")));
        if !response.success {
            fail(format!("PV image (width {width}): {}", response.message));
        }
        let ack = response.open_file_ack.unwrap_or_default();
        let info = ack.file_info_extended.unwrap_or_default();
        (ack.file_id, info.width, info.height)
    }

    /// Sends vector overlay parameters and reads VECTOR_OVERLAY_TILE_DATA until progress 1; returns the
    /// messages and the intensity tiles received.
    async fn vectors(&mut self, params: &pb::SetVectorOverlayParameters) -> (usize, usize) {
        self.send(EventType::SetVectorOverlayParameters, params)
            .await;
        let (mut messages, mut tiles) = (0, 0);
        loop {
            let payload = self.wait(EventType::VectorOverlayTileData, |_| true).await;
            let data = pb::VectorOverlayTileData::decode(payload.as_slice())
                .unwrap_or_else(|e| fail(format!("VECTOR_OVERLAY_TILE_DATA: {e}")));
            messages += 1;
            tiles += data.intensity_tiles.len();
            if data.progress >= 1.0 {
                return (messages, tiles);
            }
        }
    }
}

/// Waits until `/health` at `host` reports no spectral-order index building; the seconds since `since`
/// when one is ready, else `None`.
async fn index_ready(host: &str, since: Instant) -> Option<f64> {
    loop {
        let hv = health(host);
        let ready = hv["spectral_indexes_ready"].as_u64().unwrap_or(0);
        let building = hv["spectral_indexes_building"].as_u64().unwrap_or(0);
        if building == 0 || since.elapsed() > Duration::from_secs(1200) {
            return (ready > 0).then(|| since.elapsed().as_secs_f64());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn numbers<T: std::str::FromStr>(text: &str, what: &str) -> Vec<T> {
    text.split(',')
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| fail(format!("{what}: {v:?} is not a number")))
        })
        .collect()
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
        "cube" => {
            let (url, host, dir, file) =
                (arg(&args, 2), arg(&args, 3), arg(&args, 4), arg(&args, 5));
            let n: usize = arg(&args, 6).parse().unwrap_or(50);
            let rate: i32 = arg(&args, 7).parse().unwrap_or(30);
            let mut c = Client::connect(url).await;
            let opened = Instant::now();
            let open = pb::OpenFile {
                directory: dir.into(),
                file: file.into(),
                file_id: 0,
                ..Default::default()
            };
            c.send(EventType::OpenFile, &open).await;
            let ack =
                pb::OpenFileAck::decode(c.wait(EventType::OpenFileAck, |_| true).await.as_slice())
                    .unwrap_or_default();
            if !ack.success {
                fail(format!("open {file}: {}", ack.message));
            }
            let info = ack.file_info_extended.unwrap_or_default();
            let (w, h, d) = (
                info.width as usize,
                info.height as usize,
                info.depth as usize,
            );
            let req = pb::SetSpectralRequirements {
                file_id: 0,
                region_id: 0,
                spectral_profiles: vec![pb::set_spectral_requirements::SpectralConfig {
                    coordinate: "z".into(),
                    stats_types: vec![pb::StatsType::Sum as i32],
                }],
            };
            c.send(EventType::SetSpectralRequirements, &req).await;
            let mut rng = Lcg(7);
            let mut cold = Vec::new();
            for _ in 0..n {
                let (x, y) = (rng.below(w), rng.below(h));
                cold.push(c.cursor_spectrum(x, y).await);
            }
            // Until the index is ready (a file with its own spectral-order copy builds none).
            let waited = Instant::now();
            loop {
                let hv = health(host);
                let ready = hv["spectral_indexes_ready"].as_u64().unwrap_or(0);
                let building = hv["spectral_indexes_building"].as_u64().unwrap_or(0);
                if ready > 0 || building == 0 || waited.elapsed() > Duration::from_secs(1200) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let index_ready = opened.elapsed().as_secs_f64();
            let mut warm = Vec::new();
            for _ in 0..n {
                let (x, y) = (rng.below(w), rng.below(h));
                warm.push(c.cursor_spectrum(x, y).await);
            }
            // A new region each time: a moved region would have its spectrum recomputed on SET_REGION already.
            // Each region's spectrum twice: first (its pixels maybe still on disk), then again (a real pass too:
            // the server runs with result caching off) with the region's bytes in the page cache, as the
            // astropy basis reads them.
            let (mut regions, mut regions_again) = (Vec::new(), Vec::new());
            for i in 0..5 {
                let (x, y) = (
                    w as f32 / 2.0 + 37.0 * i as f32,
                    h as f32 / 2.0 - 23.0 * i as f32,
                );
                let (id, secs) = c.region_spectrum(-1, x, y).await;
                regions.push(secs);
                regions_again.push(c.spectrum_of(id, pb::StatsType::Sum).await);
            }
            let cube = c.cube_histogram().await;
            let (fps, frames) = c.animate(w, h, d, rate, 10.0).await;
            println!(
                "{{\"cursor_cold\":{},\"index_ready_seconds\":{index_ready:.3},\"cursor_warm\":{},\"region_spectrum\":{},\"region_spectrum_again\":{},\"cube_histogram\":{cube:.6},\"animation_fps\":{fps:.3},\"animation_frames\":{frames},\"animation_rate\":{rate}}}",
                percentiles(cold),
                percentiles(warm),
                list(&regions),
                list(&regions_again)
            );
        }
        "contours" => {
            let (url, dir, file) = (arg(&args, 2), arg(&args, 3), arg(&args, 4));
            let runs: usize = arg(&args, 5).parse().unwrap_or(5);
            let mode: i32 = arg(&args, 6).parse().unwrap_or(0);
            let factor: i32 = arg(&args, 7).parse().unwrap_or(1);
            let levels: Vec<f64> = numbers(arg(&args, 8), "levels");
            let mut c = Client::connect(url).await;
            let start = Instant::now();
            let info = c.open_info(dir, file).await;
            // What the 6.0.0 frontend sends: the whole image, its default decimation, compression and chunk size.
            let params = pb::SetContourParameters {
                file_id: 0,
                reference_file_id: 0,
                image_bounds: Some(pb::ImageBounds {
                    x_min: 0,
                    x_max: info.width,
                    y_min: 0,
                    y_max: info.height,
                }),
                levels: levels.clone(),
                smoothing_mode: mode,
                smoothing_factor: factor,
                decimation_factor: 4,
                compression_level: 8,
                contour_chunk_size: 100_000,
                channel_range: None,
            };
            let mut counts = c.contours(&params).await;
            let open = start.elapsed().as_secs_f64();
            let mut times = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                counts = c.contours(&params).await;
                times.push(t.elapsed().as_secs_f64());
            }
            let per_level: Vec<String> = levels
                .iter()
                .zip(&counts)
                .map(|(l, n)| {
                    format!(
                        "{{\"level\":{l},\"vertices\":{},\"lines\":{}}}",
                        n.vertices, n.lines
                    )
                })
                .collect();
            println!(
                "{{\"open_seconds\":{open:.6},\"seconds\":{},\"levels\":[{}]}}",
                list(&times),
                per_level.join(",")
            );
        }
        "pv" => {
            let (url, host, dir, file) =
                (arg(&args, 2), arg(&args, 3), arg(&args, 4), arg(&args, 5));
            let runs: usize = arg(&args, 6).parse().unwrap_or(5);
            let widths: Vec<i32> = numbers(arg(&args, 7), "widths");
            let ends: Vec<f32> = (8..12)
                .map(|i| {
                    arg(&args, i)
                        .parse()
                        .unwrap_or_else(|_| fail(format!("line end {} is not a number", args[i])))
                })
                .collect();
            let (a, b) = ((ends[0], ends[1]), (ends[2], ends[3]));
            let first = *widths.first().unwrap_or_else(|| fail("no widths".into()));
            let mut c = Client::connect(url).await;
            let start = Instant::now();
            c.open_info(dir, file).await;
            let region = c.line_region(a, b).await;
            let (id, pv_width, pv_height) = c.pv(region, first).await;
            let open = start.elapsed().as_secs_f64();
            c.send(EventType::CloseFile, &pb::CloseFile { file_id: id })
                .await;
            let ready = index_ready(host, start).await;
            let mut per_width = Vec::new();
            for w in &widths {
                let mut times = Vec::new();
                for _ in 0..runs {
                    let t = Instant::now();
                    let (id, _, _) = c.pv(region, *w).await;
                    times.push(t.elapsed().as_secs_f64());
                    c.send(EventType::CloseFile, &pb::CloseFile { file_id: id })
                        .await;
                }
                per_width.push(format!("\"{w}\":{}", list(&times)));
            }
            let ready = ready.map_or("null".to_string(), |s| format!("{s:.3}"));
            println!(
                "{{\"open_width\":{first},\"open_seconds\":{open:.6},\"index_ready_seconds\":{ready},\"seconds\":{{{}}},\"pv_width\":{pv_width},\"pv_height\":{pv_height}}}",
                per_width.join(",")
            );
        }
        "vectors" => {
            let (url, dir, file) = (arg(&args, 2), arg(&args, 3), arg(&args, 4));
            let runs: usize = arg(&args, 5).parse().unwrap_or(5);
            let mip: u32 = arg(&args, 6).parse().unwrap_or(4);
            let mut c = Client::connect(url).await;
            let start = Instant::now();
            let info = c.open_info(dir, file).await;
            let mut params = pb::SetVectorOverlayParameters {
                file_id: 0,
                image_bounds: Some(pb::ImageBounds {
                    x_min: 0,
                    x_max: info.width,
                    y_min: 0,
                    y_max: info.height,
                }),
                smoothing_factor: mip,
                fractional: false,
                threshold: f64::NAN,
                debiasing: false,
                q_error: 0.0,
                u_error: 0.0,
                stokes_intensity: 1,
                stokes_angle: 1,
                compression_quality: 8.0,
                threshold_option: 0,
                ..Default::default()
            };
            params.set_compression_type(pb::CompressionType::None);
            let clear = pb::SetVectorOverlayParameters {
                stokes_intensity: -1,
                stokes_angle: -1,
                ..params
            };
            let (mut messages, mut tiles) = c.vectors(&params).await;
            let open = start.elapsed().as_secs_f64();
            let mut times = Vec::new();
            for _ in 0..runs {
                c.send(EventType::SetVectorOverlayParameters, &clear).await;
                let t = Instant::now();
                (messages, tiles) = c.vectors(&params).await;
                times.push(t.elapsed().as_secs_f64());
            }
            println!(
                "{{\"open_seconds\":{open:.6},\"seconds\":{},\"messages\":{messages},\"tiles\":{tiles}}}",
                list(&times)
            );
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
