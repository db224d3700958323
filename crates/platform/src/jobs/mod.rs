//! The durable job queue: the one way any app runs work later or elsewhere.
//!
//! A job is a typed value ([`Job`]) stored as JSON in the `jobs` table with the time it is
//! due. The life of a row:
//!
//! - **Enqueued in the caller's transaction** ([`Jobs::enqueue`] takes any connection, so
//!   pass the transaction that makes the change): the job exists if and only if the change
//!   that caused it committed (the transactional outbox). An idempotency key makes the same
//!   job enqueued twice — by two instances, or by a retried request — one row.
//! - **Claimed** by one instance's dispatcher ([`worker`]): `FOR UPDATE SKIP LOCKED` and a
//!   short lease on PostgreSQL, one `UPDATE … RETURNING` on SQLite ([`store::claim`]). No
//!   lock is held while the job runs; the lease is renewed while it does, and a lease that
//!   lapses (its instance died) makes the job claimable again. Delivery is therefore at
//!   least once: a job that must not repeat its effect makes it idempotent (a webhook's
//!   stable id, a conditional update).
//! - **Retried** with exponential backoff and full jitter, or after the `Retry-After` the job
//!   reports ([`JobError::retry_after`]); an error marked permanent is not retried, and after
//!   its last attempt a job is **dead**: kept, listed for administrators
//!   (`GET /api/v1/admin/jobs?state=dead`) and retried by them ([`admin`]).
//! - **Done** rows are kept for a week, so that a key (and a recurring job's slot) still
//!   means "already done", then removed by the queue's own daily clean-up.
//!
//! Recurring work ([`Jobs::every`]) is one row per (kind, slot) under the key
//! `kind@slot`, so three instances scheduling the same daily job make one row.
//!
//! Time is the platform's [`Clock`]: tests move it, and the dispatcher wakes when they do.

pub mod admin;
pub mod entity;
mod records;
mod schedule;
mod settle;
mod store;
mod worker;

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::Notify;

pub use entity::JobState;
pub use schedule::Every;

use crate::{background::Background, clock::Clock, db::Db, error::AppResult};

/// A kind of work. Its value is the job's payload, stored as JSON: keep it small (ids,
/// not rows) and compatible across versions, since a job enqueued by the previous release
/// may be run by the next. A payload that no longer parses makes the job dead, not a panic.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name stored with each job, unique across apps: `app.what`, such as
    /// `links.fetch_title`.
    const KIND: &'static str;

    /// How often, and how far apart, a failing job is tried.
    fn retries() -> Retries {
        Retries::default()
    }
}

/// How a failing job is retried: up to `max_attempts` in all, the `n`th retry after a delay
/// drawn uniformly from zero to `base * 2^(n-1)` capped at `max_delay` (full jitter).
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Retries {
    /// Ten attempts over about a quarter of an hour at most.
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5 * 60),
        }
    }
}

impl Retries {
    /// The delay before the next attempt, after `attempts` have failed (1 or more).
    pub fn backoff(&self, attempts: u32) -> Duration {
        crate::outbound::RetryPolicy {
            max_attempts: self.max_attempts,
            base_delay: self.base_delay,
            max_delay: self.max_delay,
            deadline: Duration::MAX,
        }
        .backoff(attempts.saturating_sub(1))
    }
}

/// Why a job did not finish. By default it is tried again later.
#[derive(Debug)]
pub struct JobError {
    message: String,
    permanent: bool,
    retry_after: Option<Duration>,
}

impl JobError {
    /// A failure worth another attempt (the database or a service was down).
    pub fn retry(error: impl std::fmt::Display) -> Self {
        Self {
            message: error.to_string(),
            permanent: false,
            retry_after: None,
        }
    }

    /// A failure no retry can fix (the thing the job was about is gone, a receiver
    /// refused the request): the job is dead at once.
    pub fn permanent(error: impl std::fmt::Display) -> Self {
        Self {
            permanent: true,
            ..Self::retry(error)
        }
    }

    /// Retry no sooner than `wait`, as a service's `Retry-After` asked.
    pub fn retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<sea_orm::DbErr> for JobError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::retry(err)
    }
}

impl From<crate::AppError> for JobError {
    fn from(err: crate::AppError) -> Self {
        Self::retry(err)
    }
}

/// What a running job knows about itself.
#[derive(Clone)]
pub struct JobContext {
    pub id: i64,
    /// 1 on the first attempt.
    pub attempt: u32,
    pub clock: Clock,
    backend: sea_orm::DbBackend,
    rows: Arc<Mutex<Vec<records::Row>>>,
}

impl JobContext {
    /// Has `row` inserted in the transaction that records this attempt's outcome, rather
    /// than in a commit of its own: for a record of the attempt (a webhook's delivery log),
    /// which then exists if and only if the outcome does. The rows of a batch of jobs go
    /// in together, one `INSERT` per table.
    pub fn insert_with_outcome<A>(&self, row: A)
    where
        A: sea_orm::ActiveModelTrait + Send + Sync + 'static,
    {
        let row = records::Row::new(row, self.backend);
        self.rows.lock().expect("rows lock").push(row);
    }

    fn take_rows(&self) -> Vec<records::Row> {
        std::mem::take(&mut *self.rows.lock().expect("rows lock"))
    }
}

/// When and under which key a job is enqueued; by default now, without a key.
#[derive(Debug, Clone, Default)]
pub struct Enqueue {
    pub run_at: Option<DateTime<Utc>>,
    /// The same key enqueued again (while the first row is kept) adds nothing.
    pub key: Option<String>,
}

/// Pauses while the database is down (a claim or a settle failed): doubling up to the cap.
const OUTAGE_PAUSE: Duration = Duration::from_millis(250);
const OUTAGE_PAUSE_MAX: Duration = Duration::from_secs(10);

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
type Handler = Arc<dyn Fn(&str, JobContext) -> Result<BoxFuture, JobError> + Send + Sync>;

struct Registered {
    run: Handler,
    retries: Retries,
}

/// How the queue runs in this instance.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Jobs run at once by this instance.
    pub concurrency: usize,
    /// How long a claim holds a job before another instance may take it; renewed every
    /// third of it while the job runs.
    pub lease: Duration,
    /// The longest a dispatcher sleeps without looking at the table (it is woken sooner
    /// by jobs enqueued in this instance and by the next due time it knows of): how soon
    /// a job enqueued by another instance is seen.
    pub idle_poll: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            concurrency: 16,
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_secs(1),
        }
    }
}

/// The queue: register kinds, enqueue jobs, and run them on [`Background`].
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: Clock,
    settings: QueueSettings,
    /// `locked_by` for this instance's claims: host, process and a random tag.
    instance: String,
    handlers: RwLock<HashMap<&'static str, Registered>>,
    recurring: Mutex<Vec<schedule::Recurring>>,
    wake: Notify,
    /// Attempts claimed by this instance whose outcome is not written yet.
    in_flight: std::sync::atomic::AtomicUsize,
}

impl Jobs {
    pub fn new(db: Db, clock: Clock, settings: QueueSettings) -> Self {
        let jobs = Self {
            inner: Arc::new(Inner {
                db,
                clock,
                settings,
                instance: instance_name(),
                handlers: RwLock::default(),
                recurring: Mutex::default(),
                wake: Notify::new(),
                in_flight: Default::default(),
            }),
        };
        let db = jobs.inner.db.clone();
        jobs.register(move |_: store::CleanUp, context| store::clean_up(db.clone(), context));
        jobs.every(Every::day_at(4, 0), || store::CleanUp);
        jobs
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Says how to run jobs of kind `J`. Every kind is registered before the workers
    /// start (an app does it in its `start`).
    pub fn register<J, F, Fut>(&self, run: F)
    where
        J: Job,
        F: Fn(J, JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |payload: &str, context| {
            let job: J = serde_json::from_str(payload)
                .map_err(|err| JobError::permanent(format!("the payload does not parse: {err}")))?;
            Ok(Box::pin(run(job, context)) as BoxFuture)
        });
        let registered = Registered {
            run: handler,
            retries: J::retries(),
        };
        let previous = self
            .inner
            .handlers
            .write()
            .expect("handlers lock")
            .insert(J::KIND, registered);
        assert!(previous.is_none(), "job kind {} registered twice", J::KIND);
    }

    /// Enqueues the value `make` returns once per slot of `every` (see [`Every`]); a slot
    /// missed while no instance ran is run when one starts.
    pub fn every<J: Job>(&self, every: Every, make: impl Fn() -> J + Send + Sync + 'static) {
        self.inner
            .recurring
            .lock()
            .expect("recurring lock")
            .push(schedule::Recurring::new(every, make));
    }

    /// Enqueues `job` to run now on `conn`: pass the transaction of the change that causes
    /// it. Call [`Jobs::wake`] after committing, so that it starts at once rather than at
    /// the next look at the table.
    pub async fn enqueue<J: Job>(
        &self,
        conn: &impl ConnectionTrait,
        job: &J,
    ) -> AppResult<Option<i64>> {
        self.enqueue_with(conn, job, Enqueue::default()).await
    }

    /// Like [`Jobs::enqueue`], at a time or under a key. Returns the new job's id, or
    /// `None` when a job with that key exists already.
    pub async fn enqueue_with<J: Job>(
        &self,
        conn: &impl ConnectionTrait,
        job: &J,
        options: Enqueue,
    ) -> AppResult<Option<i64>> {
        let payload = serde_json::to_string(job)
            .map_err(|err| anyhow::anyhow!("a {} job does not serialise: {err}", J::KIND))?;
        let now = self.inner.clock.now();
        store::insert(
            conn,
            J::KIND,
            payload,
            options.run_at.unwrap_or(now),
            options.key,
            now,
        )
        .await
    }

    /// Enqueues `job` on its own (not in a transaction) and wakes the dispatcher.
    pub async fn enqueue_now<J: Job>(&self, job: &J) -> AppResult<Option<i64>> {
        let id = self.enqueue(&self.inner.db, job).await?;
        self.wake();
        Ok(id)
    }

    /// How many jobs this instance is running (claimed, outcome not yet written). A test
    /// waits for none before it moves the clock, lest a lease seem to lapse mid-job.
    pub fn in_flight(&self) -> usize {
        self.inner
            .in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Tells this instance's dispatcher that a job may be due.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Starts the dispatcher and the scheduler of recurring jobs on `background`.
    pub fn start(&self, background: &Background) {
        let jobs = self.clone();
        background.spawn("job dispatcher", move |stop| worker::run(jobs, stop));
        let jobs = self.clone();
        background.spawn("job scheduler", move |stop| schedule::run(jobs, stop));
    }
}

fn instance_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    let tag = getrandom::u32().unwrap_or_default();
    let mut name = format!("{host}-{}-{tag:08x}", std::process::id());
    name.truncate(64);
    name
}
