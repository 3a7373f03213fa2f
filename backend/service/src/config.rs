//! Settings of `jouleprint serve` and `jouleprint token`, layered: built-in
//! defaults, then a TOML file (`configuration/jouleprint.toml`, or the file named
//! by `JOULEPRINT_CONFIG` / `--config`), then `JOULEPRINT_*` environment
//! variables (`JOULEPRINT_DATABASE_URL`, `JOULEPRINT_PORT`,
//! `JOULEPRINT_ALLOWED_ORIGINS=https://a.example,https://b.example`, ...).
//! The database URL is a secret: it is never printed (its `Debug` is redacted).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The default configuration file, relative to the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "configuration/jouleprint.toml";

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Address to bind, e.g. `127.0.0.1` or `0.0.0.0`.
    #[serde(default = "default_host")]
    pub host: String,
    /// Port to bind; 0 picks a free one.
    #[serde(default = "default_port")]
    pub port: u16,
    /// `postgres://user:password@host:port/database`.
    pub database_url: Option<SecretString>,
    /// Origins allowed to call the API from a browser page served elsewhere
    /// (CORS). The server's own pages need none.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Folder of the built frontend, served at `/`.
    #[serde(default = "default_static_dir")]
    pub static_dir: PathBuf,
    /// Largest request body accepted, bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Most database connections of one server process.
    #[serde(default = "default_db_max")]
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before answering 503, ms.
    #[serde(default = "default_db_timeout")]
    pub db_acquire_timeout_ms: u64,
    /// HTTP worker threads (default: one per CPU core).
    #[serde(default)]
    pub workers: Option<usize>,
    /// How long the device list may be served from memory before it is read
    /// again, ms (it is also dropped on every accepted run, in every process).
    #[serde(default = "default_cache_ttl")]
    pub devices_cache_ms: u64,
    /// Log each request (method, path, status, time).
    #[serde(default)]
    pub access_log: bool,
}

fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_port() -> u16 {
    8080
}
fn default_static_dir() -> PathBuf {
    PathBuf::from("frontend/dist")
}
fn default_max_body() -> usize {
    1024 * 1024
}
fn default_db_max() -> u32 {
    16
}
fn default_db_timeout() -> u64 {
    3000
}
fn default_cache_ttl() -> u64 {
    5000
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("no database configured: set JOULEPRINT_DATABASE_URL (or database_url in the configuration file), or use scripts/run.sh, which starts a local Postgres")]
    NoDatabase,
    #[error("database_url is not a valid Postgres URL: {0}")]
    BadDatabaseUrl(String),
}

impl Settings {
    /// Load from `file` (or `JOULEPRINT_CONFIG`, or the default file when it
    /// exists) and the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let env_file = std::env::var_os("JOULEPRINT_CONFIG").map(PathBuf::from);
        let chosen = file.map(Path::to_path_buf).or(env_file);
        let mut b = config::Config::builder();
        match chosen {
            Some(p) => {
                if !p.exists() {
                    return Err(ConfigError::MissingFile(p));
                }
                b = b.add_source(config::File::from(p).required(true));
            }
            None => {
                b = b.add_source(config::File::with_name(DEFAULT_CONFIG_FILE).required(false));
            }
        }
        let env = config::Environment::with_prefix("JOULEPRINT")
            .prefix_separator("_")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("allowed_origins");
        let c = b.add_source(env).build()?;
        let mut s: Settings = c.try_deserialize()?;
        // A plain DATABASE_URL (sqlx's convention) is a fallback.
        if s.database_url.is_none() {
            if let Ok(url) = std::env::var("DATABASE_URL") {
                s.database_url = Some(SecretString::from(url));
            }
        }
        s.allowed_origins.retain(|o| !o.trim().is_empty());
        Ok(s)
    }

    /// Connection options of the configured database.
    pub fn connect_options(&self) -> Result<sqlx::postgres::PgConnectOptions, ConfigError> {
        let url = self.database_url.as_ref().ok_or(ConfigError::NoDatabase)?;
        sqlx::postgres::PgConnectOptions::from_str(url.expose_secret())
            // The parser's message may quote the URL: keep it out.
            .map_err(|_| {
                ConfigError::BadDatabaseUrl("check the scheme, host, port and database name".into())
            })
    }

    pub fn db_acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.db_acquire_timeout_ms)
    }

    /// The settings the tests start from: loopback, port 0, this database.
    pub fn for_tests(database_url: &str) -> Settings {
        Settings {
            host: "127.0.0.1".into(),
            port: 0,
            database_url: Some(SecretString::from(database_url.to_string())),
            allowed_origins: vec![],
            static_dir: default_static_dir(),
            max_body_bytes: default_max_body(),
            db_max_connections: 8,
            db_acquire_timeout_ms: default_db_timeout(),
            workers: Some(2),
            devices_cache_ms: default_cache_ttl(),
            access_log: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_and_defaults_and_the_url_stays_secret() {
        let dir = std::env::temp_dir().join(format!("jp-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("jouleprint.toml");
        std::fs::write(
            &file,
            "port = 1234\nallowed_origins = [\"https://a.example\"]\n\
             database_url = \"postgres://u:hunter2@db.example/x\"\n",
        )
        .expect("write");
        let s = Settings::load(Some(&file)).expect("load");
        assert_eq!(s.port, 1234);
        assert_eq!(s.allowed_origins, vec!["https://a.example".to_string()]);
        assert_eq!(s.host, "127.0.0.1");
        assert_eq!(s.max_body_bytes, 1024 * 1024);
        assert!(s.database_url.is_some());
        assert!(s.connect_options().is_ok());
        // Whatever the URL (file or environment), Debug never shows it.
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        if let Ok(env_url) = std::env::var("JOULEPRINT_DATABASE_URL") {
            if env_url.len() > 12 {
                assert!(!shown.contains(&env_url));
            }
        }
        assert!(matches!(
            Settings::load(Some(&dir.join("missing.toml"))),
            Err(ConfigError::MissingFile(_))
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_bad_url_is_refused_without_quoting_it() {
        let mut s = Settings::for_tests("postgres://u:hunter2@db.example/x");
        assert!(s.connect_options().is_ok());
        s.database_url = Some(SecretString::from(
            "postgres://u:hunter2@db.example:notaport/x".to_string(),
        ));
        let e = s.connect_options().expect_err("bad port");
        assert!(!e.to_string().contains("hunter2"));
        s.database_url = None;
        assert!(matches!(s.connect_options(), Err(ConfigError::NoDatabase)));
    }
}
