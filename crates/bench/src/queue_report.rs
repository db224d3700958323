//! The job queue's results: a table for people, `target/bench/jobs-queue.json` for tools,
//! each figure beside the target.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::{
    cpu::Usage,
    receiver::Received,
    report::{mark, ms, thousands},
};

/// The targets.
pub const MIN_JOBS_PER_S: f64 = 2_000.0;
pub const MIN_SHARE_OF_CEILING: f64 = 0.50;
pub const MAX_LAG_P99_MS: f64 = 2_000.0;

#[derive(Serialize)]
pub struct Report {
    /// PostgreSQL ×1, PostgreSQL ×3, SQLite ×1, as far as they could be measured.
    pub configurations: Vec<Configuration>,
    /// `null` if the kill scenario could not run (see `run.notes`).
    pub kill: Option<Kill>,
    pub run: Run,
}

#[derive(Serialize)]
pub struct Run {
    pub jobs: u64,
    pub lag_jobs: u64,
    pub offered_per_s: f64,
    pub deliveries: u64,
    /// `job_concurrency` of every instance.
    pub concurrency: usize,
    pub lease_s: u64,
    pub cpus: usize,
    pub took_s: f64,
    pub notes: Vec<String>,
}

/// One database with some instances.
#[derive(Serialize)]
pub struct Configuration {
    pub name: String,
    pub instances: usize,
    pub throughput: Throughput,
    pub lag: Lag,
    pub webhooks: Webhooks,
    /// The slowest instance's stop after SIGTERM, with the queue idle.
    pub graceful_stop_s: f64,
    pub notes: Vec<String>,
}

/// Draining a backlog of no-op jobs.
#[derive(Serialize)]
pub struct Throughput {
    /// Through `Jobs::enqueue_with`, 1,000 per transaction, by the benchmark alone.
    pub enqueue_per_s: f64,
    pub jobs: u64,
    /// From the first start to the last finish.
    pub took_s: f64,
    pub jobs_per_s: f64,
    /// Jobs started more than once.
    pub run_twice: u64,
    /// Jobs never started, or not done at the end.
    pub lost: u64,
    /// Cores used while draining: instances/PostgreSQL/the benchmark.
    pub cpu: Option<Usage>,
}

/// Jobs due at the offered rate: each one's start less its due time.
#[derive(Serialize)]
pub struct Lag {
    pub jobs: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Serialize)]
pub struct Webhooks {
    /// Events emitted per second (one delivery job each), 1,000 per transaction.
    pub emit_per_s: f64,
    /// Over the receiver's window, first delivery to last.
    pub deliveries_per_s: f64,
    /// The bare loop's rate, over the receiver's window too.
    pub ceiling_per_s: f64,
    pub share_of_ceiling: f64,
    /// The bare loop's concurrent requests: `job_concurrency` × instances.
    pub ceiling_concurrency: usize,
    pub deliveries: Received,
    pub ceiling: Received,
    /// Delivery jobs not done at the end (dead, or retrying).
    pub not_done: u64,
    /// Cores used while delivering: instances/PostgreSQL/the benchmark (the receiver).
    pub cpu: Option<Usage>,
}

/// Three instances on PostgreSQL, one of them SIGKILLed a third of the way through.
#[derive(Serialize)]
pub struct Kill {
    pub jobs: u64,
    pub done_at_kill: u64,
    /// Jobs the killed instance had claimed and not settled.
    pub in_hand_at_kill: u64,
    pub lost: u64,
    pub run_twice: u64,
    /// Of those run twice, how many the killed instance held: the allowed repeats.
    pub run_twice_in_hand: u64,
    /// Run twice though the killed instance did not hold them: must be 0.
    pub run_twice_elsewhere: u64,
    /// From the kill until no job was queued or running.
    pub settled_s_after_kill: f64,
    pub notes: Vec<String>,
}

impl Report {
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
    }

    pub fn print(&self) {
        let run = &self.run;
        println!();
        println!("Capstone job queue benchmark");
        println!(
            "  machine  {} CPU core(s), shared by the instances, PostgreSQL, the benchmark and \
             the receiver",
            run.cpus
        );
        println!(
            "  queue    job_concurrency {} per instance, lease {} s; instances are processes",
            run.concurrency, run.lease_s
        );
        println!(
            "  work     {} no-op jobs drained, {} more due at {}/s for the lag, {} webhook \
             deliveries",
            thousands(run.jobs as i64),
            thousands(run.lag_jobs as i64),
            thousands(run.offered_per_s as i64),
            thousands(run.deliveries as i64)
        );
        println!();

        let configs = &self.configurations;
        let row = |label: &str, cell: &dyn Fn(&Configuration) -> String, target: &str| {
            let mut line = format!("  {label:<28}");
            for c in configs {
                line.push_str(&format!("{:<18}", cell(c)));
            }
            println!("{}", format!("{line}{target}").trim_end());
        };
        let mut header = format!("  {:<28}", "");
        for c in configs {
            header.push_str(&format!("{:<18}", c.name));
        }
        println!("{header}target");

        let cores = |usage: Option<Usage>| {
            usage.map_or_else(
                || "n/a".into(),
                |u| format!("{:.1}/{:.1}/{:.1}", u.server, u.postgres, u.generator),
            )
        };
        let count = |n: u64| thousands(n as i64);
        let zero = |n: u64| format!("{} {}", count(n), mark(n == 0));
        println!("  jobs");
        row(
            "  enqueued/s",
            &|c| count(c.throughput.enqueue_per_s as u64),
            "enqueue_with, 1,000 a transaction",
        );
        row(
            "  claimed and done/s",
            &|c| {
                let rate = c.throughput.jobs_per_s;
                // The target is one instance's; three are shown against it too.
                format!("{} {}", count(rate as u64), mark(rate >= MIN_JOBS_PER_S))
            },
            &format!(">= {} on one instance", thousands(MIN_JOBS_PER_S as i64)),
        );
        row(
            "  CPU cores",
            &|c| cores(c.throughput.cpu),
            "instances/PostgreSQL/benchmark",
        );
        row("  run twice", &|c| zero(c.throughput.run_twice), "0");
        row("  lost", &|c| zero(c.throughput.lost), "0");
        println!(
            "  lag, start less due time, {}/s offered",
            thousands(run.offered_per_s as i64)
        );
        row("  p50", &|c| ms(c.lag.p50_ms), "");
        row(
            "  p99",
            &|c| {
                format!(
                    "{} {}",
                    ms(c.lag.p99_ms),
                    mark(c.lag.p99_ms < MAX_LAG_P99_MS)
                )
            },
            &format!("< {} ms", thousands(MAX_LAG_P99_MS as i64)),
        );
        row("  max", &|c| ms(c.lag.max_ms), "");
        println!("  webhooks");
        row(
            "  emitted/s",
            &|c| count(c.webhooks.emit_per_s as u64),
            "Webhooks::emit, 1,000 a transaction",
        );
        row(
            "  delivered/s",
            &|c| count(c.webhooks.deliveries_per_s as u64),
            "",
        );
        row(
            "  bare loop/s (ceiling)",
            &|c| count(c.webhooks.ceiling_per_s as u64),
            "same client and requests",
        );
        row(
            "  share of the ceiling",
            &|c| {
                let share = c.webhooks.share_of_ceiling;
                format!(
                    "{:.0}% {}",
                    share * 100.0,
                    mark(share >= MIN_SHARE_OF_CEILING)
                )
            },
            &format!(">= {:.0}%", MIN_SHARE_OF_CEILING * 100.0),
        );
        row(
            "  CPU cores",
            &|c| cores(c.webhooks.cpu),
            "instances/PostgreSQL/benchmark",
        );
        row(
            "  missing events",
            &|c| zero(c.webhooks.deliveries.missing),
            "0 (no id received)",
        );
        row(
            "  duplicated events",
            &|c| zero(c.webhooks.deliveries.duplicated),
            "0 (under two ids: past dedupe)",
        );
        row(
            "  raw repeats",
            &|c| count(c.webhooks.deliveries.raw_repeats),
            "same id again: dropped by dedupe",
        );
        row(
            "  not delivered",
            &|c| zero(c.webhooks.not_done),
            "delivery jobs not done",
        );
        row(
            "graceful stop",
            &|c| format!("{:.1} s", c.graceful_stop_s),
            "SIGTERM, queue idle",
        );

        if let Some(kill) = &self.kill {
            println!();
            println!(
                "  SIGKILL of one of three instances on PostgreSQL, {} jobs",
                thousands(kill.jobs as i64)
            );
            let line = |label: &str, value: String, target: &str| {
                println!("{}", format!("  {label:<28}{value:<18}{target}").trim_end());
            };
            line("  done at the kill", count(kill.done_at_kill), "");
            line(
                "  in the killed one's hands",
                count(kill.in_hand_at_kill),
                "claimed, not settled",
            );
            line("  lost", zero(kill.lost), "0");
            line("  run twice", count(kill.run_twice), "");
            line(
                "    of those it held",
                count(kill.run_twice_in_hand),
                "allowed",
            );
            line("    of any other", zero(kill.run_twice_elsewhere), "0");
            line(
                "  settled after the kill",
                format!("{:.1} s", kill.settled_s_after_kill),
                &format!("its lease: {} s", run.lease_s),
            );
        }

        let mut notes = run.notes.clone();
        for c in configs {
            notes.extend(c.notes.iter().map(|n| format!("{}: {n}", c.name)));
        }
        if let Some(kill) = &self.kill {
            notes.extend(kill.notes.iter().map(|n| format!("kill: {n}")));
        }
        if !notes.is_empty() {
            println!();
            for note in notes {
                println!("  note: {note}");
            }
        }
        println!();
        println!("  total run time {:.0} s", run.took_s);
    }
}
