//! The job queue against a real database (SQLite, or PostgreSQL with
//! `CAPSTONE_TEST_DATABASE_URL`): what runs, how often, when, and after what failure.
//! Time-dependent cases move the queue's clock rather than wait.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{TimeDelta, Utc};
use platform::{
    Config,
    background::Background,
    clock::Clock,
    db::{self, Db},
    jobs::{
        Enqueue, Every, Job, JobError, JobState, Jobs, QueueSettings, Retries,
        entity::{self, Column, Entity},
    },
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde::{Deserialize, Serialize};
use testkit::{Backend, TcpProxy, TestDatabase};

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        platform::migrations::migrations()
    }
}

/// A fresh database with the platform's tables.
async fn database() -> (TestDatabase, Db) {
    let database = TestDatabase::fresh().await;
    let config = Config {
        database_url: database.url.clone().into(),
        database_max_connections: 4,
        ..Config::default()
    };
    let db = db::connect(&config).await.expect("database");
    Migrator::up(&db, None).await.expect("migrations");
    (database, db)
}

/// An instance's queue on `db`, with its own clock, not started yet.
fn instance(db: &Db) -> Jobs {
    Jobs::new(db.clone(), Clock::default(), QueueSettings::default())
}

fn start(jobs: &Jobs) -> Background {
    let background = Background::new();
    jobs.start(&background);
    background
}

/// Waits (up to 10 s) until job `id` is in `state`; returns its row.
async fn until(db: &Db, id: i64, state: JobState) -> entity::Model {
    for _ in 0..400 {
        let job = Entity::find_by_id(id).one(db).await.unwrap().unwrap();
        if job.state == state {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {id} never became {state:?}");
}

/// The values of the jobs a test's handler ran, in order.
#[derive(Clone, Default)]
struct Ran(Arc<Mutex<Vec<i64>>>);

impl Ran {
    fn push(&self, n: i64) {
        self.0.lock().unwrap().push(n);
    }
    fn sorted(&self) -> Vec<i64> {
        let mut ran = self.0.lock().unwrap().clone();
        ran.sort_unstable();
        ran
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Count {
    n: i64,
}

impl Job for Count {
    const KIND: &'static str = "test.count";
    fn retries() -> Retries {
        quick_retries()
    }
}

fn quick_retries() -> Retries {
    Retries {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    }
}

fn counting(jobs: &Jobs) -> Ran {
    let ran = Ran::default();
    let record = ran.clone();
    jobs.register(move |job: Count, _| {
        let record = record.clone();
        async move {
            record.push(job.n);
            Ok(())
        }
    });
    ran
}

#[tokio::test]
async fn a_job_runs_once_and_the_same_key_twice_is_one_job() {
    let (_database, db) = database().await;
    let jobs = instance(&db);
    let ran = counting(&jobs);
    let keyed = Enqueue {
        key: Some("count-1".into()),
        ..Enqueue::default()
    };
    let first = jobs
        .enqueue_with(&db, &Count { n: 1 }, keyed.clone())
        .await
        .unwrap();
    let again = jobs
        .enqueue_with(&db, &Count { n: 1 }, keyed)
        .await
        .unwrap();
    assert!(first.is_some());
    assert_eq!(
        again, None,
        "a second enqueue under the same key adds nothing"
    );
    let second = jobs.enqueue_now(&Count { n: 2 }).await.unwrap().unwrap();
    let _background = start(&jobs);
    until(&db, first.unwrap(), JobState::Done).await;
    let done = until(&db, second, JobState::Done).await;
    assert_eq!(done.attempts, 1);
    assert_eq!(ran.sorted(), [1, 2]);
}

#[tokio::test]
async fn a_job_exists_only_if_the_transaction_that_enqueued_it_committed() {
    let (_database, db) = database().await;
    let jobs = instance(&db);
    let ran = counting(&jobs);
    let tx = db.begin().await.unwrap();
    jobs.enqueue(&tx, &Count { n: 1 }).await.unwrap();
    tx.rollback().await.unwrap();
    let tx = db.begin().await.unwrap();
    let kept = jobs.enqueue(&tx, &Count { n: 2 }).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    jobs.wake();
    let _background = start(&jobs);
    until(&db, kept, JobState::Done).await;
    let rows = Entity::find()
        .filter(Column::Kind.eq(Count::KIND))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(ran.sorted(), [2]);
}

/// Fails its first `failures` attempts; with `permanent`, fails for good at once.
#[derive(Debug, Serialize, Deserialize)]
struct Flaky {
    failures: u32,
    permanent: bool,
}

impl Job for Flaky {
    const KIND: &'static str = "test.flaky";
    fn retries() -> Retries {
        quick_retries()
    }
}

#[tokio::test]
async fn failures_are_retried_until_the_last_attempt_and_permanent_ones_are_not() {
    let (_database, db) = database().await;
    let jobs = instance(&db);
    jobs.register(|job: Flaky, context| async move {
        if job.permanent {
            Err(JobError::permanent("the thing is gone"))
        } else if context.attempt <= job.failures {
            Err(JobError::retry(format!(
                "attempt {} failed",
                context.attempt
            )))
        } else {
            Ok(())
        }
    });
    let once = jobs
        .enqueue_now(&Flaky {
            failures: 1,
            permanent: false,
        })
        .await
        .unwrap();
    let always = jobs
        .enqueue_now(&Flaky {
            failures: 99,
            permanent: false,
        })
        .await
        .unwrap();
    let gone = jobs
        .enqueue_now(&Flaky {
            failures: 0,
            permanent: true,
        })
        .await
        .unwrap();
    let _background = start(&jobs);

    let recovered = until(&db, once.unwrap(), JobState::Done).await;
    assert_eq!(recovered.attempts, 2);
    assert_eq!(recovered.last_error.as_deref(), Some("attempt 1 failed"));
    let dead = until(&db, always.unwrap(), JobState::Dead).await;
    assert_eq!(dead.attempts, 3, "max_attempts in all");
    assert_eq!(dead.last_error.as_deref(), Some("attempt 3 failed"));
    let dead = until(&db, gone.unwrap(), JobState::Dead).await;
    assert_eq!(dead.attempts, 1, "a permanent error is not retried");
    assert_eq!(dead.last_error.as_deref(), Some("the thing is gone"));
}

#[derive(Debug, Serialize, Deserialize)]
struct Busy;

impl Job for Busy {
    const KIND: &'static str = "test.busy";
}

#[tokio::test]
async fn a_retry_after_that_a_job_reports_is_honoured() {
    let (_database, db) = database().await;
    let jobs = instance(&db);
    jobs.register(|_: Busy, context| async move {
        if context.attempt == 1 {
            Err(JobError::retry("503 from the service")
                .retry_after(Some(Duration::from_secs(3600))))
        } else {
            Ok(())
        }
    });
    let id = jobs.enqueue_now(&Busy).await.unwrap().unwrap();
    let _background = start(&jobs);
    let waiting = loop {
        let job = Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
        if job.state == JobState::Queued && job.attempts == 1 {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let wait = waiting.run_at - jobs.clock().now();
    assert!(
        wait > TimeDelta::minutes(59) && wait <= TimeDelta::hours(1),
        "due again in {wait}"
    );
    jobs.clock().advance(TimeDelta::hours(1));
    let done = until(&db, id, JobState::Done).await;
    assert_eq!(done.attempts, 2);
}

/// What an older release enqueued under `test.count`, which no longer parses as `Count`.
#[derive(Debug, Serialize, Deserialize)]
struct OldCount {
    n: String,
}

impl Job for OldCount {
    const KIND: &'static str = "test.count";
}

#[derive(Debug, Serialize, Deserialize)]
struct Panics;

impl Job for Panics {
    const KIND: &'static str = "test.panics";
    fn retries() -> Retries {
        quick_retries()
    }
}

#[tokio::test]
async fn an_unreadable_payload_is_dead_and_a_panic_fails_only_its_job() {
    let (_database, db) = database().await;
    let jobs = instance(&db);
    let ran = counting(&jobs);
    jobs.register(|_: Panics, _| async move { panic!("a bug in a job") });
    let old = jobs
        .enqueue_now(&OldCount { n: "one".into() })
        .await
        .unwrap()
        .unwrap();
    let panics = jobs.enqueue_now(&Panics).await.unwrap().unwrap();
    let _background = start(&jobs);

    let dead = until(&db, old, JobState::Dead).await;
    assert_eq!(dead.attempts, 1, "never retried in a loop");
    assert!(dead.last_error.unwrap().contains("does not parse"));
    let dead = until(&db, panics, JobState::Dead).await;
    assert_eq!(dead.attempts, 3);
    assert!(dead.last_error.unwrap().contains("panicked"));
    // The dispatcher is still there.
    let after = jobs.enqueue_now(&Count { n: 7 }).await.unwrap().unwrap();
    until(&db, after, JobState::Done).await;
    assert_eq!(ran.sorted(), [7]);
}

#[tokio::test]
async fn a_job_at_a_time_runs_when_the_clock_gets_there() {
    let (_database, db) = database().await;
    let jobs = instance(&db);
    let ran = counting(&jobs);
    let tomorrow = (jobs.clock().now() + TimeDelta::days(1))
        .date_naive()
        .and_hms_opt(9, 0, 0)
        .unwrap()
        .and_utc();
    let at_nine = Enqueue {
        run_at: Some(tomorrow),
        ..Enqueue::default()
    };
    let id = jobs
        .enqueue_with(&db, &Count { n: 9 }, at_nine)
        .await
        .unwrap()
        .unwrap();
    let _background = start(&jobs);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        Entity::find_by_id(id)
            .one(&db)
            .await
            .unwrap()
            .unwrap()
            .state,
        JobState::Queued
    );
    jobs.clock()
        .advance(tomorrow - jobs.clock().now() - TimeDelta::minutes(1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ran.sorted().is_empty(), "a minute early is early");
    jobs.clock().advance(TimeDelta::minutes(1));
    let done = until(&db, id, JobState::Done).await;
    let lag = done.started_at.unwrap() - tomorrow;
    assert!(
        lag < TimeDelta::seconds(2),
        "started {lag} after it was due"
    );
    assert_eq!(ran.sorted(), [9]);
}

#[derive(Debug, Serialize, Deserialize)]
struct Daily;

impl Job for Daily {
    const KIND: &'static str = "test.daily";
}

#[tokio::test]
async fn a_daily_job_runs_once_a_day_however_many_instances_schedule_it() {
    let (_database, db) = database().await;
    let ran = Ran::default();
    let instances: Vec<Jobs> = (0..3)
        .map(|_| {
            let jobs = instance(&db);
            let record = ran.clone();
            jobs.register(move |_: Daily, _| {
                let record = record.clone();
                async move {
                    record.push(1);
                    Ok(())
                }
            });
            jobs.every(Every::day_at(9, 0), || Daily);
            jobs
        })
        .collect();
    let _running: Vec<Background> = instances.iter().map(start).collect();
    let daily_rows = async || {
        Entity::find()
            .filter(Column::Kind.eq(Daily::KIND))
            .filter(Column::State.eq(JobState::Done))
            .count(&db)
            .await
            .unwrap()
    };
    for day in 1..=2u64 {
        for _ in 0..400 {
            if daily_rows().await == day {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(daily_rows().await, day);
        assert_eq!(ran.sorted().len() as u64, day, "day {day}");
        for jobs in &instances {
            jobs.clock().advance(TimeDelta::days(1));
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Slow;

impl Job for Slow {
    const KIND: &'static str = "test.slow";
}

#[tokio::test]
async fn a_job_of_an_instance_that_died_runs_elsewhere_once_its_lease_lapses() {
    let (_database, db) = database().await;
    // The first instance takes the job and stops answering in the middle of it.
    let dying = instance(&db);
    dying.register(|_: Slow, _| std::future::pending());
    let id = dying.enqueue_now(&Slow).await.unwrap().unwrap();
    let background = start(&dying);
    let held = until(&db, id, JobState::Running).await;
    assert!(!background.shutdown(Duration::from_millis(50)).await);

    let survivor = instance(&db);
    let ran = Ran::default();
    let record = ran.clone();
    survivor.register(move |_: Slow, _| {
        let record = record.clone();
        async move {
            record.push(1);
            Ok(())
        }
    });
    let _background = start(&survivor);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ran.sorted().is_empty(), "not while the lease holds");
    let lease = held.locked_until.unwrap() - Utc::now();
    survivor.clock().advance(lease + TimeDelta::seconds(1));
    let done = until(&db, id, JobState::Done).await;
    assert_eq!(done.attempts, 2);
    assert_eq!(ran.sorted(), [1]);
}

#[tokio::test]
async fn a_late_outcome_of_an_attempt_whose_lease_lapsed_changes_nothing() {
    let (_database, db) = database().await;
    let jobs = instance(&db);
    // Each attempt waits for its own gate; the first then fails, the second succeeds.
    let gates = Arc::new([
        tokio::sync::Semaphore::new(0),
        tokio::sync::Semaphore::new(0),
    ]);
    let ran = Ran::default();
    let (waiting, record) = (gates.clone(), ran.clone());
    jobs.register(move |_: Slow, context| {
        let (gates, record) = (waiting.clone(), record.clone());
        async move {
            record.push(i64::from(context.attempt));
            let gate = &gates[context.attempt as usize - 1];
            let _open = gate.acquire().await.expect("gate");
            match context.attempt {
                1 => Err(JobError::retry("too late")),
                _ => Ok(()),
            }
        }
    });
    let id = jobs.enqueue_now(&Slow).await.unwrap().unwrap();
    let _background = start(&jobs);
    let first = until(&db, id, JobState::Running).await;

    // The first attempt's lease lapses (it hangs), and the same instance claims the job again.
    let lease = first.locked_until.unwrap() - Utc::now();
    jobs.clock().advance(lease + TimeDelta::seconds(1));
    for _ in 0..400 {
        if ran.sorted() == [1, 2] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(ran.sorted(), [1, 2], "claimed again once the lease lapsed");

    // The first attempt ends now, failed: its outcome must not undo the second's claim.
    gates[0].add_permits(1);
    for _ in 0..400 {
        if jobs.in_flight() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let job = Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Running, 2));

    gates[1].add_permits(1);
    let done = until(&db, id, JobState::Done).await;
    assert_eq!(done.attempts, 2);
    assert_eq!(ran.sorted(), [1, 2], "and it is not run a third time");
}

#[tokio::test]
async fn a_graceful_stop_lets_the_job_in_hand_finish() {
    let (_database, db) = database().await;
    let jobs = instance(&db);
    jobs.register(|_: Slow, _| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(())
    });
    let id = jobs.enqueue_now(&Slow).await.unwrap().unwrap();
    let background = start(&jobs);
    until(&db, id, JobState::Running).await;
    assert!(background.shutdown(Duration::from_secs(5)).await);
    let job = Entity::find_by_id(id).one(&db).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Done);
}

#[tokio::test]
async fn a_database_outage_pauses_the_workers_and_they_resume_by_themselves() {
    let (database, direct) = database().await;
    if database.backend != Backend::Postgres {
        // An embedded file has no outage; a database server does.
        eprintln!("skipped on SQLite: an outage is a database server's");
        return;
    }
    // The queue reaches PostgreSQL through a proxy the test cuts.
    let (head, tail) = database.url.split_once('@').unwrap();
    let (server, name) = tail.split_once('/').unwrap();
    let proxy = TcpProxy::start(server.to_owned()).await;
    let config = Config {
        database_url: format!("{head}@{}/{name}", proxy.addr).into(),
        database_max_connections: 4,
        ..Config::default()
    };
    let db = db::connect(&config).await.unwrap();
    let jobs = instance(&db);
    let ran = counting(&jobs);
    let _background = start(&jobs);
    let first = jobs.enqueue_now(&Count { n: 1 }).await.unwrap().unwrap();
    until(&direct, first, JobState::Done).await;

    proxy.cut();
    // Enqueued meanwhile by an instance that still reaches the database.
    let second = instance(&direct)
        .enqueue_now(&Count { n: 2 })
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(ran.sorted(), [1], "nothing runs while the database is away");

    proxy.restore();
    let done = until(&direct, second, JobState::Done).await;
    assert_eq!(done.attempts, 1, "claimed once the database was back");
    assert_eq!(ran.sorted(), [1, 2]);
}
