//! Writing outcomes. The attempts that end while a write is under way share the next
//! transaction (a group commit), so that a busy queue pays one commit for many jobs rather
//! than one each. An attempt has given its slot back by then; it still counts as in flight
//! until its outcome is written.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbErr, Statement};
use tokio::sync::{mpsc, oneshot};

use super::{
    OUTAGE_PAUSE, OUTAGE_PAUSE_MAX, records,
    store::{self, Outcome},
};
use crate::{clock::Clock, db::Db};

/// The most outcomes one transaction writes.
const MAX_BATCH: usize = 256;
/// The most jobs one `UPDATE` marks done: its condition names each (id and attempt).
const DONE_PER_STATEMENT: usize = 64;
/// How long past the lease an outcome is still tried. Safe, since a settle names the
/// attempt: once another claim has taken the job, it changes nothing.
const PAST_THE_LEASE: Duration = Duration::from_secs(60);

/// An attempt's end, to be written.
pub(super) struct Finished {
    pub id: i64,
    pub attempt: i32,
    pub outcome: Outcome,
    /// What the job asked to insert with its outcome ([`super::JobContext::insert_with_outcome`]).
    pub rows: Vec<records::Row>,
}

/// Where attempts send their ends; cloned into each.
#[derive(Clone)]
pub(super) struct Settler {
    sender: mpsc::UnboundedSender<(Finished, oneshot::Sender<()>)>,
}

impl Settler {
    /// Returns once `finished` is written, or given up on (then the job runs again once
    /// its lease lapses).
    pub(super) async fn settle(&self, finished: Finished) {
        let (done, written) = oneshot::channel();
        if self.sender.send((finished, done)).is_ok() {
            let _ = written.await;
        }
    }
}

/// The writer's half: runs until every [`Settler`] is dropped and all is written.
pub(super) struct Writer {
    receiver: mpsc::UnboundedReceiver<(Finished, oneshot::Sender<()>)>,
    db: Db,
    clock: Clock,
    instance: String,
    give_up_after: Duration,
}

pub(super) fn channel(
    db: Db,
    clock: Clock,
    instance: String,
    lease: Duration,
) -> (Settler, Writer) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let writer = Writer {
        receiver,
        db,
        clock,
        instance,
        give_up_after: lease + PAST_THE_LEASE,
    };
    (Settler { sender }, writer)
}

impl Writer {
    pub(super) async fn run(mut self) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while self.receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let (mut finished, waiting): (Vec<Finished>, Vec<_>) = batch.drain(..).unzip();
            let rows = finished.iter_mut().flat_map(|f| f.rows.drain(..)).collect();
            let rows = records::statements(rows, self.db.get_database_backend());
            self.write(&finished, &rows).await;
            for done in waiting {
                let _ = done.send(());
            }
        }
    }

    /// Writes `batch`'s outcomes and its jobs' rows (`together`, `alone`: see
    /// [`records::statements`]) in one transaction. If that fails but the outcomes alone
    /// can be written, a row is what failed (its webhook went meanwhile): the outcomes are
    /// written, then each row on its own, so that one cannot hold up the rest. If nothing
    /// can be written, the database is down: try again, for a while.
    async fn write(
        &self,
        batch: &[Finished],
        (together, alone): &(Vec<Statement>, Vec<Statement>),
    ) {
        let started = Instant::now();
        let mut pause = OUTAGE_PAUSE;
        loop {
            if self.in_one_transaction(batch, together).await.is_ok() {
                return;
            }
            match self.in_one_transaction(batch, &[]).await {
                Ok(()) => {
                    for statement in alone {
                        if let Err(err) = self.db.execute_raw(statement.clone()).await {
                            tracing::warn!(error = %err, "a row a job wrote with its outcome was not kept");
                        }
                    }
                    return;
                }
                Err(err) if started.elapsed() > self.give_up_after => {
                    tracing::error!(jobs = batch.len(), error = %err, "cannot record jobs' outcomes; they will run again");
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, ?pause, "recording jobs' outcomes failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(OUTAGE_PAUSE_MAX);
                }
            }
        }
    }

    async fn in_one_transaction(
        &self,
        batch: &[Finished],
        rows: &[Statement],
    ) -> Result<(), DbErr> {
        let now = self.clock.now();
        let tx = store::bookkeeping(&self.db).await?;
        // The common outcome, done, in one statement for the whole batch; the others (a
        // retry's time, a dead job's error) one by one.
        let done: Vec<(i64, i32)> = batch
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Done))
            .map(|f| (f.id, f.attempt))
            .collect();
        for chunk in done.chunks(DONE_PER_STATEMENT) {
            store::settle_done(&tx, &self.instance, chunk, now).await?;
        }
        for finished in batch.iter().filter(|f| !matches!(f.outcome, Outcome::Done)) {
            store::settle(
                &tx,
                finished.id,
                finished.attempt,
                &self.instance,
                &finished.outcome,
                now,
            )
            .await?;
        }
        for statement in rows {
            tx.execute_raw(statement.clone()).await?;
        }
        tx.commit().await
    }
}
