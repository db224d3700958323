//! The click writer's statements, written out in SQL.
//!
//! The writer binds tens of thousands of rows a second, a dozen values each, so it binds
//! them itself rather than through SeaQuery (where every value becomes an expression node
//! and every string is copied twice on its way to the driver):
//!
//! - on SQLite, with rusqlite on the handle of the transaction's own sqlx connection (see
//!   [`on_handle`]): one prepared single-row statement per table, run once per row, on the
//!   writer's own thread. Through sqlx, each statement of thousands of parameters went to
//!   the connection's worker thread with every time, date and text copied into a new
//!   allocation, which that thread then freed: the handing over, allocating and freeing
//!   took more of a batch's time than SQLite writing its rows.
//! - on PostgreSQL, with sqlx, each column of a statement's rows bound as one array (see
//!   [`write`]); the raw clicks, which need no `ON CONFLICT`, streamed with `COPY` (see
//!   [`Statements::insert_clicks`]).
//!
//! Both take the same statements, but for how the rows are bound and PostgreSQL's row lock
//! on the compaction mark (see [`crate::compaction`]).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use platform::db::{Db, Dialect};
use rusqlite::params;
use sea_orm::sqlx::{self, AssertSqlSafe, Postgres, Row, Sqlite, Transaction};

use super::{Counts, OrphanVisit, Parsed};

/// One batch's transaction, on whichever database the writer has.
pub(super) enum Batch {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// The statements' texts, made once: for one row on SQLite, for [`ARRAY_ROWS`] on
/// PostgreSQL (which caches the prepared statement per text).
pub(super) struct Statements {
    texts: HashMap<Shape, Arc<str>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    Clicks,
    Orphans,
    /// Adds to existing counters.
    AddToCounts,
    /// Adds to counters, making them when missing.
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

/// A time as sqlx stores it in SQLite (the statistics read these rows through sqlx).
fn sqlite_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Appends one row of `COPY … FROM STDIN`'s text format to `out`: the values separated by
/// tabs, `\N` for null, and a backslash before each backslash, tab, newline and carriage
/// return a value holds.
fn copy_row(out: &mut String, values: &[Option<&str>]) {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        let Some(value) = value else {
            out.push_str("\\N");
            continue;
        };
        if !value.contains(['\\', '\t', '\n', '\r']) {
            out.push_str(value);
            continue;
        }
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
    }
    out.push('\n');
}

/// A day as sqlx stores it in SQLite.
fn sqlite_day(day: NaiveDate) -> String {
    day.format("%F").to_string()
}

/// New counters in one batch past which PostgreSQL's statistics of them are made again
/// (see [`Statements::after_new_counters`]): a tenth of a full batch.
const ANALYZE_AFTER_NEW_COUNTERS: usize = 2_000;

/// Rows per statement on PostgreSQL, which takes a column as one array parameter.
const ARRAY_ROWS: usize = 10_000;

impl Statements {
    pub(super) fn new(dialect: Dialect) -> Self {
        let shapes = [
            Shape::Clicks,
            Shape::Orphans,
            Shape::AddToCounts,
            Shape::Counts,
            Shape::Visitors,
            Shape::Rollups(Rollup::Hourly),
            Shape::Rollups(Rollup::Daily),
        ];
        Self {
            texts: shapes
                .into_iter()
                .map(|shape| (shape, write(dialect, shape).into()))
                .collect(),
        }
    }

    /// The text of `shape` for this database.
    fn text(&self, shape: Shape) -> Arc<str> {
        self.texts[&shape].clone()
    }

    /// `INSERT INTO clicks …`: the raw rows.
    pub(super) async fn insert_clicks(
        &self,
        batch: &mut Batch,
        parsed: &[Parsed],
    ) -> anyhow::Result<()> {
        match batch {
            Batch::Sqlite(tx) => {
                let text = self.text(Shape::Clicks);
                on_handle(tx, |db| {
                    let mut insert = db.prepare(&text)?;
                    for p in parsed {
                        let [source, medium, campaign, term, content] =
                            p.utm.each_ref().map(Option::as_deref);
                        insert.execute(params![
                            p.link_id,
                            sqlite_time(p.at),
                            p.referrer.as_deref(),
                            p.referrer_host.as_deref(),
                            p.country.as_deref(),
                            &*p.browser,
                            &*p.os,
                            &*p.device,
                            p.language.as_deref(),
                            p.is_bot,
                            &*p.visitor_hash,
                            source,
                            medium,
                            campaign,
                            term,
                            content,
                        ])?;
                    }
                    Ok(())
                })
                .await?;
            }
            Batch::Postgres(tx) => {
                // `COPY clicks (…) FROM STDIN`, the rows as text: PostgreSQL parses them as
                // they come, with no statement to plan nor arrays to unpack.
                let mut rows = String::with_capacity(parsed.len() * 160);
                for p in parsed {
                    let [source, medium, campaign, term, content] =
                        p.utm.each_ref().map(Option::as_deref);
                    let link_id = p.link_id.to_string();
                    let at = p.at.to_rfc3339_opts(SecondsFormat::Micros, true);
                    copy_row(
                        &mut rows,
                        &[
                            Some(&link_id),
                            Some(&at),
                            p.referrer.as_deref(),
                            p.referrer_host.as_deref(),
                            p.country.as_deref(),
                            Some(&p.browser),
                            Some(&p.os),
                            Some(&p.device),
                            p.language.as_deref(),
                            Some(if p.is_bot { "t" } else { "f" }),
                            Some(&p.visitor_hash),
                            source,
                            medium,
                            campaign,
                            term,
                            content,
                        ],
                    );
                }
                let mut copy = tx.copy_in_raw(&self.text(Shape::Clicks)).await?;
                copy.send(rows.as_bytes()).await?;
                copy.finish().await?;
            }
        }
        Ok(())
    }

    /// `INSERT INTO orphan_visits …`, as for clicks: usually a few rows, but a scanner
    /// trying slugs makes thousands a second.
    pub(super) async fn insert_orphans(
        &self,
        batch: &mut Batch,
        orphans: &[(&OrphanVisit, Parsed)],
    ) -> anyhow::Result<()> {
        if orphans.is_empty() {
            return Ok(());
        }
        match batch {
            Batch::Sqlite(tx) => {
                let text = self.text(Shape::Orphans);
                on_handle(tx, |db| {
                    let mut insert = db.prepare(&text)?;
                    for (o, p) in orphans {
                        insert.execute(params![
                            sqlite_time(p.at),
                            o.kind.as_str(),
                            &*o.domain,
                            o.slug.as_deref(),
                            p.referrer.as_deref(),
                            p.referrer_host.as_deref(),
                            p.country.as_deref(),
                            &*p.browser,
                            &*p.os,
                            &*p.device,
                            p.language.as_deref(),
                            p.is_bot,
                        ])?;
                    }
                    Ok(())
                })
                .await?;
            }
            Batch::Postgres(tx) => {
                for chunk in orphans.chunks(ARRAY_ROWS) {
                    let column =
                        |label: for<'a> fn(&'a (&'a OrphanVisit, Parsed)) -> Option<&'a str>| {
                            chunk.iter().map(label).collect::<Vec<_>>()
                        };
                    sqlx::query(AssertSqlSafe(self.text(Shape::Orphans)))
                        .bind(chunk.iter().map(|(_, p)| p.at).collect::<Vec<_>>())
                        .bind(column(|(o, _)| Some(o.kind.as_str())))
                        .bind(column(|(o, _)| Some(&o.domain)))
                        .bind(column(|(o, _)| o.slug.as_deref()))
                        .bind(column(|(_, p)| p.referrer.as_deref()))
                        .bind(column(|(_, p)| p.referrer_host.as_deref()))
                        .bind(column(|(_, p)| p.country.as_deref()))
                        .bind(column(|(_, p)| Some(&p.browser)))
                        .bind(column(|(_, p)| Some(&p.os)))
                        .bind(column(|(_, p)| Some(&p.device)))
                        .bind(column(|(_, p)| p.language.as_deref()))
                        .bind(chunk.iter().map(|(_, p)| p.is_bot).collect::<Vec<_>>())
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Adds `n` to the counter of each link in `by_increment[n]`, once per distinct `n`
    /// (most links get one click per batch, so there are few); returns the links it found,
    /// and how many of them had no counter before.
    /// One deleted while its clicks were queued is gone with its statistics, and its clicks
    /// with it: written, they would be rows of a link that no longer exists (the tables
    /// written after this one have no foreign key to refuse them).
    ///
    /// Most links have a counter already, which a plain `UPDATE` finds by its key; the
    /// others (a link's first clicks, and links deleted since) then go through `INSERT …
    /// SELECT id, n FROM links WHERE id = … ON CONFLICT (link_id) DO UPDATE`, which
    /// looks the link up and checks the counter's foreign key: a quarter of the time of
    /// a batch on SQLite when every counter went that way.
    pub(super) async fn add_to_click_counts(
        &self,
        batch: &mut Batch,
        by_increment: &BTreeMap<i64, Vec<i64>>,
    ) -> anyhow::Result<(HashSet<i64>, usize)> {
        let mut found = self.counts(batch, Shape::AddToCounts, by_increment).await?;
        let mut missed: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (n, ids) in by_increment {
            let ids = ids.iter().filter(|id| !found.contains(id));
            missed.entry(*n).or_default().extend(ids);
        }
        missed.retain(|_, ids| !ids.is_empty());
        let mut created = 0;
        if !missed.is_empty() {
            let made = self.counts(batch, Shape::Counts, &missed).await?;
            created = made.len();
            found.extend(made);
        }
        Ok((found, created))
    }

    /// After a batch that gave many links their first counter: on PostgreSQL, the
    /// statistics of `link_click_counts` made again (`ANALYZE`), as the table's size has
    /// just changed by many rows. The plan of `UPDATE … WHERE link_id = ANY($2)` follows
    /// them: in the links benchmark the counters grew from 1 row to 100,000 within seconds,
    /// faster than autovacuum looks, and with the table still taken for a page of rows the
    /// plan scanned it whole, comparing every row with every id of the array: 0.3–2.7 s per
    /// batch, two thirds of the database's time (`auto_explain`, `perf`). SQLite looks each
    /// counter up by its key whatever its statistics.
    pub(super) async fn after_new_counters(&self, db: &Db, created: usize) -> sqlx::Result<()> {
        if created >= ANALYZE_AFTER_NEW_COUNTERS && Dialect::of(db) == Dialect::Postgres {
            sqlx::query("ANALYZE link_click_counts")
                .execute(db.get_postgres_connection_pool())
                .await?;
        }
        Ok(())
    }

    /// Runs `shape`, a counters statement `… RETURNING link_id`, for each `(n, ids)`.
    async fn counts(
        &self,
        batch: &mut Batch,
        shape: Shape,
        by_increment: &BTreeMap<i64, Vec<i64>>,
    ) -> anyhow::Result<HashSet<i64>> {
        let text = self.text(shape);
        let mut found = HashSet::new();
        match batch {
            Batch::Sqlite(tx) => {
                on_handle(tx, |db| {
                    let mut add = db.prepare(&text)?;
                    for (n, ids) in by_increment {
                        for id in ids {
                            if add.query(params![n, id])?.next()?.is_some() {
                                found.insert(*id);
                            }
                        }
                    }
                    Ok(())
                })
                .await?;
            }
            Batch::Postgres(tx) => {
                for (n, ids) in by_increment {
                    for chunk in ids.chunks(ARRAY_ROWS) {
                        let query = sqlx::query(AssertSqlSafe(text.clone())).bind(n).bind(chunk);
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
    /// (link, day, hash), exactly those not stored before.
    pub(super) async fn insert_visitors(
        &self,
        batch: &mut Batch,
        visitors: &[(i64, NaiveDate, Arc<str>)],
    ) -> anyhow::Result<HashSet<(i64, NaiveDate, Arc<str>)>> {
        let text = self.text(Shape::Visitors);
        let mut new = HashSet::new();
        match batch {
            Batch::Sqlite(tx) => {
                on_handle(tx, |db| {
                    let mut insert = db.prepare(&text)?;
                    let mut days = Memo::default();
                    for visitor @ (link_id, day, hash) in visitors {
                        let day = days.text(*day, sqlite_day);
                        if insert
                            .query(params![link_id, day, &**hash])?
                            .next()?
                            .is_some()
                        {
                            new.insert(visitor.clone());
                        }
                    }
                    Ok(())
                })
                .await?;
            }
            Batch::Postgres(tx) => {
                for chunk in visitors.chunks(ARRAY_ROWS) {
                    let query = sqlx::query(AssertSqlSafe(text.clone()))
                        .bind(chunk.iter().map(|v| v.0).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|v| v.1).collect::<Vec<_>>())
                        .bind(chunk.iter().map(|v| &*v.2).collect::<Vec<_>>());
                    for row in query.fetch_all(&mut **tx).await? {
                        new.insert((
                            row.try_get("link_id")?,
                            row.try_get("day")?,
                            row.try_get("visitor_hash")?,
                        ));
                    }
                }
            }
        }
        Ok(new)
    }

    /// The last UTC day already compacted into `click_days`, read `FOR SHARE` on
    /// PostgreSQL so that the compactor cannot fold that day in while this batch is open.
    pub(super) async fn compacted_through(
        &self,
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
        &self,
        batch: &mut Batch,
        rollup: Rollup,
        rows: &[(RollupKey, Counts)],
    ) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let text = self.text(Shape::Rollups(rollup));
        match batch {
            Batch::Sqlite(tx) => {
                on_handle(tx, |db| {
                    let mut upsert = db.prepare(&text)?;
                    let mut buckets = Memo::default();
                    for ((link_id, dimension, bucket, value), counts) in rows {
                        let bucket = buckets.text(*bucket, |bucket| match bucket {
                            Bucket::Hour(hour) => sqlite_time(hour),
                            Bucket::Day(day) => sqlite_day(day),
                        });
                        upsert.execute(params![
                            link_id,
                            dimension,
                            bucket,
                            &**value,
                            counts.clicks,
                            counts.bot_clicks,
                            counts.visitors,
                        ])?;
                    }
                    Ok(())
                })
                .await?;
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
                    let query = sqlx::query(AssertSqlSafe(text.clone()))
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

/// Runs `statements` on the SQLite connection under `tx`, directly through its handle, on
/// this thread.
async fn on_handle(
    tx: &mut Transaction<'static, Sqlite>,
    statements: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<()>,
) -> anyhow::Result<()> {
    let mut handle = tx.lock_handle().await?;
    // SAFETY: the handle is an open connection, and ours alone while `handle` is held:
    // sqlx's worker thread waits for it back. rusqlite does not close a connection made
    // with `from_handle`, and it is dropped (with every statement prepared on it, as they
    // borrow it) before `handle`, in this function. The statements run inside sqlx's
    // transaction, which commits or rolls back as usual.
    let db = unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }?;
    let done = statements(&db);
    drop(db);
    Ok(done?)
}

/// The text of each distinct value (an hour, a day) of a batch, made on first use: a batch
/// has a handful.
struct Memo<K>(Vec<(K, String)>);

impl<K> Default for Memo<K> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: Copy + PartialEq> Memo<K> {
    fn text(&mut self, key: K, make: impl FnOnce(K) -> String) -> &str {
        let i = match self.0.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.0.push((key, make(key)));
                self.0.len() - 1
            }
        };
        &self.0[i].1
    }
}

/// The SQL text of `shape`: for one row on SQLite, for any number on PostgreSQL.
///
/// SQLite takes one row's values as parameters: `INSERT … VALUES (?, …)`, run once per
/// row. PostgreSQL takes each column as one array, `INSERT … SELECT * FROM UNNEST($1::int8[],
/// …)`: one short statement whatever the row count, where a `VALUES` list made it set up
/// an expression per value on every execution (a sixth of its time in the links
/// benchmark) and decode each parameter on its own. The raw clicks, which need no
/// `ON CONFLICT`, are a `COPY … FROM STDIN` there, their rows streamed as text.
fn write(dialect: Dialect, shape: Shape) -> String {
    // `(column, …) VALUES (?, …)` or `(column, …) SELECT * FROM UNNEST($1::type[], …)`.
    let rows_of = |columns: &[(&str, &str)]| {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let source = match dialect {
            Dialect::Sqlite => {
                format!("VALUES ({})", vec!["?"; columns.len()].join(", "))
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
        Shape::Clicks => {
            let columns = [
                "link_id",
                "clicked_at",
                "referrer",
                "referrer_host",
                "country",
                "browser",
                "os",
                "device",
                "language",
                "is_bot",
                "visitor_hash",
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_term",
                "utm_content",
            ];
            match dialect {
                Dialect::Sqlite => format!(
                    "INSERT INTO clicks ({}) VALUES ({})",
                    columns.join(", "),
                    vec!["?"; columns.len()].join(", ")
                ),
                // The rows follow as text, in this order (see `Statements::insert_clicks`).
                Dialect::Postgres => format!("COPY clicks ({}) FROM STDIN", columns.join(", ")),
            }
        }
        Shape::Orphans => format!(
            "INSERT INTO orphan_visits {}",
            rows_of(&[
                ("visited_at", "timestamptz"),
                ("kind", "text"),
                ("domain", "text"),
                ("slug", "text"),
                ("referrer", "text"),
                ("referrer_host", "text"),
                ("country", "text"),
                ("browser", "text"),
                ("os", "text"),
                ("device", "text"),
                ("language", "text"),
                ("is_bot", "bool"),
            ])
        ),
        Shape::AddToCounts => match dialect {
            Dialect::Sqlite => "UPDATE link_click_counts SET clicks = clicks + ? \
                                WHERE link_id = ? RETURNING link_id"
                .to_owned(),
            Dialect::Postgres => "UPDATE link_click_counts SET clicks = clicks + $1 \
                                  WHERE link_id = ANY($2::int8[]) RETURNING link_id"
                .to_owned(),
        },
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
                Dialect::Sqlite => "id = ?",
                Dialect::Postgres => "id = ANY($2::int8[])",
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

    /// What `COPY`'s text format gives a special meaning to is escaped; the rest passes.
    #[test]
    fn copy_rows_escape_what_copy_reads_as_syntax() {
        let mut out = String::new();
        copy_row(
            &mut out,
            &[Some("7"), None, Some("a\tb\\c\nd\re"), Some("é")],
        );
        copy_row(&mut out, &[Some("")]);
        assert_eq!(out, "7\t\\N\ta\\tb\\\\c\\nd\\re\té\n\n");
    }

    /// The times and days the writer binds as text must compare equal, in SQLite, to what
    /// sqlx binds: the rows it upserts are found again by key, and read by the statistics.
    #[tokio::test]
    async fn sqlite_texts_are_what_sqlx_binds() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let hour = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap();
        for time in [hour, hour + TimeDelta::microseconds(123_456)] {
            let same: bool = sqlx::query_scalar("SELECT ? = ?")
                .bind(time)
                .bind(sqlite_time(time))
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert!(same, "{time}");
        }
        let day = hour.date_naive();
        let same: bool = sqlx::query_scalar("SELECT ? = ?")
            .bind(day)
            .bind(sqlite_day(day))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(same, "{day}");
    }

    #[test]
    fn sqlite_binds_each_row_and_postgres_each_column() {
        assert_eq!(
            write(Dialect::Sqlite, Shape::Visitors),
            "INSERT INTO link_visitors (link_id, day, visitor_hash) VALUES (?, ?, ?) \
             ON CONFLICT (link_id, day, visitor_hash) DO NOTHING \
             RETURNING link_id, day, visitor_hash"
        );
        assert_eq!(
            write(Dialect::Postgres, Shape::Visitors),
            "INSERT INTO link_visitors (link_id, day, visitor_hash) \
             SELECT * FROM UNNEST($1::int8[], $2::date[], $3::text[]) \
             ON CONFLICT (link_id, day, visitor_hash) DO NOTHING \
             RETURNING link_id, day, visitor_hash"
        );
        assert_eq!(
            write(Dialect::Postgres, Shape::Counts),
            "INSERT INTO link_click_counts (link_id, clicks) \
             SELECT id, $1 FROM links WHERE id = ANY($2::int8[]) \
             ON CONFLICT (link_id) DO UPDATE SET \
             clicks = link_click_counts.clicks + excluded.clicks \
             RETURNING link_id"
        );
    }
}
