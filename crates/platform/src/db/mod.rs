//! The database: one connection pool over SQLite or PostgreSQL, chosen by the URL scheme.
//!
//! Everything above this module talks to [`Db`] (SeaORM's `DatabaseConnection`) and never
//! asks which database it is, except through the few dialect helpers kept here.

mod batch;
mod constraint;
mod search;

use std::{path::Path, str::FromStr, time::Duration};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};
use secrecy::ExposeSecret;

pub use batch::fixed_chunks;
pub use constraint::{Violation, violation};
pub use search::contains_any;

use crate::config::Config;

/// The pool every handler and worker shares. Cloning is cheap (an `Arc` inside).
pub type Db = DatabaseConnection;

/// Opens the pool. For SQLite, the file (and its folder) is created if missing, and every
/// connection runs in WAL mode (readers never block the writer), with foreign keys enforced
/// (SQLite leaves them off by default) and a busy timeout so that concurrent writers wait
/// for the lock instead of failing with `SQLITE_BUSY`.
pub async fn connect(config: &Config) -> Result<Db, DbErr> {
    let url = config.database_url.expose_secret();
    if let Some(path) = sqlite_path(url)
        && let Some(dir) = Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = options(config, SHARED_CACHE_MIB);
    options
        .max_connections(config.database_max_connections)
        .min_connections(1);
    Database::connect(options).await
}

/// A pool of one connection, opened on first use, for a worker that writes in large
/// batches: it neither waits for nor holds up the request handlers' connections, and its
/// prepared statements (and, on SQLite, its page cache) stay warm from batch to batch
/// instead of being duplicated in every connection of the shared pool.
pub async fn connect_dedicated(config: &Config) -> Result<Db, DbErr> {
    let mut options = options(config, DEDICATED_CACHE_MIB);
    options.max_connections(1).connect_lazy(true);
    Database::connect(options).await
}

/// SQLite's page cache per connection, in MiB: its default (2) for the shared pool, whose
/// connections each read a few pages per request; more for a dedicated writer, whose
/// batches touch pages all over the tables they update. In the links benchmark the click
/// writer's rollup upserts took 1.1 s per 10,000 clicks with 2 MiB and 0.9 s with 32 MiB;
/// 8 MiB wrote as fast as 32 and kept the peak RSS 30 MB lower.
const SHARED_CACHE_MIB: u32 = 2;
const DEDICATED_CACHE_MIB: u32 = 8;

/// What every pool shares: timeouts, and SQLite's settings (see [`connect`]).
fn options(config: &Config, sqlite_cache_mib: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(config.database_url.expose_secret().to_owned());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |opts| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                // A negative size is in KiB.
                .pragma("cache_size", format!("-{}", sqlite_cache_mib * 1024))
        });
    options
}

/// A pool that connects on first use: the server starts even when the database is down and
/// answers 503 until it is back. Used by tests of that path.
pub async fn connect_lazy(url: &str) -> Result<Db, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_lazy(true)
        .connect_timeout(Duration::from_secs(1))
        .acquire_timeout(Duration::from_secs(1))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Whether the database answers, within `timeout`.
pub async fn ping(db: &Db, timeout: Duration) -> bool {
    matches!(tokio::time::timeout(timeout, db.ping()).await, Ok(Ok(())))
}

/// The file behind an SQLite URL (`sqlite://data/x.db?mode=rwc` -> `data/x.db`).
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// Which SQL dialect a pool speaks, for the few queries that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of(db: &Db) -> Self {
        match db.get_database_backend() {
            DbBackend::Postgres => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }
}

impl FromStr for Dialect {
    type Err = String;
    fn from_str(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else {
            Err(format!("unsupported database URL scheme in {url:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://data/capstone.db?mode=rwc"),
            Some("data/capstone.db")
        );
        assert_eq!(sqlite_path("sqlite:x.db"), Some("x.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://localhost/x"), None);
    }
}
