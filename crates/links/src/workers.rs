//! The links app's background work besides the click writer: fetching a page title for
//! links created without one, and checking new targets with the Safe-Browsing-style API
//! before their links go live.
//!
//! The safety queue is the `links` table itself: a link waiting for its check has
//! `safety = 'pending'`, so checks survive restarts (every pending link is queued again at
//! start) and are never dropped — a check the API refuses for now (429, 503) is retried
//! after the delay it asked for.

use std::{sync::Arc, time::Duration};

use platform::{db::Db, outbound::RetryPolicy};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::{
    cache::SlugCache,
    enrich::{self, SafetyChecker, Verdict},
    entities::{link, rule},
};

/// Title fetches running at once: politeness towards the sites linked to, and a bound on
/// what a bulk create of 1,000 links can start.
const TITLE_CONCURRENCY: usize = 4;

pub struct Enrichment {
    titles: Option<mpsc::Sender<(i64, String)>>,
    safety: Option<mpsc::UnboundedSender<i64>>,
}

impl Enrichment {
    pub fn none() -> Self {
        Self {
            titles: None,
            safety: None,
        }
    }

    /// Queues a title fetch; if the queue is full the title is simply not fetched (the
    /// link works without one, and the owner can set it).
    pub fn fetch_title(&self, link_id: i64, url: &str) {
        if let Some(tx) = &self.titles {
            let _ = tx.try_send((link_id, url.to_owned()));
        }
    }

    pub fn check_safety(&self, link_id: i64) {
        if let Some(tx) = &self.safety {
            let _ = tx.send(link_id);
        }
    }

    pub fn checks_safety(&self) -> bool {
        self.safety.is_some()
    }
}

/// Starts the workers that `settings` asks for on `background`.
pub fn start(
    db: &Db,
    cache: Arc<SlugCache>,
    settings: &crate::Settings,
    background: &platform::background::Background,
) -> anyhow::Result<Enrichment> {
    let mut enrichment = Enrichment::none();
    if settings.fetch_titles {
        let client = platform::outbound::guarded_client(settings.allow_private_targets)?;
        let (tx, rx) = mpsc::channel(10_000);
        let db = db.clone();
        let allow_private = settings.allow_private_targets;
        background.spawn("title fetcher", move |stop| {
            fetch_titles(db, client, allow_private, rx, stop)
        });
        enrichment.titles = Some(tx);
    }
    if let (Some(endpoint), Some(key)) = (&settings.safety_endpoint, &settings.safety_api_key) {
        let client = platform::outbound::client()?;
        let checker = Arc::new(
            SafetyChecker::new(client, endpoint.clone(), key.clone().into())
                .with_policy(RetryPolicy::default()),
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let (db, requeue) = (db.clone(), tx.clone());
        background.spawn("safety checker", move |stop| {
            check_safety(db, cache, checker, rx, requeue, stop)
        });
        enrichment.safety = Some(tx);
    }
    Ok(enrichment)
}

async fn fetch_titles(
    db: Db,
    client: reqwest::Client,
    allow_private: bool,
    mut rx: mpsc::Receiver<(i64, String)>,
    stop: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(TITLE_CONCURRENCY));
    loop {
        let (link_id, url) = tokio::select! {
            next = rx.recv() => match next { Some(job) => job, None => return },
            () = stop.cancelled() => return,
        };
        // An address written in the URL is refused before any connection is opened; the
        // guarded client would refuse it too, but only once connected.
        if !allow_private && let Err(blocked) = platform::outbound::refuse_literal(&url) {
            tracing::info!(link_id, error = %blocked, "no title fetched");
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (db, client) = (db.clone(), client.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match enrich::fetch_title(&client, &url, enrich::DEFAULT_MAX_TITLE_BYTES).await {
                Ok(Some(title)) => {
                    // Only if the owner has not set a title meanwhile.
                    let result = link::Entity::update_many()
                        .col_expr(link::Column::Title, Expr::value(title))
                        .filter(link::Column::Id.eq(link_id))
                        .filter(link::Column::Title.is_null())
                        .exec(&db)
                        .await;
                    if let Err(err) = result {
                        tracing::warn!(link_id, error = %err, "storing a fetched title failed");
                    }
                }
                Ok(None) => {}
                Err(err) => tracing::info!(link_id, error = %err, "no title fetched"),
            }
        });
    }
}

async fn check_safety(
    db: Db,
    cache: Arc<SlugCache>,
    checker: Arc<SafetyChecker>,
    mut rx: mpsc::UnboundedReceiver<i64>,
    requeue: mpsc::UnboundedSender<i64>,
    stop: CancellationToken,
) {
    // Links left pending by a previous run (stopped, crashed) are checked first.
    match link::Entity::find()
        .select_only()
        .column(link::Column::Id)
        .filter(link::Column::Safety.eq("pending"))
        .into_tuple::<i64>()
        .all(&db)
        .await
    {
        Ok(ids) => ids.into_iter().for_each(|id| {
            let _ = requeue.send(id);
        }),
        Err(err) => tracing::error!(error = %err, "cannot list links waiting for a safety check"),
    }
    loop {
        let link_id = tokio::select! {
            next = rx.recv() => match next { Some(id) => id, None => return },
            () = stop.cancelled() => return,
        };
        let Ok(Some(link)) = link::Entity::find_by_id(link_id).one(&db).await else {
            continue;
        };
        if link.safety != "pending" {
            continue;
        }
        // Every address the link can send a visitor to: its target and its rules' targets.
        let rule_targets: Vec<String> = match rule::Entity::find()
            .select_only()
            .column(rule::Column::TargetUrl)
            .filter(rule::Column::LinkId.eq(link_id))
            .into_tuple()
            .all(&db)
            .await
        {
            Ok(targets) => targets,
            Err(err) => {
                tracing::error!(link_id, error = %err, "cannot read a link's rules; retrying");
                let _ = requeue.send(link_id);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut targets = vec![link.target_url.as_str()];
        targets.extend(rule_targets.iter().map(String::as_str));
        let verdict = match checker.check_all(&targets).await {
            Ok(Verdict::Safe) => "safe",
            Ok(Verdict::Unsafe { threat }) => {
                tracing::warn!(
                    link_id,
                    threat,
                    "target flagged by the safety check; the link stays off"
                );
                "unsafe"
            }
            Err(err) => {
                let wait = err.retry_after().unwrap_or(Duration::from_secs(60));
                tracing::warn!(link_id, error = %err, ?wait, "safety check failed; retrying later");
                let requeue = requeue.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => { let _ = requeue.send(link_id); }
                        () = stop.cancelled() => {}
                    }
                });
                continue;
            }
        };
        let result = link::Entity::update_many()
            .col_expr(link::Column::Safety, Expr::value(verdict))
            .filter(link::Column::Id.eq(link_id))
            .filter(link::Column::Safety.eq("pending"))
            .exec(&db)
            .await;
        match result {
            Ok(_) => cache.invalidate(&link.domain, &link.slug).await,
            Err(err) => {
                tracing::error!(link_id, error = %err, "storing a safety verdict failed; retrying");
                let _ = requeue.send(link_id);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
