//! What the database commands (`token`, `admin`) share: the settings, a
//! current-thread runtime and one way to report a failure.

use service::config::Settings;
use std::future::Future;
use std::path::Path;
use std::process::ExitCode;

/// Load the settings (exit 2 if they are wrong), then run `f` on a
/// current-thread runtime; an `Err` is printed and exits 1.
pub fn run<F, Fut>(config: Option<&Path>, f: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = Result<ExitCode, String>>,
{
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        f(settings).await.unwrap_or_else(|e| {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        })
    })
}
