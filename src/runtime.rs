//! The process's shared runtime, built once by `server` and handed down: the bounded pool for blocking file
//! work, the arbiters (threads) chunk workers run on, and the counters `/health` and the exit timers read.
//!
//! A leaf: it knows nothing of sessions, files or the ICD, so every layer may hold it.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Process-wide counters; cheap atomics read by `/health` and written by whoever does the counted work.
#[derive(Debug)]
pub struct Counters {
    started: Instant,
    sessions: AtomicUsize,
    sessions_ever: AtomicU64,
    /// Seconds since `started` when the last session closed.
    last_close: AtomicU64,
    next_session_id: AtomicU32,
    /// Plane reads done by multi-channel work (spectral profiles, cube histograms): what steering saves shows here.
    channel_reads: AtomicU64,
}

impl Counters {
    fn new() -> Counters {
        // Session ids start from the clock, like carta_backend's, so a restarted server does not hand out the
        // ids of the previous run's sessions (the frontend resumes by id).
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| (d.as_micros() & 0x7fff_ffff) as u32)
            .unwrap_or(1)
            .max(1);
        Counters {
            started: Instant::now(),
            sessions: AtomicUsize::new(0),
            sessions_ever: AtomicU64::new(0),
            last_close: AtomicU64::new(0),
            next_session_id: AtomicU32::new(seed),
            channel_reads: AtomicU64::new(0),
        }
    }

    /// Seconds since the process started serving.
    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn started(&self) -> Instant {
        self.started
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

    /// Seconds since the last session closed, if any has and none is open.
    pub fn idle_seconds(&self) -> Option<u64> {
        (self.sessions_ever() > 0 && self.session_count() == 0).then(|| {
            self.started
                .elapsed()
                .as_secs()
                .saturating_sub(self.last_close.load(Ordering::SeqCst))
        })
    }

    pub fn add_channel_reads(&self, n: u64) {
        self.channel_reads.fetch_add(n, Ordering::Relaxed);
    }

    pub fn channel_reads(&self) -> u64 {
        self.channel_reads.load(Ordering::Relaxed)
    }
}

/// Shared by every session of the process; cheap to clone as `Arc<Runtime>`.
pub struct Runtime {
    /// Bounded pool (`workers` threads) for blocking work: folder listings, header reads, opening images, tile
    /// encoding.
    pub io_pool: rayon::ThreadPool,
    /// One arbiter (thread) per worker; chunk workers are spread over them.
    chunk_arbiters: Vec<actix::Arbiter>,
    pub counters: Arc<Counters>,
}

impl Runtime {
    /// Builds the pools. Needs a running actix System (arbiters are started inside it).
    pub fn new(workers: usize) -> Result<Arc<Runtime>, rayon::ThreadPoolBuildError> {
        let workers = workers.max(1);
        let io_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("cartaflow-io-{i}"))
            .build()?;
        Ok(Arc::new(Runtime {
            io_pool,
            chunk_arbiters: (0..workers).map(|_| actix::Arbiter::new()).collect(),
            counters: Arc::new(Counters::new()),
        }))
    }

    /// The arbiter the `i`-th chunk worker of an image runs on.
    pub fn chunk_arbiter(&self, i: usize) -> actix::ArbiterHandle {
        self.chunk_arbiters[i % self.chunk_arbiters.len()].handle()
    }

    /// How many chunk arbiters there are (the parallelism of chunk work).
    pub fn chunk_threads(&self) -> usize {
        self.chunk_arbiters.len()
    }

    /// Runs `f` on the I/O pool and awaits its result; `None` if the pool dropped it (shutting down).
    pub async fn on_pool<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.io_pool.spawn(move || {
            let _ = tx.send(f());
        });
        rx.await.ok()
    }
}
