//! The click writer's statements, written out in SQL and bound with sqlx directly.
//!
//! The writer binds tens of thousands of rows a second, a dozen values each. Through
//! SeaQuery every value becomes an expression node and every string is copied twice on
//! its way to the driver. Here each statement's text is made once per shape and kept, and
//! values are bound as they are: the labels a click is parsed to are interned `Arc<str>`s,
//! bound without a copy. In the links benchmark the writer went from 11,500 to 16,500
//! clicks/s on SQLite (and 5,800 to 9,200 on PostgreSQL); most of a batch's time is now the
//! database writing its rows, about six per click.
//!
//! Both databases take the same statements but for how the rows are bound (each value on
//! SQLite, each column as an array on PostgreSQL: see [`write`]) and PostgreSQL's row
//! lock on the compaction mark (see [`crate::compaction`]).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use platform::db::{Db, Dialect, fixed_chunks};
use sea_orm::sqlx::{
    self, AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Postgres, Row, Sqlite, Transaction,
    Type, encode::IsNull, error::BoxDynError,
};

use super::{Counts, Parsed};

/// One batch's transaction, on whichever database the writer has.
pub(super) enum Batch {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// The statements' texts, made once per shape (statement and row count) and reused: both
/// databases cache the prepared statement per text, and [`fixed_chunks`] keeps the
/// shapes few.
pub(super) struct Statements {
    dialect: Dialect,
    texts: HashMap<(Shape, usize), Arc<str>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    Clicks,
    Counts,
    Visitors,
    Rollups(Rollup),
}

/// The two rollup tables: by hour, and by UTC day for the days already compacted.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Rollup {
    Hourly,
    Daily,
}

/// A rollup row's bucket: an hour of `click_rollups` or a day of `click_days`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Bucket {
    Hour(DateTime<Utc>),
    Day(NaiveDate),
}

/// A rollup row's key: link, dimension, bucket, value.
pub(super) type RollupKey = (i64, &'static str, Bucket, Arc<str>);

/// A value many rows of a batch share (an hour, a day, a dimension's name), encoded for
/// SQLite once instead of once per row.
///
/// sqlx binds a time, a date or a `&str` to SQLite as a new `String` in a new `Arc` each
/// time, which the driver's thread then frees: in the links benchmark, allocating and
/// freeing those took more of the writer's time than anything it did itself. (PostgreSQL
/// takes whole columns as arrays, see [`write`].)
#[derive(Clone)]
pub(super) struct Shared<T> {
    value: T,
    /// What sqlx would bind to SQLite for `value` (see the test below).
    text: Arc<str>,
}

impl Shared<DateTime<Utc>> {
    pub(super) fn time(value: DateTime<Utc>) -> Self {
        let text = value.to_rfc3339_opts(SecondsFormat::AutoSi, false).into();
        Self { value, text }
    }
}

impl Shared<NaiveDate> {
    pub(super) fn day(value: NaiveDate) -> Self {
        let text = value.format("%F").to_string().into();
        Self { value, text }
    }
}

impl Shared<&'static str> {
    pub(super) fn text(value: &'static str) -> Self {
        Self {
            value,
            text: value.into(),
        }
    }
}

impl<T: Type<Sqlite>> Type<Sqlite> for Shared<T> {
    fn type_info() -> <Sqlite as Database>::TypeInfo {
        T::type_info()
    }
}

impl<T> Encode<'_, Sqlite> for Shared<T> {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        // An `Arc<str>` is bound as it is: one more reference, no copy.
        <Arc<str> as Encode<Sqlite>>::encode_by_ref(&self.text, buf)
    }
}

/// The shared values of one statement's rows, each encoded on first use: a batch has a
/// handful of each.
#[derive(Default)]
struct SharedValues {
    times: Vec<Shared<DateTime<Utc>>>,
    days: Vec<Shared<NaiveDate>>,
    names: Vec<Shared<&'static str>>,
}

impl SharedValues {
    fn time(&mut self, value: DateTime<Utc>) -> Shared<DateTime<Utc>> {
        find_or_add(&mut self.times, value, Shared::time)
    }

    fn day(&mut self, value: NaiveDate) -> Shared<NaiveDate> {
        find_or_add(&mut self.days, value, Shared::day)
    }

    fn name(&mut self, value: &'static str) -> Shared<&'static str> {
        find_or_add(&mut self.names, value, Shared::text)
    }
}

fn find_or_add<T: Copy + PartialEq>(
    known: &mut Vec<Shared<T>>,
    value: T,
    encode: fn(T) -> Shared<T>,
) -> Shared<T> {
    if let Some(found) = known.iter().find(|s| s.value == value) {
        return found.clone();
    }
    let shared = encode(value);
    known.push(shared.clone());
    shared
}

/// Rows per statement: far below SQLite's 32,766 bound values (16 × 500 = 8,000).
const CLICK_ROWS: usize = 500;
const COUNT_IDS: usize = 1000;
const VISITOR_ROWS: usize = 500;
const ROLLUP_ROWS: usize = 1000;
/// Rows per statement on PostgreSQL, which takes a column as one array parameter.
const ARRAY_ROWS: usize = 10_000;

impl Statements {
    pub(super) fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            texts: HashMap::new(),
        }
    }

    /// The text of `shape` for `rows` rows.
    fn text(&mut self, shape: Shape, rows: usize) -> AssertSqlSafe<Arc<str>> {
        let dialect = self.dialect;
        let text = self
            .texts
            .entry((shape, rows))
            .or_insert_with(|| write(dialect, shape, rows).into());
        AssertSqlSafe(text.clone())
    }

    /// `INSERT INTO clicks (…) VALUES (…), …`: the raw rows.
    pub(super) async fn insert_clicks(
        &mut self,
        batch: &mut Batch,
        parsed: &[Parsed],
    ) -> sqlx::Result<()> {
        match batch {
            Batch::Sqlite(tx) => {
                for chunk in fixed_chunks(parsed, CLICK_ROWS) {
                    let mut query = sqlx::query(self.text(Shape::Clicks, chunk.len()));
                    for p in chunk {
                        let [source, medium, campaign, term, content] = &p.utm;
                        query = query
                            .bind(p.link_id)
                            .bind(p.at)
                            .bind(&p.referrer)
                            .bind(&p.referrer_host)
                            .bind(&p.country)
                            .bind(&p.browser)
                            .bind(&p.os)
                            .bind(&p.device)
                            .bind(&p.language)
                            .bind(p.is_bot)
                            .bind(&p.visitor_hash)
                            .bind(source)
                            .bind(medium)
                            .bind(campaign)
                            .bind(term)
                            .bind(content);
                    }
                    query.execute(&mut **tx).await?;
                }
            }
            Batch::Postgres(tx) => {
                for chunk in parsed.chunks(ARRAY_ROWS) {
                    let column = |label: fn(&Parsed) -> Option<&str>| -> Vec<Option<&str>> {
                        chunk.iter().map(label).collect()
                    };
                    let utm = |i: usize| -> Vec<Option<&str>> {
                        chunk.iter().map(|p| p.utm[i].as_deref()).collect()
                    };
                    sqlx::query(self.text(Shape::Clicks, ARRAY_ROWS))
                        .bind(chunk.iter().map(|p| p.link_id).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|p| p.at).collect::<Vec<_>>())
                        .bind(column(|p| p.referrer.as_deref()))
                        .bind(column(|p| p.referrer_host.as_deref()))
                        .bind(column(|p| p.country.as_deref()))
                        .bind(column(|p| Some(&p.browser)))
                        .bind(column(|p| Some(&p.os)))
                        .bind(column(|p| Some(&p.device)))
                        .bind(column(|p| p.language.as_deref()))
                        .bind(chunk.iter().map(|p| p.is_bot).collect::<Vec<_>>())
                        .bind(column(|p| Some(&p.visitor_hash)))
                        .bind(utm(0))
                        .bind(utm(1))
                        .bind(utm(2))
                        .bind(utm(3))
                        .bind(utm(4))
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Adds `n` to the counter of each link in `by_increment[n]` (`INSERT INTO
    /// link_click_counts … SELECT id, n FROM links WHERE id IN (…) ON CONFLICT (link_id) DO
    /// UPDATE … RETURNING link_id`), once per distinct `n` (most links get one click per
    /// batch, so there are few); returns the links it found. One deleted while its clicks
    /// were queued is gone with its statistics, and its clicks with it: written, they would
    /// be rows of a link that no longer exists (the tables written after this one have no
    /// foreign key to refuse them).
    pub(super) async fn add_to_click_counts(
        &mut self,
        batch: &mut Batch,
        by_increment: &BTreeMap<i64, Vec<i64>>,
    ) -> sqlx::Result<HashSet<i64>> {
        let mut found = HashSet::new();
        for (n, ids) in by_increment {
            match batch {
                Batch::Sqlite(tx) => {
                    for chunk in fixed_chunks(ids, COUNT_IDS) {
                        let mut query = sqlx::query(self.text(Shape::Counts, chunk.len())).bind(n);
                        for id in chunk {
                            query = query.bind(id);
                        }
                        for row in query.fetch_all(&mut **tx).await? {
                            found.insert(row.try_get("link_id")?);
                        }
                    }
                }
                Batch::Postgres(tx) => {
                    for chunk in ids.chunks(ARRAY_ROWS) {
                        let query = sqlx::query(self.text(Shape::Counts, ARRAY_ROWS))
                            .bind(n)
                            .bind(chunk);
                        for row in query.fetch_all(&mut **tx).await? {
                            found.insert(row.try_get("link_id")?);
                        }
                    }
                }
            }
        }
        Ok(found)
    }

    /// `INSERT INTO link_visitors … ON CONFLICT DO NOTHING RETURNING …`: of `visitors`
    /// (link, day, hash), exactly those not stored before come back.
    pub(super) async fn insert_visitors(
        &mut self,
        batch: &mut Batch,
        visitors: &[(i64, NaiveDate, Arc<str>)],
    ) -> sqlx::Result<Vec<(i64, NaiveDate, Arc<str>)>> {
        let mut new = Vec::new();
        match batch {
            Batch::Sqlite(tx) => {
                let mut days = SharedValues::default();
                for chunk in fixed_chunks(visitors, VISITOR_ROWS) {
                    let mut query = sqlx::query(self.text(Shape::Visitors, chunk.len()));
                    for (link_id, day, hash) in chunk {
                        query = query.bind(link_id).bind(days.day(*day)).bind(hash);
                    }
                    for row in query.fetch_all(&mut **tx).await? {
                        new.push(visitor(&row)?);
                    }
                }
            }
            Batch::Postgres(tx) => {
                for chunk in visitors.chunks(ARRAY_ROWS) {
                    let query = sqlx::query(self.text(Shape::Visitors, ARRAY_ROWS))
                        .bind(chunk.iter().map(|v| v.0).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|v| v.1).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|v| &*v.2).collect::<Vec<_>>());
                    for row in query.fetch_all(&mut **tx).await? {
                        new.push(visitor(&row)?);
                    }
                }
            }
        }
        Ok(new)
    }

    /// The last UTC day already compacted into `click_days`, read `FOR SHARE` on
    /// PostgreSQL so that the compactor cannot fold that day in while this batch is open.
    pub(super) async fn compacted_through(
        &mut self,
        batch: &mut Batch,
    ) -> sqlx::Result<Option<NaiveDate>> {
        let row = match batch {
            Batch::Sqlite(tx) => {
                sqlx::query("SELECT through FROM click_days_compacted WHERE id = 1")
                    .fetch_one(&mut **tx)
                    .await?
                    .try_get("through")?
            }
            Batch::Postgres(tx) => {
                sqlx::query("SELECT through FROM click_days_compacted WHERE id = 1 FOR SHARE")
                    .fetch_one(&mut **tx)
                    .await?
                    .try_get("through")?
            }
        };
        Ok(row)
    }

    /// `INSERT INTO click_rollups | click_days … ON CONFLICT (…) DO UPDATE SET clicks =
    /// clicks + excluded.clicks, …`, in primary-key order.
    pub(super) async fn upsert_rollups(
        &mut self,
        batch: &mut Batch,
        rollup: Rollup,
        rows: &[(RollupKey, Counts)],
    ) -> sqlx::Result<()> {
        match batch {
            Batch::Sqlite(tx) => {
                let mut shared = SharedValues::default();
                for chunk in fixed_chunks(rows, ROLLUP_ROWS) {
                    let mut query = sqlx::query(self.text(Shape::Rollups(rollup), chunk.len()));
                    for ((link_id, dimension, bucket, value), counts) in chunk {
                        query = query.bind(link_id).bind(shared.name(dimension));
                        query = match bucket {
                            Bucket::Hour(hour) => query.bind(shared.time(*hour)),
                            Bucket::Day(day) => query.bind(shared.day(*day)),
                        };
                        query = query
                            .bind(value)
                            .bind(counts.clicks)
                            .bind(counts.bot_clicks)
                            .bind(counts.visitors);
                    }
                    query.execute(&mut **tx).await?;
                }
            }
            Batch::Postgres(tx) => {
                for chunk in rows.chunks(ARRAY_ROWS) {
                    let (mut hours, mut days) = (Vec::new(), Vec::new());
                    for ((_, _, bucket, _), _) in chunk {
                        match bucket {
                            Bucket::Hour(hour) => hours.push(*hour),
                            Bucket::Day(day) => days.push(*day),
                        }
                    }
                    let query = sqlx::query(self.text(Shape::Rollups(rollup), ARRAY_ROWS))
                        .bind(chunk.iter().map(|((id, ..), _)| *id).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|((_, d, ..), _)| *d).collect::<Vec<_>>());
                    let query = match rollup {
                        Rollup::Hourly => query.bind(hours),
                        Rollup::Daily => query.bind(days),
                    };
                    query
                        .bind(chunk.iter().map(|((.., v), _)| &**v).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|(_, c)| c.clicks).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|(_, c)| c.bot_clicks).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|(_, c)| c.visitors).collect::<Vec<_>>())
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(())
    }
}

impl Batch {
    /// Opens a batch's transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): every batch writes, and waiting for the lock up front (within the busy
    /// timeout) beats failing halfway through.
    pub(super) async fn begin(db: &Db) -> sqlx::Result<Batch> {
        Ok(match Dialect::of(db) {
            Dialect::Sqlite => Batch::Sqlite(
                db.get_sqlite_connection_pool()
                    .begin_with("BEGIN IMMEDIATE")
                    .await?,
            ),
            Dialect::Postgres => Batch::Postgres(db.get_postgres_connection_pool().begin().await?),
        })
    }

    pub(super) async fn commit(self) -> sqlx::Result<()> {
        match self {
            Batch::Sqlite(tx) => tx.commit().await,
            Batch::Postgres(tx) => tx.commit().await,
        }
    }
}

/// A row of `link_visitors`, as `RETURNING` gives it back.
fn visitor<'r, R: Row>(row: &'r R) -> sqlx::Result<(i64, NaiveDate, Arc<str>)>
where
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    NaiveDate: Decode<'r, R::Database> + Type<R::Database>,
    Arc<str>: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok((
        row.try_get("link_id")?,
        row.try_get("day")?,
        row.try_get("visitor_hash")?,
    ))
}

/// The SQL text of `shape`: for `rows` rows on SQLite, for any number on PostgreSQL.
///
/// SQLite takes each value of each row as a parameter: `INSERT … VALUES (?, …), …`.
/// PostgreSQL takes each column as one array, `INSERT … SELECT * FROM UNNEST($1::int8[],
/// …)`: one short statement whatever the row count, where a `VALUES` list made it set up
/// an expression per value on every execution (a sixth of its time in the links
/// benchmark) and decode each parameter on its own.
fn write(dialect: Dialect, shape: Shape, rows: usize) -> String {
    // `(column, …) VALUES (?, …), …` or `(column, …) SELECT * FROM UNNEST($1::type[], …)`.
    let rows_of = |columns: &[(&str, &str)]| {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let source = match dialect {
            Dialect::Sqlite => {
                let row = format!("({})", vec!["?"; columns.len()].join(", "));
                format!("VALUES {}", vec![row; rows].join(", "))
            }
            Dialect::Postgres => {
                let arrays: Vec<String> = (1..)
                    .zip(columns)
                    .map(|(n, (_, ty))| format!("${n}::{ty}[]"))
                    .collect();
                format!("SELECT * FROM UNNEST({})", arrays.join(", "))
            }
        };
        format!("({}) {source}", names.join(", "))
    };
    match shape {
        Shape::Clicks => format!(
            "INSERT INTO clicks {}",
            rows_of(&[
                ("link_id", "int8"),
                ("clicked_at", "timestamptz"),
                ("referrer", "text"),
                ("referrer_host", "text"),
                ("country", "text"),
                ("browser", "text"),
                ("os", "text"),
                ("device", "text"),
                ("language", "text"),
                ("is_bot", "bool"),
                ("visitor_hash", "text"),
                ("utm_source", "text"),
                ("utm_medium", "text"),
                ("utm_campaign", "text"),
                ("utm_term", "text"),
                ("utm_content", "text"),
            ])
        ),
        // The SELECT's WHERE is also what lets SQLite parse `ON CONFLICT` after it.
        Shape::Counts => format!(
            "INSERT INTO link_click_counts (link_id, clicks) \
             SELECT id, {} FROM links WHERE {} \
             ON CONFLICT (link_id) DO UPDATE SET \
             clicks = link_click_counts.clicks + excluded.clicks \
             RETURNING link_id",
            match dialect {
                Dialect::Sqlite => "?",
                Dialect::Postgres => "$1",
            },
            match dialect {
                Dialect::Sqlite => format!("id IN ({})", vec!["?"; rows].join(", ")),
                Dialect::Postgres => "id = ANY($2::int8[])".to_owned(),
            }
        ),
        Shape::Visitors => format!(
            "INSERT INTO link_visitors {} \
             ON CONFLICT (link_id, day, visitor_hash) DO NOTHING \
             RETURNING link_id, day, visitor_hash",
            rows_of(&[
                ("link_id", "int8"),
                ("day", "date"),
                ("visitor_hash", "text")
            ])
        ),
        Shape::Rollups(rollup) => {
            let (table, bucket, bucket_type) = match rollup {
                Rollup::Hourly => ("click_rollups", "bucket", "timestamptz"),
                Rollup::Daily => ("click_days", "day", "date"),
            };
            format!(
                "INSERT INTO {table} {} \
                 ON CONFLICT (link_id, dimension, {bucket}, value) DO UPDATE SET \
                 clicks = {table}.clicks + excluded.clicks, \
                 bot_clicks = {table}.bot_clicks + excluded.bot_clicks, \
                 visitors = {table}.visitors + excluded.visitors",
                rows_of(&[
                    ("link_id", "int8"),
                    ("dimension", "text"),
                    (bucket, bucket_type),
                    ("value", "text"),
                    ("clicks", "int8"),
                    ("bot_clicks", "int8"),
                    ("visitors", "int8"),
                ])
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};
    use sea_orm::sqlx::{Connection, SqliteConnection};

    use super::*;

    /// A shared value must compare equal, in SQLite, to the value sqlx binds itself: the
    /// rows the writer upserts are found again by key, and read back by the statistics.
    #[tokio::test]
    async fn shared_values_bind_to_sqlite_as_sqlx_binds_them() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let hour = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap();
        for time in [hour, hour + TimeDelta::microseconds(123_456)] {
            let same: bool = sqlx::query_scalar("SELECT ? = ?")
                .bind(time)
                .bind(Shared::time(time))
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert!(same, "{time}");
        }
        let day = hour.date_naive();
        let same: bool = sqlx::query_scalar("SELECT ? = ?")
            .bind(day)
            .bind(Shared::day(day))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(same, "{day}");
    }

    #[test]
    fn sqlite_binds_each_value_and_postgres_each_column() {
        assert_eq!(
            write(Dialect::Sqlite, Shape::Visitors, 2),
            "INSERT INTO link_visitors (link_id, day, visitor_hash) VALUES (?, ?, ?), (?, ?, ?) \
             ON CONFLICT (link_id, day, visitor_hash) DO NOTHING \
             RETURNING link_id, day, visitor_hash"
        );
        assert_eq!(
            write(Dialect::Postgres, Shape::Visitors, ARRAY_ROWS),
            "INSERT INTO link_visitors (link_id, day, visitor_hash) \
             SELECT * FROM UNNEST($1::int8[], $2::date[], $3::text[]) \
             ON CONFLICT (link_id, day, visitor_hash) DO NOTHING \
             RETURNING link_id, day, visitor_hash"
        );
        assert_eq!(
            write(Dialect::Postgres, Shape::Counts, ARRAY_ROWS),
            "INSERT INTO link_click_counts (link_id, clicks) \
             SELECT id, $1 FROM links WHERE id = ANY($2::int8[]) \
             ON CONFLICT (link_id) DO UPDATE SET \
             clicks = link_click_counts.clicks + excluded.clicks \
             RETURNING link_id"
        );
    }
}
