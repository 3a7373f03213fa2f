//! Support shared by the integration tests that need Postgres.

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection};
use std::str::FromStr;

pub fn database_url() -> String {
    std::env::var("JOULEPRINT_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| {
            panic!(
                "these tests need Postgres: run scripts/test.sh (it starts a local one), \
                 or set JOULEPRINT_DATABASE_URL to a server where this user may create databases"
            )
        })
}

/// The same URL with another database name.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{db}{query}")
}

pub async fn admin() -> PgConnection {
    let url = with_database(&database_url(), "postgres");
    PgConnectOptions::from_str(&url)
        .expect("database URL")
        .connect()
        .await
        .expect("connect to the maintenance database (is Postgres running? use scripts/test.sh)")
}
