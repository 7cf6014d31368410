//! The `cartaflow` binary: parse the configuration (exit code 2 on an invalid value), set up logging, serve.

use std::process::ExitCode;

use cartaflow::config::{Cli, Config};
use cartaflow::server::{self, AppState};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cartaflow: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let system = actix_web::rt::System::new();
    let served = system.block_on(async {
        let state = AppState::new(config)
            .map_err(|e| std::io::Error::other(format!("cannot start worker threads: {e}")))?;
        server::run(state).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cartaflow: {e}");
            ExitCode::FAILURE
        }
    }
}
