//! Builds the application: database pool, migrations, the listener that keeps
//! every process's cache fresh, and the HTTP server. Tests call
//! [`Application::build`] with port 0 and talk to it over HTTP.

use crate::config::Settings;
use crate::limits::{Public, RateLimits};
use crate::routes::{self, middleware as mw};
use crate::state::{AppState, BodyLimits, LinkPolicy};
use crate::store::profiles::Quorum;
use crate::store::{self, cache::Cached, profiles::CHANGED_CHANNEL};
use actix_files::{Files, NamedFile};
use actix_web::dev::{fn_service, Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, CacheControl, CacheDirective, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use sqlx::PgPool;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("could not reach the database to apply migrations ({0}); is it running? (scripts/pg.sh starts a local one)")]
    Database(String),
    #[error("could not apply migrations: {0}")]
    Migrate(String),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Connect, migrate and bind; the server runs once [`Self::run_until_stopped`] is awaited.
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        settings.check()?;
        let fd_limit = raise_fd_limit();
        let pool = store::pool(&settings)?;
        store::migrate(&pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(d)) => {
                StartError::Migrate(d.message().to_string())
            }
            sqlx::migrate::MigrateError::Execute(other) => StartError::Database(redacted(&other)),
            other => StartError::Migrate(other.to_string()),
        })?;
        let addr = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartError::Bind {
            addr: addr.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?
            .port();
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            devices: Cached::new(
                Duration::from_millis(settings.devices_cache_ms),
                Duration::from_millis(settings.devices_retry_ms),
            ),
            body: BodyLimits {
                max: settings.max_body_bytes,
                timeout: Duration::from_millis(settings.body_timeout_ms),
            },
            quorum: Quorum {
                min_runs: i64::from(settings.profile_min_runs),
                min_tokens: i64::from(settings.profile_min_tokens),
            },
            links: LinkPolicy {
                max_gzip: settings.max_link_gzip_bytes,
                expiry_days: settings.link_expiry_days,
            },
            public: Public::from_settings(&settings),
            limits: RateLimits::from_settings(&settings),
            bound: format!("{}:{port}", settings.host),
        });
        if let Some(w) = settings.lone_token_warning() {
            tracing::warn!("{w}");
        }
        if let Some(limit) = fd_limit {
            let need =
                settings.max_connections as u64 + u64::from(settings.db_max_connections) + 64;
            if need > limit {
                tracing::warn!(
                    "max_connections ({}) and the database pool need about {need} file descriptors; the limit is {limit}",
                    settings.max_connections
                );
            }
        }
        spawn_change_listener(pool.clone(), state.clone().into_inner());
        spawn_housekeeping(pool, state.clone().into_inner());
        let server = run(listener, &settings, state.clone())?;
        Ok(Application {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Only the kind of error: the message of a connection error may quote the host.
fn redacted(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => format!("I/O error: {}", io.kind()),
        sqlx::Error::PoolTimedOut => "timed out".into(),
        sqlx::Error::Database(d) => d.message().to_string(),
        _ => "connection failed".into(),
    }
}

/// Raise the soft limit of open files to the hard limit (each connection is
/// one); returns the limit now in force, if it could be read.
fn raise_fd_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            None
        }
    }
}

/// Every minute: forget rate-limit state of quiet clients; every hour, when
/// links expire, delete the expired ones.
fn spawn_housekeeping(pool: PgPool, state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        let mut minutes = 0u64;
        loop {
            tick.tick().await;
            if let Some(l) = &state.limits {
                l.prune();
            }
            if let (Some(days), 0) = (state.links.expiry_days, minutes % 60) {
                match store::estimates::purge_expired(&pool, days).await {
                    Ok(n) if n > 0 => tracing::info!("deleted {n} expired links"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not delete expired links"),
                }
            }
            minutes += 1;
        }
    });
}

/// Drop the cached device list whenever any process accepts a run.
fn spawn_change_listener(pool: PgPool, state: Arc<AppState>) {
    tokio::spawn(async move {
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if listener.listen(CHANGED_CHANNEL).await.is_err() {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            // Changes may have been missed while not listening.
            state.devices.invalidate();
            loop {
                match listener.recv().await {
                    Ok(_) => state.devices.invalidate(),
                    Err(_) => {
                        state.devices.invalidate();
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

/// Hashed file names (Trunk's `name-0123456789abcdef.ext`) never change: cache for a year.
fn is_hashed(path: &str) -> bool {
    let stem = path.rsplit('/').next().unwrap_or(path);
    let stem = stem.split('.').next().unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, h)| h.bytes().take_while(u8::is_ascii_hexdigit).count() >= 16)
}

async fn static_cache_headers(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let api = req.path().starts_with("/api/") || req.path() == "/api";
    let hashed = is_hashed(req.path());
    let mut res = next.call(req).await?;
    if !api && res.status().is_success() {
        let v = if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(v));
    }
    Ok(res)
}

fn run(
    listener: TcpListener,
    settings: &Settings,
    state: web::Data<AppState>,
) -> Result<Server, StartError> {
    let static_dir: PathBuf = settings.static_dir.clone();
    let has_frontend = static_dir.join("index.html").is_file();
    if !has_frontend {
        tracing::warn!(
            "no built frontend in {} (index.html missing): serving the API only",
            static_dir.display()
        );
    }
    let origins = web::Data::new(mw::AllowedOrigins(settings.allowed_origins.clone()));
    let csp = mw::content_security_policy(&static_dir);
    let security = web::Data::new(mw::SecurityHeaders {
        csp: HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'self'")),
    });
    let access_log = settings.access_log;
    let mut server = HttpServer::new(move || {
        let app = App::new()
            .app_data(state.clone())
            .app_data(origins.clone())
            .app_data(security.clone())
            .wrap(actix_web::middleware::Condition::new(
                access_log,
                actix_web::middleware::Logger::new("%a \"%r\" %s %b %Dms"),
            ))
            .wrap(from_fn(static_cache_headers))
            // gzip for clients that ask (the wasm file, JSON); none for wrk.
            .wrap(actix_web::middleware::Compress::default())
            .wrap(from_fn(mw::rate_limit))
            .wrap(from_fn(mw::cors))
            .wrap(from_fn(mw::security_headers))
            .configure(routes::configure);
        if has_frontend {
            let index = static_dir.join("index.html");
            app.service(
                Files::new("/", &static_dir)
                    .index_file("index.html")
                    .prefer_utf8(true)
                    .default_handler(fn_service(move |req: ServiceRequest| {
                        let index = index.clone();
                        async move {
                            let (req, _) = req.into_parts();
                            let last = req.path().rsplit('/').next().unwrap_or("");
                            if last.contains('.') {
                                let res = HttpResponse::NotFound()
                                    .content_type("text/plain; charset=utf-8")
                                    .body("not found\n");
                                return Ok(ServiceResponse::new(req, res));
                            }
                            let file = NamedFile::open_async(&index).await?;
                            let mut res = file.into_response(&req);
                            res.headers_mut().insert(
                                header::CACHE_CONTROL,
                                HeaderValue::from_static("no-cache"),
                            );
                            Ok(ServiceResponse::new(req, res))
                        }
                    })),
            )
        } else {
            app.default_service(web::to(|| async {
                HttpResponse::NotFound()
                    .insert_header(CacheControl(vec![CacheDirective::NoCache]))
                    .content_type("text/plain; charset=utf-8")
                    .body("The frontend is not built (run `trunk build --release` in frontend/). The API is at /api (see /api/openapi.json).\n")
            }))
        }
    })
    .listen(listener)
    .map_err(|source| StartError::Bind {
        addr: "listener".into(),
        source,
    })?;
    let workers = settings.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    server = server
        .workers(workers)
        // `max_connections` is per worker in actix.
        .max_connections(settings.max_connections.div_ceil(workers.max(1)).max(1));
    Ok(server.run())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashed_names() {
        assert!(super::is_hashed("/frontend-0123456789abcdef_bg.wasm"));
        assert!(super::is_hashed("/frontend-0123456789abcdef.js"));
        assert!(!super::is_hashed("/index.html"));
    }
}
