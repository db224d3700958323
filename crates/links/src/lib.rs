//! Links: a URL shortener with click analytics.
//!
//! What the rest of Capstone sees of this crate is [`Links`], the app (see
//! [`platform::app::App`]): it owns the redirect cache and the click writer and hands out
//! the API router (under `/api/v1`) and the redirect router (`/{slug}`). Integration tests
//! reach a little more through [`testing`].

mod analytics;
mod api;
mod cache;
mod clicks;
mod compaction;
mod csv_files;
mod domains;
mod enrich;
mod entities;
mod events;
mod geo;
mod jobs;
mod lifecycle;
mod link_csv;
mod live;
mod migrations;
mod model;
mod qr;
mod redirect;
mod referrer;
mod retention;
mod routes;
mod settings;
mod store;
mod useragent;

/// What the integration tests reach inside the app: the daily work they run by hand, and
/// the third-party checks they point at fake servers.
pub mod testing {
    pub use crate::compaction::compact_through;
    pub use crate::enrich::{
        CheckError, DEFAULT_MAX_TITLE_BYTES, SafetyChecker, Verdict, fetch_title,
    };
    pub use crate::retention::{delete_raw_before, forget_visitors_before};
}

use std::sync::Arc;

use axum::Router;
use platform::{AppState, Config, app::App, background::Background, db::Db};
use sea_orm_migration::MigrationTrait;
use utoipa_axum::router::OpenApiRouter;

use settings::Settings;

use cache::SlugCache;
use clicks::{ClickQueue, ClickWriter};
use domains::Domains;
use geo::Geo;
use live::Live;
use redirect::RedirectCounters;

/// What the links routes and the redirect share.
struct LinksState {
    pub db: Db,
    pub settings: Settings,
    pub domains: Domains,
    pub cache: Arc<SlugCache>,
    pub enrichment: jobs::Enrichment,
    /// The platform's queue, for the expiry notice of a link whose clicks are used up.
    pub jobs: platform::jobs::Jobs,
    pub clicks: ClickQueue,
    pub geo: Arc<Geo>,
    pub counters: RedirectCounters,
    /// Wrong link passwords: see `redirect::password_guesses`.
    pub password_guesses: platform::auth::rate_limit::GuessLimiter,
    /// Clicks as they are stored, for live streams.
    pub live: Live,
    client_addresses: platform::http::ClientAddresses,
}

impl LinksState {
    /// The safety state a new link starts in: `pending` (not live) until checked, when a
    /// check is configured.
    pub fn initial_safety(&self) -> model::Safety {
        if self.enrichment.checks_safety() {
            model::Safety::Pending
        } else {
            model::Safety::Unchecked
        }
    }
}

/// Copies the redirect's atomic counters into the metrics registry every few seconds, so
/// that `/metrics` shows them while the hot path pays only an atomic add per redirect.
async fn publish_redirect_metrics(
    state: Arc<LinksState>,
    stop: tokio_util::sync::CancellationToken,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        let c = &state.counters;
        for (outcome, value) in [
            ("redirected", &c.redirected),
            ("not_found", &c.not_found),
            ("gone", &c.gone),
        ] {
            metrics::counter!("links_redirects_total", "outcome" => outcome)
                .absolute(value.load(Relaxed));
        }
    }
}

/// The running links app.
pub struct Links {
    state: Arc<LinksState>,
}

impl App for Links {
    const NAME: &'static str = "links";

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations::migrations()
    }

    fn check_config(config: &Config) -> anyhow::Result<()> {
        Settings::from_config(config)?;
        Ok(())
    }

    /// Reads the `[links]` settings, starts the click writer on `background` and registers
    /// the links' jobs and events.
    async fn start(app: &AppState, background: &Background) -> anyhow::Result<Self> {
        let settings = Settings::from_config(&app.config)?;
        let geo = Arc::new(Geo::new(
            settings.country_header.as_deref(),
            settings.geoip_database.as_deref(),
        )?);
        let (clicks, rx) = ClickQueue::new(settings.click_queue_capacity);
        let writer_db = platform::db::connect_dedicated(&app.config).await?;
        let live = Live::start(app.shared.clone(), background);
        let writer = ClickWriter::new(writer_db, geo.clone(), live.clone());
        let (batch, flush) = (settings.click_batch_size, settings.click_flush());
        background.spawn_on_own_thread("click writer", move |stop| {
            clicks::run_writer(rx, writer, batch, flush, stop)
        })?;
        let cache = SlugCache::start(
            settings.cache_capacity,
            settings.cache_ttl(),
            settings.domains.clone(),
            app.shared.clone(),
            background,
        );
        let enrichment = jobs::start(app, cache.clone(), &settings).await?;
        let domains = Domains::new(&app.config.public_url(), settings.domains.clone());
        app.webhooks.declare(events::TYPES);
        events::register(app, domains.clone());
        let state: Arc<LinksState> = Arc::new(LinksState {
            db: app.db.clone(),
            cache,
            enrichment,
            jobs: app.jobs.clone(),
            domains,
            settings,
            clicks,
            geo,
            counters: RedirectCounters::default(),
            password_guesses: redirect::password_guesses(&app.config, &app.shared),
            live,
            client_addresses: app.client_addresses.clone(),
        });
        let warm = state.clone();
        background.spawn("cache warm-up", move |stop| async move {
            let capacity = warm.settings.cache_capacity;
            tokio::select! {
                result = warm.cache.warm(&warm.db, capacity) => match result {
                    Ok(n) => tracing::info!(links = n, "redirect cache warmed"),
                    Err(err) => tracing::warn!(error = %err, "redirect cache warm-up failed"),
                },
                () = stop.cancelled() => {}
            }
        });
        let counters_state = state.clone();
        background.spawn("redirect metrics", move |stop| {
            publish_redirect_metrics(counters_state, stop)
        });
        Ok(Self { state })
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        routes::router(self.state.clone())
    }

    /// `GET /{slug}` and the other routes outside the API: see `redirect`.
    fn public(&self) -> Option<Router> {
        Some(redirect::router(self.state.clone()))
    }

    /// Visits to paths no route knows, kept as orphan visits: see `redirect::unknown_paths`.
    fn unknown_paths(&self) -> Option<Router> {
        Some(redirect::unknown_paths(self.state.clone()))
    }
}
