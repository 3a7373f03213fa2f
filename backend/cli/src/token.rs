//! `jouleprint token create|list|revoke`: API tokens for calibration runners.

use clap::{Args, Subcommand};
use service::config::Settings;
use service::store::{self, tokens};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// Configuration file (the database URL comes from it or JOULEPRINT_DATABASE_URL).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub action: TokenAction,
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Create a token and print it once (only its SHA-256 is stored).
    Create {
        /// Who uses it, e.g. the GPU host's name.
        #[arg(long)]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token by id, or every token with a name.
    Revoke {
        /// Token id (from `token list`) or name.
        id_or_name: String,
    },
}

pub fn run(args: TokenArgs) -> ExitCode {
    let action_arg = args.action;
    crate::db::run(args.config.as_deref(), |settings| async move {
        action(&settings, action_arg).await
    })
}

async fn action(settings: &Settings, action: TokenAction) -> Result<ExitCode, String> {
    let pool = store::pool(settings).map_err(|e| e.to_string())?;
    store::migrate(&pool)
        .await
        .map_err(|_| "could not reach or migrate the database; is it running?".to_string())?;
    let db = |e: store::StoreError| format!("{e}");
    match action {
        TokenAction::Create { name } => {
            let name = name.trim();
            if name.is_empty() || name.len() > 256 || name.contains('\0') {
                return Err("--name must be 1 to 256 characters".into());
            }
            let (id, token) = tokens::create(&pool, name).await.map_err(db)?;
            eprintln!("token {id} for {name:?} created; it is shown once, keep it secret:");
            println!("{token}");
        }
        TokenAction::List => {
            let list = tokens::list(&pool).await.map_err(db)?;
            println!(
                "{:>5}  {:<24}  {:<20}  {:<20}  status",
                "id", "name", "created", "last used"
            );
            for t in list {
                let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|| "-".into())
                };
                println!(
                    "{:>5}  {:<24}  {:<20}  {:<20}  {}",
                    t.id,
                    t.name,
                    fmt(Some(t.created_at)),
                    fmt(t.last_used_at),
                    if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
        TokenAction::Revoke { id_or_name } => {
            let n = tokens::revoke(&pool, &id_or_name).await.map_err(db)?;
            if n == 0 {
                eprintln!("no active token matches {id_or_name:?}");
                return Ok(ExitCode::FAILURE);
            }
            println!("revoked {n} token{}", if n == 1 { "" } else { "s" });
        }
    }
    Ok(ExitCode::SUCCESS)
}
