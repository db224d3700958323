//! The results: a table for people, `target/bench/links.json` for tools.
//!
//! The table sets each figure beside its target from the issue, so a run answers "are we
//! there?" at a glance; the JSON keeps the figures (and what went wrong) for comparisons
//! between runs.

use std::{collections::BTreeMap, path::Path};

use anyhow::Context;
use serde::Serialize;

use crate::cpu::Usage;

/// The targets.
pub const MIN_SHARE_OF_CEILING: f64 = 0.70;
pub const MAX_P99_MS: f64 = 5.0;
pub const MAX_STATS_P50_MS: f64 = 20.0;
pub const MAX_RSS_MB: f64 = 150.0;

#[derive(Serialize)]
pub struct Ceiling {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Cores used during the measured window.
    pub cpu: Option<Usage>,
}

#[derive(Serialize)]
pub struct Database {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub ratio_to_ceiling: f64,
    /// `302` answers, warm-up included: every one is a click the server accepted.
    pub clicks_sent: u64,
    /// Rows in `clicks` after the graceful stop, minus the seeded ones.
    pub clicks_stored: i64,
    pub stats_p50_ms: Option<f64>,
    pub stats_p99_ms: Option<f64>,
    pub peak_rss_mb: f64,
    // Context for reading the figures above.
    /// The peak RSS as it stood after each phase (the last phase is the stop).
    pub peak_rss_mb_by_phase: RssByPhase,
    /// Accepted clicks not yet written when SIGTERM was sent (the writer's backlog, which
    /// the graceful stop must drain).
    pub clicks_queued_at_stop: Option<u64>,
    /// Clicks written per second while the load ran (warm-up included), and while the
    /// graceful stop drained the queue: past this rate a sustained load fills the queue and
    /// redirects slow down to it.
    pub writer_clicks_per_s_under_load: Option<f64>,
    pub writer_clicks_per_s_at_stop: Option<f64>,
    /// Cores used during the measured window.
    pub cpu: Option<Usage>,
    /// Answers timed in the measured window.
    pub requests_measured: u64,
    pub max_ms: f64,
    /// Answers other than `302`, by status.
    pub other_statuses: BTreeMap<u16, u64>,
    /// Failed connections and unanswered requests.
    pub errors: u64,
    /// Human plus bot clicks in the stats answer: about the seeded 1,000,000 when the stats
    /// read the seeded rollups.
    pub stats_clicks_seen: Option<i64>,
    pub seed_s: f64,
    pub shutdown_s: f64,
    pub notes: Vec<String>,
}

/// Peak resident memory (VmHWM) in MB after start (cache warmed, ready), after the stats
/// requests, and after the redirect load.
#[derive(Serialize)]
pub struct RssByPhase {
    pub start: Option<f64>,
    pub stats: Option<f64>,
    pub load: Option<f64>,
}

impl Database {
    fn lost(&self) -> i64 {
        i64::try_from(self.clicks_sent).unwrap_or(i64::MAX) - self.clicks_stored
    }
}

#[derive(Serialize)]
pub struct Run {
    pub duration_s: u64,
    pub warmup_s: u64,
    pub connections: usize,
    pub cpus: usize,
    pub links: u32,
    pub clicks: u32,
    pub took_s: f64,
    pub notes: Vec<String>,
}

#[derive(Serialize)]
pub struct Report {
    /// `null` when the database could not be measured (see `run.notes`).
    pub sqlite: Option<Database>,
    pub postgres: Option<Database>,
    pub ceiling: Ceiling,
    pub run: Run,
}

impl Report {
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
    }

    pub fn print(&self) {
        let run = &self.run;
        println!();
        println!("Capstone links benchmark");
        println!(
            "  machine  {} CPU core(s), shared by the server under test and the load generator",
            run.cpus
        );
        println!(
            "  load     {} keep-alive connections, closed loop, {} s measured after {} s warm-up,",
            run.connections, run.duration_s, run.warmup_s
        );
        println!(
            "           GET /{{slug}} for random slugs of the {} seeded links",
            thousands(run.links.into())
        );
        println!(
            "  data     {} clicks on the hot link over the last 90 days",
            thousands(run.clicks.into())
        );
        println!();

        let dbs = [("SQLite", &self.sqlite), ("PostgreSQL", &self.postgres)];
        let row =
            |label: &str, ceiling: String, cell: &dyn Fn(&Database) -> String, target: &str| {
                let mut line = format!("  {label:<24}{ceiling:<14}");
                for (_, db) in &dbs {
                    let text = db.as_ref().map_or_else(|| "—".to_owned(), cell);
                    line.push_str(&format!("{text:<18}"));
                }
                println!("{}", format!("{line}{target}").trim_end());
            };
        let mut header = format!("  {:<24}{:<14}", "", "ceiling");
        for (name, _) in &dbs {
            header.push_str(&format!("{name:<18}"));
        }
        println!("{header}target");

        let c = &self.ceiling;
        row(
            "redirects/s",
            thousands(c.rps.round() as i64),
            &|d| thousands(d.rps.round() as i64),
            "",
        );
        row(
            "share of the ceiling",
            "100%".into(),
            &|d| {
                let share = d.ratio_to_ceiling;
                format!(
                    "{:.0}% {}",
                    share * 100.0,
                    mark(share >= MIN_SHARE_OF_CEILING)
                )
            },
            &format!(">= {:.0}%", MIN_SHARE_OF_CEILING * 100.0),
        );
        row("latency p50", ms(c.p50_ms), &|d| ms(d.p50_ms), "");
        row(
            "latency p99",
            ms(c.p99_ms),
            &|d| format!("{} {}", ms(d.p99_ms), mark(d.p99_ms < MAX_P99_MS)),
            &format!("< {MAX_P99_MS} ms at {} connections", run.connections),
        );
        row("latency max", String::new(), &|d| ms(d.max_ms), "");
        row(
            "clicks sent (302s)",
            String::new(),
            &|d| thousands(d.clicks_sent as i64),
            "",
        );
        row(
            "  queued at SIGTERM",
            String::new(),
            &|d| {
                d.clicks_queued_at_stop
                    .map_or_else(|| "n/a".into(), |n| thousands(n as i64))
            },
            "",
        );
        row(
            "click writer, clicks/s",
            String::new(),
            &|d| match (
                d.writer_clicks_per_s_under_load,
                d.writer_clicks_per_s_at_stop,
            ) {
                (Some(load), Some(stop)) => {
                    format!("{} / {}", thousands(load as i64), thousands(stop as i64))
                }
                _ => "n/a".into(),
            },
            "under load / draining at stop",
        );
        row(
            "clicks stored",
            String::new(),
            &|d| format!("{} {}", thousands(d.clicks_stored), mark(d.lost() == 0)),
            "= sent: none lost across SIGTERM",
        );
        row(
            "stats p50 (1M clicks)",
            String::new(),
            &|d| match d.stats_p50_ms {
                Some(p50) => format!("{} {}", ms(p50), mark(p50 < MAX_STATS_P50_MS)),
                None => "n/a ✗".into(),
            },
            &format!("< {MAX_STATS_P50_MS} ms"),
        );
        row(
            "stats p99",
            String::new(),
            &|d| d.stats_p99_ms.map_or_else(|| "n/a".into(), ms),
            "",
        );
        row(
            "clicks in the stats",
            String::new(),
            &|d| d.stats_clicks_seen.map_or_else(|| "n/a".into(), thousands),
            "the seeded 1,000,000 (+ the hot link's new ones)",
        );
        row(
            "peak RSS",
            String::new(),
            &|d| {
                format!(
                    "{:.0} MB {}",
                    d.peak_rss_mb,
                    mark(d.peak_rss_mb < MAX_RSS_MB)
                )
            },
            &format!("< {MAX_RSS_MB} MB"),
        );
        let cores = |usage: Option<Usage>, pick: fn(&Usage) -> f64| {
            usage.map_or_else(|| "n/a".into(), |u| format!("{:.2}", pick(&u)))
        };
        row(
            "  after start/stats/load",
            String::new(),
            &|d| {
                let p = &d.peak_rss_mb_by_phase;
                let mb = |v: Option<f64>| v.map_or_else(|| "?".into(), |v| format!("{v:.0}"));
                format!("{}/{}/{}", mb(p.start), mb(p.stats), mb(p.load))
            },
            "MB, peak so far",
        );
        row(
            "CPU cores: server",
            cores(c.cpu, |u| u.server),
            &|d| cores(d.cpu, |u| u.server),
            "",
        );
        row(
            "  PostgreSQL",
            cores(c.cpu, |u| u.postgres),
            &|d| cores(d.cpu, |u| u.postgres),
            "",
        );
        row(
            "  load generator",
            cores(c.cpu, |u| u.generator),
            &|d| cores(d.cpu, |u| u.generator),
            "",
        );
        row(
            "  other processes",
            cores(c.cpu, |u| u.others),
            &|d| cores(d.cpu, |u| u.others),
            "≈ 0 for a clean run",
        );
        row(
            "graceful stop took",
            String::new(),
            &|d| format!("{:.1} s", d.shutdown_s),
            "",
        );
        row(
            "seeding took",
            String::new(),
            &|d| format!("{:.1} s", d.seed_s),
            "",
        );

        let mut notes = run.notes.clone();
        let disturbed = [("ceiling", c.cpu)].into_iter().chain(
            dbs.iter()
                .map(|(name, db)| (*name, db.as_ref().and_then(|d| d.cpu))),
        );
        for (name, usage) in disturbed {
            if let Some(usage) = usage
                && usage.others > 0.2
            {
                notes.push(format!(
                    "{name}: other processes used {:.2} cores during the measurement; repeat \
                     the run on a quiet machine",
                    usage.others
                ));
            }
        }
        for (name, db) in &dbs {
            let Some(db) = db else { continue };
            if db.lost() != 0 {
                notes.push(format!(
                    "{name}: {} click(s) answered with 302 are not in the database",
                    db.lost()
                ));
            }
            if db.errors > 0 || !db.other_statuses.is_empty() {
                notes.push(format!(
                    "{name}: {} connection/request error(s); other answers by status: {:?}",
                    db.errors, db.other_statuses
                ));
            }
            notes.extend(db.notes.iter().map(|n| format!("{name}: {n}")));
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

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// 1234567 -> "1,234,567".
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
    }
}
