//! The time as the platform's scheduled work sees it: the system's, which tests can move
//! forward, so that "runs at 09:00 tomorrow" is tested by moving the clock, not by waiting.
//!
//! Production never moves it; reading it is the system time plus an atomic load.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

struct Inner {
    /// How far this clock runs ahead of the system's, in milliseconds.
    ahead_ms: AtomicI64,
    /// Bumped whenever the clock moves, so that sleepers wake and look again.
    moved: watch::Sender<u64>,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                ahead_ms: AtomicI64::new(0),
                moved: watch::Sender::new(0),
            }),
        }
    }
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::milliseconds(self.inner.ahead_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `by` and wakes whoever waits on [`Clock::moved`].
    pub fn advance(&self, by: TimeDelta) {
        self.inner
            .ahead_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
        self.inner.moved.send_modify(|n| *n += 1);
    }

    /// Changes each time the clock is moved: a worker sleeping until a time selects on it.
    pub fn moved(&self) -> watch::Receiver<u64> {
        self.inner.moved.subscribe()
    }

    /// How long until `at` by this clock (zero if it has passed).
    pub fn until(&self, at: DateTime<Utc>) -> std::time::Duration {
        (at - self.now()).to_std().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn moving_the_clock_changes_now_and_wakes_sleepers() {
        let clock = Clock::default();
        let mut moved = clock.moved();
        let before = clock.now();
        clock.advance(TimeDelta::hours(25));
        assert!(clock.now() - before >= TimeDelta::hours(25));
        assert!(moved.has_changed().unwrap());
        moved.changed().await.unwrap();
        assert_eq!(clock.until(before), std::time::Duration::ZERO);
    }
}
