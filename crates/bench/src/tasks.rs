//! `capstone-bench tasks`: the tasks app measured, in one run — reminders delivered as
//! webhooks ([`crate::tasks_reminders`]) by one instance on SQLite and by three on
//! PostgreSQL, with and without a SIGKILL; then `GET /api/v1/tasks` over a million tasks
//! next to its own SQL, and CalDAV sync of a 10,000-task calendar
//! ([`crate::tasks_lists`]), on each database. Each figure is printed beside the issue's
//! target and written to `target/bench/tasks.json`.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::{
    receiver::Receiver,
    report::{mark, ms, thousands},
    scratch::{Backend, on_scratch_database},
    server::{self, Paths},
    tasks_lists::{self, Plan},
    tasks_reminders::{self as reminders, Setup, Shape},
    tasks_seed::Sizes,
};

/// The targets.
const MAX_LAG_P99_MS: f64 = 5_000.0;
const MAX_ALL_IN_S: f64 = 60.0;
const MAX_RSS_MIB: f64 = 200.0;

#[derive(Args)]
pub struct TasksArgs {
    /// Reminders due within the minute, per configuration.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1_000..=1_000_000))]
    reminders: u64,
    /// Only this shape of due times (by default both: the burst first).
    #[arg(long, value_enum)]
    shape: Option<Shape>,
    /// Tasks of the users' lists (100 a user).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(100..=10_000_000))]
    tasks: u32,
    /// Skip the reminders.
    #[arg(long)]
    skip_reminders: bool,
    /// Skip the lists and CalDAV.
    #[arg(long)]
    skip_lists: bool,
    /// Measure SQLite only.
    #[arg(long, conflicts_with = "skip_sqlite")]
    skip_postgres: bool,
    /// Measure PostgreSQL only.
    #[arg(long)]
    skip_sqlite: bool,
}

#[derive(Serialize)]
struct Report {
    reminders: Vec<reminders::Figures>,
    lists: Vec<tasks_lists::Figures>,
    run: Run,
}

#[derive(Serialize)]
struct Run {
    reminders: u64,
    lease_s: u64,
    cpus: usize,
    took_s: f64,
    notes: Vec<String>,
}

pub fn tasks(args: &TasksArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let paths = Paths::discover()?;
    eprintln!("==> building the release server");
    server::build_release(&paths)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let report = runtime.block_on(run(args, &paths, started))?;
    report.print();
    let json = paths.out.join("tasks.json");
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    println!("  written to {}", json.display());
    Ok(())
}

async fn run(args: &TasksArgs, paths: &Paths, started: Instant) -> anyhow::Result<Report> {
    let receiver = Receiver::start().await?;
    let shapes = match args.shape {
        Some(shape) => vec![shape],
        None => vec![Shape::Burst, Shape::Spread],
    };
    let mut setups = Vec::new();
    for shape in shapes.into_iter().filter(|_| !args.skip_reminders) {
        let mut add = |backend, instances, kill| {
            setups.push(Setup {
                backend,
                instances,
                shape,
                kill,
                reminders: args.reminders,
            });
        };
        if !args.skip_sqlite {
            add(Backend::Sqlite, 1, false);
        }
        if !args.skip_postgres {
            add(Backend::Postgres, 3, false);
            add(Backend::Postgres, 3, true);
        }
    }
    let mut notes = Vec::new();
    let mut figures = Vec::new();
    for setup in &setups {
        eprintln!("==> reminders: {}", setup.name());
        let measured = on_scratch_database(setup.backend, async |url| {
            reminders::measure(paths, setup, url, &receiver).await
        })
        .await;
        match measured {
            Ok(f) => {
                eprintln!(
                    "    lag p50 {} p99 {} max {}; all in {:.1} s; {:.0}/s",
                    ms(f.lag.p50_ms),
                    ms(f.lag.p99_ms),
                    ms(f.lag.max_ms),
                    f.all_in_s,
                    f.deliveries_per_s
                );
                figures.push(f);
            }
            Err(err) => notes.push(format!("{} was not measured: {err:#}", setup.name())),
        }
    }
    let mut lists = Vec::new();
    let backends = [
        (Backend::Sqlite, args.skip_sqlite),
        (Backend::Postgres, args.skip_postgres),
    ];
    for (backend, _) in backends
        .into_iter()
        .filter(|(_, skip)| !skip && !args.skip_lists)
    {
        eprintln!("==> lists and CalDAV: {}", backend.name());
        let defaults = Plan::default();
        let plan = Plan {
            sizes: Sizes {
                users: (args.tasks / defaults.sizes.tasks_per_user).max(1),
                ..defaults.sizes
            },
            ..defaults
        };
        match on_scratch_database(backend, async |url| {
            tasks_lists::measure_with(paths, backend, url, plan).await
        })
        .await
        {
            Ok(figures) => lists.push(figures),
            Err(err) => notes.push(format!(
                "lists on {} were not measured: {err:#}",
                backend.name()
            )),
        }
    }
    Ok(Report {
        reminders: figures,
        lists,
        run: Run {
            reminders: args.reminders,
            lease_s: reminders::LEASE.as_secs(),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            took_s: started.elapsed().as_secs_f64(),
            notes,
        },
    })
}

impl Report {
    fn print(&self) {
        let run = &self.run;
        println!();
        println!("capstone-bench tasks");
        println!(
            "  machine  {} CPU core(s), shared by the instances, the database, the benchmark \
             and the receiver",
            run.cpus
        );
        println!(
            "  reminders  {} due within one minute, one webhook each; instances are \
             `capstone serve` processes, job_lease_secs {}",
            thousands(run.reminders as i64),
            run.lease_s
        );
        println!();
        let all = &self.reminders;
        let row = |label: &str, cell: &dyn Fn(&reminders::Figures) -> String, target: &str| {
            let mut line = format!("  {label:<26}");
            for f in all {
                line.push_str(&format!("{:<24}", cell(f)));
            }
            println!("{}", format!("{line}{target}").trim_end());
        };
        let mut header = format!("  {:<26}", "reminders");
        for f in all {
            header.push_str(&format!("{:<24}", f.name));
        }
        println!("{header}target");
        let count = |n: f64| thousands(n as i64);
        let zero = |n: u64| format!("{} {}", thousands(n as i64), mark(n == 0));
        row(
            "  armed/s",
            &|f| count(f.armed_per_s),
            "the app's arm, 1,000 a transaction",
        );
        row(
            "  lag p50",
            &|f| ms(f.lag.p50_ms),
            "arrival at the receiver less due time",
        );
        row(
            "  lag p99",
            &|f| {
                format!(
                    "{} {}",
                    ms(f.lag.p99_ms),
                    mark(f.lag.p99_ms < MAX_LAG_P99_MS)
                )
            },
            "< 5,000 ms",
        );
        row(
            "  lag max",
            &|f| {
                let ok = f.lag.max_ms < MAX_ALL_IN_S * 1000.0 && f.missed == 0;
                format!("{} {}", ms(f.lag.max_ms), mark(ok))
            },
            "every reminder within 60 s",
        );
        row(
            "  fired late p50/p99",
            &|f| format!("{:.0}/{:.0} ms", f.fired_late.p50_ms, f.fired_late.p99_ms),
            "reminder_deliveries.late_ms",
        );
        row(
            "  all in",
            &|f| format!("{:.1} s", f.all_in_s),
            "first due time to last arrival",
        );
        row(
            "  delivered/s",
            &|f| count(f.deliveries_per_s),
            "distinct reminders, first to last",
        );
        row(
            "  bare loop/s (ceiling)",
            &|f| count(f.ceiling_per_s),
            "same client and requests, 16 per instance",
        );
        row("  missed", &|f| zero(f.missed), "0");
        row(
            "  duplicated",
            &|f| zero(f.duplicated),
            "0 (under two webhook-ids)",
        );
        row(
            "  raw repeats",
            &|f| thousands(f.raw_repeats as i64),
            "same id again: dropped",
        );
        row(
            "  peak RSS",
            &|f| {
                format!(
                    "{:.0} MiB {}",
                    f.peak_rss_mib,
                    mark(f.peak_rss_mib < MAX_RSS_MIB)
                )
            },
            "< 200 MiB, largest instance",
        );
        for f in all {
            for note in &f.notes {
                println!("  note ({}): {note}", f.name);
            }
        }
        for figures in &self.lists {
            figures.print();
        }
        println!();
        for note in &run.notes {
            println!("  note: {note}");
        }
        println!();
        println!("  total run time {:.0} s", run.took_s);
    }
}
