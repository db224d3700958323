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
mod entities;
mod events;
mod ical;
mod ical_map;
mod migrations;
mod model;
mod occurrences;
mod preferences;
mod recurrence;
mod reminders;
mod routes;
mod search;
mod service;
mod settings;
mod views;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use platform::{
    AppResult, AppState, Config, app::App, background::Background, db::Db, notify::Channel,
};
use sea_orm_migration::MigrationTrait;
use utoipa_axum::router::OpenApiRouter;

use service::tasks::Writer;
use settings::Settings;

/// What the integration tests reach inside the app.
pub mod testing {
    pub use crate::recurrence::place;
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
        let firing = state.clone();
        app.jobs.register(move |job: reminders::Fire, context| {
            reminders::fire(firing.clone(), job, context)
        });
        Ok(Self { state })
    }

    fn api(&self) -> OpenApiRouter<AppState> {
        routes::router(self.state.clone())
    }

    /// CalDAV (`/dav/…`, `/.well-known/caldav`): see [`caldav`].
    fn public(&self) -> Option<axum::Router> {
        Some(dav::router(caldav::DavStore::new(self.state.clone())))
    }
}
