//! Configuration: built-in defaults < TOML file (config/cartaflow.toml or `--config FILE`) < environment
//! (`CARTAFLOW_*`, and carta-controller's `CARTA_AUTH_TOKEN`) < command-line flags, validated into one [`Config`].
//!
//! Flags keep carta_backend's snake_case spellings as aliases so carta-controller can launch cartaflow unchanged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

mod limits;

pub use limits::Limits;

/// The default listening port, as carta_backend's.
pub const DEFAULT_PORT: u16 = 3002;
/// How many ports after the default are tried when it is busy (only when no port was given).
pub const PORT_TRIES: u16 = 100;
/// The config file read when `--config` is not given and it exists (relative to the working directory).
pub const DEFAULT_CONFIG_FILE: &str = "config/cartaflow.toml";

/// A configuration value that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

fn bad(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Values a layer may parse from an environment variable.
trait FromEnv: Sized {
    fn from_env(text: &str) -> Result<Self, String>;
}

macro_rules! from_env_via_fromstr {
    ($($t:ty),*) => {$(
        impl FromEnv for $t {
            fn from_env(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|e| format!("{e}"))
            }
        }
    )*};
}
from_env_via_fromstr!(u16, i64, u64, f64, String, PathBuf);

impl FromEnv for bool {
    fn from_env(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" | "" => Ok(false),
            other => Err(format!("'{other}' is not a boolean (true/false)")),
        }
    }
}

/// Declares a layer of settings once: the struct (every field optional), its TOML form, its environment form
/// (`CARTAFLOW_<PREFIX><KEY>`) and the merge rule. Every key here is documented in config/cartaflow.toml.
macro_rules! layer {
    ($(#[$doc:meta])* $layer:ident, $prefix:literal, { $($name:ident : $ty:ty),* $(,)? } $(, $section:ident : $section_ty:ty)*) => {
        $(#[$doc])*
        #[derive(Debug, Default, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $layer {
            $(pub $name: Option<$ty>,)*
            $(#[serde(default)] pub $section: $section_ty,)*
        }

        impl $layer {
            /// `over`'s values win where set.
            pub fn overlay(self, over: $layer) -> $layer {
                $layer {
                    $($name: over.$name.or(self.$name),)*
                    $($section: self.$section.overlay(over.$section),)*
                }
            }

            /// Reads `CARTAFLOW_<KEY>` variables through `var`.
            pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<$layer, ConfigError> {
                Ok($layer {
                    $($name: {
                        let env_key = format!(
                            "CARTAFLOW_{}{}",
                            $prefix,
                            stringify!($name).to_ascii_uppercase()
                        );
                        match var(&env_key) {
                            None => None,
                            Some(text) => Some(<$ty as FromEnv>::from_env(&text)
                                .map_err(|m| bad(&env_key, m))?),
                        }
                    },)*
                    $($section: <$section_ty>::from_env(var)?,)*
                })
            }
        }
    };
}

layer! {
    /// The `[limits]` section of one layer.
    LimitSettings, "LIMITS_", {
        histogram_bins: u64,
        region_control_points: u64,
        regions_per_session: u64,
        files_per_session: u64,
        frame_mb: u64,
        sessions: u64,
        requirements_per_message: u64,
    }
}

layer! {
    /// One layer of settings (file, environment or flags); `None` means "not set in this layer".
    Settings, "", {
    host: String,
    port: u16,
    top_level_folder: PathBuf,
    starting_folder: PathBuf,
    frontend_folder: PathBuf,
    token: String,
    no_auth: bool,
    no_http: bool,
    idle_timeout: i64,
    initial_timeout: i64,
    exit_timeout: i64,
    workers: i64,
    log_level: String,
    read_only: bool,
    controller_deployment: bool,
    file_list_progress_interval: f64,
    tile_cache_mb: u64,
    analysis_cache_mb: u64,
    spectral_index: bool,
    spectral_index_mb: u64,
    spectral_index_folder: PathBuf,
    }, limits: LimitSettings
}

/// Command-line flags. carta_backend's spellings are accepted as aliases.
#[derive(Debug, Parser)]
#[command(
    name = "cartaflow",
    version,
    about = "An actor-based CARTA backend (ICD 30)",
    allow_negative_numbers = true
)]
pub struct Cli {
    /// TOML config file (default: config/cartaflow.toml if it exists)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Interface to listen on
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on; given explicitly it is used exclusively, otherwise 3002 and the next ones are tried
    #[arg(long, short = 'p')]
    pub port: Option<u16>,
    /// Root of all file access; nothing outside it is listed or opened
    #[arg(
        long = "top-level-folder",
        alias = "top_level_folder",
        alias = "root",
        value_name = "DIR"
    )]
    pub top_level_folder: Option<PathBuf>,
    /// Folder the file browser starts in ($BASE); must be inside the top-level folder
    #[arg(
        long = "starting-folder",
        alias = "starting_folder",
        alias = "base",
        value_name = "DIR"
    )]
    pub starting_folder: Option<PathBuf>,
    /// Folder holding the carta-frontend build (index.html)
    #[arg(
        long = "frontend-folder",
        alias = "frontend_folder",
        value_name = "DIR"
    )]
    pub frontend_folder: Option<PathBuf>,
    /// Access token (also CARTA_AUTH_TOKEN); generated at start when absent
    #[arg(long)]
    pub token: Option<String>,
    /// Accept every connection without a token
    #[arg(long = "no-auth", alias = "debug_no_auth")]
    pub no_auth: bool,
    /// Do not serve the frontend (carta-controller serves it)
    #[arg(long = "no-http", alias = "no_http", alias = "no_frontend")]
    pub no_http: bool,
    /// Close sessions with no binary message for this many seconds (<= 0: never)
    #[arg(long = "idle-timeout", alias = "idle_timeout", value_name = "SECONDS")]
    pub idle_timeout: Option<i64>,
    /// Exit if no client connects within this many seconds (< 0: never)
    #[arg(
        long = "initial-timeout",
        alias = "initial_timeout",
        value_name = "SECONDS"
    )]
    pub initial_timeout: Option<i64>,
    /// Exit this many seconds after the last session closes (< 0: never)
    #[arg(long = "exit-timeout", alias = "exit_timeout", value_name = "SECONDS")]
    pub exit_timeout: Option<i64>,
    /// Worker threads for chunk workers and blocking work (<= 0: one per core)
    #[arg(long, alias = "omp_threads", short = 't')]
    pub workers: Option<i64>,
    /// Log filter: error, warn, info, debug, trace, or a tracing directive
    #[arg(long = "log-level", alias = "log_level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// carta_backend verbosity 0-5 (0 off … 4 info, 5 debug); --log-level wins
    #[arg(long, value_name = "0-5")]
    pub verbosity: Option<u8>,
    /// Refuse write requests; advertised to the frontend as READ_ONLY
    #[arg(long = "read-only", alias = "read_only_mode")]
    pub read_only: bool,
    /// Set by carta-controller; reported in the session's platform strings
    #[arg(long = "controller-deployment", alias = "controller_deployment")]
    pub controller_deployment: bool,
    /// Accepted for carta_backend compatibility; cartaflow logs to stderr only
    #[arg(long = "no-log", alias = "no_log", hide = true)]
    pub no_log: bool,
    /// Accepted for carta_backend compatibility; cartaflow never opens a browser
    #[arg(long = "no-browser", alias = "no_browser", hide = true)]
    pub no_browser: bool,
    /// Accepted for carta_backend compatibility; cartaflow has no database API
    #[arg(long = "no-database", alias = "no_database", hide = true)]
    pub no_database: bool,
    /// Accepted for carta_backend compatibility; cartaflow has no user or system JSON config
    #[arg(
        long = "no-user-config",
        alias = "no_user_config",
        alias = "no_system_config",
        hide = true
    )]
    pub no_user_config: bool,
    /// Starting folder (or an image file inside it), as carta_backend's positional argument
    #[arg(value_name = "FOLDER")]
    pub folder: Option<PathBuf>,
}

fn flag(set: bool) -> Option<bool> {
    set.then_some(true)
}

impl Cli {
    fn settings(&self) -> Settings {
        let verbosity_level = self.verbosity.map(|v| {
            match v {
                0 => "off",
                1 | 2 => "error",
                3 => "warn",
                4 => "info",
                _ => "debug",
            }
            .to_string()
        });
        let (starting_folder, _) = self.positional();
        Settings {
            host: self.host.clone(),
            port: self.port,
            top_level_folder: self.top_level_folder.clone(),
            starting_folder: self.starting_folder.clone().or(starting_folder),
            frontend_folder: self.frontend_folder.clone(),
            token: self.token.clone(),
            no_auth: flag(self.no_auth),
            no_http: flag(self.no_http),
            idle_timeout: self.idle_timeout,
            initial_timeout: self.initial_timeout,
            exit_timeout: self.exit_timeout,
            workers: self.workers,
            log_level: self.log_level.clone().or(verbosity_level),
            read_only: flag(self.read_only),
            controller_deployment: flag(self.controller_deployment),
            file_list_progress_interval: None,
            tile_cache_mb: None,
            analysis_cache_mb: None,
            spectral_index: None,
            spectral_index_mb: None,
            spectral_index_folder: None,
            limits: LimitSettings::default(),
        }
    }

    /// The positional argument as (starting folder, file to open).
    fn positional(&self) -> (Option<PathBuf>, Option<PathBuf>) {
        match &self.folder {
            Some(p) if p.is_file() => (p.parent().map(Path::to_path_buf), Some(p.clone())),
            Some(p) => (Some(p.clone()), None),
            None => (None, None),
        }
    }
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// Whether the port was chosen explicitly (then it is used exclusively).
    pub port_explicit: bool,
    /// Canonical top-level folder.
    pub top_level_folder: PathBuf,
    /// Canonical starting folder, inside the top-level folder.
    pub starting_folder: PathBuf,
    /// Image named on the command line, to open at start (relative to the top-level folder).
    pub open_file: Option<PathBuf>,
    pub frontend_folder: Option<PathBuf>,
    /// `None`: no authentication.
    pub token: Option<String>,
    /// Whether the token was generated at start (and so must be printed).
    pub token_generated: bool,
    pub serve_frontend: bool,
    pub idle_timeout: Option<Duration>,
    pub initial_timeout: Option<Duration>,
    pub exit_timeout: Option<Duration>,
    pub workers: usize,
    pub log_level: String,
    pub read_only: bool,
    pub controller_deployment: bool,
    pub file_list_progress_interval: Duration,
    /// Bytes of encoded tiles each open image may cache.
    pub tile_cache_bytes: u64,
    /// Bytes of statistics and histogram results each open image may cache (0: no result caching).
    pub analysis_cache_bytes: u64,
    /// The spectral-order index of FITS cubes: on or off, its memory budget, and its folder past the budget.
    pub spectral_index: bool,
    pub spectral_index_bytes: u64,
    pub spectral_index_folder: PathBuf,
    pub limits: Limits,
}

fn seconds(value: Option<i64>) -> Option<Duration> {
    value
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(s.unsigned_abs()))
}

fn exit_seconds(value: Option<i64>) -> Option<Duration> {
    value
        .filter(|s| *s >= 0)
        .map(|s| Duration::from_secs(s.unsigned_abs()))
}

fn canonical_dir(key: &str, path: &Path) -> Result<PathBuf, ConfigError> {
    let canonical = path
        .canonicalize()
        .map_err(|e| bad(key, format!("'{}': {e}", path.display())))?;
    if !canonical.is_dir() {
        return Err(bad(key, format!("'{}' is not a folder", path.display())));
    }
    std::fs::read_dir(&canonical)
        .map_err(|e| bad(key, format!("'{}' cannot be read: {e}", path.display())))?;
    Ok(canonical)
}

fn default_frontend_folder() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("frontend")];
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            candidates.push(dir.join("../share/cartaflow/frontend"));
            candidates.push(dir.join("../../frontend"));
        }
    }
    candidates
        .into_iter()
        .find(|c| c.join("index.html").is_file())
}

/// A random 128-bit token in UUID v4 text form, like carta_backend's.
pub fn generate_token() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: fall back to time and process id, still unguessable enough for a local token.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = (t ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Config {
    /// Builds the configuration from the command line, the process environment and the config file.
    pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
        let env = |k: &str| std::env::var(k).ok();
        Config::from_layers(cli, &env)
    }

    /// Same as [`Config::load`] with an injected environment (for tests).
    pub fn from_layers(
        cli: &Cli,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                read_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => Settings::default(),
        };
        let mut env_layer = Settings::from_env(env)?;
        if env_layer.token.is_none() {
            env_layer.token = env("CARTA_AUTH_TOKEN").filter(|t| !t.is_empty());
        }
        let merged = file.overlay(env_layer).overlay(cli.settings());
        let (_, open_file) = cli.positional();
        Config::validate(merged, open_file)
    }

    fn validate(s: Settings, open_file: Option<PathBuf>) -> Result<Config, ConfigError> {
        let top = canonical_dir(
            "top_level_folder",
            &s.top_level_folder.unwrap_or_else(|| PathBuf::from("/")),
        )?;
        let starting = match s.starting_folder {
            Some(p) => {
                let p = if p.is_relative() && !p.exists() {
                    top.join(&p)
                } else {
                    p
                };
                canonical_dir("starting_folder", &p)?
            }
            None => std::env::current_dir()
                .ok()
                .and_then(|d| d.canonicalize().ok())
                .filter(|d| d.starts_with(&top))
                .unwrap_or_else(|| top.clone()),
        };
        if !starting.starts_with(&top) {
            return Err(bad(
                "starting_folder",
                format!(
                    "'{}' is outside the top-level folder '{}'",
                    starting.display(),
                    top.display()
                ),
            ));
        }
        let open_file = open_file
            .and_then(|f| f.canonicalize().ok())
            .and_then(|f| f.strip_prefix(&top).ok().map(Path::to_path_buf));
        let serve_frontend = !s.no_http.unwrap_or(false);
        let frontend_folder = match s.frontend_folder {
            Some(dir) => {
                if serve_frontend && !dir.join("index.html").is_file() {
                    return Err(bad(
                        "frontend_folder",
                        format!("'{}' has no index.html", dir.display()),
                    ));
                }
                Some(dir)
            }
            None => default_frontend_folder(),
        };
        let no_auth = s.no_auth.unwrap_or(false);
        let (token, token_generated) = match (no_auth, s.token) {
            (true, _) => (None, false),
            (false, Some(t)) if !t.is_empty() => (Some(t), false),
            (false, _) => (Some(generate_token()), true),
        };
        let workers = match s.workers.unwrap_or(0) {
            n if n <= 0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            n if n > 1024 => return Err(bad("workers", format!("{n} is more than 1024"))),
            n => n.unsigned_abs() as usize,
        };
        let log_level = s.log_level.unwrap_or_else(|| "info".to_string());
        tracing_subscriber::EnvFilter::try_new(&log_level)
            .map_err(|e| bad("log_level", format!("'{log_level}': {e}")))?;
        let interval = s.file_list_progress_interval.unwrap_or(2.0);
        if !(0.0..=3600.0).contains(&interval) {
            return Err(bad(
                "file_list_progress_interval",
                format!("{interval} is not within 0..3600 seconds"),
            ));
        }
        let tile_cache_mb = s.tile_cache_mb.unwrap_or(128);
        if tile_cache_mb > 1 << 20 {
            return Err(bad(
                "tile_cache_mb",
                format!("{tile_cache_mb} MB is more than 1 TB"),
            ));
        }
        let analysis_cache_mb = s.analysis_cache_mb.unwrap_or(32);
        if analysis_cache_mb > 1 << 20 {
            return Err(bad(
                "analysis_cache_mb",
                format!("{analysis_cache_mb} MB is more than 1 TB"),
            ));
        }
        let spectral_index_mb = s.spectral_index_mb.unwrap_or(4096);
        if spectral_index_mb > 1 << 24 {
            return Err(bad(
                "spectral_index_mb",
                format!("{spectral_index_mb} MB is more than 16 TB"),
            ));
        }
        let spectral_index_folder = s
            .spectral_index_folder
            .unwrap_or_else(|| std::env::temp_dir().join("cartaflow-index"));
        let host = s.host.unwrap_or_else(|| "0.0.0.0".to_string());
        if host.trim().is_empty() {
            return Err(bad("host", "must not be empty"));
        }
        Ok(Config {
            host,
            port_explicit: s.port.is_some(),
            port: s.port.unwrap_or(DEFAULT_PORT),
            top_level_folder: top,
            starting_folder: starting,
            open_file,
            frontend_folder,
            token,
            token_generated,
            serve_frontend,
            idle_timeout: seconds(s.idle_timeout),
            initial_timeout: exit_seconds(s.initial_timeout),
            exit_timeout: exit_seconds(s.exit_timeout),
            workers,
            log_level,
            read_only: s.read_only.unwrap_or(false),
            controller_deployment: s.controller_deployment.unwrap_or(false),
            file_list_progress_interval: Duration::from_secs_f64(interval),
            tile_cache_bytes: tile_cache_mb << 20,
            analysis_cache_bytes: analysis_cache_mb << 20,
            spectral_index: s.spectral_index.unwrap_or(true),
            spectral_index_bytes: spectral_index_mb << 20,
            spectral_index_folder,
            limits: Limits::from_settings(&s.limits)?,
        })
    }
}

fn read_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad("config", format!("cannot read '{}': {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        // toml's message names the offending key and line.
        bad(
            "config",
            format!("'{}': {}", path.display(), e.message().trim()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["cartaflow"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("flags parse")
    }

    #[test]
    fn carta_backend_spellings_are_accepted() {
        let tmp = std::env::temp_dir();
        let top = tmp.to_string_lossy().to_string();
        let c = cli(&[
            "--no_http",
            "--port",
            "3010",
            "--top_level_folder",
            &top,
            "--controller_deployment",
            "--no_log",
            "--debug_no_auth",
            "--idle_timeout",
            "-1",
            "--omp_threads",
            "-1",
            &top,
        ]);
        let config = Config::from_layers(&c, &|_| None).expect("valid");
        assert!(!config.serve_frontend);
        assert_eq!(config.port, 3010);
        assert!(config.port_explicit);
        assert!(config.token.is_none());
        assert!(config.idle_timeout.is_none());
        assert!(config.controller_deployment);
    }

    #[test]
    fn flags_beat_environment_beat_defaults() {
        let top = std::env::temp_dir().to_string_lossy().to_string();
        let env = |k: &str| match k {
            "CARTAFLOW_PORT" => Some("4000".to_string()),
            "CARTAFLOW_HOST" => Some("127.0.0.1".to_string()),
            "CARTA_AUTH_TOKEN" => Some("from-controller".to_string()),
            _ => None,
        };
        let c = cli(&["--top-level-folder", &top, "--port", "4001"]);
        let config = Config::from_layers(&c, &env).expect("valid");
        assert_eq!(config.port, 4001);
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.token.as_deref(), Some("from-controller"));
        assert!(!config.token_generated);
    }

    #[test]
    fn bad_environment_value_names_the_key() {
        let c = cli(&["--top-level-folder", "/"]);
        let err = Config::from_layers(&c, &|k| (k == "CARTAFLOW_PORT").then(|| "lots".to_string()))
            .expect_err("invalid");
        assert_eq!(err.key, "CARTAFLOW_PORT");
    }

    #[test]
    fn missing_top_folder_is_an_error() {
        let c = cli(&["--top-level-folder", "/definitely/not/here"]);
        let err = Config::from_layers(&c, &|_| None).expect_err("invalid");
        assert_eq!(err.key, "top_level_folder");
    }

    #[test]
    fn generated_token_looks_like_uuid_v4() {
        let t = generate_token();
        assert_eq!(t.len(), 36);
        assert_eq!(&t[14..15], "4");
        assert_ne!(t, generate_token());
    }
}
