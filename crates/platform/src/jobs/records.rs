//! Rows a job writes with its outcome ([`super::JobContext::insert_with_outcome`]), such as
//! the webhook delivery log. They stay typed until the outcome is written, so that the rows
//! one table gets from a whole batch of jobs go in as one multi-row `INSERT` rather than a
//! round trip each.

use std::any::{Any, TypeId};

use sea_orm::{ActiveModelTrait, DbBackend, EntityTrait, QueryTrait, Statement};

/// The most rows one `INSERT` takes (a few columns each, far under SQLite's limit of
/// bound values).
const ROWS_PER_INSERT: usize = 256;

type Erased = Box<dyn Any + Send + Sync>;
/// Makes one `INSERT` of rows of one type.
type InsertAll = fn(Vec<Erased>, DbBackend) -> Statement;

/// One row for some table, its type erased until rows of the same type are put together.
pub(super) struct Row {
    table: TypeId,
    row: Erased,
    insert_all: InsertAll,
    /// The row's own `INSERT`, for when a batch's cannot be written: then each row goes
    /// in on its own, so that one bad row does not take the others with it.
    alone: Statement,
}

impl Row {
    pub(super) fn new<A>(row: A, backend: DbBackend) -> Self
    where
        A: ActiveModelTrait + Send + Sync + 'static,
    {
        let alone = <A::Entity as EntityTrait>::insert(row.clone()).build(backend);
        Self {
            table: TypeId::of::<A>(),
            row: Box::new(row),
            insert_all: insert_all::<A>,
            alone,
        }
    }
}

fn insert_all<A>(rows: Vec<Erased>, backend: DbBackend) -> Statement
where
    A: ActiveModelTrait + Send + Sync + 'static,
{
    let rows = rows
        .into_iter()
        .map(|row| *row.downcast::<A>().expect("rows are put together by type"));
    <A::Entity as EntityTrait>::insert_many(rows).build(backend)
}

/// `rows` as statements: together, one `INSERT` per table (and per [`ROWS_PER_INSERT`]),
/// and each on its own.
pub(super) fn statements(rows: Vec<Row>, backend: DbBackend) -> (Vec<Statement>, Vec<Statement>) {
    let mut alone = Vec::with_capacity(rows.len());
    let mut tables: Vec<(TypeId, InsertAll, Vec<Erased>)> = Vec::new();
    for row in rows {
        alone.push(row.alone);
        match tables.iter_mut().find(|(table, ..)| *table == row.table) {
            Some((.., same)) => same.push(row.row),
            None => tables.push((row.table, row.insert_all, vec![row.row])),
        }
    }
    let mut together = Vec::new();
    for (_, insert_all, mut rows) in tables {
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(ROWS_PER_INSERT));
            together.push(insert_all(rows, backend));
            rows = rest;
        }
    }
    (together, alone)
}
