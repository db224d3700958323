//! The servers under test, as child processes: building, starting, waiting until ready,
//! watching memory, and stopping them the way an operator would (SIGTERM).
//!
//! Child processes rather than tasks in this process because what is measured must not share
//! a runtime, an allocator or a scheduler with the load generator, and because the graceful
//! stop (and whether it loses clicks) is a property of the real binary.

use std::{
    fs::File,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};

/// Where things are: the workspace, its target directory, the binaries, our output.
pub struct Paths {
    pub root: PathBuf,
    pub capstone: PathBuf,
    /// This very binary, which is also the ceiling server.
    pub bench: PathBuf,
    /// `target/bench`: the JSON report and the servers' logs.
    pub out: PathBuf,
}

impl Paths {
    pub fn discover() -> anyhow::Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .context("finding the workspace root")?;
        // The same target directory cargo uses, so `cargo build` below reuses its build.
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        let out = target.join("bench");
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        Ok(Self {
            capstone: target.join("release").join("capstone"),
            bench: std::env::current_exe().context("finding this binary")?,
            root,
            out,
        })
    }
}

/// `cargo build --release -p capstone -p capstone-bench`: a no-op taking a second when the
/// build is current. This binary is named too, so that the server is built with the same
/// features of every dependency as `cargo run -p capstone-bench` built them (`-p capstone`
/// alone resolves some differently, and then each of the two builds rebuilds the platform).
///
/// Without the variables `cargo run` sets for this binary (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_NAME`, …): build scripts such as ring's ask to run again when one of them
/// changes, and cargo reads them from its own environment, so the build below and the next
/// `cargo run` would each find them changed and rebuild ring and all that uses it (minutes
/// on two cores, in every run).
pub fn build_release(paths: &Paths) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        let set_by_cargo_run = name.to_str().is_some_and(|name| {
            [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_BIN_",
                "CARGO_CRATE_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
                || [
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "OUT_DIR",
                ]
                .contains(&name)
        });
        if set_by_cargo_run {
            command.env_remove(name);
        }
    }
    let status = command
        .args([
            "build",
            "--release",
            "-p",
            "capstone",
            "-p",
            "capstone-bench",
        ])
        .current_dir(&paths.root)
        .status()
        .context("running cargo build")?;
    ensure!(status.success(), "cargo build --release -p capstone failed");
    ensure!(
        paths.capstone.exists(),
        "{} is missing after the build",
        paths.capstone.display()
    );
    Ok(())
}

/// A port nobody is listening on right now. (Another process could take it before our
/// child binds it; on a machine running a benchmark that does not happen.)
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running child server. Dropping it kills the process, so that a failed run leaves no
/// server behind; [`Server::stop`] is the graceful way.
pub struct Server {
    child: Option<Child>,
    pid: u32,
    pub port: u16,
    log: PathBuf,
}

/// How a graceful stop went.
pub struct Stopped {
    pub status: ExitStatus,
    pub took: Duration,
    /// The process's peak resident memory (VmHWM), in KiB.
    pub peak_rss_kib: u64,
}

impl Server {
    /// `capstone serve` on `database_url` and a free port, logging (warnings and errors
    /// only, as JSON) to `log`. The environment is cleaned of any `CAPSTONE_*` setting and
    /// the working directory has no `capstone.toml`, so only what is set here applies.
    pub fn capstone(paths: &Paths, database_url: &str, log: &Path) -> anyhow::Result<Self> {
        Self::capstone_with(paths, database_url, log, &[])
    }

    /// [`Server::capstone`] with `settings` (`CAPSTONE_…` variables) added.
    pub fn capstone_with(
        paths: &Paths,
        database_url: &str,
        log: &Path,
        settings: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut command = Command::new(&paths.capstone);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CAPSTONE_")
                || ["DATABASE_URL", "REDIS_URL", "PORT", "RUST_LOG"].contains(&name.as_ref())
            {
                command.env_remove(name.as_ref());
            }
        }
        command
            .arg("serve")
            .current_dir(&paths.out)
            .env("DATABASE_URL", database_url)
            .env("CAPSTONE_HOST", "127.0.0.1")
            .env("CAPSTONE_PORT", port.to_string())
            .env("CAPSTONE_LOG_LEVEL", "warn")
            .env("CAPSTONE_LOG_FORMAT", "json")
            // Seeded targets are example.com pages; fetching their titles is not the test.
            .env("CAPSTONE_LINKS__FETCH_TITLES", "false")
            .envs(settings.iter().map(|(name, value)| (name, value)));
        Self::spawn(command, port, log)
    }

    /// This binary's `ceiling` subcommand on a free port.
    pub fn ceiling(paths: &Paths, log: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut command = Command::new(&paths.bench);
        command.args(["ceiling", "--port", &port.to_string()]);
        Self::spawn(command, port, log)
    }

    /// An instance of the job queue: this binary's `queue-worker` subcommand (see
    /// [`crate::queue_worker`]). It listens on nothing, so its `port` is 0.
    pub fn queue_worker(
        paths: &Paths,
        args: &crate::queue_worker::WorkerArgs,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(&paths.bench);
        command
            .arg("queue-worker")
            .arg("--database-url")
            .arg(&args.database_url)
            .arg("--starts")
            .arg(&args.starts)
            .args(["--lease-secs", &args.lease_secs.to_string()])
            .args(["--concurrency", &args.concurrency.to_string()])
            // Its settings are the ones above, whatever this shell has set.
            .env_remove("RUST_LOG");
        Self::spawn(command, 0, log)
    }

    fn spawn(mut command: Command, port: u16, log: &Path) -> anyhow::Result<Self> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        Ok(Self {
            pid: child.id(),
            child: Some(child),
            port,
            log: log.to_owned(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Fails if the process has exited (it was to run until stopped), quoting its log.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            bail!(
                "process {} exited ({status}); its log ({}):\n{}",
                self.pid,
                self.log.display(),
                log_tail(&self.log)
            );
        }
        Ok(())
    }

    /// Where its output goes.
    pub fn log(&self) -> &Path {
        &self.log
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls `path` until it answers `expected`; fails at once if the process exits.
    pub async fn wait_until(
        &mut self,
        client: &reqwest::Client,
        path: &str,
        expected: u16,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let url = format!("{}{path}", self.base_url());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "the server exited ({status}) before {path} answered; its log ({}):\n{}",
                    self.log.display(),
                    log_tail(&self.log)
                );
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status().as_u16() == expected
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{url} did not answer {expected} within {timeout:?}; log: {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak resident memory so far (VmHWM in /proc/<pid>/status), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// SIGTERM, then waits up to `grace` for the process to exit (SIGKILL after that, which
    /// is reported as an error: a graceful stop that hangs is a finding). The peak memory
    /// is sampled until the very end, since the shutdown drains the click queue.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<Stopped> {
        let mut peak = self.peak_rss_kib().unwrap_or(0);
        let started = Instant::now();
        let pid = libc::pid_t::try_from(self.pid).context("pid out of range")?;
        // SAFETY: kill(2) with a pid we spawned and have not reaped yet (the child is still
        // in `self.child`), so the pid cannot have been reused by another process.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        ensure!(
            sent == 0,
            "kill -TERM {pid}: {}",
            std::io::Error::last_os_error()
        );
        let mut child = self.child.take().expect("a running child");
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(Stopped {
                    status,
                    took: started.elapsed(),
                    peak_rss_kib: peak,
                });
            }
            if let Some(kib) = self.peak_rss_kib() {
                peak = peak.max(kib);
            }
            if started.elapsed() > grace {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "the server did not stop within {grace:?} of SIGTERM and was killed; log: {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    /// The log's length now: [`log_problems`] reads what comes after it.
    pub fn log_mark(&self) -> u64 {
        std::fs::metadata(&self.log).map_or(0, |m| m.len())
    }
}

/// The distinct warnings and errors a server logged (as JSON lines) after `mark`, with how
/// often each came: what went wrong under load or during the stop, in its own words.
pub fn log_problems(log: &Path, mark: u64) -> Vec<String> {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(text.get(mark as usize..).unwrap_or_default());
    let mut seen: Vec<(String, usize)> = Vec::new();
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(level), Some(message)) = (entry["level"].as_str(), entry["message"].as_str())
        else {
            continue;
        };
        if level != "WARN" && level != "ERROR" {
            continue;
        }
        let key = format!("{level} {message}");
        match seen.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => seen.push((key, 1)),
        }
    }
    seen.into_iter()
        .map(|(key, n)| format!("server log: {key} (×{n})"))
        .collect()
}

/// The last lines of a log, for error messages.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
