//! `[limits]`: what one client may ask for, with defaults that serve any real image, validated from the
//! layered `LimitSettings` (config file, then `CARTAFLOW_LIMITS_*`).

use super::{bad, ConfigError, LimitSettings};

/// Bounds on what one client may ask for, checked at the edge before anything is allocated (`[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bins of one histogram a client may ask for.
    pub histogram_bins: usize,
    /// Control points of one region.
    pub region_control_points: usize,
    /// Regions one session may hold.
    pub regions_per_session: usize,
    /// Images one session may have open.
    pub files_per_session: usize,
    /// Bytes of one incoming WebSocket message.
    pub frame_bytes: usize,
    /// Sessions (WebSocket connections) the server serves at once.
    pub sessions: usize,
    /// Entries of one requirements message (statistics, histogram, spectral or spatial configs).
    pub requirements_per_message: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            histogram_bins: 1_000_000,
            region_control_points: 10_000,
            regions_per_session: 1_000,
            files_per_session: 100,
            frame_bytes: 64 << 20,
            sessions: 1_000,
            requirements_per_message: 100,
        }
    }
}

impl Limits {
    pub(super) fn from_settings(s: &LimitSettings) -> Result<Limits, ConfigError> {
        let d = Limits::default();
        let pick = |key: &str, value: Option<u64>, default: usize, max: u64| {
            let v = value.unwrap_or(default as u64);
            if v == 0 || v > max {
                return Err(bad(
                    &format!("limits.{key}"),
                    format!("{v} is not within 1..{max}"),
                ));
            }
            usize::try_from(v).map_err(|_| bad(&format!("limits.{key}"), "too large"))
        };
        let frame_mb = pick("frame_mb", s.frame_mb, d.frame_bytes >> 20, 1024)?;
        Ok(Limits {
            histogram_bins: pick(
                "histogram_bins",
                s.histogram_bins,
                d.histogram_bins,
                1 << 28,
            )?,
            region_control_points: pick(
                "region_control_points",
                s.region_control_points,
                d.region_control_points,
                1 << 24,
            )?,
            regions_per_session: pick(
                "regions_per_session",
                s.regions_per_session,
                d.regions_per_session,
                1 << 24,
            )?,
            files_per_session: pick(
                "files_per_session",
                s.files_per_session,
                d.files_per_session,
                1 << 16,
            )?,
            frame_bytes: frame_mb << 20,
            sessions: pick("sessions", s.sessions, d.sessions, 1 << 20)?,
            requirements_per_message: pick(
                "requirements_per_message",
                s.requirements_per_message,
                d.requirements_per_message,
                1 << 16,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Config};
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["cartaflow"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("flags parse")
    }

    #[test]
    fn limits_come_from_the_file_and_the_environment() {
        let dir = std::env::temp_dir().join(format!("cartaflow-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("limits.toml");
        let top = dir.to_string_lossy().to_string();
        let load = |text: &str, env: &dyn Fn(&str) -> Option<String>| {
            std::fs::write(&file, text).expect("write");
            let c = cli(&[
                "--config",
                &file.to_string_lossy(),
                "--top-level-folder",
                &top,
            ]);
            Config::from_layers(&c, env)
        };
        let env = |k: &str| (k == "CARTAFLOW_LIMITS_SESSIONS").then(|| "4".to_string());
        let config = load("[limits]\nhistogram_bins = 5000\nsessions = 3\n", &env).expect("valid");
        assert_eq!(config.limits.histogram_bins, 5000);
        assert_eq!(
            config.limits.sessions, 4,
            "the environment wins over the file"
        );
        assert_eq!(
            config.limits.files_per_session,
            Limits::default().files_per_session
        );
        let err = load("[limits]\nhistogram_bins = 0\n", &|_| None).expect_err("invalid");
        assert_eq!(err.key, "limits.histogram_bins");
        assert!(
            load("[limits]\nbins = 3\n", &|_| None).is_err(),
            "unknown keys are refused"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
