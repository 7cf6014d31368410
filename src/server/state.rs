//! State shared by every session of one server process: the configuration, the confinement rules, a bounded
//! pool for blocking file work, and the counters /health and the exit timers read.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::files::Confinement;

/// Shared by all sessions; cheap to clone (`Arc`).
pub struct AppState {
    pub config: Config,
    pub confinement: Confinement,
    /// Bounded pool (`workers` threads) for blocking work: folder listings, header reads.
    pub io_pool: rayon::ThreadPool,
    pub started: Instant,
    /// One arbiter (thread) per worker; chunk workers are spread over them.
    chunk_arbiters: Vec<actix::Arbiter>,
    sessions: AtomicUsize,
    sessions_ever: AtomicU64,
    /// Seconds since `started` when the last session closed.
    last_close: AtomicU64,
    next_session_id: AtomicU32,
}

impl AppState {
    pub fn new(config: Config) -> Result<Arc<AppState>, rayon::ThreadPoolBuildError> {
        let io_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.workers)
            .thread_name(|i| format!("cartaflow-io-{i}"))
            .build()?;
        // Session ids start from the clock, like carta_backend's, so a restarted server does not hand out the
        // ids of the previous run's sessions (the frontend resumes by id).
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| (d.as_micros() & 0x7fff_ffff) as u32)
            .unwrap_or(1)
            .max(1);
        // Arbiters need a running actix System: AppState is built inside it (see main.rs).
        let chunk_arbiters = (0..config.workers).map(|_| actix::Arbiter::new()).collect();
        Ok(Arc::new(AppState {
            chunk_arbiters,
            confinement: Confinement::new(
                config.top_level_folder.clone(),
                config.starting_folder.clone(),
            ),
            config,
            io_pool,
            started: Instant::now(),
            sessions: AtomicUsize::new(0),
            sessions_ever: AtomicU64::new(0),
            last_close: AtomicU64::new(0),
            next_session_id: AtomicU32::new(seed),
        }))
    }

    /// The arbiter the `i`-th chunk worker of a file runs on.
    pub fn chunk_arbiter(&self, i: usize) -> actix::ArbiterHandle {
        self.chunk_arbiters[i % self.chunk_arbiters.len()].handle()
    }

    /// A new, non-zero session id.
    pub fn new_session_id(&self) -> u32 {
        loop {
            let id = self.next_session_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }

    pub fn session_opened(&self) {
        self.sessions.fetch_add(1, Ordering::SeqCst);
        self.sessions_ever.fetch_add(1, Ordering::SeqCst);
    }

    pub fn session_closed(&self) {
        self.sessions.fetch_sub(1, Ordering::SeqCst);
        self.last_close
            .store(self.started.elapsed().as_secs(), Ordering::SeqCst);
    }

    pub fn session_count(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }

    pub fn sessions_ever(&self) -> u64 {
        self.sessions_ever.load(Ordering::SeqCst)
    }

    /// Seconds since the last session closed, if any has.
    pub fn idle_seconds(&self) -> Option<u64> {
        (self.sessions_ever() > 0 && self.session_count() == 0)
            .then(|| self.started.elapsed().as_secs() - self.last_close.load(Ordering::SeqCst))
    }
}
