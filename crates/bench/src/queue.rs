//! `capstone-bench jobs-queue`: the platform's durable job queue, measured.
//!
//! Each configuration — PostgreSQL with one instance, with three, and SQLite with one —
//! starts on a fresh, migrated database and goes through three phases:
//!
//! 1. **Throughput.** `--jobs` no-op jobs ([`Noop`]) are enqueued due now, through
//!    `Jobs::enqueue_with` in transactions of [`ENQUEUE_BATCH`] (the enqueue rate is a
//!    figure too), then the instances start and drain them: jobs per second from the first
//!    start to the last finish.
//! 2. **Lag.** With the instances idle, a fifth as many jobs are enqueued with due times
//!    [`OFFERED_RATE`] apart per second, starting once the last is in the table: the
//!    queue is offered the target rate, and the lag of each job is its start less its due
//!    time. (Enqueued ahead rather than live: the queue only sees its own instances'
//!    enqueues at once, and the producer here is none of them; and this way the lag is
//!    the queue's alone, not the producer's.)
//! 3. **Webhooks.** With the instances stopped (SIGTERM, timed), `--deliveries` events
//!    are emitted through `Webhooks::emit` to one webhook pointing at the receiver
//!    ([`receiver`]); the bare loop sends as many of the same requests, with the same
//!    client and concurrency, as the ceiling; then the instances start again and deliver.
//!
//! Then the **kill** scenario: three instances on PostgreSQL drain `--jobs` jobs, and one is
//! sent SIGKILL when a third are done. The jobs it held are those its claims left running;
//! its lease ([`LEASE`]) lapses and the others take them. Every job must run, and none
//! twice except those.
//!
//! Who ran which job when comes from the instances' start logs ([`crate::queue_worker`]),
//! written as each job starts; due and finish times from the `jobs` table.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use platform::{
    AppState, Config,
    auth::user::{self, Role},
    background::Background,
    clock::Clock,
    jobs::{Enqueue, Job, JobState, entity as job},
    webhooks::{entity::webhook, signature::Secret},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, TransactionTrait, sea_query::Expr,
};

use crate::{
    cpu, load,
    queue_report::{self as report, Configuration, Kill, Lag, Throughput, Webhooks},
    queue_worker::{Noop, WorkerArgs},
    receiver::{self, EVENT, Receiver},
    scratch::{Backend, on_scratch_database},
    server::{Paths, Server},
};

#[derive(Args)]
pub struct QueueArgs {
    /// No-op jobs drained per configuration (and in the kill scenario); a fifth as many
    /// more measure the lag.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    jobs: u64,
    /// Webhook deliveries per configuration.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
    deliveries: u64,
}

/// Jobs per second offered in the lag phase: the throughput target, at which the issue
/// asks for the lag.
pub const OFFERED_RATE: f64 = 2_000.0;
/// The instances' `job_lease_secs`, shorter than the default minute so that the kill
/// scenario ends soon after the kill. No-op jobs and local deliveries take milliseconds,
/// far inside it, so nothing else is changed by it.
pub const LEASE: Duration = Duration::from_secs(5);
/// Jobs (or events) per enqueuing transaction.
const ENQUEUE_BATCH: u64 = 1_000;
/// How often the table is looked at while the instances work.
const POLL: Duration = Duration::from_millis(200);
/// The kill waits for a third of the jobs to be done, looking this often.
const KILL_POLL: Duration = Duration::from_millis(20);

/// The kind of the platform's webhook delivery job (private to `platform::webhooks`).
const DELIVERY_KIND: &str = "platform.webhook_delivery";

/// The three configurations of the issue.
const CONFIGURATIONS: [(Backend, usize); 3] = [
    (Backend::Postgres, 1),
    (Backend::Postgres, 3),
    (Backend::Sqlite, 1),
];

pub fn jobs_queue(args: &QueueArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let paths = Paths::discover()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let report = runtime.block_on(run(args, &paths, started))?;
    report.print();
    let json = paths.out.join("jobs-queue.json");
    report.write_json(&json)?;
    println!("  written to {}", json.display());
    Ok(())
}

async fn run(args: &QueueArgs, paths: &Paths, started: Instant) -> anyhow::Result<report::Report> {
    let receiver = Receiver::start().await?;
    let concurrency = Config::default().job_concurrency;
    let mut notes = Vec::new();
    let mut configurations = Vec::new();
    for (backend, instances) in CONFIGURATIONS {
        let name = format!("{} ×{instances}", backend.name());
        eprintln!("==> {name}");
        let bench = Bench {
            paths,
            args,
            receiver: &receiver,
            concurrency,
            label: format!("{}-{instances}", backend.name().to_lowercase()),
        };
        match on_scratch_database(backend, async |url| {
            bench.configuration(url, instances).await
        })
        .await
        {
            Ok(mut figures) => {
                figures.name = name;
                configurations.push(figures);
            }
            Err(err) => notes.push(format!("{name} was not measured: {err:#}")),
        }
    }
    eprintln!("==> PostgreSQL ×3, one killed");
    let bench = Bench {
        paths,
        args,
        receiver: &receiver,
        concurrency,
        label: "kill".into(),
    };
    let kill = match on_scratch_database(Backend::Postgres, async |url| bench.kill(url).await).await
    {
        Ok(kill) => Some(kill),
        Err(err) => {
            notes.push(format!("the kill scenario did not run: {err:#}"));
            None
        }
    };
    Ok(report::Report {
        configurations,
        kill,
        run: report::Run {
            jobs: args.jobs,
            lag_jobs: args.jobs / 5,
            offered_per_s: OFFERED_RATE,
            deliveries: args.deliveries,
            concurrency,
            lease_s: LEASE.as_secs(),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            took_s: started.elapsed().as_secs_f64(),
            notes,
        },
    })
}

/// What every phase needs.
struct Bench<'a> {
    paths: &'a Paths,
    args: &'a QueueArgs,
    receiver: &'a Receiver,
    /// `job_concurrency` of every instance: the default.
    concurrency: usize,
    /// Names this configuration's files under `target/bench/jobs-queue/`.
    label: String,
}

impl Bench<'_> {
    /// The three phases of one configuration (see the module's documentation).
    async fn configuration(&self, url: &str, instances: usize) -> anyhow::Result<Configuration> {
        let parent = Parent::open(url).await?;
        let dir = self.fresh_dir()?;
        let mut notes = Vec::new();

        // 1. Throughput: a backlog of jobs due now.
        let n = self.args.jobs;
        let backlog = parent.enqueue(n, |_| None).await?;
        let enqueue_per_s = n as f64 / backlog.took.as_secs_f64();
        eprintln!("    enqueued {n} jobs at {enqueue_per_s:.0}/s; draining");
        let mut fleet = self.start_fleet(url, &dir, instances, "jobs")?;
        let before = cpu::snapshot(&fleet.pids());
        fleet.wait_settled(&parent.db, Noop::KIND, n).await?;
        let cpu = before.zip(cpu::snapshot(&fleet.pids()));

        // 2. Lag: jobs due at the offered rate, all in the table before the first is due.
        let m = n / 5;
        let lead = backlog.took.mul_f64(m as f64 / n as f64 * 1.25) + Duration::from_secs(1);
        let first_due = Utc::now() + TimeDelta::from_std(lead)?;
        let paced = parent
            .enqueue(m, |i| {
                Some(first_due + TimeDelta::microseconds((i as f64 * 1e6 / OFFERED_RATE) as i64))
            })
            .await?;
        if Utc::now() > first_due {
            notes.push("the lag phase's enqueue overran the first due time".into());
        }
        eprintln!("    {m} jobs due at {OFFERED_RATE}/s from {lead:.1?} on");
        fleet.wait_settled(&parent.db, Noop::KIND, m).await?;
        let stopped = fleet.stop().await?;
        notes.extend(stopped.problems);

        // 3. Webhooks.
        let (webhooks, problems) = self.webhooks(&parent, url, &dir, instances).await?;
        notes.extend(problems);

        let starts = read_start_logs(&dir)?;
        let rows = parent.noop_rows().await?;
        parent.close().await?;
        let throughput = throughput(&backlog.ids, &starts, &rows, enqueue_per_s, cpu);
        let lag = lag(&paced.ids, &starts, &rows);
        eprintln!(
            "    {:.0} jobs/s; lag p50 {:.0} ms, p99 {:.0} ms; {:.0} deliveries/s, ceiling {:.0}/s",
            throughput.jobs_per_s,
            lag.p50_ms,
            lag.p99_ms,
            webhooks.deliveries_per_s,
            webhooks.ceiling_per_s
        );
        Ok(Configuration {
            name: String::new(),
            instances,
            throughput,
            lag,
            webhooks,
            graceful_stop_s: stopped.took_s,
            notes,
        })
    }

    /// Phase 3: emits the events with no instance running, measures the bare loop, then
    /// starts the instances and lets them deliver. Returns the figures and any problems.
    async fn webhooks(
        &self,
        parent: &Parent,
        url: &str,
        dir: &Path,
        instances: usize,
    ) -> anyhow::Result<(Webhooks, Vec<String>)> {
        let d = self.args.deliveries;
        let emit_took = parent.emit(&self.receiver.url, d).await?;
        // The ceiling first, right next to the deliveries it is compared with. Its
        // concurrency is the queue's: `job_concurrency` per instance.
        let concurrency = self.concurrency * instances;
        self.receiver.take(0);
        receiver::bare_loop(&self.receiver.url, d, concurrency).await?;
        let ceiling = self.receiver.take(d);
        eprintln!(
            "    emitted {d} events at {:.0}/s; bare loop {:.0}/s; delivering",
            d as f64 / emit_took.as_secs_f64(),
            ceiling.rate()
        );
        let mut fleet = self.start_fleet(url, dir, instances, "webhooks")?;
        let before = cpu::snapshot(&fleet.pids());
        fleet.wait_settled(&parent.db, DELIVERY_KIND, d).await?;
        let cpu = before.zip(cpu::snapshot(&fleet.pids()));
        let stopped = fleet.stop().await?;
        let deliveries = self.receiver.take(d);
        let not_done = parent.count(DELIVERY_KIND, false).await?;
        Ok((
            Webhooks {
                emit_per_s: d as f64 / emit_took.as_secs_f64(),
                deliveries_per_s: deliveries.rate(),
                ceiling_per_s: ceiling.rate(),
                share_of_ceiling: deliveries.rate() / ceiling.rate(),
                ceiling_concurrency: concurrency,
                deliveries,
                ceiling,
                not_done,
                cpu: cpu.map(|(before, after)| cpu::usage(&before, &after)),
            },
            stopped.problems,
        ))
    }

    /// Three instances drain the jobs; one is killed when a third are done.
    async fn kill(&self, url: &str) -> anyhow::Result<Kill> {
        let parent = Parent::open(url).await?;
        let dir = self.fresh_dir()?;
        let n = self.args.jobs;
        let backlog = parent.enqueue(n, |_| None).await?;
        let mut fleet = self.start_fleet(url, &dir, 3, "jobs")?;
        let done_at_kill = loop {
            let done = n - pending(&parent.db, Noop::KIND).await?;
            if done >= n / 3 {
                break done;
            }
            fleet.ensure_running()?;
            tokio::time::sleep(KILL_POLL).await;
        };
        let victim = fleet.workers.remove(0);
        let pid = victim.pid();
        // Dropping a `Server` sends SIGKILL and reaps it: the process is gone on return,
        // and nothing it held was let go.
        drop(victim);
        let killed = Instant::now();
        let in_hand = parent.held_by(pid).await?;
        eprintln!(
            "    killed instance {pid} with {done_at_kill} of {n} jobs done, {} in its hands",
            in_hand.len()
        );
        fleet.wait_settled(&parent.db, Noop::KIND, n).await?;
        let settled_s = killed.elapsed().as_secs_f64();
        let stopped = fleet.stop().await?;
        let starts = read_start_logs(&dir)?;
        let rows = parent.noop_rows().await?;
        parent.close().await?;

        let twice: HashSet<i64> = backlog
            .ids
            .iter()
            .copied()
            .filter(|id| starts.get(id).is_some_and(|s| s.len() > 1))
            .collect();
        Ok(Kill {
            jobs: n,
            done_at_kill,
            in_hand_at_kill: in_hand.len() as u64,
            lost: lost(&backlog.ids, &starts, &rows),
            run_twice: twice.len() as u64,
            run_twice_in_hand: twice.intersection(&in_hand).count() as u64,
            run_twice_elsewhere: twice.difference(&in_hand).count() as u64,
            settled_s_after_kill: settled_s,
            notes: stopped.problems,
        })
    }

    /// `target/bench/jobs-queue/<label>/`, emptied: the start logs of one configuration.
    fn fresh_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = self.paths.out.join("jobs-queue").join(&self.label);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn start_fleet(
        &self,
        url: &str,
        dir: &Path,
        instances: usize,
        phase: &str,
    ) -> anyhow::Result<Fleet> {
        let workers = (0..instances)
            .map(|i| {
                let args = WorkerArgs {
                    database_url: url.to_owned(),
                    starts: dir.join(format!("{phase}-{i}.starts")),
                    lease_secs: LEASE.as_secs(),
                    concurrency: self.concurrency,
                };
                Server::queue_worker(self.paths, &args, &dir.join(format!("{phase}-{i}.log")))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Fleet { workers })
    }
}

/// The instances of one phase.
struct Fleet {
    workers: Vec<Server>,
}

/// How the graceful stop of a fleet went.
struct Stopped {
    /// The slowest instance's.
    took_s: f64,
    /// Warnings and errors the instances logged, and exits other than success.
    problems: Vec<String>,
}

impl Fleet {
    fn pids(&self) -> Vec<u32> {
        self.workers.iter().map(Server::pid).collect()
    }

    fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.workers.iter_mut().try_for_each(Server::ensure_running)
    }

    /// Waits until no job of `kind` is queued or running. `jobs` bounds the wait: at least
    /// 200 a second, or something is wrong.
    async fn wait_settled(
        &mut self,
        db: &DatabaseConnection,
        kind: &str,
        jobs: u64,
    ) -> anyhow::Result<()> {
        let timeout = Duration::from_secs(60) + Duration::from_millis(5 * jobs);
        let deadline = Instant::now() + timeout;
        loop {
            let pending = pending(db, kind).await?;
            if pending == 0 {
                return Ok(());
            }
            self.ensure_running()?;
            ensure!(
                Instant::now() < deadline,
                "{pending} {kind} job(s) still queued or running after {timeout:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGTERM to every instance at once, each waited for.
    async fn stop(self) -> anyhow::Result<Stopped> {
        let stopping: Vec<_> = self
            .workers
            .into_iter()
            .map(|worker| {
                let log = worker.log().to_owned();
                tokio::spawn(async move { (worker.stop(Duration::from_secs(60)).await, log) })
            })
            .collect();
        let mut stopped = Stopped {
            took_s: 0.0,
            problems: Vec::new(),
        };
        for stop in stopping {
            let (result, log) = stop.await?;
            let result = result?;
            stopped.took_s = stopped.took_s.max(result.took.as_secs_f64());
            if !result.status.success() {
                stopped.problems.push(format!(
                    "an instance exited with {} after SIGTERM; log: {}",
                    result.status,
                    log.display()
                ));
            }
            stopped
                .problems
                .extend(crate::server::log_problems(&log, 0));
        }
        Ok(stopped)
    }
}

/// The benchmark's own platform: it enqueues and emits as an app would, and never runs
/// the queue (no dispatcher: it would take jobs from the instances).
struct Parent {
    state: AppState,
    db: DatabaseConnection,
    background: Background,
}

/// Jobs enqueued, in order, and how long that took.
struct Enqueued {
    ids: Vec<i64>,
    took: Duration,
}

impl Parent {
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
        state.webhooks.declare(&[EVENT]);
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

    /// Enqueues `n` no-op jobs, the `i`th due at `run_at(i)` (now, if `None`).
    async fn enqueue(
        &self,
        n: u64,
        run_at: impl Fn(u64) -> Option<DateTime<Utc>>,
    ) -> anyhow::Result<Enqueued> {
        let started = Instant::now();
        let mut ids = Vec::with_capacity(n as usize);
        for batch in (0..n).step_by(ENQUEUE_BATCH as usize) {
            let tx = self.db.begin().await?;
            for i in batch..(batch + ENQUEUE_BATCH).min(n) {
                let options = Enqueue {
                    run_at: run_at(i),
                    key: None,
                };
                let id = self.state.jobs.enqueue_with(&tx, &Noop, options).await?;
                ids.push(id.context("a job without a key was not inserted")?);
            }
            tx.commit().await?;
        }
        Ok(Enqueued {
            ids,
            took: started.elapsed(),
        })
    }

    /// Makes an account with one webhook to `url` for [`EVENT`], and emits events
    /// `0..n` to it, [`ENQUEUE_BATCH`] per transaction. Returns how long the emits took.
    async fn emit(&self, url: &str, n: u64) -> anyhow::Result<Duration> {
        let now = Utc::now();
        let owner = user::ActiveModel {
            email: Set("bench@example.com".into()),
            display_name: Set("Benchmark".into()),
            password_hash: Set(None),
            role: Set(Role::Member),
            failed_logins: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        webhook::ActiveModel {
            owner_id: Set(owner.id),
            url: Set(url.to_owned()),
            events: Set(serde_json::json!([EVENT]).to_string()),
            secret: Set(Secret::generate().expose().to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        let started = Instant::now();
        for batch in (0..n).step_by(ENQUEUE_BATCH as usize) {
            let tx = self.db.begin().await?;
            for seq in batch..(batch + ENQUEUE_BATCH).min(n) {
                self.state
                    .webhooks
                    .emit(&tx, owner.id, EVENT, &receiver::event_data(seq))
                    .await?;
            }
            // No `Webhooks::committed()`: it wakes this process's dispatcher, and there is
            // none; the instances, started after, find the deliveries due.
            tx.commit().await?;
        }
        Ok(started.elapsed())
    }

    /// Jobs of `kind` done (or, if not `done`, in any other state). Reads every such row:
    /// once, at the end; polls use [`pending`].
    async fn count(&self, kind: &str, done: bool) -> anyhow::Result<u64> {
        let state = job::Column::State;
        Ok(job::Entity::find()
            .filter(job::Column::Kind.eq(kind))
            .filter(if done {
                state.eq(JobState::Done)
            } else {
                state.ne(JobState::Done)
            })
            .count(&self.db)
            .await?)
    }

    /// The jobs a (dead) instance's claims left running: its `locked_by` is
    /// `<host>-<pid>-<tag>`.
    async fn held_by(&self, pid: u32) -> anyhow::Result<HashSet<i64>> {
        Ok(job::Entity::find()
            .select_only()
            .column(job::Column::Id)
            .filter(job::Column::State.eq(JobState::Running))
            .filter(job::Column::LockedBy.like(format!("%-{pid}-%")))
            .into_tuple::<i64>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect())
    }

    /// Every no-op job's due time, finish time and whether it is done, by id.
    async fn noop_rows(&self) -> anyhow::Result<HashMap<i64, Row>> {
        type Columns = (i64, DateTime<Utc>, Option<DateTime<Utc>>, JobState);
        let rows: Vec<Columns> = job::Entity::find()
            .select_only()
            .columns([
                job::Column::Id,
                job::Column::RunAt,
                job::Column::FinishedAt,
                job::Column::State,
            ])
            .filter(job::Column::Kind.eq(Noop::KIND))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, run_at, finished_at, state)| {
                let row = Row {
                    run_at,
                    finished_at,
                    done: state == JobState::Done,
                };
                (id, row)
            })
            .collect())
    }
}

/// A no-op job as the table has it at the end.
struct Row {
    run_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    done: bool,
}

/// Job id → each start of it (µs since the epoch), from every `*.starts` file in `dir`.
fn read_start_logs(dir: &Path) -> anyhow::Result<HashMap<i64, Vec<i64>>> {
    let mut starts: HashMap<i64, Vec<i64>> = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "starts") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        for line in text.lines() {
            let parsed = line
                .split_once(' ')
                .and_then(|(id, at)| Some((id.parse().ok()?, at.parse().ok()?)));
            let (id, at) =
                parsed.with_context(|| format!("{}: bad line {line:?}", path.display()))?;
            starts.entry(id).or_default().push(at);
        }
    }
    Ok(starts)
}

/// Jobs among `ids` that never started, or are not done.
fn lost(ids: &[i64], starts: &HashMap<i64, Vec<i64>>, rows: &HashMap<i64, Row>) -> u64 {
    ids.iter()
        .filter(|id| !starts.contains_key(id) || !rows.get(id).is_some_and(|r| r.done))
        .count() as u64
}

/// Phase 1's figures: from the first start of any of `ids` to the last finish.
fn throughput(
    ids: &[i64],
    starts: &HashMap<i64, Vec<i64>>,
    rows: &HashMap<i64, Row>,
    enqueue_per_s: f64,
    cpu: Option<(cpu::Snapshot, cpu::Snapshot)>,
) -> Throughput {
    let first_start = ids
        .iter()
        .filter_map(|id| starts.get(id)?.iter().min())
        .min()
        .copied()
        .unwrap_or_default();
    let last_finish = ids
        .iter()
        .filter_map(|id| Some(rows.get(id)?.finished_at?.timestamp_micros()))
        .max()
        .unwrap_or_default();
    let took_s = (last_finish - first_start) as f64 / 1e6;
    Throughput {
        enqueue_per_s,
        jobs: ids.len() as u64,
        took_s,
        jobs_per_s: ids.len() as f64 / took_s.max(1e-9),
        run_twice: ids
            .iter()
            .filter(|id| starts.get(id).is_some_and(|s| s.len() > 1))
            .count() as u64,
        lost: lost(ids, starts, rows),
        cpu: cpu.map(|(before, after)| cpu::usage(&before, &after)),
    }
}

/// Phase 2's figures: each job's first start less its due time.
fn lag(ids: &[i64], starts: &HashMap<i64, Vec<i64>>, rows: &HashMap<i64, Row>) -> Lag {
    let mut lags: Vec<u32> = ids
        .iter()
        .filter_map(|id| {
            let start = *starts.get(id)?.iter().min()?;
            let due = rows.get(id)?.run_at.timestamp_micros();
            Some(u32::try_from((start - due).max(0)).unwrap_or(u32::MAX))
        })
        .collect();
    lags.sort_unstable();
    Lag {
        jobs: ids.len() as u64,
        p50_ms: load::percentile_ms(&lags, 0.50),
        p99_ms: load::percentile_ms(&lags, 0.99),
        max_ms: load::percentile_ms(&lags, 1.0),
    }
}

/// Jobs of `kind` queued or running, counted through the queue's partial indexes (the states
/// written into the SQL, as the queue's own claim does), so that polling costs the database
/// little however many jobs are done.
async fn pending(db: &DatabaseConnection, kind: &str) -> anyhow::Result<u64> {
    let mut n = 0;
    for state in ["queued", "running"] {
        n += job::Entity::find()
            .filter(job::Column::Kind.eq(kind))
            .filter(Expr::cust(format!("state = '{state}'")))
            .count(db)
            .await?;
    }
    Ok(n)
}
