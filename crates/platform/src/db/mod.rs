//! The database: one connection pool over SQLite or PostgreSQL, chosen by the URL scheme.
//!
//! Everything above this module talks to [`Db`] (SeaORM's `DatabaseConnection`) and never
//! asks which database it is, except through the few dialect helpers kept here.

mod busy;
mod constraint;
mod search;
mod write;

use std::{path::Path, str::FromStr, time::Duration};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};
use secrecy::ExposeSecret;

pub use constraint::{Violation, violation};
pub use search::contains_any;
pub use write::WriteTransaction;

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
    let mut options = options(config, SHARED);
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
    let mut options = options(config, DEDICATED);
    options.max_connections(1).connect_lazy(true);
    Database::connect(options).await
}

/// How a pool's SQLite connections differ: page cache, and how often they checkpoint.
struct SqliteTuning {
    cache_mib: u32,
    /// The WAL's size, in pages, past which a commit copies it into the database file.
    checkpoint_pages: u32,
    /// Statement journals and temporary sorts in memory rather than in files under
    /// /var/tmp. A multi-row statement inside a transaction journals every page it
    /// changes: the click writer's did so through a file, a third of its writes in the
    /// links benchmark. Not for the shared pool, whose large sorts (a day's compaction)
    /// are better spilled to disk.
    temp_in_memory: bool,
}

/// The shared pool: SQLite's defaults; its connections each read a few pages per request.
const SHARED: SqliteTuning = SqliteTuning {
    cache_mib: 2,
    checkpoint_pages: 1000,
    temp_in_memory: false,
};

/// A dedicated writer, whose batches touch pages all over the tables they update.
///
/// The cache: in the links benchmark the click writer's rollup upserts took 1.1 s per
/// 10,000 clicks with 2 MiB and 0.9 s with 32 MiB; 8 MiB wrote as fast as 32 and kept the
/// peak RSS 30 MB lower.
///
/// The checkpoints: at SQLite's default (1,000 pages) every large batch is followed by a
/// checkpoint that copies each page it wrote into the database file, and the next batch
/// rewrites most of the same pages. Letting the WAL grow to 256 MiB copies them once every
/// few batches instead (in the links benchmark: 6.6 KB written per click instead of 10.6,
/// 18,000 clicks/s instead of 15,000).
const DEDICATED: SqliteTuning = SqliteTuning {
    cache_mib: 8,
    checkpoint_pages: 65_536,
    temp_in_memory: true,
};

/// What every pool shares: timeouts, and SQLite's settings (see [`connect`]).
fn options(config: &Config, sqlite: SqliteTuning) -> ConnectOptions {
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
                .pragma("cache_size", format!("-{}", sqlite.cache_mib * 1024))
                .pragma(
                    "temp_store",
                    if sqlite.temp_in_memory {
                        "memory"
                    } else {
                        "default"
                    },
                )
                .pragma("wal_autocheckpoint", sqlite.checkpoint_pages.to_string())
                // After a checkpoint, the WAL file is cut back to 64 MiB rather than kept
                // at its largest size.
                .pragma("journal_size_limit", (64 << 20).to_string())
        })
        // The busy timeout above applies until the connection is open (the pragmas
        // themselves may wait); then a quicker waiter replaces it.
        .map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_connect(|connection, _| Box::pin(busy::install(connection)))
        });
    options
}

/// A transaction that will write after it has read: on SQLite, it waits for the pool's
/// turn to write ([`WriteTransaction`]) and then takes the write lock at once
/// (`BEGIN IMMEDIATE`); elsewhere it is a plain `BEGIN`.
///
/// Why: a plain (deferred) SQLite transaction that reads first holds a snapshot, and when
/// it then writes after another connection has committed, SQLite fails it at once with
/// `SQLITE_BUSY` ("database is locked"), without the busy timeout, since waiting could not
/// help an outdated snapshot. Eight CalDAV clients each PUTting tasks at once got a 500 on
/// one PUT in five that way (scripts/caldav-check found it). A transaction whose first
/// statement writes does not need this.
pub async fn begin_write(db: &Db) -> Result<WriteTransaction, DbErr> {
    WriteTransaction::begin(db).await
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
