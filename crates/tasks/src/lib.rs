//! Tasks: a to-do list with due dates, recurrence and reminders that are neither missed nor
//! doubled.
//!
//! What the rest of Capstone sees of this crate is [`Tasks`], the app (see
//! [`platform::app::App`]): its API under `/api/v1` (projects, members, tasks, comments,
//! the trash). Integration tests reach a little more through [`testing`].

mod access;
mod api;
mod caldav;
mod dav;
mod digest;
mod entities;
mod events;
mod export;
mod feeds;
mod ical;
mod ical_map;
mod import;
mod migrations;
mod model;
mod occurrences;
mod overdue;
mod preferences;
mod purge;
mod recurrence;
mod reminders;
mod routes;
mod search;
mod service;
mod settings;
mod views;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use platform::{
    AppResult, AppState, Config, app::App, background::Background, db::Db, jobs::Every,
    notify::Channel,
};
use sea_orm_migration::MigrationTrait;
use utoipa_axum::router::OpenApiRouter;

use service::tasks::Writer;
use settings::Settings;

/// What the integration tests reach inside the app.
pub mod testing {
    pub use crate::{recurrence::place, reminders::arm as arm_reminder};
}

/// What the tasks routes and jobs share.
struct TasksState {
    db: Db,
    settings: Settings,
    platform: AppState,
}

impl TasksState {
    fn now(&self) -> DateTime<Utc> {
        self.platform.clock.now()
    }

    /// `user` writing, with their zone.
    async fn writer(&self, user: i64) -> AppResult<Writer> {
        Ok(Writer {
            user,
            zone: preferences::zone_of(&self.db, user).await?,
        })
    }

    async fn viewer(&self, user: i64) -> AppResult<views::Viewer> {
        Ok(views::Viewer {
            zone: preferences::zone_of(&self.db, user).await?,
            now: self.now(),
        })
    }

    /// After a commit: queued jobs (reminders, webhook deliveries) may start.
    fn committed(&self) {
        self.platform.jobs.wake();
    }
}

/// Registers `run` for its job kind, with the app's state.
fn register<J, F, Fut>(app: &AppState, state: &Arc<TasksState>, run: F)
where
    J: platform::jobs::Job,
    F: Fn(Arc<TasksState>, J, platform::jobs::JobContext) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), platform::jobs::JobError>> + Send + 'static,
{
    let state = state.clone();
    app.jobs
        .register(move |job: J, context| run(state.clone(), job, context));
}

/// The running tasks app.
pub struct Tasks {
    state: Arc<TasksState>,
}

impl App for Tasks {
    const NAME: &'static str = "tasks";

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations::migrations()
    }

    fn check_config(config: &Config) -> anyhow::Result<()> {
        Settings::from_config(config)?;
        Ok(())
    }

    /// Reads the `[tasks]` settings and registers the tasks' jobs, events and
    /// notification kinds.
    async fn start(app: &AppState, _background: &Background) -> anyhow::Result<Self> {
        let settings = Settings::from_config(&app.config)?;
        let state = Arc::new(TasksState {
            db: app.db.clone(),
            settings,
            platform: app.clone(),
        });
        app.webhooks.declare(events::TYPES);
        app.notify
            .declare(reminders::KIND, &[Channel::InApp, Channel::Email]);
        app.notify
            .declare(digest::KIND, &[Channel::InApp, Channel::Email]);
        register(app, &state, reminders::fire);
        register(app, &state, overdue::run);
        register(app, &state, digest::sweep);
        register(app, &state, digest::run);
        register(app, &state, purge::run);
        app.jobs
            .every(Every::Interval(Duration::from_secs(300)), || {
                digest::DigestSweep
            });
        app.jobs.every(Every::day_at(3, 40), || purge::PurgeTrash);
        Ok(Self { state })
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        routes::router(self.state.clone())
    }

    /// CalDAV (`/dav/…`, `/.well-known/caldav`, see [`caldav`]) and the calendar feeds
    /// (`/ical/{token}.ics`, see [`feeds`]).
    fn public(&self) -> Option<axum::Router> {
        Some(
            dav::router(caldav::DavStore::new(self.state.clone()))
                .merge(feeds::router(self.state.clone())),
        )
    }
}
