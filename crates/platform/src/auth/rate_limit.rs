//! Counting attempts (failed sign-ins, link passwords, registrations, requests for mail)
//! per key, in fixed windows.
//!
//! An attempt is *taken* before the work it guards is done (an Argon2 check, a mail), by one
//! atomic increment, so that a burst of concurrent requests cannot all pass a limit that each
//! of them checked before any had counted. What turns out not to be a failure (the right
//! password) is *given back*. So a script that signs in correctly is never slowed down,
//! while guessing stops after a handful of tries (429 with `Retry-After`).
//!
//! With Redis the counts are kept there, once for all instances; without it (or while it is
//! down) each process counts on its own, so the effective limit is per instance. Keys are
//! hashed before they go to Redis, so that it never holds an address in clear.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};

use crate::shared::Shared;

pub struct FailureLimiter {
    /// What is counted, as part of the Redis key: `login:account`, `mail:ip`.
    name: String,
    limit: u32,
    window: Duration,
    shared: Shared,
    local: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Entries kept per process before expired ones are swept, so that an attacker spraying
/// keys (addresses) cannot make us hold memory without end.
const LOCAL_SWEEP_AT: usize = 100_000;

impl FailureLimiter {
    pub fn new(name: impl Into<String>, limit: u32, window: Duration, shared: Shared) -> Self {
        Self {
            name: name.into(),
            limit,
            window,
            shared,
            local: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt for `key`, atomically, before it is made. `Err` with how long to
    /// wait when it is past the limit: the attempt must not be made.
    pub async fn take(&self, key: &str) -> Result<(), Duration> {
        let (count, wait) = self.increment(key).await;
        if count > self.limit {
            Err(wait.max(Duration::from_secs(1)))
        } else {
            Ok(())
        }
    }

    /// An attempt taken with [`take`](Self::take) that was not a failure: it stops counting.
    pub async fn give_back(&self, key: &str) {
        if let Some(redis_key) = self.redis_key(key) {
            // Never below zero: a count that expired in between is not brought back negative.
            const DECREMENT_TO_ZERO: &str = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
                 if n > 0 then redis.call('DECR', KEYS[1]) end return 0";
            let mut pipe = redis::pipe();
            pipe.cmd("EVAL")
                .arg(DECREMENT_TO_ZERO)
                .arg(1)
                .arg(&redis_key);
            if self.shared.query::<(i64,)>(&pipe).await.is_some() {
                return;
            }
        }
        let mut local = self.local.lock().expect("limiter lock");
        if let Some(entry) = local.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    /// How long `key` must wait, if it has used up its attempts in the current window.
    /// Counts nothing.
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

    /// Counts a failure that was not taken beforehand.
    pub async fn record_failure(&self, key: &str) {
        self.increment(key).await;
    }

    pub async fn reset(&self, key: &str) {
        if let Some(redis_key) = self.redis_key(key) {
            let _: Option<(i64,)> = self.shared.query(redis::pipe().del(&redis_key)).await;
        }
        self.local.lock().expect("limiter lock").remove(key);
    }

    /// Adds one to `key`'s count; returns the new count and the time left in its window.
    async fn increment(&self, key: &str) -> (u32, Duration) {
        if let Some(redis_key) = self.redis_key(key) {
            // The window starts with the first attempt: the key is created with its expiry
            // (if absent) in the same transaction as the count, so no count outlives it.
            let window_ms = self.window.as_millis() as u64;
            let counted = self
                .shared
                .query::<(u32, i64)>(
                    redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(&redis_key)
                        .arg(0)
                        .arg("PX")
                        .arg(window_ms)
                        .arg("NX")
                        .ignore()
                        .incr(&redis_key, 1)
                        .pttl(&redis_key),
                )
                .await;
            if let Some((count, ttl_ms)) = counted {
                let ttl = u64::try_from(ttl_ms).unwrap_or(window_ms);
                return (count, Duration::from_millis(ttl));
            }
        }
        let mut local = self.local.lock().expect("limiter lock");
        if local.len() > LOCAL_SWEEP_AT {
            let window = self.window;
            local.retain(|_, (_, start)| start.elapsed() < window);
        }
        let entry = local.entry(key.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        (entry.0, self.window.saturating_sub(entry.1.elapsed()))
    }

    /// `{prefix}:limit:{name}:{sha256(key)}`, when there is Redis.
    fn redis_key(&self, key: &str) -> Option<String> {
        let digest = hex::encode(&Sha256::digest(key.as_bytes())[..16]);
        self.shared.key(&format!("limit:{}:{digest}", self.name))
    }
}

/// Guesses at a secret (an account's password, a link's), counted per (key, address) and
/// per address over every key, as sign-ins and link passwords both need: a stranger's wrong
/// guesses block the stranger, not the owner at another address; one address cannot try
/// key after key. Each guess is taken before the secret is checked (an atomic increment),
/// so a burst of concurrent guesses cannot all pass the limit.
pub struct GuessLimiter {
    by_pair: FailureLimiter,
    by_address: FailureLimiter,
}

impl GuessLimiter {
    /// `name` prefixes the counters' keys (`login`, `link-password`).
    pub fn new(
        name: &'static str,
        per_pair: u32,
        per_address: u32,
        window: Duration,
        shared: &Shared,
    ) -> Self {
        Self {
            by_pair: FailureLimiter::new(
                format!("{name}:key-ip"),
                per_pair,
                window,
                shared.clone(),
            ),
            by_address: FailureLimiter::new(
                format!("{name}:ip"),
                per_address,
                window,
                shared.clone(),
            ),
        }
    }

    /// Takes one guess at `key` from `ip`; `Err` with how long to wait once past a limit.
    /// A wrong guess leaves it counted.
    pub async fn take(&self, key: &str, ip: IpAddr) -> Result<(), Duration> {
        let address = ip.to_string();
        self.by_address.take(&address).await?;
        if let Err(wait) = self.by_pair.take(&format!("{key}|{address}")).await {
            self.by_address.give_back(&address).await;
            return Err(wait);
        }
        Ok(())
    }

    /// A guess refused for another reason before it was checked: not counted.
    pub async fn give_back(&self, key: &str, ip: IpAddr) {
        let address = ip.to_string();
        self.by_address.give_back(&address).await;
        self.by_pair.give_back(&format!("{key}|{address}")).await;
    }

    /// The right secret: this key's wrong guesses from `ip` are forgotten (those at other
    /// keys still count), and this guess is given back.
    pub async fn passed(&self, key: &str, ip: IpAddr) {
        let address = ip.to_string();
        self.by_pair.reset(&format!("{key}|{address}")).await;
        self.by_address.give_back(&address).await;
    }

    /// A guess at no key at all (what is not an email address): counted for the address.
    pub async fn miss(&self, ip: IpAddr) {
        self.by_address.record_failure(&ip.to_string()).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn blocks_after_the_limit_until_the_window_ends() {
        let limiter = FailureLimiter::new("test", 2, Duration::from_millis(100), Shared::local());
        assert!(limiter.blocked("a").await.is_none());
        limiter.record_failure("a").await;
        assert!(limiter.blocked("a").await.is_none());
        limiter.record_failure("a").await;
        assert!(limiter.blocked("a").await.is_some());
        assert!(limiter.take("a").await.is_err());
        assert!(limiter.blocked("b").await.is_none(), "keys are independent");
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(limiter.blocked("a").await.is_none());
        limiter.record_failure("a").await;
        limiter.record_failure("a").await;
        limiter.reset("a").await;
        assert!(limiter.blocked("a").await.is_none());
    }

    #[tokio::test]
    async fn a_burst_gets_no_more_attempts_than_the_limit() {
        let limiter = Arc::new(FailureLimiter::new(
            "test",
            10,
            Duration::from_secs(60),
            Shared::local(),
        ));
        let tries: Vec<_> = (0..40)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { limiter.take("a").await.is_ok() })
            })
            .collect();
        let mut admitted = 0;
        for attempt in tries {
            admitted += usize::from(attempt.await.unwrap());
        }
        assert_eq!(admitted, 10);
    }

    #[tokio::test]
    async fn what_is_given_back_no_longer_counts() {
        let limiter = FailureLimiter::new("test", 1, Duration::from_secs(60), Shared::local());
        for _ in 0..5 {
            assert!(limiter.take("a").await.is_ok());
            limiter.give_back("a").await;
        }
        assert!(limiter.take("a").await.is_ok());
        assert!(limiter.take("a").await.is_err());
    }
}
