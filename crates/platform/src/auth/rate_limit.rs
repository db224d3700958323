//! Counting failed sign-ins, per account and per client address, in fixed windows.
//!
//! Only failures count, so a script that signs in correctly is never slowed down, while
//! guessing stops after a handful of tries (429 with `Retry-After`). The counters live in
//! this process; with several instances each counts on its own, so the effective limit is
//! per instance.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct FailureLimiter {
    limit: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailureLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must wait, if it has used up its failures in the current window.
    pub fn blocked(&self, key: &str) -> Option<Duration> {
        let counts = self.counts.lock().expect("limiter lock");
        let (count, start) = counts.get(key)?;
        let elapsed = start.elapsed();
        (*count >= self.limit && elapsed < self.window).then(|| self.window - elapsed)
    }

    pub fn record_failure(&self, key: &str) {
        let mut counts = self.counts.lock().expect("limiter lock");
        if counts.len() > 100_000 {
            // Bound the memory an attacker spraying addresses can make us hold.
            let window = self.window;
            counts.retain(|_, (_, start)| start.elapsed() < window);
        }
        let entry = counts.entry(key.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn reset(&self, key: &str) {
        self.counts.lock().expect("limiter lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let limiter = FailureLimiter::new(2, Duration::from_millis(100));
        assert!(limiter.blocked("a").is_none());
        limiter.record_failure("a");
        assert!(limiter.blocked("a").is_none());
        limiter.record_failure("a");
        assert!(limiter.blocked("a").is_some());
        assert!(limiter.blocked("b").is_none(), "keys are independent");
        std::thread::sleep(Duration::from_millis(120));
        assert!(limiter.blocked("a").is_none());
        limiter.record_failure("a");
        limiter.record_failure("a");
        limiter.reset("a");
        assert!(limiter.blocked("a").is_none());
    }
}
