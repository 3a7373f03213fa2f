//! `jouleprint serve`: the HTTP service (API under /api, the built frontend at /).

use clap::Args;
use service::config::Settings;
use service::startup::Application;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Configuration file (default: configuration/jouleprint.toml when it exists).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to bind (overrides the configuration).
    #[arg(long)]
    pub host: Option<String>,
    /// Port to bind (overrides the configuration; 0 picks a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Folder of the built frontend (overrides the configuration).
    #[arg(long)]
    pub static_dir: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> ExitCode {
    service::telemetry::init();
    let mut settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(h) = args.host {
        settings.host = h;
    }
    if let Some(p) = args.port {
        settings.port = p;
    }
    if let Some(d) = args.static_dir {
        settings.static_dir = d;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let host = settings.host.clone();
        let app = match Application::build(settings).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!("jouleprint serving on http://{host}:{}", app.port());
        // one write: stderr is unbuffered, and scripts read this line for the address
        let line = format!("jouleprint: listening on http://{host}:{}\n", app.port());
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
        match app.run_until_stopped().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
