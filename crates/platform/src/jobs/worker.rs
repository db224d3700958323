//! One dispatcher per instance: claims as many due jobs as it has free slots, runs each on
//! a task of its own (renewing its lease meanwhile), gives the slot back once the job has
//! run, has its outcome written ([`settle`]: attempts that end together share a commit),
//! and otherwise sleeps until the next due time, a wake-up, a move of the clock, or the
//! idle poll.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    JobContext, JobError, Jobs, OUTAGE_PAUSE, OUTAGE_PAUSE_MAX,
    entity::Model,
    settle::{self, Finished, Settler},
    store::{self, Outcome},
};

/// The most jobs one claim takes.
const MAX_CLAIM: usize = 64;
/// Jobs that have run but whose outcome is not written yet, per slot. A slot is given back
/// as soon as its job has run, so that the next job does not wait for the previous one's
/// outcome to reach the database; this bounds how far the writing may fall behind.
const UNWRITTEN_PER_SLOT: usize = 4;

pub(super) async fn run(jobs: Jobs, stop: CancellationToken) {
    let inner = &jobs.inner;
    let slots = Arc::new(Semaphore::new(inner.settings.concurrency.max(1)));
    let unwritten = Arc::new(Semaphore::new(
        slots.available_permits() * UNWRITTEN_PER_SLOT,
    ));
    let running = TaskTracker::new();
    let (settler, writer) = settle::channel(
        inner.db.clone(),
        inner.clock.clone(),
        inner.instance.clone(),
        inner.settings.lease,
    );
    // Not on the supervisor: it lives exactly as long as this dispatcher, which waits for it.
    let writing = tokio::spawn(writer.run());
    let mut moved = inner.clock.moved();
    let mut pause = OUTAGE_PAUSE;
    loop {
        let first = tokio::select! {
            hold = Hold::acquire(&slots, &unwritten) => hold,
            () = stop.cancelled() => break,
        };
        // Jobs often end together (their outcomes are written in batches too): let those
        // that just ended give their slots back, and claim for all of them in one statement
        // rather than one each.
        let room = || 1 + slots.available_permits().min(unwritten.available_permits());
        let mut free = room();
        for _ in 0..4 {
            tokio::task::yield_now().await;
            if room() == free {
                break;
            }
            free = room();
        }
        let free = free.min(MAX_CLAIM);
        let now = inner.clock.now();
        match store::claim(
            &inner.db,
            &inner.instance,
            now,
            lease_end(&jobs, now),
            free as u64,
        )
        .await
        {
            Ok(claimed) if !claimed.is_empty() => {
                pause = OUTAGE_PAUSE;
                let mut first = Some(first);
                for job in claimed {
                    let hold = first.take().unwrap_or_else(|| {
                        // Only this loop takes permits, and it saw `free` of each.
                        Hold {
                            slot: slots.clone().try_acquire_owned().expect("a free slot"),
                            unwritten: unwritten.clone().try_acquire_owned().expect("room"),
                        }
                    });
                    inner
                        .in_flight
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    running.spawn(attempt(jobs.clone(), settler.clone(), job, hold));
                }
                continue;
            }
            Ok(_) => drop(first),
            Err(err) => {
                drop(first);
                tracing::warn!(error = %err, ?pause, "claiming jobs failed; pausing");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stop.cancelled() => break,
                }
                pause = (pause * 2).min(OUTAGE_PAUSE_MAX);
                continue;
            }
        }
        let idle = inner.settings.idle_poll;
        let sleep = match store::next_due(&inner.db).await {
            Ok(Some(at)) => inner.clock.until(at).min(idle),
            _ => idle,
        };
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = inner.wake.notified() => {}
            _ = moved.changed() => {}
            () = stop.cancelled() => break,
        }
    }
    // Stopping: claim nothing more, let the jobs in hand finish.
    running.close();
    running.wait().await;
    drop(settler);
    let _ = writing.await;
    // The handlers hold what they use (the database pool, services that hold this queue):
    // dropped here, they let all of it go.
    inner.handlers.write().expect("handlers lock").clear();
    inner.recurring.lock().expect("recurring lock").clear();
}

fn lease_end(jobs: &Jobs, now: DateTime<Utc>) -> DateTime<Utc> {
    now + TimeDelta::from_std(jobs.inner.settings.lease).unwrap_or(TimeDelta::minutes(1))
}

/// What a claimed job holds: a slot while it runs, and room among the outcomes not yet
/// written until its own is.
struct Hold {
    slot: OwnedSemaphorePermit,
    unwritten: OwnedSemaphorePermit,
}

impl Hold {
    async fn acquire(slots: &Arc<Semaphore>, unwritten: &Arc<Semaphore>) -> Self {
        let slot = slots.clone().acquire_owned().await.expect("never closed");
        let unwritten = unwritten
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        Self { slot, unwritten }
    }
}

/// Runs one claimed job, gives its slot back, and has its outcome written.
async fn attempt(jobs: Jobs, settler: Settler, job: Model, hold: Hold) {
    let finished = run_one(&jobs, job).await;
    drop(hold.slot);
    settler.settle(finished).await;
    drop(hold.unwritten);
    jobs.inner
        .in_flight
        .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
}

/// Runs one claimed job and says what became of it.
async fn run_one(jobs: &Jobs, job: Model) -> Finished {
    let inner = &jobs.inner;
    let started = inner.clock.now();
    let lag = (started - job.run_at).to_std().unwrap_or_default();
    metrics::histogram!("jobs_lag_seconds", "kind" => job.kind.clone()).record(lag.as_secs_f64());
    let attempts = u32::try_from(job.attempts).unwrap_or(1);
    let context = JobContext {
        id: job.id,
        attempt: attempts,
        clock: inner.clock.clone(),
        backend: inner.db.get_database_backend(),
        rows: Default::default(),
    };
    let handler = inner
        .handlers
        .read()
        .expect("handlers lock")
        .get(job.kind.as_str())
        .map(|h| (h.run.clone(), h.retries));
    let result = match &handler {
        None => Err(JobError::permanent(format!(
            "no handler for the kind {:?} in this version",
            job.kind
        ))),
        Some((run, _)) => match run(&job.payload, context.clone()) {
            Err(unparsable) => Err(unparsable),
            Ok(work) => run_leased(jobs, job.id, work).await,
        },
    };
    let now = inner.clock.now();
    let (outcome, label) = match result {
        Ok(()) => (Outcome::Done, "done"),
        Err(err) => {
            let retries = handler.map(|(_, retries)| retries).unwrap_or_default();
            if err.permanent || attempts >= retries.max_attempts {
                tracing::warn!(job = job.id, kind = job.kind, attempts, error = %err, "job dead");
                (Outcome::Dead(err.message), "dead")
            } else {
                let wait = err
                    .retry_after
                    .unwrap_or_else(|| retries.backoff(attempts))
                    .min(crate::outbound::MAX_RETRY_AFTER);
                tracing::info!(job = job.id, kind = job.kind, attempts, ?wait, error = %err, "job failed; retrying");
                let at = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::days(1));
                (Outcome::RetryAt(at, err.message), "failed")
            }
        }
    };
    metrics::counter!("jobs_finished_total", "kind" => job.kind.clone(), "outcome" => label)
        .increment(1);
    Finished {
        id: job.id,
        attempt: job.attempts,
        outcome,
        rows: context.take_rows(),
    }
}

/// Runs `work` on a task of its own, so that a panic is an error of this job rather than
/// the end of the dispatcher, renewing the lease every third of it until it ends.
async fn run_leased(jobs: &Jobs, id: i64, work: super::BoxFuture) -> Result<(), JobError> {
    let inner = &jobs.inner;
    let mut task = tokio::spawn(work);
    let mut renew = tokio::time::interval(inner.settings.lease / 3);
    renew.tick().await;
    loop {
        tokio::select! {
            joined = &mut task => {
                return joined.unwrap_or_else(|err| Err(JobError::retry(format!("the job panicked: {err}"))));
            }
            _ = renew.tick() => {
                let now = inner.clock.now();
                if let Err(err) = store::renew(&inner.db, id, &inner.instance, lease_end(jobs, now)).await {
                    tracing::warn!(job = id, error = %err, "renewing a job's lease failed");
                }
            }
        }
    }
}
