//! `capstone-bench`: how fast Capstone is on this machine, next to what this machine can do.
//!
//! `capstone-bench links` measures the links app end to end, in one run:
//!
//! 1. builds the release server (`cargo build --release -p capstone`);
//! 2. for SQLite, then PostgreSQL: starts `capstone serve` on a fresh database, registers an
//!    account, stops it, seeds 100,000 links and 1,000,000 clicks ([`seed`]), starts it
//!    again (cold cache), times the hot link's statistics, measures the *ceiling* (a bare
//!    hyper server answering every request with a fixed redirect, see [`ceiling`]), drives
//!    redirects at Capstone three ways in turn (one link, popular links, any link: see
//!    [`load::Traffic`]) with the same load generator ([`load`]), stops it with SIGTERM
//!    right after the last, and counts the clicks that reached the database;
//! 3. prints the figures beside the targets and writes `target/bench/links.json`
//!    ([`report`]).
//!
//! Every server is a child process ([`server`]), so the load generator (this process)
//! never shares a runtime with what it measures. They do share the machine's cores, as the
//! report says: on a two-core machine the generator takes a good part of one.
//!
//! `capstone-bench jobs-queue` measures the platform's durable job queue and its webhook
//! deliveries, on one and three instances (child processes of this binary: its hidden
//! `queue-worker` subcommand) over PostgreSQL and one over SQLite, and across a SIGKILL of
//! one of three instances; see [`queue`]. It writes `target/bench/jobs-queue.json`.
//!
//! `capstone-bench tasks` measures the tasks app: see [`tasks`]. It writes
//! `target/bench/tasks.json`.

mod api;
mod ceiling;
mod cpu;
mod load;
mod queue;
mod queue_report;
mod queue_worker;
mod receiver;
mod report;
mod rng;
mod scratch;
mod seed;
mod server;
mod tasks;
mod tasks_dav;
mod tasks_lists;
mod tasks_reminders;
mod tasks_seed;

use std::{
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use clap::{Args, Parser, Subcommand};

use server::{Paths, Server};

#[derive(Parser)]
#[command(about = "Capstone benchmarks.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Redirect throughput and latency, clicks kept across a graceful stop, and statistics
    /// latency of the links app, on SQLite and PostgreSQL, against the bare-hyper ceiling.
    Links(LinksArgs),
    /// The ceiling server: a fixed `302` for every request on 127.0.0.1 (started by `links`).
    #[command(hide = true)]
    Ceiling {
        #[arg(long)]
        port: u16,
    },
    /// Jobs and webhook deliveries per second, lag, duplicates and losses of the durable
    /// job queue, on PostgreSQL (one and three instances) and SQLite, and across a SIGKILL.
    JobsQueue(queue::QueueArgs),
    /// The tasks app: reminders delivered as webhooks by one instance on SQLite and three
    /// on PostgreSQL (and across a SIGKILL), task lists over 1M tasks against their SQL,
    /// and CalDAV sync of a 10,000-task calendar.
    Tasks(tasks::TasksArgs),
    /// One instance of the job queue (started by `jobs-queue`).
    #[command(hide = true)]
    QueueWorker(queue_worker::WorkerArgs),
}

#[derive(Args)]
struct LinksArgs {
    /// Seconds of measured load per server (after a 2 s warm-up that is not counted).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    duration: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1024))]
    connections: u64,
    /// Measure SQLite only.
    #[arg(long, conflicts_with = "skip_sqlite")]
    skip_postgres: bool,
    /// Measure PostgreSQL only.
    #[arg(long)]
    skip_sqlite: bool,
}

const WARMUP: Duration = Duration::from_secs(2);
/// Sequential statistics requests timed per database.
const STATS_REQUESTS: usize = 50;
/// How long a server may take to answer `/readyz`, and to stop after SIGTERM.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the click writer may take to catch up between two loads.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Ceiling { port } => ceiling::serve(port),
        Command::Links(args) => links(&args),
        Command::JobsQueue(args) => queue::jobs_queue(&args),
        Command::QueueWorker(args) => queue_worker::run(&args),
        Command::Tasks(args) => tasks::tasks(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("capstone-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn links(args: &LinksArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let paths = Paths::discover()?;
    eprintln!("==> building the release server");
    server::build_release(&paths)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let report = runtime.block_on(run_links(args, &paths, started))?;
    report.print();
    let json = paths.out.join("links.json");
    report.write_json(&json)?;
    println!("  written to {}", json.display());
    Ok(())
}

/// The benchmark's settings, as the load generator and the report need them.
struct Plan {
    connections: usize,
    duration: Duration,
    paths: Arc<Vec<hyper::Uri>>,
}

impl Plan {
    /// Drives load at `server`, and measures who used the CPU after the warm-up.
    async fn load(
        &self,
        server: &Server,
        traffic: load::Traffic,
    ) -> anyhow::Result<(load::Outcome, Option<cpu::Usage>)> {
        let config = load::Config {
            port: server.port,
            connections: self.connections,
            warmup: WARMUP,
            duration: self.duration,
            paths: self.paths.clone(),
            traffic,
        };
        let pid = server.pid();
        let before = tokio::spawn(async move {
            tokio::time::sleep(WARMUP).await;
            cpu::snapshot(&[pid])
        });
        let outcome = load::run(&config).await?;
        let after = cpu::snapshot(&[pid]);
        let usage = match (before.await?, after) {
            (Some(before), Some(after)) => Some(cpu::usage(&before, &after)),
            _ => None,
        };
        Ok((outcome, usage))
    }
}

async fn run_links(
    args: &LinksArgs,
    paths: &Paths,
    started: Instant,
) -> anyhow::Result<report::Report> {
    let plan = Plan {
        connections: usize::try_from(args.connections)?,
        duration: Duration::from_secs(args.duration),
        paths: Arc::new(
            (0..seed::LINKS)
                .map(|i| format!("/{}", seed::slug(i)).parse())
                .collect::<Result<_, _>>()?,
        ),
    };
    let mut notes = Vec::new();
    let client = api::client();

    let sqlite = measure_unless_skipped(
        "SQLite",
        args.skip_sqlite.then_some("--skip-sqlite"),
        &mut notes,
        measure_sqlite(&plan, paths, &client),
    )
    .await;
    let postgres = measure_unless_skipped(
        "PostgreSQL",
        args.skip_postgres.then_some("--skip-postgres"),
        &mut notes,
        measure_postgres(&plan, paths, &client),
    )
    .await;

    notes.push(
        "closed-loop load (each connection waits for its answer), so latency under overload \
         is understated; the ceiling is measured the same way"
            .into(),
    );
    notes.push(format!(
        "stats: {STATS_REQUESTS} sequential GET /api/v1/links/{{id}}/stats?interval=day over \
         90 days with a JWT bearer token (HTTP Basic would time argon2 too)"
    ));
    let ceiling = report::RunCeiling::of([&sqlite, &postgres].into_iter().flatten());
    Ok(report::Report {
        sqlite,
        postgres,
        run: report::Run {
            duration_s: args.duration,
            warmup_s: WARMUP.as_secs(),
            connections: plan.connections,
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            links: seed::LINKS,
            clicks: seed::CLICKS,
            took_s: started.elapsed().as_secs_f64(),
            notes,
        },
        ceiling,
    })
}

async fn measure_ceiling(
    plan: &Plan,
    paths: &Paths,
    client: &reqwest::Client,
) -> anyhow::Result<report::Ceiling> {
    let mut server = Server::ceiling(paths, &paths.out.join("ceiling.log"))?;
    server.wait_until(client, "/", 302, STARTUP_TIMEOUT).await?;
    // Every path gets the same fixed answer: one traffic shape measures it.
    let (outcome, cpu) = plan.load(&server, load::Traffic::Uniform).await?;
    // Nothing to finish: the ceiling keeps no state, so it is simply stopped.
    drop(server);
    ensure!(
        outcome.errors == 0 && outcome.other_statuses.is_empty(),
        "the ceiling server misbehaved: {} error(s), other answers {:?}",
        outcome.errors,
        outcome.other_statuses
    );
    Ok(report::Ceiling {
        rps: outcome.rps,
        p50_ms: outcome.p50_ms,
        p99_ms: outcome.p99_ms,
        cpu,
    })
}

/// One database's figures, unless `skipped` (by that flag); a skip or a failure is noted
/// in the report instead, and the run goes on with the other database.
async fn measure_unless_skipped(
    name: &str,
    skipped: Option<&str>,
    notes: &mut Vec<String>,
    measure: impl Future<Output = anyhow::Result<report::Database>>,
) -> Option<report::Database> {
    if let Some(flag) = skipped {
        notes.push(format!("{name} skipped ({flag})"));
        return None;
    }
    eprintln!("==> {name}");
    match measure.await {
        Ok(result) => Some(result),
        Err(err) => {
            notes.push(format!("{name} was not measured: {err:#}"));
            None
        }
    }
}

/// SQLite in a fresh temporary directory, removed afterwards.
async fn measure_sqlite(
    plan: &Plan,
    paths: &Paths,
    client: &reqwest::Client,
) -> anyhow::Result<report::Database> {
    let dir = tempfile::Builder::new()
        .prefix("capstone-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    measure_database("sqlite", &url, plan, paths, client).await
}

/// PostgreSQL on a scratch database, dropped afterwards whatever happened.
async fn measure_postgres(
    plan: &Plan,
    paths: &Paths,
    client: &reqwest::Client,
) -> anyhow::Result<report::Database> {
    let admin_url = std::env::var("CAPSTONE_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let admin = seed::postgres::admin(&admin_url)
        .await
        .context("the PostgreSQL server did not answer (set CAPSTONE_BENCH_POSTGRES_URL)")?;
    let (name, url) = seed::postgres::create(&admin, &admin_url).await?;
    let result = measure_database("postgres", &url, plan, paths, client).await;
    let dropped = seed::postgres::drop(&admin, &name).await;
    admin.close().await?;
    let result = result?;
    dropped?;
    Ok(result)
}

/// One database, from an empty one to the clicks counted after the stop.
async fn measure_database(
    name: &str,
    database_url: &str,
    plan: &Plan,
    paths: &Paths,
    client: &reqwest::Client,
) -> anyhow::Result<report::Database> {
    let log = paths.out.join(format!("capstone-{name}.log"));
    let _ = std::fs::remove_file(&log);
    let mut notes = Vec::new();

    // First start: the server migrates the empty database, and the account is made through
    // the API so that its password hash is the server's own. Then it stops: seeding writes
    // behind its back, and the measured run must start with a cold cache.
    let mut server = Server::capstone(paths, database_url, &log)?;
    server
        .wait_until(client, "/readyz", 200, STARTUP_TIMEOUT)
        .await?;
    api::register(client, &server.base_url()).await?;
    server.stop(STOP_TIMEOUT).await?;

    eprintln!(
        "    seeding {} links and {} clicks",
        seed::LINKS,
        seed::CLICKS
    );
    let seeded = seed::seed(database_url, api::EMAIL).await?;
    eprintln!("    seeded in {:.1} s", seeded.took.as_secs_f64());

    let mut server = Server::capstone(paths, database_url, &log)?;
    server
        .wait_until(client, "/readyz", 200, STARTUP_TIMEOUT)
        .await?;
    let base = server.base_url();
    // What the server logs from here on is about the measurement, not its start.
    let log_mark = server.log_mark();
    // Peak memory after each phase, to tell what grows it.
    let mb = |kib: Option<u64>| kib.map(|k| k as f64 / 1024.0);
    let rss_after_start = mb(server.peak_rss_kib());
    let (auth, auth_note) = api::auth(client, &base).await;
    notes.extend(auth_note);

    // Statistics first, on the quiet server: the redirect load leaves the click writer with
    // a backlog that takes seconds to drain, and statistics timed while it writes would
    // measure the contention, not the query. It also means the SIGTERM below arrives while
    // that backlog is still queued, which is the stop worth testing for lost clicks.
    let stats = api::time_stats(client, &base, seeded.hot_link_id, &auth, STATS_REQUESTS).await?;
    let rss_after_stats = mb(server.peak_rss_kib());
    let (stats_p50_ms, stats_p99_ms, stats_clicks_seen) = match stats {
        api::Stats::Timed {
            p50_ms,
            p99_ms,
            clicks_seen,
            body,
        } => {
            let file = paths.out.join(format!("stats-{name}.json"));
            std::fs::write(&file, body)?;
            eprintln!(
                "    stats: p50 {p50_ms:.2} ms, p99 {p99_ms:.2} ms (answer in {})",
                file.display()
            );
            (Some(p50_ms), Some(p99_ms), clicks_seen)
        }
        api::Stats::Unavailable(why) => {
            eprintln!("    stats: not measured: {why}");
            notes.push(format!("stats not measured: {why}"));
            (None, None, None)
        }
    };

    // The ceiling, measured here, next to the loads it is compared with: this machine's
    // speed drifts, and the ceiling measured a few minutes apart has differed by a quarter.
    // A share of a ceiling measured before the other database's run would include the drift.
    eprintln!("    ceiling: bare hyper, fixed 302");
    let ceiling = measure_ceiling(plan, paths, client).await?;
    eprintln!(
        "    {:.0} redirects/s, p50 {:.2} ms, p99 {:.2} ms",
        ceiling.rps, ceiling.p50_ms, ceiling.p99_ms
    );

    // Redirects, one traffic shape after another, each started with the click writer's
    // queue empty. The last leaves its backlog queued for the SIGTERM below.
    let mut loads = Vec::new();
    let mut clicks_sent = 0;
    for traffic in load::Traffic::ALL {
        wait_until_written(client, &base, clicks_sent).await?;
        let written_before = clicks_written(client, &base).await;
        eprintln!(
            "    redirects, {}: {} connections, {} s + {} s warm-up",
            traffic.describe(),
            plan.connections,
            plan.duration.as_secs(),
            WARMUP.as_secs()
        );
        let (outcome, cpu) = plan.load(&server, traffic).await?;
        clicks_sent += outcome.redirects;
        let written_after = clicks_written(client, &base).await;
        eprintln!(
            "    {:.0} redirects/s, p50 {:.2} ms, p99 {:.2} ms; {} clicks sent",
            outcome.rps, outcome.p50_ms, outcome.p99_ms, outcome.redirects
        );
        loads.push(report::Load {
            traffic,
            rps: outcome.rps,
            p50_ms: outcome.p50_ms,
            p99_ms: outcome.p99_ms,
            max_ms: outcome.max_ms,
            ratio_to_ceiling: outcome.rps / ceiling.rps,
            requests_measured: outcome.measured,
            clicks_sent: outcome.redirects,
            writer_clicks_per_s: written_before.zip(written_after).map(|(before, after)| {
                (after - before) as f64 / (WARMUP + plan.duration).as_secs_f64()
            }),
            cpu,
            other_statuses: outcome.other_statuses,
            errors: outcome.errors,
        });
    }
    let rss_after_load = mb(server.peak_rss_kib());

    // The server's own counters, kept for reading the figures; and how many of the clicks it
    // accepted are still queued, not yet written, as it is told to stop.
    let metrics = server_metrics(client, &base).await;
    let clicks_queued_at_stop = metrics
        .as_deref()
        .map(|text| clicks_sent.saturating_sub(written_in(text)));
    if let Some(text) = metrics {
        std::fs::write(paths.out.join(format!("metrics-{name}.txt")), text)?;
    }

    let stopped = server.stop(STOP_TIMEOUT).await?;
    notes.extend(server::log_problems(&log, log_mark));
    if !stopped.status.success() {
        notes.push(format!(
            "the server exited with {} after SIGTERM; log: {}",
            stopped.status,
            log.display()
        ));
    }
    let clicks_stored = seed::count_clicks(database_url).await? - i64::from(seed::CLICKS);
    notes.extend(seed::check_buckets(database_url, seeded.hot_link_id).await?);
    eprintln!(
        "    stopped in {:.1} s; {clicks_stored} of {} clicks stored",
        stopped.took.as_secs_f64(),
        clicks_sent
    );

    let headline = &loads[0];
    Ok(report::Database {
        rps: headline.rps,
        p50_ms: headline.p50_ms,
        p99_ms: headline.p99_ms,
        ratio_to_ceiling: headline.ratio_to_ceiling,
        clicks_sent,
        clicks_stored,
        stats_p50_ms,
        stats_p99_ms,
        peak_rss_mb: stopped.peak_rss_kib as f64 / 1024.0,
        ceiling,
        by_traffic: loads,
        peak_rss_mb_by_phase: report::RssByPhase {
            start: rss_after_start,
            stats: rss_after_stats,
            load: rss_after_load,
        },
        clicks_queued_at_stop,
        writer_clicks_per_s_at_stop: clicks_queued_at_stop
            .map(|queued| queued as f64 / stopped.took.as_secs_f64()),
        stats_clicks_seen,
        seed_s: seeded.took.as_secs_f64(),
        shutdown_s: stopped.took.as_secs_f64(),
        notes,
    })
}

/// The server's Prometheus metrics, if it answers.
async fn server_metrics(client: &reqwest::Client, base: &str) -> Option<String> {
    let response = client.get(format!("{base}/metrics")).send().await.ok()?;
    response.text().await.ok()
}

/// Clicks the server has written so far, from its metrics (which show the counter from
/// the first batch written on).
fn written_in(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("links_clicks_written_total "))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map_or(0, |written| written as u64)
}

/// Clicks the server has written so far, if it answers.
async fn clicks_written(client: &reqwest::Client, base: &str) -> Option<u64> {
    Some(written_in(&server_metrics(client, base).await?))
}

/// Waits until the server has written `sent` clicks, so that the next load starts with an
/// empty queue.
async fn wait_until_written(client: &reqwest::Client, base: &str, sent: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while clicks_written(client, base).await.unwrap_or(0) < sent {
        ensure!(
            Instant::now() < deadline,
            "the server had not written the {sent} clicks sent after {} s",
            DRAIN_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
