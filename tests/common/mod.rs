//! Test harness shared by the integration tests: starts the real `cartaflow` binary on a free port and talks to
//! it over a real WebSocket with ICD frames, as the frontend does.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use cartaflow::protocol::{self, pb, EventType, Header};
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const TOKEN: &str = "test-token-1234";

/// The generated fixture folder (made by scripts/gen_fixtures.py on first use).
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::var_os("CARTAFLOW_FIXTURES")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/test-fixtures"));
        if !dir.join("expected.json").is_file() {
            let venv = root.join(".venv/bin/python");
            let python = if venv.is_file() {
                venv
            } else {
                PathBuf::from("python3")
            };
            let status = Command::new(&python)
                .arg(root.join("scripts/gen_fixtures.py"))
                .arg(&dir)
                .status()
                .expect("run scripts/gen_fixtures.py (run scripts/setup.sh first)");
            assert!(status.success(), "fixture generation failed");
        }
        dir
    })
}

pub fn expected() -> &'static serde_json::Value {
    static EXPECTED: OnceLock<serde_json::Value> = OnceLock::new();
    EXPECTED.get_or_init(|| {
        let text =
            std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
        serde_json::from_str(&text).expect("expected.json parses")
    })
}

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts cartaflow with the fixture `images/` folder as top-level folder, a fixed token and `extra` flags.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_in(&fixtures().join("images"), extra, &[])
    }

    /// Starts cartaflow on `top` with `extra` flags and environment variables.
    pub fn start_in(top: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut args: Vec<String> = vec![
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "0".into(),
            "--top-level-folder".into(),
            top.to_string_lossy().into(),
            "--log-level".into(),
            "warn".into(),
        ];
        if !extra.iter().any(|a| *a == "--no-auth" || *a == "--token") {
            args.push("--token".into());
            args.push(TOKEN.into());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::start_with_args(&args, env)
    }

    pub fn start_with_args(args: &[String], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cartaflow"))
            .args(args)
            .envs(env.iter().copied())
            .current_dir(std::env::temp_dir())
            .env_remove("CARTA_AUTH_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start cartaflow");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("listening on") => break l,
                Some(Ok(_)) => continue,
                _ => panic!("cartaflow exited before listening"),
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let url = line
            .split("listening on ")
            .nth(1)
            .expect("url")
            .trim()
            .to_string();
        let port = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|hostport| hostport.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .expect("port in url");
        Server { child, port, url }
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub async fn connect(&self) -> Client {
        self.connect_path(&format!("/?token={TOKEN}"))
            .await
            .expect("connect")
    }

    pub async fn connect_path(
        &self,
        path: &str,
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let url = format!("ws://127.0.0.1:{}{}", self.port, path);
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
        Ok(Client { ws, next_id: 1 })
    }
}

/// A WebSocket client speaking ICD frames.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u32,
}

pub fn frame(event: EventType, icd: u16, request_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(event as u16).to_le_bytes());
    f.extend_from_slice(&icd.to_le_bytes());
    f.extend_from_slice(&request_id.to_le_bytes());
    f.extend_from_slice(payload);
    f
}

impl Client {
    /// Sends a request; returns its request id.
    pub async fn send(&mut self, event: EventType, msg: &impl prost::Message) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.send_raw(frame(
            event,
            protocol::ICD_VERSION,
            id,
            &msg.encode_to_vec(),
        ))
        .await;
        id
    }

    /// Sends an already-encoded payload under the next request id; returns the id.
    pub async fn send_raw_with_id(&mut self, event: EventType, payload: &[u8]) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.send_raw(frame(event, protocol::ICD_VERSION, id, payload))
            .await;
        id
    }

    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send");
    }

    /// The next binary frame (text frames are returned as event 0 with the text as payload), within 10 s.
    pub async fn next(&mut self) -> (Header, Vec<u8>) {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("a message within 10 s")
    }

    pub async fn next_within(&mut self, limit: Duration) -> Option<(Header, Vec<u8>)> {
        loop {
            let msg = tokio::time::timeout(limit, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Binary(b) => {
                    let (h, payload) = Header::split(&b).expect("server frames have a header");
                    assert_eq!(h.icd_version, protocol::ICD_VERSION, "replies carry ICD 30");
                    return Some((h, payload.to_vec()));
                }
                Message::Text(t) => {
                    let h = Header {
                        event_type: 0,
                        icd_version: protocol::ICD_VERSION,
                        request_id: 0,
                    };
                    return Some((h, t.as_bytes().to_vec()));
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Waits for a message of `event`, skipping others; decodes it.
    pub async fn expect<M: prost::Message + Default>(&mut self, event: EventType) -> (Header, M) {
        loop {
            let (h, payload) = self.next().await;
            if h.event_type == event as u16 {
                return (h, M::decode(payload.as_slice()).expect("decodes"));
            }
        }
    }

    /// Registers as the 6.0.0 frontend does.
    pub async fn register(&mut self) -> pb::RegisterViewerAck {
        let id = self
            .send(
                EventType::RegisterViewer,
                &pb::RegisterViewer {
                    session_id: 0,
                    api_key: String::new(),
                    client_feature_flags: 5,
                },
            )
            .await;
        let (h, ack) = self
            .expect::<pb::RegisterViewerAck>(EventType::RegisterViewerAck)
            .await;
        assert_eq!(h.request_id, id);
        ack
    }

    pub async fn file_list(
        &mut self,
        directory: &str,
        mode: pb::FileListFilterMode,
    ) -> pb::FileListResponse {
        let id = self
            .send(
                EventType::FileListRequest,
                &pb::FileListRequest {
                    directory: directory.into(),
                    filter_mode: mode as i32,
                },
            )
            .await;
        let (h, r) = self
            .expect::<pb::FileListResponse>(EventType::FileListResponse)
            .await;
        assert_eq!(h.request_id, id);
        r
    }

    pub async fn file_info(
        &mut self,
        directory: &str,
        file: &str,
        hdu: &str,
    ) -> pb::FileInfoResponse {
        let id = self
            .send(
                EventType::FileInfoRequest,
                &pb::FileInfoRequest {
                    directory: directory.into(),
                    file: file.into(),
                    hdu: hdu.into(),
                    support_aips_beam: false,
                },
            )
            .await;
        let (h, r) = self
            .expect::<pb::FileInfoResponse>(EventType::FileInfoResponse)
            .await;
        assert_eq!(h.request_id, id);
        r
    }
}

/// A decoded tile stream: the start sync, the tiles in arrival order, the end sync.
#[derive(Debug)]
pub struct TileStream {
    pub start: pb::RasterTileSync,
    pub tiles: Vec<pb::RasterTileData>,
    pub end: pb::RasterTileSync,
    /// Other messages seen while waiting for the stream, in order (event type, payload).
    pub others: Vec<(u16, Vec<u8>)>,
}

impl Client {
    pub async fn open_file(
        &mut self,
        directory: &str,
        file: &str,
        hdu: &str,
        file_id: i32,
    ) -> pb::OpenFileAck {
        let id = self
            .send(
                EventType::OpenFile,
                &pb::OpenFile {
                    directory: directory.into(),
                    file: file.into(),
                    hdu: hdu.into(),
                    file_id,
                    ..Default::default()
                },
            )
            .await;
        let (h, ack) = self.expect::<pb::OpenFileAck>(EventType::OpenFileAck).await;
        assert_eq!(h.request_id, id);
        ack
    }

    pub async fn add_tiles(
        &mut self,
        file_id: i32,
        tiles: &[i32],
        compression: pb::CompressionType,
        quality: f32,
    ) {
        let msg = pb::AddRequiredTiles {
            file_id,
            tiles: tiles.to_vec(),
            compression_type: compression as i32,
            compression_quality: quality,
            current_tiles: Vec::new(),
        };
        self.send(EventType::AddRequiredTiles, &msg).await;
    }

    /// Reads messages until a complete tile stream (start sync, tiles, end sync) has arrived.
    pub async fn tile_stream(&mut self) -> TileStream {
        let mut others = Vec::new();
        let mut start: Option<pb::RasterTileSync> = None;
        let mut tiles = Vec::new();
        loop {
            let (h, payload) = self.next().await;
            if h.event_type == EventType::RasterTileSync as u16 {
                let sync = pb::RasterTileSync::decode(payload.as_slice()).expect("sync");
                if !sync.end_sync {
                    assert!(start.is_none(), "nested tile streams");
                    assert!(sync.sync_id > 0, "sync ids start at 1");
                    start = Some(sync);
                } else {
                    let s = start.expect("end without start");
                    assert_eq!(sync.sync_id, s.sync_id);
                    return TileStream {
                        start: s,
                        tiles,
                        end: sync,
                        others,
                    };
                }
            } else if h.event_type == EventType::RasterTileData as u16 {
                let t = pb::RasterTileData::decode(payload.as_slice()).expect("tile");
                assert!(start.is_some(), "tile before its start sync");
                tiles.push(t);
            } else {
                others.push((h.event_type, payload));
            }
        }
    }
}

/// Decodes a tile's pixels (ZFP with NaN runs, or raw f32 with -FLT_MAX for NaN).
pub fn tile_pixels(message: &pb::RasterTileData, tile: &pb::TileData) -> Vec<f32> {
    let (w, h) = (tile.width as usize, tile.height as usize);
    let mut values = if message.compression_type == pb::CompressionType::Zfp as i32 {
        cartaflow::tiles::zfp::decompress(
            &tile.image_data,
            w,
            h,
            message.compression_quality as u32,
        )
        .expect("zfp decodes")
    } else {
        tile.image_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .map(|v| if v == -f32::MAX { f32::NAN } else { v })
            .collect()
    };
    if message.compression_type == pb::CompressionType::Zfp as i32 {
        let runs: Vec<i32> = tile
            .nan_encodings
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(
            runs.iter().map(|r| *r as usize).sum::<usize>(),
            w * h,
            "NaN runs cover the tile"
        );
        let mut i = 0;
        for (k, run) in runs.iter().enumerate() {
            if k % 2 == 1 {
                for v in &mut values[i..i + *run as usize] {
                    *v = f32::NAN;
                }
            }
            i += *run as usize;
        }
    }
    values
}

/// GET `path` on the server; returns (status, body). Enough HTTP/1.1 for the small JSON endpoints.
pub async fn http_get(server: &Server, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// The JSON of GET /health.
pub async fn health(server: &Server) -> serde_json::Value {
    let (status, body) = http_get(server, "/health").await;
    assert_eq!(status, 200);
    let start = body.find('{').expect("json");
    let end = body.rfind('}').expect("json");
    serde_json::from_str(&body[start..=end]).expect("health json")
}

/// Writes a plain float32 FITS image whose pixel (x, y) is `f(x, y)`.
pub fn write_fits(path: &Path, width: usize, height: usize, f: impl Fn(usize, usize) -> f32) {
    write_fits_cube(path, width, height, 1, |x, y, _| f(x, y));
}

/// Writes a float32 FITS cube (2-D when `depth` is 1) whose pixel (x, y, z) is `f(x, y, z)`.
pub fn write_fits_cube(
    path: &Path,
    width: usize,
    height: usize,
    depth: usize,
    f: impl Fn(usize, usize, usize) -> f32,
) {
    let mut cards = vec![
        "SIMPLE  =                    T".to_string(),
        "BITPIX  =                  -32".to_string(),
        format!("NAXIS   = {:>20}", if depth > 1 { 3 } else { 2 }),
        format!("NAXIS1  = {width:>20}"),
        format!("NAXIS2  = {height:>20}"),
    ];
    if depth > 1 {
        cards.push(format!("NAXIS3  = {depth:>20}"));
    }
    cards.push("END".to_string());
    let mut bytes: Vec<u8> = cards
        .iter()
        .flat_map(|c| format!("{c:<80}").into_bytes())
        .collect();
    bytes.resize(bytes.len().div_ceil(2880) * 2880, b' ');
    for z in 0..depth {
        for y in 0..height {
            for x in 0..width {
                bytes.extend_from_slice(&f(x, y, z).to_be_bytes());
            }
        }
    }
    bytes.resize(bytes.len().div_ceil(2880) * 2880, 0);
    std::fs::write(path, bytes).expect("write fits");
}
