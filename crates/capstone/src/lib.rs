//! The Capstone server, assembled: every app's routes and migrations on the platform.
//!
//! `main.rs` is the command line; this library is what it and the integration tests start.

use std::net::SocketAddr;

use anyhow::Context;
use platform::{
    AppState, Config,
    background::Background,
    clock::Clock,
    db::{self, Db},
    server,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

/// Every crate's migrations, in the order they must run: the platform's tables first,
/// since the apps' tables refer to them.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = platform::migrations::migrations();
        all.extend(links::migrations());
        all
    }
}

/// Checks what each app reads from the configuration (the platform's own settings are
/// checked as they load), so that `capstone check-config` refuses what `serve` would.
pub fn check_app_settings(config: &Config) -> anyhow::Result<()> {
    links::Settings::from_config(config)?;
    Ok(())
}

/// Every route under `/api/v1`: the platform's (accounts, auth, admin) and each app's.
pub fn api(state: &AppState, links: &links::Links) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(platform::api(state))
        .merge(links.api())
}

/// Connects to the configured database, applies pending migrations, and starts serving.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let db = db::connect(&config).await.with_context(|| {
        format!(
            "cannot open the database at {}",
            config.database_url_redacted()
        )
    })?;
    migrate(&db).await?;
    start_with(config, db).await
}

/// Applies pending migrations and returns their names. On PostgreSQL, instances starting
/// together take turns: one holds a transaction-scoped advisory lock while it migrates,
/// and the others then find nothing left to do. (SQLite serialises writers by itself.)
pub async fn migrate(db: &Db) -> anyhow::Result<Vec<String>> {
    use sea_orm_migration::sea_orm::{ConnectionTrait, TransactionTrait};
    let lock = match db::Dialect::of(db) {
        db::Dialect::Postgres => {
            let tx = db.begin().await?;
            // Any constant, the same in every instance: "capstone" in ASCII.
            tx.execute_unprepared("SELECT pg_advisory_xact_lock(7161132478109869669)")
                .await?;
            Some(tx)
        }
        db::Dialect::Sqlite => None,
    };
    let pending: Vec<String> = Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    Migrator::up(db, None)
        .await
        .context("applying migrations")?;
    if let Some(lock) = lock {
        lock.commit().await?;
    }
    Ok(pending)
}

/// Starts serving on an already opened (and migrated) database.
pub async fn start_with(mut config: Config, db: Db) -> anyhow::Result<Running> {
    let listener = TcpListener::bind((config.host, config.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
    let addr = listener.local_addr()?;
    if config.port == 0 {
        // Port 0 asked the system for a free port: the absolute URLs we hand out (the
        // default `public_url`, OAuth callback addresses) must name the one we got.
        config.port = addr.port();
    }
    let grace = config.shutdown_timeout();
    let header_read_timeout = config.header_read_timeout();
    let background = Background::new();
    let clock = Clock::default();
    let state = AppState::new(config, db.clone(), clock.clone(), &background).await?;
    let links = links::Links::start(&state, &background).await?;
    // Every app has registered its kinds of job: the queue may start running them.
    state.jobs.start(&background);
    let app = server::router(
        state.clone(),
        api(&state, &links),
        links.redirects(),
        links.unknown_paths(),
    );

    let shutdown = state.shutdown.clone();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        server::serve(listener, app, token, grace, header_read_timeout).await?;
        // Requests are done; now the workers finish what they hold, then the pool closes.
        let finished = background.shutdown(grace).await;
        db.close().await?;
        // An operator (or a supervisor) must be able to tell a stop that lost work, such
        // as clicks the writer could not store, from a clean one: by the exit status.
        anyhow::ensure!(
            finished,
            "background work did not finish within the shutdown timeout ({}s): what it \
             still held, such as queued clicks, is lost",
            grace.as_secs()
        );
        Ok(())
    });
    Ok(Running {
        addr,
        clock,
        jobs: state.jobs.clone(),
        shutdown,
        task,
    })
}

/// A server started by [`start`].
pub struct Running {
    pub addr: SocketAddr,
    /// The server's clock: tests move it to make scheduled work due.
    pub clock: Clock,
    /// The server's job queue, for tests that wait for it to settle.
    pub jobs: platform::jobs::Jobs,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Begins a graceful shutdown: no new connections, in-flight requests finish.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the server and its background work have stopped.
    pub async fn stopped(self) -> anyhow::Result<()> {
        self.task.await.context("server task panicked")?
    }
}
