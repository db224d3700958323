//! The app contract: the one face every app crate (links, tasks, jobs) shows the server.
//!
//! An app implements [`App`]; the binary lists its apps once, as [`Hosted::of`] values, and
//! everything it does with them (migrations, `check-config`, start-up, routes) goes through
//! that list. The rest of an app crate is private.

use std::{future::Future, pin::Pin};

use axum::Router;
use sea_orm_migration::MigrationTrait;
use utoipa_axum::router::OpenApiRouter;

use crate::{AppState, Config, background::Background};

/// What the server needs of an app.
pub trait App: Send + Sync + Sized + 'static {
    /// The app's name: the table of its settings (`[links]` in TOML, `CAPSTONE_LINKS__…` in
    /// the environment, read with [`Config::app_settings`]) and the prefix of its job kinds
    /// and event types (`links.fetch_title`, `link.created`).
    const NAME: &'static str;

    /// Its migrations, in order; they run after the platform's, whose tables they may name.
    fn migrations() -> Vec<Box<dyn MigrationTrait>>;

    /// Reads and checks its settings, as [`App::start`] would, for `capstone check-config`.
    fn check_config(config: &Config) -> anyhow::Result<()>;

    /// Starts the app: reads its settings, spawns its workers on `background`, declares
    /// its notification kinds and event types, and registers its job kinds with
    /// `platform.jobs` (the queue starts once every app has).
    fn start(
        platform: &AppState,
        background: &Background,
    ) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// Its API routes, relative to `/api/v1`, documented in the OpenAPI document.
    fn api(&self) -> OpenApiRouter<AppState>;

    /// Its routes outside the API (links' `/{slug}`, a job board's pages, calendar feeds),
    /// served with the lean layer of `http::visitors`. Their first path segments must be
    /// claimed in [`crate::paths`].
    fn public(&self) -> Option<Router> {
        None
    }

    /// What answers a path no route knows, if this app wants it (links keeps such visits
    /// as orphan visits). At most one hosted app may; otherwise the platform's 404.
    fn unknown_paths(&self) -> Option<Router> {
        None
    }
}

type Started<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Box<dyn Running>>> + Send + 'a>>;

/// An app in the server's list: its static parts, and how to start it.
pub struct Hosted {
    pub name: &'static str,
    pub migrations: fn() -> Vec<Box<dyn MigrationTrait>>,
    pub check_config: fn(&Config) -> anyhow::Result<()>,
    pub start: for<'a> fn(&'a AppState, &'a Background) -> Started<'a>,
}

impl Hosted {
    pub fn of<A: App>() -> Self {
        Self {
            name: A::NAME,
            migrations: A::migrations,
            check_config: A::check_config,
            start: start::<A>,
        }
    }
}

fn start<'a, A: App>(platform: &'a AppState, background: &'a Background) -> Started<'a> {
    Box::pin(async move {
        let app = A::start(platform, background).await?;
        Ok(Box::new(app) as Box<dyn Running>)
    })
}

/// A started app, whatever its type.
pub trait Running: Send + Sync {
    fn api(&self) -> OpenApiRouter<AppState>;
    fn public(&self) -> Option<Router>;
    fn unknown_paths(&self) -> Option<Router>;
}

impl<A: App> Running for A {
    fn api(&self) -> OpenApiRouter<AppState> {
        App::api(self)
    }

    fn public(&self) -> Option<Router> {
        App::public(self)
    }

    fn unknown_paths(&self) -> Option<Router> {
        App::unknown_paths(self)
    }
}
