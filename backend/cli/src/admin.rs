//! `jouleprint admin quarantine|unquarantine|quarantined`: take a calibration
//! run, or every run of a token, out of the measured profiles (and back),
//! without deleting anything (`docs/operations.md`).

use clap::{Args, Subcommand};
use service::config::Settings;
use service::store::quarantine::{self, Action, Target};
use service::store::{self};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct AdminArgs {
    /// Configuration file (the database URL comes from it or JOULEPRINT_DATABASE_URL).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub action: AdminAction,
}

/// One run, or one token's runs.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Which {
    /// A calibration run, by its run id (a UUID, as listed by GET /api/devices/{id}/calibrations).
    #[arg(long)]
    pub run: Option<String>,
    /// Every run of a token, by its id or name (`jouleprint token list`).
    #[arg(long)]
    pub token: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AdminAction {
    /// Take a run or a token's runs out of the measured profiles (they stay stored).
    Quarantine {
        #[command(flatten)]
        which: Which,
        /// Why, kept with the event.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Let a quarantined run or token's runs count again.
    Unquarantine {
        #[command(flatten)]
        which: Which,
        #[arg(long)]
        reason: Option<String>,
    },
    /// List what is quarantined now.
    Quarantined,
}

pub fn run(args: AdminArgs) -> ExitCode {
    let action_arg = args.action;
    crate::db::run(args.config.as_deref(), |settings| async move {
        action(&settings, action_arg).await
    })
}

fn target(which: Which) -> Result<Target, String> {
    match (which.run, which.token) {
        (Some(r), None) => {
            Target::run(&r).ok_or_else(|| format!("--run must be a run id (a UUID), got {r:?}"))
        }
        (None, Some(t)) if !t.trim().is_empty() => Ok(Target::Token(t.trim().to_string())),
        _ => Err("give one of --run ID or --token NAME".into()),
    }
}

async fn action(settings: &Settings, action: AdminAction) -> Result<ExitCode, String> {
    let pool = store::pool(settings).map_err(|e| e.to_string())?;
    store::migrate(&pool)
        .await
        .map_err(|_| "could not reach or migrate the database; is it running?".to_string())?;
    let (which, reason, act) = match action {
        AdminAction::Quarantined => {
            let list = quarantine::list(&pool).await.map_err(|e| e.to_string())?;
            if list.is_empty() {
                println!("nothing is quarantined");
            }
            for q in list {
                println!(
                    "{}  since {}{}",
                    q.what,
                    q.since.format("%Y-%m-%d %H:%M:%S"),
                    q.reason.map(|r| format!("  ({r})")).unwrap_or_default()
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        AdminAction::Quarantine { which, reason } => (which, reason, Action::Quarantine),
        AdminAction::Unquarantine { which, reason } => (which, reason, Action::Unquarantine),
    };
    if reason.as_deref().is_some_and(|r| r.chars().count() > 2000) {
        return Err("--reason must be at most 2000 characters".into());
    }
    let t = target(which)?;
    let done = quarantine::apply(&pool, &t, act, reason.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let verb = match act {
        Action::Quarantine => "quarantined",
        Action::Unquarantine => "released",
    };
    match &t {
        Target::Run(r) => println!("{verb} run {r}"),
        Target::Token(n) => println!(
            "{verb} {} token{} named {n:?}",
            done.tokens,
            if done.tokens == 1 { "" } else { "s" }
        ),
    }
    if done.devices.is_empty() {
        println!("no device profile changed (no calibration runs; a measured run leaves the accuracy table only)");
    } else {
        println!(
            "new profile versions for: {} (every server reloads them at once)",
            done.devices.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
