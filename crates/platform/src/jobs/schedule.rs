//! Recurring jobs: each slot of a schedule (a day, or an interval) is one row, keyed
//! `kind@slot`, so however many instances schedule it the job runs once per slot. Every
//! instance's scheduler enqueues the current slot when it starts and whenever a new slot
//! begins; a slot missed while nothing ran is the current one at the next start, so a daily
//! clean-up is never skipped for long. The scheduler also publishes the queue's gauges.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use super::{Enqueue, Job, Jobs, store};

/// How often a job recurs. Times are UTC.
#[derive(Debug, Clone, Copy)]
pub enum Every {
    /// Once a day, due at this time.
    Day { at: NaiveTime },
    /// Once per interval, slots counted from the Unix epoch.
    Interval(Duration),
}

impl Every {
    pub fn day_at(hour: u32, minute: u32) -> Self {
        Self::Day {
            at: NaiveTime::from_hms_opt(hour, minute, 0).expect("a time of day"),
        }
    }

    /// The slot `now` is in: its name and when it began.
    fn slot(&self, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        match *self {
            Self::Day { at } => {
                let today = now.date_naive();
                let day = if now.time() >= at {
                    today
                } else {
                    today - TimeDelta::days(1)
                };
                (day.to_string(), day.and_time(at).and_utc())
            }
            Self::Interval(every) => {
                let secs = every.as_secs().max(1) as i64;
                let start = now.timestamp().div_euclid(secs) * secs;
                let began = DateTime::from_timestamp(start, 0).unwrap_or(now);
                (began.format("%Y-%m-%dT%H:%M:%SZ").to_string(), began)
            }
        }
    }

    /// When the slot after the one `now` is in begins.
    fn next_slot(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let (_, began) = self.slot(now);
        match *self {
            Self::Day { .. } => began + TimeDelta::days(1),
            Self::Interval(every) => {
                began + TimeDelta::from_std(every).unwrap_or(TimeDelta::hours(1))
            }
        }
    }
}

type Enqueuer = Arc<dyn Fn(Jobs, String, DateTime<Utc>) -> super::BoxFuture + Send + Sync>;

pub(super) struct Recurring {
    every: Every,
    kind: &'static str,
    enqueue: Enqueuer,
}

impl Recurring {
    pub(super) fn new<J: Job>(every: Every, make: impl Fn() -> J + Send + Sync + 'static) -> Self {
        let make = Arc::new(make);
        let enqueue: Enqueuer = Arc::new(move |jobs: Jobs, key, run_at| {
            let job = make();
            Box::pin(async move {
                let options = Enqueue {
                    run_at: Some(run_at),
                    key: Some(key),
                };
                jobs.enqueue_with(&jobs.inner.db, &job, options).await?;
                Ok(())
            })
        });
        Self {
            every,
            kind: J::KIND,
            enqueue,
        }
    }
}

/// How often the queue's gauges are refreshed.
const GAUGES_EVERY: Duration = Duration::from_secs(10);

pub(super) async fn run(jobs: Jobs, stop: CancellationToken) {
    let mut moved = jobs.inner.clock.moved();
    loop {
        let now = jobs.inner.clock.now();
        let schedules: Vec<(Every, &'static str, Enqueuer)> = jobs
            .inner
            .recurring
            .lock()
            .expect("recurring lock")
            .iter()
            .map(|r| (r.every, r.kind, r.enqueue.clone()))
            .collect();
        let mut next = now + TimeDelta::from_std(GAUGES_EVERY).unwrap_or_default();
        for (every, kind, enqueue) in schedules {
            let (slot, began) = every.slot(now);
            match enqueue(jobs.clone(), format!("{kind}@{slot}"), began).await {
                Ok(()) => next = next.min(every.next_slot(now)),
                // The database is down: look again at the next refresh.
                Err(err) => tracing::warn!(kind, error = %err, "scheduling a recurring job failed"),
            }
        }
        jobs.wake();
        publish_gauges(&jobs).await;
        tokio::select! {
            () = tokio::time::sleep(jobs.inner.clock.until(next)) => {}
            _ = moved.changed() => {}
            () = stop.cancelled() => return,
        }
    }
}

async fn publish_gauges(jobs: &Jobs) {
    use super::JobState;
    let Ok(counts) = store::counts(&jobs.inner.db).await else {
        return;
    };
    for state in [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
    ] {
        let n = counts
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n);
        let label = serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        metrics::gauge!("jobs", "state" => label).set(n as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_daily_slot_is_the_last_day_whose_time_has_come() {
        let daily = Every::day_at(4, 0);
        let (slot, began) = daily.slot(at("2026-12-03T03:59:00Z"));
        assert_eq!(
            (slot.as_str(), began),
            ("2026-12-02", at("2026-12-02T04:00:00Z"))
        );
        let (slot, _) = daily.slot(at("2026-12-03T04:00:00Z"));
        assert_eq!(slot, "2026-12-03");
        assert_eq!(
            daily.next_slot(at("2026-12-03T04:00:00Z")),
            at("2026-12-04T04:00:00Z")
        );
    }

    #[test]
    fn interval_slots_are_counted_from_the_epoch() {
        let ten = Every::Interval(Duration::from_secs(600));
        let (slot, began) = ten.slot(at("2026-12-03T10:17:30Z"));
        assert_eq!(
            (slot.as_str(), began),
            ("2026-12-03T10:10:00Z", at("2026-12-03T10:10:00Z"))
        );
        assert_eq!(
            ten.next_slot(at("2026-12-03T10:17:30Z")),
            at("2026-12-03T10:20:00Z")
        );
    }
}
