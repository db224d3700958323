//! One instance of the job queue, as `jobs-queue` starts it: `capstone-bench queue-worker`.
//!
//! It is what `capstone serve` runs of the queue, without the HTTP server and the apps: the
//! platform's [`AppState`] (so the webhook delivery job, registered there, is the real one),
//! plus the benchmark's own kind of job, [`Noop`], and the queue started on [`Background`].
//! SIGTERM stops it the way it stops the server (the jobs in hand finish); SIGKILL is the
//! crash the kill scenario needs.
//!
//! A [`Noop`] job's only work is to append `<job id> <start, µs since the epoch>` to this
//! instance's start log. The parent reads the logs to learn who ran what, when, and how
//! often, independently of the queue's own bookkeeping. Each line is one `write(2)` to a
//! file opened for appending, not a buffered write: a line is in the kernel's hands as the
//! job starts, so an instance killed mid-job leaves the record of every job it began.

use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, ensure};
use clap::Args;
use platform::{
    AppState, Config,
    background::Background,
    clock::Clock,
    config::LogFormat,
    jobs::{Job, JobError},
    observability::logging,
};
use serde::{Deserialize, Serialize};

/// The benchmark's job: nothing to do but say that it started.
#[derive(Debug, Serialize, Deserialize)]
pub struct Noop;

impl Job for Noop {
    const KIND: &'static str = "bench.noop";
}

#[derive(Args)]
pub struct WorkerArgs {
    #[arg(long)]
    pub database_url: String,
    /// Where this instance appends a line per job it starts.
    #[arg(long)]
    pub starts: PathBuf,
    /// `job_lease_secs`: how soon another instance takes the jobs of one that died.
    #[arg(long)]
    pub lease_secs: u64,
    /// `job_concurrency`.
    #[arg(long)]
    pub concurrency: usize,
}

/// How long the graceful stop may take: jobs in hand are no-ops and short deliveries.
const GRACE: Duration = Duration::from_secs(30);

pub fn run(args: &WorkerArgs) -> anyhow::Result<()> {
    let config = Config {
        database_url: args.database_url.clone().into(),
        job_lease_secs: args.lease_secs,
        job_concurrency: args.concurrency,
        // The webhook receiver is on 127.0.0.1, which the SSRF guard refuses otherwise.
        allow_private_outbound: true,
        ..Config::default()
    };
    // The default multi-threaded runtime, as `capstone serve` has.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(serve(config, &args.starts))
}

async fn serve(config: Config, starts: &Path) -> anyhow::Result<()> {
    let db = platform::db::connect(&config)
        .await
        .context("connecting to the database")?;
    let background = Background::new();
    let state = AppState::new(config, db.clone(), Clock::default(), &background).await?;
    // Warnings only, as the servers of the links benchmark log: the log is for problems.
    // From here on: the start's warnings are about settings a benchmark has no use for
    // (mail, token keys), and a failed start is an error this process exits with.
    logging::init(LogFormat::Json, "warn");
    let log = StartLog::open(starts)?;
    state.jobs.register(move |_: Noop, context| {
        let recorded = log.record(context.id);
        async move { recorded.map_err(JobError::permanent) }
    });
    state.jobs.start(&background);
    platform::server::shutdown_signal().await;
    let finished = background.shutdown(GRACE).await;
    db.close().await?;
    ensure!(finished, "the queue did not stop within {GRACE:?}");
    Ok(())
}

/// This instance's start log (see the module's documentation).
#[derive(Clone)]
struct StartLog(Arc<File>);

impl StartLog {
    fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Self(Arc::new(file)))
    }

    /// Appends one line, in one write: `O_APPEND` makes concurrent lines land whole.
    fn record(&self, id: i64) -> std::io::Result<()> {
        let line = format!("{id} {}\n", chrono::Utc::now().timestamp_micros());
        (&*self.0).write_all(line.as_bytes())
    }
}
