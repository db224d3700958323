//! Who used the CPU during a measurement, from /proc.
//!
//! The server and the load generator share this machine's few cores, and so does anything
//! else running on it (a build in another terminal halves the figures). The CPU time each
//! used over the measured window, in cores, says how to read the rates: a server near the
//! cores left to it by the generator (and by PostgreSQL, whose processes are counted apart)
//! is CPU-bound; "others" well above zero means the run was disturbed and should be
//! repeated.

use std::time::Instant;

use serde::Serialize;

/// Cumulative CPU time, in clock ticks, at one moment.
pub struct Snapshot {
    at: Instant,
    machine_busy: u64,
    generator: u64,
    server: u64,
    postgres: u64,
}

/// Average cores used over a window.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    pub server: f64,
    /// Every `postgres` process on the machine (the server's database, when it is
    /// PostgreSQL; about zero otherwise).
    pub postgres: f64,
    pub generator: f64,
    pub others: f64,
}

/// CPU time used so far by the whole machine, this process (the load generator) and the
/// server, counted as the processes `server_pids` together (the job queue's instances);
/// `None` where /proc is not readable.
pub fn snapshot(server_pids: &[u32]) -> Option<Snapshot> {
    Some(Snapshot {
        at: Instant::now(),
        machine_busy: machine_busy()?,
        generator: process_ticks("self")?,
        server: server_pids
            .iter()
            .map(|pid| process_ticks(&pid.to_string()))
            .sum::<Option<u64>>()?,
        postgres: postgres_ticks(),
    })
}

pub fn usage(before: &Snapshot, after: &Snapshot) -> Usage {
    // SAFETY: sysconf only reads a configuration value.
    let hz = match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        n if n > 0 => n as f64,
        _ => 100.0,
    };
    let seconds = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
    let cores = |a: u64, b: u64| b.saturating_sub(a) as f64 / hz / seconds;
    let server = cores(before.server, after.server);
    let generator = cores(before.generator, after.generator);
    let postgres = cores(before.postgres, after.postgres);
    let machine = cores(before.machine_busy, after.machine_busy);
    Usage {
        server,
        postgres,
        generator,
        others: (machine - server - postgres - generator).max(0.0),
    }
}

/// Busy ticks of all CPUs: the first line of /proc/stat less idle and iowait.
fn machine_busy() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy = fields.iter().take(8).sum::<u64>() - fields.get(3)? - fields.get(4)?;
    Some(busy)
}

/// CPU ticks of every process named `postgres` (the postmaster and one per connection; a
/// backend that exits during the window takes its ticks with it, which is rare here).
fn postgres_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|e| process_ticks(&e.file_name().to_string_lossy()))
        .sum()
}

/// utime + stime of a process (all its threads), from /proc/<pid>/stat.
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after it are plain.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line; `after_name` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}
