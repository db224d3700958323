//! Counting failed sign-ins (and requests for mail), per account and per client address,
//! in fixed windows.
//!
//! Only failures count, so a script that signs in correctly is never slowed down, while
//! guessing stops after a handful of tries (429 with `Retry-After`). With Redis the counts
//! are kept there, once for all instances; without it (or while it is down) each process
//! counts on its own, so the effective limit is per instance.
//!
//! Keys are hashed before they go to Redis, so that it never holds an address in clear.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};

use crate::shared::Shared;

pub struct FailureLimiter {
    /// What is counted, as part of the Redis key: `login:account`, `mail:ip`.
    name: &'static str,
    limit: u32,
    window: Duration,
    shared: Shared,
    local: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailureLimiter {
    pub fn new(name: &'static str, limit: u32, window: Duration, shared: Shared) -> Self {
        Self {
            name,
            limit,
            window,
            shared,
            local: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must wait, if it has used up its failures in the current window.
    pub async fn blocked(&self, key: &str) -> Option<Duration> {
        if let Some(redis_key) = self.redis_key(key) {
            let counted = self
                .shared
                .query::<(Option<u32>, i64)>(redis::pipe().get(&redis_key).pttl(&redis_key))
                .await;
            // PTTL is negative when the key is gone (or, never here, has no expiry).
            if let Some((count, ttl_ms)) = counted {
                let ttl = u64::try_from(ttl_ms).ok().filter(|&ms| ms > 0);
                return ttl
                    .filter(|_| count.unwrap_or(0) >= self.limit)
                    .map(Duration::from_millis);
            }
        }
        let local = self.local.lock().expect("limiter lock");
        let (count, start) = local.get(key)?;
        let elapsed = start.elapsed();
        (*count >= self.limit && elapsed < self.window).then(|| self.window - elapsed)
    }

    pub async fn record_failure(&self, key: &str) {
        if let Some(redis_key) = self.redis_key(key) {
            // The window starts with the first failure: the key is created with its expiry
            // (if absent) in the same transaction as the count, so no count outlives it.
            let window_ms = self.window.as_millis() as u64;
            let counted = self
                .shared
                .query::<(u32,)>(
                    redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(&redis_key)
                        .arg(0)
                        .arg("PX")
                        .arg(window_ms)
                        .arg("NX")
                        .ignore()
                        .incr(&redis_key, 1),
                )
                .await;
            if counted.is_some() {
                return;
            }
        }
        let mut local = self.local.lock().expect("limiter lock");
        if local.len() > 100_000 {
            // Bound the memory an attacker spraying addresses can make us hold.
            let window = self.window;
            local.retain(|_, (_, start)| start.elapsed() < window);
        }
        let entry = local.entry(key.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub async fn reset(&self, key: &str) {
        if let Some(redis_key) = self.redis_key(key) {
            let _: Option<(i64,)> = self.shared.query(redis::pipe().del(&redis_key)).await;
        }
        self.local.lock().expect("limiter lock").remove(key);
    }

    /// `{prefix}:limit:{name}:{sha256(key)}`, when there is Redis.
    fn redis_key(&self, key: &str) -> Option<String> {
        let digest = hex::encode(&Sha256::digest(key.as_bytes())[..16]);
        self.shared.key(&format!("limit:{}:{digest}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blocks_after_the_limit_until_the_window_ends() {
        let limiter = FailureLimiter::new("test", 2, Duration::from_millis(100), Shared::local());
        assert!(limiter.blocked("a").await.is_none());
        limiter.record_failure("a").await;
        assert!(limiter.blocked("a").await.is_none());
        limiter.record_failure("a").await;
        assert!(limiter.blocked("a").await.is_some());
        assert!(limiter.blocked("b").await.is_none(), "keys are independent");
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(limiter.blocked("a").await.is_none());
        limiter.record_failure("a").await;
        limiter.record_failure("a").await;
        limiter.reset("a").await;
        assert!(limiter.blocked("a").await.is_none());
    }
}
