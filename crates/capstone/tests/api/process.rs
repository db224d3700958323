//! The real `capstone` binary as a child process, as an operator runs it.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use testkit::TestDatabase;

pub struct Server {
    pub child: Child,
    pub addr: String,
    /// Its standard output, a line at a time.
    pub lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

pub fn start_binary(db: &TestDatabase) -> Server {
    start_binary_with(db, &[])
}

pub fn start_binary_with(db: &TestDatabase, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_capstone"))
        .arg("serve")
        .envs(env.iter().copied())
        .env("DATABASE_URL", &db.url)
        .env("CAPSTONE_PORT", "0")
        .env("CAPSTONE_LOG_FORMAT", "json")
        .envs(db.redis_url.iter().flat_map(|url| {
            [
                ("CAPSTONE_REDIS_URL", url.as_str()),
                ("CAPSTONE_REDIS_PREFIX", db.redis_prefix.as_str()),
            ]
        }))
        .env("CAPSTONE_CONFIG", "/nonexistent/capstone.toml")
        .env_remove("RUST_LOG")
        .env_remove("PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the capstone binary");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the server announces where it listens");
        if let Some(rest) = line.strip_prefix("Capstone is listening on http://") {
            break rest.trim().to_owned();
        }
    };
    Server { child, addr, lines }
}

pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

pub fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}
