//! Write transactions that take turns inside the process on SQLite.
//!
//! SQLite lets one connection write at a time. Connections of one pool that want to write
//! at once otherwise find out through `SQLITE_BUSY` and wait in SQLite's busy handler (see
//! [`super::busy`]), each polling the lock; here they queue on a semaphore of the pool
//! instead, and each starts the moment the one before commits. PostgreSQL locks rows, not
//! the database: there a write transaction is a plain one and nothing waits here.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Db;

/// How long a writer waits for its turn: as long as SQLite's busy timeout would have it.
const WAIT_FOR_TURN: Duration = Duration::from_secs(5);

/// A transaction that will write after it has read. It derefs to SeaORM's transaction and
/// is a connection itself, so code written for either takes it; end it with
/// [`WriteTransaction::commit`] (dropping it rolls back).
pub struct WriteTransaction {
    tx: DatabaseTransaction,
    /// The pool's turn to write (SQLite only), given back when the transaction ends.
    _turn: Option<OwnedSemaphorePermit>,
}

impl WriteTransaction {
    pub(super) async fn begin(db: &Db) -> Result<Self, DbErr> {
        if db.get_database_backend() != DbBackend::Sqlite {
            let tx = db.begin().await?;
            return Ok(Self { tx, _turn: None });
        }
        let turn = tokio::time::timeout(WAIT_FOR_TURN, turns_of(db).acquire_owned())
            .await
            .map_err(|_| DbErr::Custom("timed out waiting for the turn to write".into()))?
            .expect("the semaphore is never closed");
        // IMMEDIATE all the same: other processes (a second instance, `sqlite3` in a
        // shell) may write to the file too.
        let tx = db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?;
        Ok(Self {
            tx,
            _turn: Some(turn),
        })
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.tx
    }
}

// SeaORM's trait is written with `async_trait`; the migration crate re-exports it.
#[sea_orm_migration::async_trait::async_trait]
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DbBackend {
        self.tx.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.tx.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.tx.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.tx.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.tx.query_all_raw(stmt).await
    }
}

/// The semaphore of `db`'s pool. Pools are told apart by their connect options, which
/// each pool holds in an `Arc` of its own; SeaORM's connection has no room for it.
fn turns_of(db: &Db) -> Arc<Semaphore> {
    static TURNS: LazyLock<Mutex<HashMap<usize, Arc<Semaphore>>>> = LazyLock::new(Default::default);
    let pool = Arc::as_ptr(&db.get_sqlite_connection_pool().connect_options()) as usize;
    TURNS
        .lock()
        .expect("turns lock")
        .entry(pool)
        .or_insert_with(|| Arc::new(Semaphore::new(1)))
        .clone()
}
