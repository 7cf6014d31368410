//! What the HTTP side holds for the whole process: the configuration, the shared runtime it built, and the
//! settings every session is started with.

use crate::image::spectral::IndexSettings;
use std::sync::Arc;

use crate::browse::Confinement;
use crate::config::Config;
use crate::file::FileSettings;
use crate::runtime::Runtime;
use crate::session::SessionSettings;

/// Shared by all connections; cheap to clone (`Arc`).
pub struct AppState {
    pub config: Config,
    pub runtime: Arc<Runtime>,
    pub sessions: Arc<SessionSettings>,
}

impl AppState {
    /// Builds the runtime (needs a running actix System: arbiters start inside it) and the session settings.
    pub fn new(config: Config) -> Result<Arc<AppState>, rayon::ThreadPoolBuildError> {
        let runtime = Runtime::new(config.workers)?;
        let sessions = Arc::new(SessionSettings {
            confinement: Confinement::new(
                config.top_level_folder.clone(),
                config.starting_folder.clone(),
            ),
            read_only: config.read_only,
            controller_deployment: config.controller_deployment,
            idle_timeout: config.idle_timeout,
            file_list_progress_interval: config.file_list_progress_interval,
            limits: config.limits,
            file: FileSettings {
                tile_cache_bytes: config.tile_cache_bytes,
                analysis_cache_bytes: config.analysis_cache_bytes,
                spectral_index: IndexSettings {
                    enabled: config.spectral_index,
                    memory_budget: config.spectral_index_bytes,
                    folder: config.spectral_index_folder.clone(),
                },
            },
        });
        Ok(Arc::new(AppState {
            config,
            runtime,
            sessions,
        }))
    }
}
