//! The Capstone server, assembled: every app's routes and migrations on the platform.
//!
//! `main.rs` is the command line; this library is what it and the integration tests start.

use std::net::SocketAddr;

use anyhow::Context;
use platform::{
    AppState, Config,
    app::{Hosted, Running as App},
    background::Background,
    clock::Clock,
    db::{self, Db},
    server,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

/// The apps this server hosts (see [`platform::app`]): adding one is a line here.
pub fn apps() -> Vec<Hosted> {
    vec![Hosted::of::<links::Links>(), Hosted::of::<tasks::Tasks>()]
}

/// Every crate's migrations, in the order they must run: the platform's tables first,
/// since the apps' tables refer to them, then each app's in the order of [`apps`].
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = platform::migrations::migrations();
        for app in apps() {
            all.extend((app.migrations)());
        }
        all
    }
}

/// Checks what the apps read from the configuration (the platform's own settings are
/// checked as they load): every table belongs to an app, and each app accepts its own. So
/// `capstone check-config` refuses what `serve` would.
pub fn check_app_settings(config: &Config) -> anyhow::Result<()> {
    let apps = apps();
    if let Some(table) = config
        .app_tables()
        .find(|table| !apps.iter().any(|app| app.name == *table))
    {
        let names: Vec<&str> = apps.iter().map(|app| app.name).collect();
        anyhow::bail!(
            "unknown setting `{table}`: not a setting, nor the table of an app of this server \
             ({})",
            names.join(", ")
        );
    }
    for app in &apps {
        (app.check_config)(config)?;
    }
    Ok(())
}

/// Every route under `/api/v1`: the platform's (accounts, auth, admin) and each app's.
pub fn api(state: &AppState, apps: &[Box<dyn App>]) -> OpenApiRouter<AppState> {
    apps.iter()
        .fold(platform::api(state), |api, app| api.merge(app.api()))
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
    check_app_settings(&config)?;
    let grace = config.shutdown_timeout();
    let header_read_timeout = config.header_read_timeout();
    let background = Background::new();
    let clock = Clock::default();
    let state = AppState::new(config, db.clone(), clock.clone(), &background).await?;
    let mut started = Vec::new();
    for app in apps() {
        let running = (app.start)(&state, &background)
            .await
            .with_context(|| format!("cannot start the {} app", app.name))?;
        started.push(running);
    }
    // Every app has registered its kinds of job: the queue may start running them.
    state.jobs.start(&background);
    let public = started
        .iter()
        .filter_map(|app| app.public())
        .fold(axum::Router::new(), axum::Router::merge);
    let mut unknown_paths: Vec<_> = started
        .iter()
        .filter_map(|app| app.unknown_paths())
        .collect();
    anyhow::ensure!(
        unknown_paths.len() <= 1,
        "more than one app wants to answer unknown paths"
    );
    let app = server::router(
        state.clone(),
        api(&state, &started),
        public,
        unknown_paths.pop(),
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
