//! The results: a table for people, `target/bench/links.json` for tools.
//!
//! The table sets each figure beside its target from the issue, so a run answers "are we
//! there?" at a glance; the JSON keeps the figures (and what went wrong) for comparisons
//! between runs.

use std::{collections::BTreeMap, path::Path};

use anyhow::Context;
use serde::Serialize;

use crate::{cpu::Usage, load::Traffic};

/// The targets.
pub const MIN_SHARE_OF_CEILING: f64 = 0.70;
pub const MAX_P99_MS: f64 = 5.0;
pub const MAX_STATS_P50_MS: f64 = 20.0;
pub const MAX_RSS_MB: f64 = 150.0;

/// One measurement of the bare-hyper server.
#[derive(Serialize)]
pub struct Ceiling {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Cores used during the measured window.
    pub cpu: Option<Usage>,
}

/// The run's ceiling: the mean of its measurements, one just before each database's loads
/// (whose shares are of that one, see [`Database::ceiling`]).
#[derive(Serialize)]
pub struct RunCeiling {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Each measurement, in the order made.
    pub measured: Vec<f64>,
}

impl RunCeiling {
    pub fn of<'a>(databases: impl Iterator<Item = &'a Database>) -> Self {
        let measured: Vec<&Ceiling> = databases.map(|d| &d.ceiling).collect();
        let mean = |figure: fn(&Ceiling) -> f64| {
            measured.iter().map(|c| figure(c)).sum::<f64>() / measured.len().max(1) as f64
        };
        Self {
            rps: mean(|c| c.rps),
            p50_ms: mean(|c| c.p50_ms),
            p99_ms: mean(|c| c.p99_ms),
            measured: measured.iter().map(|c| c.rps).collect(),
        }
    }
}

/// One database's figures, named as the issue names them. The redirect rate, latencies and
/// share of the ceiling are those of the first traffic shape measured (one link, as the
/// issue measured the other shorteners); `by_traffic` has each shape's.
#[derive(Serialize)]
pub struct Database {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub ratio_to_ceiling: f64,
    /// `302` answers of every load, warm-ups included: every one is a click the server
    /// accepted.
    pub clicks_sent: u64,
    /// Rows in `clicks` after the graceful stop, minus the seeded ones.
    pub clicks_stored: i64,
    pub stats_p50_ms: Option<f64>,
    pub stats_p99_ms: Option<f64>,
    pub peak_rss_mb: f64,
    // Context for reading the figures above.
    /// The ceiling measured just before this database's loads: their shares are of it.
    pub ceiling: Ceiling,
    /// The redirect figures under each traffic shape, in the order measured.
    pub by_traffic: Vec<Load>,
    /// The peak RSS as it stood after each phase (the last phase is the stop).
    pub peak_rss_mb_by_phase: RssByPhase,
    /// Accepted clicks not yet written when SIGTERM was sent (the writer's backlog, which
    /// the graceful stop must drain).
    pub clicks_queued_at_stop: Option<u64>,
    /// Clicks written per second while the graceful stop drained the queue.
    pub writer_clicks_per_s_at_stop: Option<f64>,
    /// Human plus bot clicks in the stats answer: about the seeded 1,000,000 when the stats
    /// read the seeded rollups.
    pub stats_clicks_seen: Option<i64>,
    pub seed_s: f64,
    pub shutdown_s: f64,
    pub notes: Vec<String>,
}

/// The redirects under one traffic shape.
#[derive(Serialize)]
pub struct Load {
    pub traffic: Traffic,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub ratio_to_ceiling: f64,
    /// Answers timed in the measured window.
    pub requests_measured: u64,
    /// `302` answers, warm-up included.
    pub clicks_sent: u64,
    /// Clicks written per second while the load ran (warm-up included): past this rate the
    /// queue fills, and redirects slow down to it.
    pub writer_clicks_per_s: Option<f64>,
    /// Cores used during the measured window.
    pub cpu: Option<Usage>,
    /// Answers other than `302`, by status.
    pub other_statuses: BTreeMap<u16, u64>,
    /// Failed connections and unanswered requests.
    pub errors: u64,
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
    fn load(&self, traffic: Traffic) -> Option<&Load> {
        self.by_traffic.iter().find(|l| l.traffic == traffic)
    }

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
    /// `rps` 0 when no database was measured.
    pub ceiling: RunCeiling,
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
            "           GET /{{slug}} for slugs of the {} seeded links, in three ways in turn",
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
        let cores = |usage: Option<Usage>| {
            usage.map_or_else(
                || "n/a".into(),
                |u| format!("{:.1}/{:.1}/{:.1}", u.server, u.postgres, u.generator),
            )
        };
        row(
            "ceiling, redirects/s",
            thousands(c.rps.round() as i64),
            &|d| thousands(d.ceiling.rps.round() as i64),
            "measured just before each database's loads",
        );
        row(
            "  CPU cores",
            String::new(),
            &|d| cores(d.ceiling.cpu),
            "ceiling server/PostgreSQL/load generator",
        );
        for traffic in Traffic::ALL {
            println!("  {}", traffic.describe());
            row(
                "  redirects/s",
                thousands(c.rps.round() as i64),
                &of_load(traffic, |l| thousands(l.rps.round() as i64)),
                "",
            );
            row(
                "  share of the ceiling",
                "100%".into(),
                &of_load(traffic, |l| {
                    let share = l.ratio_to_ceiling;
                    format!(
                        "{:.0}% {}",
                        share * 100.0,
                        mark(share >= MIN_SHARE_OF_CEILING)
                    )
                }),
                &format!(">= {:.0}%", MIN_SHARE_OF_CEILING * 100.0),
            );
            row(
                "  latency p50",
                ms(c.p50_ms),
                &of_load(traffic, |l| ms(l.p50_ms)),
                "",
            );
            row(
                "  latency p99",
                ms(c.p99_ms),
                &of_load(traffic, |l| {
                    format!("{} {}", ms(l.p99_ms), mark(l.p99_ms < MAX_P99_MS))
                }),
                &format!("< {MAX_P99_MS} ms at {} connections", run.connections),
            );
            row(
                "  latency max",
                String::new(),
                &of_load(traffic, |l| ms(l.max_ms)),
                "",
            );
            row(
                "  clicks written/s",
                String::new(),
                &of_load(traffic, |l| {
                    l.writer_clicks_per_s
                        .map_or_else(|| "n/a".into(), |n| thousands(n as i64))
                }),
                "by the click writer, under this load",
            );
            row(
                "  CPU cores",
                String::new(),
                &of_load(traffic, |l| cores(l.cpu)),
                "server/PostgreSQL/load generator",
            );
        }
        row(
            "clicks sent (302s)",
            String::new(),
            &|d| thousands(d.clicks_sent as i64),
            "all three loads",
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
            "  written/s at the stop",
            String::new(),
            &|d| {
                d.writer_clicks_per_s_at_stop
                    .map_or_else(|| "n/a".into(), |n| thousands(n as i64))
            },
            "draining the queue",
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
        let disturbed = dbs
            .iter()
            .filter_map(|(name, db)| Some((*name, db.as_ref()?)))
            .flat_map(|(name, db)| {
                let ceiling = (format!("{name}, its ceiling"), db.ceiling.cpu);
                let loads = db
                    .by_traffic
                    .iter()
                    .map(move |l| (format!("{name}, {}", l.traffic.describe()), l.cpu));
                std::iter::once(ceiling).chain(loads)
            });
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
            for l in &db.by_traffic {
                if l.errors > 0 || !l.other_statuses.is_empty() {
                    notes.push(format!(
                        "{name}, {}: {} connection/request error(s); other answers by \
                         status: {:?}",
                        l.traffic.describe(),
                        l.errors,
                        l.other_statuses
                    ));
                }
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

/// A cell showing `show` of a database's figures under `traffic`.
fn of_load(traffic: Traffic, show: impl Fn(&Load) -> String) -> impl Fn(&Database) -> String {
    move |d| d.load(traffic).map_or_else(|| "—".into(), &show)
}

pub fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

pub fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// 1234567 -> "1,234,567".
pub fn thousands(n: i64) -> String {
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
