//! Fresh databases for a measurement: a temporary SQLite file, or a scratch database on the
//! PostgreSQL server (`CAPSTONE_BENCH_POSTGRES_URL`, by default the local test server),
//! removed afterwards whatever happened.

use anyhow::Context;

use crate::seed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        }
    }
}

/// Runs `measure` on a fresh database of `backend`, removed afterwards whatever happened:
/// a temporary SQLite file, or a scratch database on the PostgreSQL server.
pub async fn on_scratch_database<T>(
    backend: Backend,
    measure: impl AsyncFnOnce(&str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::Builder::new()
                .prefix("capstone-bench-")
                .tempdir()
                .context("creating a temporary directory")?;
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("jobs.db").display());
            measure(&url).await
        }
        Backend::Postgres => {
            let admin_url = std::env::var("CAPSTONE_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let admin = seed::postgres::admin(&admin_url).await.context(
                "the PostgreSQL server did not answer (set CAPSTONE_BENCH_POSTGRES_URL)",
            )?;
            let (name, url) = seed::postgres::create(&admin, &admin_url).await?;
            let result = measure(&url).await;
            let dropped = seed::postgres::drop(&admin, &name).await;
            admin.close().await?;
            let result = result?;
            dropped?;
            Ok(result)
        }
    }
}
