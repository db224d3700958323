//! The links app's background work, as jobs on the platform's durable queue:
//!
//! - [`FetchTitle`]: a page title for a link created without one;
//! - [`CheckSafety`]: the Safe-Browsing-style check of every address a link can send to,
//!   before it goes live (a link waiting for it has `safety = 'pending'`);
//! - [`CompactRollups`] (every ten minutes) and [`CleanUp`] (daily): see [`crate::compaction`]
//!   and [`crate::retention`].
//!
//! Jobs for a link are enqueued in the transaction that creates or changes it, so a link
//! committed always has its fetch and check to come, across restarts and crashes.

use std::{sync::Arc, time::Duration};

use platform::{
    AppResult, AppState,
    db::Db,
    jobs::{Every, Job, JobContext, JobError, Jobs, Retries},
    outbound::RetryPolicy,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::{
    cache::SlugCache,
    compaction,
    enrich::{self, SafetyChecker, Verdict},
    entities::{link, rule},
    model::Safety,
    retention,
};

/// Title fetches running at once: politeness towards the sites linked to, and a bound on
/// what a bulk create of 1,000 links can start.
const TITLE_CONCURRENCY: usize = 4;

#[derive(Debug, Serialize, Deserialize)]
pub struct FetchTitle {
    pub link_id: i64,
}

impl Job for FetchTitle {
    const KIND: &'static str = "links.fetch_title";

    /// A title is a nicety: a site that does not answer soon is not asked for long.
    fn retries() -> Retries {
        Retries {
            max_attempts: 3,
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CheckSafety {
    pub link_id: i64,
}

impl Job for CheckSafety {
    const KIND: &'static str = "links.check_safety";

    /// The link is off until checked, so the check is tried for about two days (the
    /// service's `Retry-After` honoured) before it is dead and shown to administrators.
    fn retries() -> Retries {
        Retries {
            max_attempts: 60,
            base_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CompactRollups;

impl Job for CompactRollups {
    const KIND: &'static str = "links.compact_rollups";
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CleanUp;

impl Job for CleanUp {
    const KIND: &'static str = "links.clean_up";
}

/// What the links routes enqueue, and whether a check is configured at all.
pub struct Enrichment {
    jobs: Jobs,
    fetch_titles: bool,
    checks_safety: bool,
}

impl Enrichment {
    pub fn checks_safety(&self) -> bool {
        self.checks_safety
    }

    /// In the transaction that creates `link`: its title fetch (if it has no title) and
    /// its safety check (if it waits for one).
    pub async fn new_link(
        &self,
        tx: &impl ConnectionTrait,
        link: &link::Model,
        needs_title: bool,
    ) -> AppResult<()> {
        if needs_title && self.fetch_titles {
            self.jobs
                .enqueue(tx, &FetchTitle { link_id: link.id })
                .await?;
        }
        if link.safety == Safety::Pending {
            self.recheck(tx, link.id).await?;
        }
        Ok(())
    }

    /// In the transaction that changes a link's targets: a check of them all again.
    pub async fn recheck(&self, tx: &impl ConnectionTrait, link_id: i64) -> AppResult<()> {
        self.jobs.enqueue(tx, &CheckSafety { link_id }).await?;
        Ok(())
    }
}

/// Registers the links app's kinds of job and schedules its recurring ones.
pub async fn start(
    app: &AppState,
    cache: Arc<SlugCache>,
    settings: &crate::Settings,
) -> anyhow::Result<Enrichment> {
    let jobs = &app.jobs;
    // The platform's `allow_private_outbound`, or this app's older name for it.
    let allow_private = app.config.allow_private_outbound || settings.allow_private_targets;
    let client = platform::outbound::guarded_client(allow_private)?;
    let permits = Arc::new(Semaphore::new(TITLE_CONCURRENCY));
    let db = app.db.clone();
    jobs.register(move |job: FetchTitle, _| {
        fetch_title(
            db.clone(),
            client.clone(),
            allow_private,
            permits.clone(),
            job,
        )
    });

    let checker = match (&settings.safety_endpoint, &settings.safety_api_key) {
        (Some(endpoint), Some(key)) => Some(Arc::new(
            // One attempt per job: the queue does the retrying, durably.
            SafetyChecker::new(
                platform::outbound::client()?,
                endpoint.clone(),
                key.clone().into(),
            )
            .with_policy(RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            }),
        )),
        _ => None,
    };
    let (db, check_cache, check_with) = (app.db.clone(), cache.clone(), checker.clone());
    jobs.register(move |job: CheckSafety, _| {
        check_safety(db.clone(), check_cache.clone(), check_with.clone(), job)
    });

    let db = app.db.clone();
    jobs.register(move |_: CompactRollups, context: JobContext| {
        let db = db.clone();
        async move {
            let yesterday = context.clock.now().date_naive() - chrono::TimeDelta::days(1);
            let days = compaction::compact_through(&db, yesterday).await?;
            if days > 0 {
                tracing::info!(days, "click rollups compacted into days");
            }
            Ok(())
        }
    });
    jobs.every(Every::Interval(Duration::from_secs(600)), || CompactRollups);

    let (db, retention_days) = (app.db.clone(), settings.click_retention_days);
    jobs.register(move |_: CleanUp, context: JobContext| {
        let db = db.clone();
        async move {
            let today = context.clock.now().date_naive();
            Ok(retention::clean_up(&db, today, retention_days).await?)
        }
    });
    jobs.every(Every::day_at(0, 10), || CleanUp);

    if checker.is_some() {
        queue_links_left_pending(&app.db, jobs).await?;
    }
    Ok(Enrichment {
        jobs: jobs.clone(),
        fetch_titles: settings.fetch_titles,
        checks_safety: checker.is_some(),
    })
}

/// Links left pending without a job, such as those of a release whose checks were not
/// jobs yet, are queued once (the key keeps a restart from queuing them again).
async fn queue_links_left_pending(db: &Db, jobs: &Jobs) -> AppResult<()> {
    let pending: Vec<i64> = link::Entity::find()
        .select_only()
        .column(link::Column::Id)
        .filter(link::Column::Safety.eq(Safety::Pending))
        .into_tuple()
        .all(db)
        .await?;
    for link_id in pending {
        let options = platform::jobs::Enqueue {
            key: Some(format!("{}@pending:{link_id}", CheckSafety::KIND)),
            ..Default::default()
        };
        jobs.enqueue_with(db, &CheckSafety { link_id }, options)
            .await?;
    }
    Ok(())
}

async fn fetch_title(
    db: Db,
    client: reqwest::Client,
    allow_private: bool,
    permits: Arc<Semaphore>,
    job: FetchTitle,
) -> Result<(), JobError> {
    let Some(link) = link::Entity::find_by_id(job.link_id).one(&db).await? else {
        return Ok(()); // deleted meanwhile
    };
    if link.title.is_some() {
        return Ok(()); // the owner set one meanwhile
    }
    // An address written in the URL is refused before any connection is opened; the
    // guarded client would refuse it too, but only once connected.
    if !allow_private && let Err(blocked) = platform::outbound::refuse_literal(&link.target_url) {
        return Err(JobError::permanent(blocked));
    }
    let _permit = permits.acquire().await.map_err(JobError::retry)?;
    let title = enrich::fetch_title(&client, &link.target_url, enrich::DEFAULT_MAX_TITLE_BYTES)
        .await
        .map_err(JobError::retry)?;
    if let Some(title) = title {
        // Only if the owner has not set a title meanwhile.
        link::Entity::update_many()
            .col_expr(link::Column::Title, Expr::value(title))
            .filter(link::Column::Id.eq(link.id))
            .filter(link::Column::Title.is_null())
            .exec(&db)
            .await?;
    }
    Ok(())
}

async fn check_safety(
    db: Db,
    cache: Arc<SlugCache>,
    checker: Option<Arc<SafetyChecker>>,
    job: CheckSafety,
) -> Result<(), JobError> {
    let Some(checker) = checker else {
        return Err(JobError::permanent("no safety check is configured"));
    };
    let Some(link) = link::Entity::find_by_id(job.link_id).one(&db).await? else {
        return Ok(());
    };
    if link.safety != Safety::Pending {
        return Ok(()); // checked by an earlier job
    }
    // Every address the link can send a visitor to: its target and its rules' targets.
    let rule_targets: Vec<String> = rule::Entity::find()
        .select_only()
        .column(rule::Column::TargetUrl)
        .filter(rule::Column::LinkId.eq(link.id))
        .into_tuple()
        .all(&db)
        .await?;
    let mut targets = vec![link.target_url.as_str()];
    targets.extend(rule_targets.iter().map(String::as_str));
    let verdict = match checker.check_all(&targets).await {
        Ok(Verdict::Safe) => Safety::Safe,
        Ok(Verdict::Unsafe { threat }) => {
            tracing::warn!(
                link_id = link.id,
                threat,
                "target flagged by the safety check; the link stays off"
            );
            Safety::Unsafe
        }
        Err(err) => {
            let wait = err.retry_after();
            return Err(JobError::retry(err).retry_after(wait));
        }
    };
    // Only for the link as it was checked: changed meanwhile, it is checked again.
    let stored = link::Entity::update_many()
        .col_expr(link::Column::Safety, Expr::value(verdict))
        .filter(link::Column::Id.eq(link.id))
        .filter(link::Column::Safety.eq(Safety::Pending))
        .filter(link::Column::UpdatedAt.eq(link.updated_at))
        .exec(&db)
        .await?;
    if stored.rows_affected == 0 {
        return Err(JobError::retry("the link changed while it was checked"));
    }
    cache.invalidate(&link.domain, &link.slug).await;
    Ok(())
}
