//! `capstone-bench tasks`, reminders: 100,000 reminders due within one minute, delivered as
//! signed webhooks by real `capstone serve` instances to the receiver in this process.
//!
//! Each configuration starts on a fresh database, migrated as the server migrates it, and:
//!
//! 1. **seeds** one account per 1,000 reminders, each with a project, a webhook for
//!    `reminder.fired` pointing at the receiver, and 1,000 tasks with one absolute reminder
//!    each, written with SQL ([`seed::bulk_insert`]) as the app writes them, then **arms**
//!    every reminder through the app's own `arm` (the job on the platform's queue, under the
//!    app's key), 1,000 per transaction;
//! 2. starts the instances (`capstone serve`, one after the other) before the first
//!    reminder is due, and waits until the receiver has every reminder — or, in the kill
//!    scenario, sends SIGKILL to one of three instances once half have arrived;
//! 3. stops the instances with SIGTERM and reads their peak memory, then sends as many
//!    requests with the same client and concurrency through the bare loop
//!    ([`receiver::bare_loop`]), the ceiling the delivery rate is shown beside.
//!
//! The reminders' due times take one of two shapes ([`Shape`]): all at the same second
//! (what users do: "remind me at 09:00"), or spread evenly over the minute. The lag of a
//! reminder is its first arrival at the receiver (under any `webhook-id`) less its due time;
//! the table's `reminder_deliveries` adds how late each firing itself was.

use std::time::Duration;

use anyhow::{Context, ensure};
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use clap::ValueEnum;
use platform::{
    AppState, Config,
    auth::user::{self, Role},
    background::Background,
    clock::Clock,
    webhooks::{entity::webhook, signature::Secret},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, Statement,
    TransactionTrait,
};
use serde::Serialize;

use crate::{
    load,
    receiver::{self, Receiver},
    scratch::Backend,
    seed::{self, Field},
    server::{Paths, Server},
};

/// Reminders per account (and per project and webhook).
const PER_ACCOUNT: u64 = 1_000;
/// Reminders armed per transaction.
const ARM_BATCH: usize = 1_000;
/// The instances' `job_lease_secs`: how soon the jobs a killed instance held run elsewhere.
/// Shorter than the default minute, so that a crash costs seconds, not a minute: a
/// deployment that promises reminders within seconds sets it so too.
pub const LEASE: Duration = Duration::from_secs(5);
/// The reminders' webhook event.
const EVENT: &str = "reminder.fired";
/// How late the bench lets the last reminder be before it gives up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(300);
/// How often the receiver is looked at while the reminders come.
const POLL: Duration = Duration::from_millis(50);

/// When the reminders of the minute are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// All at the first second of the minute.
    Burst,
    /// Evenly over the minute.
    Spread,
}

impl Shape {
    fn due(self, first: DateTime<Utc>, i: u64, n: u64) -> DateTime<Utc> {
        match self {
            Shape::Burst => first,
            Shape::Spread => first + TimeDelta::microseconds((i * 60_000_000 / n.max(1)) as i64),
        }
    }
}

/// One configuration: a database, some instances, a shape, and maybe a kill.
pub struct Setup {
    pub backend: Backend,
    pub instances: usize,
    pub shape: Shape,
    pub kill: bool,
    pub reminders: u64,
}

impl Setup {
    pub fn name(&self) -> String {
        let kill = if self.kill { ", 1 killed" } else { "" };
        let shape = match self.shape {
            Shape::Burst => "burst",
            Shape::Spread => "spread",
        };
        format!("{} ×{}{kill}, {shape}", self.backend.name(), self.instances)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub name: String,
    pub instances: usize,
    pub shape: Shape,
    pub killed: bool,
    pub reminders: u64,
    /// Reminders armed per second (the app's `arm`, 1,000 a transaction).
    pub armed_per_s: f64,
    /// Arrival at the receiver less the due time.
    pub lag: Lag,
    /// How late the firings were, as the instances recorded them (`reminder_deliveries`).
    pub fired_late: Lag,
    /// From the first due time to the last arrival.
    pub all_in_s: f64,
    /// Distinct reminders received per second, first arrival to last.
    pub deliveries_per_s: f64,
    /// The bare loop's rate, same client, requests and concurrency.
    pub ceiling_per_s: f64,
    pub ceiling_concurrency: usize,
    /// Reminders never received under any id.
    pub missed: u64,
    /// Reminders received under more than one `webhook-id`.
    pub duplicated: u64,
    /// The same `webhook-id` again (a retry after a lost answer: the receiver drops it).
    pub raw_repeats: u64,
    /// The largest peak resident memory among the instances, in MiB.
    pub peak_rss_mib: f64,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Lag {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Lag {
    fn of(mut micros: Vec<u32>) -> Self {
        micros.sort_unstable();
        Lag {
            p50_ms: load::percentile_ms(&micros, 0.50),
            p99_ms: load::percentile_ms(&micros, 0.99),
            max_ms: load::percentile_ms(&micros, 1.0),
        }
    }
}

/// Measures `setup` on the fresh, empty database at `url`.
pub async fn measure(
    paths: &Paths,
    setup: &Setup,
    url: &str,
    receiver: &Receiver,
) -> anyhow::Result<Figures> {
    let n = setup.reminders;
    let dir = paths
        .out
        .join("tasks")
        .join(setup.name().replace([' ', ','], ""));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let mut notes = Vec::new();

    let app = Platform::open(url).await?;
    let accounts = seed_accounts(&app.db, n.div_ceil(PER_ACCOUNT), &receiver.url).await?;
    // Arming takes a few seconds per 10,000 reminders; the first is due after that, with
    // room for the instances to start.
    let lead = Duration::from_secs(15) + Duration::from_millis(n / 3);
    // Whole milliseconds: PostgreSQL keeps microseconds, and the app compares the job's
    // time with the stored one.
    let first_due = (Utc::now() + TimeDelta::from_std(lead)?).trunc_subsecs(3);
    let due: Vec<DateTime<Utc>> = (0..n).map(|i| setup.shape.due(first_due, i, n)).collect();
    let reminders = seed_reminders(&app.db, &accounts, &due).await?;
    let armed_per_s = app.arm(&reminders, &due).await?;
    eprintln!(
        "    {n} reminders armed at {armed_per_s:.0}/s; the first due in {:.1} s",
        (first_due - Utc::now()).as_seconds_f64()
    );
    app.close().await?;

    let settings = [
        ("CAPSTONE_ALLOW_PRIVATE_OUTBOUND", "true".to_owned()),
        ("CAPSTONE_JOB_LEASE_SECS", LEASE.as_secs().to_string()),
        (
            "CAPSTONE_JOB_CONCURRENCY",
            std::env::var("XCONC").unwrap_or("16".into()),
        ),
    ];
    let client = crate::api::client();
    let mut fleet = Vec::new();
    for i in 0..setup.instances {
        let log = dir.join(format!("instance-{i}.log"));
        let mut server = Server::capstone_with(paths, url, &log, &settings)?;
        server
            .wait_until(&client, "/readyz", 200, crate::STARTUP_TIMEOUT)
            .await?;
        fleet.push(server);
    }
    if Utc::now() > first_due {
        notes.push("arming and starting overran the first due time".into());
    }

    receiver.take(0);
    let mut killed_peak = 0;
    let deadline = first_due + TimeDelta::from_std(GIVE_UP_AFTER)? + TimeDelta::minutes(1);
    while receiver.distinct() < n {
        if setup.kill && killed_peak == 0 && receiver.distinct() >= n / 2 {
            let victim = fleet.remove(0);
            killed_peak = victim.peak_rss_kib().unwrap_or(0).max(1);
            // Dropping a `Server` sends SIGKILL and reaps it.
            drop(victim);
            eprintln!(
                "    killed one instance with {} reminders received",
                receiver.distinct()
            );
        }
        for server in &mut fleet {
            server.ensure_running()?;
        }
        if Utc::now() > deadline {
            notes.push(format!(
                "gave up {} s after the last due time with {} of {n} reminders received",
                GIVE_UP_AFTER.as_secs(),
                receiver.distinct()
            ));
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    // A moment for retries of answers lost in a kill to show as repeats.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (received, arrivals) = receiver.take_arrivals(reminders.iter().map(|&id| id as u64));

    let mut peak = killed_peak;
    for server in fleet {
        let log = server.log().to_owned();
        let stopped = server.stop(crate::STOP_TIMEOUT).await?;
        peak = peak.max(stopped.peak_rss_kib);
        if !stopped.status.success() {
            notes.push(format!("an instance exited with {}", stopped.status));
        }
        // Less the start's notices of what the bench leaves unset (keys, mail).
        notes.extend(
            crate::server::log_problems(&log, 0)
                .into_iter()
                .filter(|p| !p.contains(" configured: ")),
        );
    }
    let fired_late = fired_late(url).await?;

    let concurrency = Config::default().job_concurrency * setup.instances;
    let ceiling_requests = n.min(20_000);
    receiver.take(0);
    receiver::bare_loop(&receiver.url, ceiling_requests, concurrency).await?;
    let ceiling = receiver.take(ceiling_requests);

    let lags: Vec<u32> = reminders
        .iter()
        .zip(&due)
        .filter_map(|(id, due)| {
            let arrived: DateTime<Utc> = (*arrivals.get(&(*id as u64))?).into();
            let micros = (arrived - *due).num_microseconds()?.max(0);
            Some(u32::try_from(micros).unwrap_or(u32::MAX))
        })
        .collect();
    let last = arrivals.values().max().map(|&t| DateTime::<Utc>::from(t));
    Ok(Figures {
        name: setup.name(),
        instances: setup.instances,
        shape: setup.shape,
        killed: setup.kill,
        reminders: n,
        armed_per_s,
        lag: Lag::of(lags),
        fired_late,
        all_in_s: last.map_or(f64::NAN, |last| (last - first_due).as_seconds_f64()),
        deliveries_per_s: received.distinct_ids as f64 / received.window_s.max(1e-9),
        ceiling_per_s: ceiling.rate(),
        ceiling_concurrency: concurrency,
        missed: received.missing,
        duplicated: received.duplicated,
        raw_repeats: received.raw_repeats,
        peak_rss_mib: peak as f64 / 1024.0,
        notes,
    })
}

/// The benchmark's own platform: it arms reminders as the app does, and runs no queue.
struct Platform {
    state: AppState,
    db: DatabaseConnection,
    background: Background,
}

impl Platform {
    /// Connects to the empty database at `url` and migrates it as the server would.
    async fn open(url: &str) -> anyhow::Result<Self> {
        let config = Config {
            database_url: url.to_owned().into(),
            ..Config::default()
        };
        let db = platform::db::connect(&config).await?;
        capstone::migrate(&db).await?;
        let background = Background::new();
        let state = AppState::new(config, db.clone(), Clock::default(), &background).await?;
        Ok(Self {
            state,
            db,
            background,
        })
    }

    async fn close(self) -> anyhow::Result<()> {
        self.background.shutdown(Duration::from_secs(5)).await;
        drop(self.state);
        self.db.close().await?;
        Ok(())
    }

    /// Arms reminder `ids[i]` at `due[i]`, [`ARM_BATCH`] per transaction; returns the rate.
    async fn arm(&self, ids: &[i64], due: &[DateTime<Utc>]) -> anyhow::Result<f64> {
        let started = std::time::Instant::now();
        for (ids, due) in ids.chunks(ARM_BATCH).zip(due.chunks(ARM_BATCH)) {
            let tx = self.db.begin().await?;
            for (&id, &at) in ids.iter().zip(due) {
                ::tasks::testing::arm_reminder(&self.state.jobs, &tx, id, ONCE.into(), at).await?;
            }
            tx.commit().await?;
        }
        Ok(ids.len() as f64 / started.elapsed().as_secs_f64())
    }
}

/// The occurrence of a reminder of a task without a due (the app's name for it).
const ONCE: &str = "once";

/// A seeded account: its id and its project's.
struct Account {
    user: i64,
    project: i64,
}

/// `count` accounts, each with a project it owns and a webhook for [`EVENT`] to `hook`.
async fn seed_accounts(
    db: &DatabaseConnection,
    count: u64,
    hook: &str,
) -> anyhow::Result<Vec<Account>> {
    let now = Utc::now();
    let mut accounts = Vec::new();
    for i in 0..count {
        let user = user::ActiveModel {
            email: Set(format!("reminded{i}@example.com")),
            display_name: Set(format!("Reminded {i}")),
            password_hash: Set(None),
            role: Set(Role::Member),
            failed_logins: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        webhook::ActiveModel {
            owner_id: Set(user.id),
            url: Set(hook.to_owned()),
            events: Set(serde_json::json!([EVENT]).to_string()),
            secret: Set(Secret::generate().expose().to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
        let project = returning_id(
            db,
            "INSERT INTO projects (name, created_by, created_at, updated_at) \
             VALUES ({}, {}, {}, {}) RETURNING id",
            [
                format!("Reminders {i}").into(),
                user.id.into(),
                now.into(),
                now.into(),
            ],
        )
        .await?;
        db.execute_raw(statement(
            db.get_database_backend(),
            "INSERT INTO project_members (project_id, user_id, role, created_at) \
             VALUES ({}, {}, 'owner', {})",
            [project.into(), user.id.into(), now.into()],
        ))
        .await?;
        accounts.push(Account {
            user: user.id,
            project,
        });
    }
    Ok(accounts)
}

/// One task with one absolute reminder at `due[i]` for each `i`, [`PER_ACCOUNT`] per
/// account; returns the reminders' ids, in order.
async fn seed_reminders(
    db: &DatabaseConnection,
    accounts: &[Account],
    due: &[DateTime<Utc>],
) -> anyhow::Result<Vec<i64>> {
    let now = seed::timestamp(Utc::now());
    let owner = |i: usize| &accounts[i / PER_ACCOUNT as usize];
    let tasks = (0..due.len()).map(|i| {
        let account = owner(i);
        vec![
            Field::Int(account.project),
            format!("bench-{i}@capstone").into(),
            format!("bench-{i}.ics").into(),
            format!("Call back customer {i}").into(),
            "needs_action".into(),
            Field::Int(4),
            Field::Int(i as i64),
            Field::Int(account.user),
            Field::Int(1),
            now.clone().into(),
            now.clone().into(),
        ]
    });
    seed::bulk_insert(
        db,
        "tasks (project_id, uid, dav_name, title, status, priority, position, created_by, \
         version, created_at, updated_at)",
        tasks,
    )
    .await?;
    let task_ids = ids(db, "SELECT id FROM tasks ORDER BY id").await?;
    ensure!(task_ids.len() == due.len(), "the tasks were not all seeded");
    let reminders = task_ids.iter().zip(due).map(|(&task, &at)| {
        let at = seed::timestamp(at);
        vec![
            Field::Int(task),
            at.clone().into(),
            "send".into(),
            Field::Int(60),
            at.into(),
            ONCE.into(),
            now.clone().into(),
        ]
    });
    seed::bulk_insert(
        db,
        "reminders (task_id, at, late_policy, late_limit_minutes, next_at, occurrence, \
         created_at)",
        reminders,
    )
    .await?;
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE").await?;
    }
    let reminder_ids = ids(db, "SELECT id FROM reminders ORDER BY task_id").await?;
    ensure!(
        reminder_ids.len() == due.len(),
        "the reminders were not all seeded"
    );
    Ok(reminder_ids)
}

/// How late the firings were, as `reminder_deliveries` has it.
async fn fired_late(url: &str) -> anyhow::Result<Lag> {
    let db = seed::connect(url).await?;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT late_ms FROM reminder_deliveries",
        ))
        .await?;
    db.close().await?;
    let micros = rows
        .iter()
        .map(|row| {
            let ms: i64 = row.try_get_by_index(0)?;
            Ok(u32::try_from(ms.saturating_mul(1000)).unwrap_or(u32::MAX))
        })
        .collect::<anyhow::Result<Vec<u32>>>()?;
    Ok(Lag::of(micros))
}

async fn ids(db: &DatabaseConnection, sql: &str) -> anyhow::Result<Vec<i64>> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .iter()
        .map(|row| Ok(row.try_get_by_index::<i64>(0)?))
        .collect()
}

/// `sql` with each `{}` made the backend's placeholder for the next of `values`.
fn statement<const N: usize>(
    backend: DbBackend,
    sql: &str,
    values: [sea_orm::Value; N],
) -> Statement {
    let mut text = String::new();
    for (i, part) in sql.split("{}").enumerate() {
        if i > 0 {
            match backend {
                DbBackend::Postgres => text.push_str(&format!("${i}")),
                _ => text.push('?'),
            }
        }
        text.push_str(part);
    }
    Statement::from_sql_and_values(backend, text, values)
}

async fn returning_id<const N: usize>(
    db: &DatabaseConnection,
    sql: &str,
    values: [sea_orm::Value; N],
) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(statement(db.get_database_backend(), sql, values))
        .await?
        .context("an INSERT … RETURNING returned nothing")?;
    Ok(row.try_get_by_index(0)?)
}
