//! The HTTP side (actix-web): the frontend's static files at `/`, `GET /config` (404: the frontend then keeps
//! preferences in the browser), `GET /health`, and the WebSocket upgrade on any path, guarded by the token.
//! Also binds the port (3002 and the next ones unless one was given) and runs the start/exit timers.

mod auth;
mod state;

pub use state::AppState;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_files::Files;
use actix_web::{guard, web, App, HttpRequest, HttpResponse, HttpServer};
use actix_web_actors::ws;
use tracing::{error, info};

use crate::config::{Config, PORT_TRIES};
use crate::session::SessionActor;

fn is_websocket_upgrade(ctx: &guard::GuardContext) -> bool {
    ctx.head()
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn client_address(req: &HttpRequest) -> String {
    req.headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string())
        .or_else(|| req.peer_addr().map(|a| a.to_string()))
        .unwrap_or_else(|| "unknown".to_string())
}

async fn websocket(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<Arc<AppState>>,
) -> Result<HttpResponse, actix_web::Error> {
    if !auth::authorized(&req, state.config.token.as_deref()) {
        info!(client = %client_address(&req), "WebSocket upgrade refused: missing or wrong token");
        return Ok(HttpResponse::Forbidden().body("invalid or missing token"));
    }
    let limits = state.config.limits;
    if state.runtime.counters.session_count() >= limits.sessions {
        info!(client = %client_address(&req), "WebSocket upgrade refused: {} sessions already", limits.sessions);
        return Ok(HttpResponse::ServiceUnavailable().body(format!(
            "this server already serves its limit of {} sessions",
            limits.sessions
        )));
    }
    let actor = SessionActor::new(
        state.runtime.clone(),
        state.sessions.clone(),
        client_address(&req),
    );
    ws::WsResponseBuilder::new(actor, &req, stream)
        .frame_size(limits.frame_bytes)
        .start()
}

async fn health(state: web::Data<Arc<AppState>>) -> HttpResponse {
    let counters = &state.runtime.counters;
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "name": "cartaflow",
        "version": env!("CARGO_PKG_VERSION"),
        "icd_version": crate::protocol::ICD_VERSION,
        "uptime_seconds": counters.uptime_seconds(),
        "sessions": counters.session_count(),
        "pixel_bytes": crate::chunk::store::ChunkStore::global().bytes_held(),
        "rss_bytes": resident_bytes(),
        "region_channel_reads": counters.channel_reads(),
        "spectral_indexes_building": crate::image::spectral::counts().0,
        "spectral_indexes_ready": crate::image::spectral::counts().1,
    }))
}

/// This process's resident memory (Linux), for monitors and the memory tests.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

async fn no_runtime_config() -> HttpResponse {
    HttpResponse::NotFound().body("no runtime config")
}

async fn no_frontend() -> HttpResponse {
    HttpResponse::NotFound()
        .body("this cartaflow serves no frontend (--no-http, or no frontend folder)")
}

fn listener(config: &Config) -> std::io::Result<TcpListener> {
    let tries = if config.port_explicit || config.port == 0 {
        1
    } else {
        PORT_TRIES + 1
    };
    let mut last_err = None;
    for i in 0..tries {
        let Some(port) = config.port.checked_add(i) else {
            break;
        };
        match TcpListener::bind((config.host.as_str(), port)) {
            Ok(l) => return Ok(l),
            Err(e) => {
                if tries > 1 {
                    info!("port {port} unavailable ({e}), trying the next");
                }
                last_err = Some(e);
            }
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no port to try")))
}

fn display_host(host: &str) -> String {
    match host {
        "0.0.0.0" | "::" | "" => {
            std::env::var("SERVER_IP").unwrap_or_else(|_| "localhost".to_string())
        }
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    }
}

/// Exits the process when no client connected in time, or when the last one left long enough ago.
fn spawn_exit_timers(state: Arc<AppState>) {
    let (initial, exit) = (state.config.initial_timeout, state.config.exit_timeout);
    if initial.is_none() && exit.is_none() {
        return;
    }
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let counters = &state.runtime.counters;
            if let Some(limit) = initial {
                if counters.sessions_ever() == 0 && counters.started().elapsed() >= limit {
                    info!("no client connected within {}s: exiting", limit.as_secs());
                    std::process::exit(0);
                }
            }
            if let (Some(limit), Some(idle)) = (exit, counters.idle_seconds()) {
                if idle >= limit.as_secs() {
                    info!("no sessions for {}s: exiting", limit.as_secs());
                    std::process::exit(0);
                }
            }
        }
    });
}

/// Binds, prints the URL to open, and serves until stopped.
pub async fn run(state: Arc<AppState>) -> std::io::Result<()> {
    let config = &state.config;
    let listener = listener(config)?;
    let port = listener.local_addr()?.port();
    let frontend = config
        .frontend_folder
        .clone()
        .filter(|_| config.serve_frontend);
    let data = web::Data::new(state.clone());
    let workers = config.workers.clamp(1, 4);
    let app_frontend = frontend.clone();
    let server = HttpServer::new(move || {
        let app = App::new()
            .app_data(data.clone())
            .service(
                web::resource("/{tail:.*}")
                    .guard(guard::fn_guard(is_websocket_upgrade))
                    .to(websocket),
            )
            .route("/health", web::get().to(health))
            .route("/config", web::get().to(no_runtime_config));
        match &app_frontend {
            Some(dir) => app.service(Files::new("/", dir).index_file("index.html")),
            None => app.default_service(web::to(no_frontend)),
        }
    })
    .workers(workers)
    // Small replies (acks, cursor profiles) must not wait for Nagle's algorithm.
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    // Open WebSockets would otherwise hold a shutdown for 30 s.
    .shutdown_timeout(2)
    .listen(listener)?
    .run();

    let host = display_host(&config.host);
    let query = match (&config.token, &config.open_file) {
        (Some(t), Some(f)) => format!("?token={t}&file={}", f.display()),
        (Some(t), None) => format!("?token={t}"),
        (None, Some(f)) => format!("?file={}", f.display()),
        (None, None) => String::new(),
    };
    if frontend.is_some() {
        println!("cartaflow listening on http://{host}:{port}/{query}");
    } else {
        if config.serve_frontend {
            error!("no frontend folder with index.html found: only the WebSocket is served (run the set-up, or pass --frontend-folder)");
        }
        println!("cartaflow listening on ws://{host}:{port}/{query}");
    }
    info!(
        top_level_folder = %config.top_level_folder.display(),
        starting_folder = %config.starting_folder.display(),
        auth = config.token.is_some(),
        workers = config.workers,
        "serving"
    );
    spawn_exit_timers(state);
    server.await
}
