//! Settings of `jouleprint serve` and `jouleprint token`, layered: built-in
//! defaults, then a TOML file (`configuration/jouleprint.toml`, or the file named
//! by `JOULEPRINT_CONFIG` / `--config`), then `JOULEPRINT_*` environment
//! variables (`JOULEPRINT_DATABASE_URL`, `JOULEPRINT_PORT`,
//! `JOULEPRINT_ALLOWED_ORIGINS=https://a.example,https://b.example`, ...).
//! The database URL is a secret: it is never printed (its `Debug` is redacted).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::IpAddr;
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

    /// The service's public address, e.g. `https://jouleprint.example`: the
    /// base of `Location` and of the links in answers. Unset: the request's
    /// `Host` (or a trusted proxy's `X-Forwarded-Host`), over http.
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// Addresses (`10.0.0.2`) or networks (`10.0.0.0/8`, `fd00::/8`) of the
    /// reverse proxies in front: only their `X-Forwarded-For`,
    /// `X-Forwarded-Proto` and `X-Forwarded-Host` are read.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Per-client rate limits on writes and heavy endpoints (`docs/api.md`).
    #[serde(default = "yes")]
    pub rate_limits: bool,
    /// Writes (`POST /api/estimates`, `POST /api/calibrations`, `POST /api/runs`) per client per minute, and the burst.
    #[serde(default = "default_write_rate")]
    pub rate_write_per_minute: u32,
    #[serde(default = "default_write_burst")]
    pub rate_write_burst: u32,
    /// Heavy requests (`POST /api/estimate`, `GET /api/estimates/{id}`, a
    /// device's runs or an old profile version, `GET /api/runs`,
    /// `GET /api/accuracy`) per client per minute, and the burst.
    #[serde(default = "default_heavy_rate")]
    pub rate_heavy_per_minute: u32,
    #[serde(default = "default_heavy_burst")]
    pub rate_heavy_burst: u32,
    /// How long a request body may take to arrive, ms (then 408).
    #[serde(default = "default_body_timeout")]
    pub body_timeout_ms: u64,
    /// Most connections one server process holds open (spread over its workers).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// After a failed load of the device list, how long requests get the last
    /// good list (or 503) at once instead of trying the database again, ms.
    #[serde(default = "default_devices_retry")]
    pub devices_retry_ms: u64,
    /// A measured profile replaces the built-in one only with this many
    /// accepted runs (not quarantined)...
    #[serde(default = "default_min_runs")]
    pub profile_min_runs: u32,
    /// ...from this many tokens; and the accuracy table gives figures only
    /// once this many tokens sent measured runs. The profile is the median
    /// over one vote per token: with fewer than 3 tokens one token moves it
    /// (the median of two votes is their mean), so 3 is the least that keeps
    /// a single token from moving a profile ([`Settings::lone_token_warning`]).
    #[serde(default = "default_min_tokens")]
    pub profile_min_tokens: u32,
    /// Largest shared scenario, gzip-compressed canonical JSON, bytes.
    #[serde(default = "default_link_gzip")]
    pub max_link_gzip_bytes: usize,
    /// Shared links not stored again for this many days are gone (410); unset: never.
    #[serde(default)]
    pub link_expiry_days: Option<u32>,
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
fn yes() -> bool {
    true
}
fn default_write_rate() -> u32 {
    20
}
fn default_write_burst() -> u32 {
    10
}
fn default_heavy_rate() -> u32 {
    1200
}
fn default_heavy_burst() -> u32 {
    120
}
fn default_body_timeout() -> u64 {
    15_000
}
fn default_max_connections() -> usize {
    4096
}
fn default_devices_retry() -> u64 {
    2000
}
fn default_min_runs() -> u32 {
    3
}
fn default_min_tokens() -> u32 {
    3
}

/// The least `profile_min_tokens` under which one token cannot move a
/// measured profile: the median of 3 votes is one of the 2 that agree.
pub const SAFE_MIN_TOKENS: u32 = 3;
/// An imported Llama-7B graph (4,465 nodes) is 23 kB as gzipped canonical JSON
/// (573 kB raw); a Llama-70B graph has about twice the nodes. 256 KiB leaves
/// room for both, several times over, and stops a megabyte of random text.
fn default_link_gzip() -> usize {
    256 * 1024
}

/// An address or a network of trusted proxies (`10.0.0.2`, `10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = p.unwrap_or(max);
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u32) {
            match ip {
                IpAddr::V4(v) => (u32::from(v) as u128, 32),
                IpAddr::V6(v) => match v.to_ipv4_mapped() {
                    Some(m) => (u32::from(m) as u128, 32),
                    None => (u128::from(v), 128),
                },
            }
        };
        let ((a, la), (b, lb)) = (bits(self.addr), bits(ip));
        if la != lb {
            return false;
        }
        let shift = la - u32::from(self.prefix.min(la as u8));
        shift >= la || (a >> shift) == (b >> shift)
    }
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
    #[error("configuration: {field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
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
            .with_list_parse_key("allowed_origins")
            .with_list_parse_key("trusted_proxies");
        let c = b.add_source(env).build()?;
        let mut s: Settings = c.try_deserialize()?;
        // A plain DATABASE_URL (sqlx's convention) is a fallback.
        if s.database_url.is_none() {
            if let Ok(url) = std::env::var("DATABASE_URL") {
                s.database_url = Some(SecretString::from(url));
            }
        }
        s.allowed_origins.retain(|o| !o.trim().is_empty());
        s.trusted_proxies.retain(|o| !o.trim().is_empty());
        s.check()?;
        Ok(s)
    }

    /// Values that cannot work, named.
    /// What to warn of at start when `profile_min_tokens` lets one token
    /// make or move a measured profile by itself (below [`SAFE_MIN_TOKENS`]).
    pub fn lone_token_warning(&self) -> Option<String> {
        let n = self.profile_min_tokens;
        (n < SAFE_MIN_TOKENS).then(|| {
            format!(
                "profile_min_tokens = {n}: {} (the median of two votes is their mean); \
                 set it to {SAFE_MIN_TOKENS} or more so that one token cannot move a measured profile",
                if n <= 1 {
                    "one token makes a device's measured profile by itself"
                } else {
                    "one token moves a device's measured profile halfway to its own values"
                }
            )
        })
    }

    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |field, problem: &str| {
            Err(ConfigError::Invalid {
                field,
                problem: problem.into(),
            })
        };
        if let Some(u) = &self.public_base_url {
            let rest = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"));
            match rest {
                Some(r)
                    if !r.is_empty()
                        && !r.starts_with('/')
                        && !r.contains(['?', '#', '@', ' ', '"', '<', '>', '\\']) => {}
                _ => {
                    return bad(
                        "public_base_url",
                        "must be http(s)://host[:port][/path], e.g. https://jouleprint.example",
                    )
                }
            }
        }
        if self
            .trusted_proxies
            .iter()
            .any(|p| IpNet::parse(p).is_none())
        {
            return bad(
                "trusted_proxies",
                "each must be an IP address or a network, e.g. 10.0.0.2 or 10.0.0.0/8",
            );
        }
        for (field, v) in [
            ("rate_write_per_minute", self.rate_write_per_minute),
            ("rate_write_burst", self.rate_write_burst),
            ("rate_heavy_per_minute", self.rate_heavy_per_minute),
            ("rate_heavy_burst", self.rate_heavy_burst),
            ("profile_min_runs", self.profile_min_runs),
            ("profile_min_tokens", self.profile_min_tokens),
        ] {
            if v == 0 {
                return bad(field, "must be at least 1");
            }
        }
        if self.body_timeout_ms == 0 || self.max_connections == 0 || self.max_link_gzip_bytes == 0 {
            return bad(
                "body_timeout_ms, max_connections, max_link_gzip_bytes",
                "must be above 0",
            );
        }
        if self.link_expiry_days == Some(0) {
            return bad(
                "link_expiry_days",
                "must be at least 1 (leave it unset for no expiry)",
            );
        }
        Ok(())
    }

    /// The configured proxies, parsed (see [`Settings::check`]).
    pub fn trusted_nets(&self) -> Vec<IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| IpNet::parse(p))
            .collect()
    }

    /// `public_base_url` without a trailing slash.
    pub fn public_base(&self) -> Option<String> {
        self.public_base_url
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_string())
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
            public_base_url: None,
            trusted_proxies: vec![],
            // Tests of other things send many requests quickly.
            rate_limits: false,
            rate_write_per_minute: default_write_rate(),
            rate_write_burst: default_write_burst(),
            rate_heavy_per_minute: default_heavy_rate(),
            rate_heavy_burst: default_heavy_burst(),
            body_timeout_ms: default_body_timeout(),
            max_connections: default_max_connections(),
            devices_retry_ms: default_devices_retry(),
            // One run of one token makes a profile: the tests of the older behaviour.
            profile_min_runs: 1,
            profile_min_tokens: 1,
            max_link_gzip_bytes: default_link_gzip(),
            link_expiry_days: None,
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
    fn the_shipped_file_loads_and_holds_the_defaults() {
        let file =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configuration/jouleprint.toml");
        let s = Settings::load(Some(&file)).expect("configuration/jouleprint.toml loads");
        // Every key the server reads is in the file, at its default (a
        // JOULEPRINT_* variable of the environment would override it).
        let text = std::fs::read_to_string(&file).expect("read");
        for key in [
            "host",
            "port",
            "static_dir",
            "allowed_origins",
            "max_body_bytes",
            "db_max_connections",
            "db_acquire_timeout_ms",
            "devices_cache_ms",
            "access_log",
            "devices_retry_ms",
            "workers",
            "max_connections",
            "body_timeout_ms",
            "public_base_url",
            "trusted_proxies",
            "rate_limits",
            "rate_write_per_minute",
            "rate_write_burst",
            "rate_heavy_per_minute",
            "rate_heavy_burst",
            "profile_min_runs",
            "profile_min_tokens",
            "max_link_gzip_bytes",
            "link_expiry_days",
        ] {
            assert!(
                text.contains(&format!("{key} =")),
                "{key} is not in the file"
            );
        }
        if std::env::vars()
            .any(|(k, _)| k.starts_with("JOULEPRINT_") && k != "JOULEPRINT_DATABASE_URL")
        {
            return;
        }
        assert_eq!(
            (
                s.rate_write_per_minute,
                s.rate_write_burst,
                s.rate_heavy_per_minute,
                s.rate_heavy_burst
            ),
            (
                default_write_rate(),
                default_write_burst(),
                default_heavy_rate(),
                default_heavy_burst()
            )
        );
        assert_eq!(
            (s.profile_min_runs, s.profile_min_tokens),
            (default_min_runs(), default_min_tokens())
        );
        assert_eq!(s.max_link_gzip_bytes, default_link_gzip());
        assert_eq!(s.body_timeout_ms, default_body_timeout());
        assert_eq!(s.max_connections, default_max_connections());
        assert_eq!(s.devices_retry_ms, default_devices_retry());
        assert!(s.rate_limits && s.trusted_proxies.is_empty() && s.public_base_url.is_none());
        assert_eq!((s.workers, s.link_expiry_days), (None, None));
    }

    #[test]
    fn networks_of_trusted_proxies() {
        let n = IpNet::parse("10.0.0.0/8").expect("net");
        assert!(n.contains("10.1.2.3".parse().expect("ip")));
        assert!(!n.contains("11.0.0.1".parse().expect("ip")));
        assert!(n.contains("::ffff:10.0.0.1".parse().expect("ip")));
        let one = IpNet::parse("127.0.0.1").expect("host");
        assert!(one.contains("127.0.0.1".parse().expect("ip")));
        assert!(!one.contains("127.0.0.2".parse().expect("ip")));
        let v6 = IpNet::parse("fd00::/8").expect("v6");
        assert!(v6.contains("fd12::1".parse().expect("ip")));
        assert!(!v6.contains("fe80::1".parse().expect("ip")));
        assert!(IpNet::parse("0.0.0.0/0")
            .expect("all")
            .contains("8.8.8.8".parse().expect("ip")));
        for bad in ["10.0.0.0/33", "host", "10.0.0.1/x"] {
            assert!(IpNet::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let mut s = Settings::for_tests("postgres://u@h/x");
        assert!(s.check().is_ok());
        s.public_base_url = Some("javascript://evil.example".into());
        assert!(matches!(
            s.check(),
            Err(ConfigError::Invalid {
                field: "public_base_url",
                ..
            })
        ));
        s.public_base_url = Some("https://jouleprint.example/".into());
        assert!(s.check().is_ok());
        assert_eq!(
            s.public_base().as_deref(),
            Some("https://jouleprint.example")
        );
        s.trusted_proxies = vec!["proxy.internal".into()];
        assert!(matches!(
            s.check(),
            Err(ConfigError::Invalid {
                field: "trusted_proxies",
                ..
            })
        ));
        s.trusted_proxies = vec![];
        s.profile_min_tokens = 0;
        assert!(s.check().is_err());
    }

    #[test]
    fn fewer_than_three_tokens_is_warned_of() {
        let mut s = Settings::for_tests("postgres://u@h/x");
        s.profile_min_tokens = default_min_tokens();
        assert_eq!(s.profile_min_tokens, 3);
        assert_eq!(s.lone_token_warning(), None);
        s.profile_min_tokens = 2;
        let w = s.lone_token_warning().expect("2 tokens");
        assert!(
            w.starts_with("profile_min_tokens = 2: one token moves"),
            "{w}"
        );
        s.profile_min_tokens = 1;
        let w = s.lone_token_warning().expect("1 token");
        assert!(
            w.contains("makes a device's measured profile by itself"),
            "{w}"
        );
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
