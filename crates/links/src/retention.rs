//! What the links app keeps, and for how long. Once a day (and at start):
//!
//! - the visitors of days before yesterday (`link_visitors`) are forgotten: a visitor's
//!   row exists only so that they count once per link and day while that day's clicks
//!   arrive, and the counts are in the rollups. Past days' rows are never read again
//!   (their hashes were made with a daily salt since deleted, so no new click matches
//!   them); kept, they would grow with every visitor of every day for good;
//! - with `links.click_retention_days`, raw clicks and orphan visits older than that many
//!   days are deleted. The statistics stay: they are counted from the rollups. The raw
//!   rows (`GET /api/v1/links/{id}/clicks`, the CSV export, orphan visits) then cover the
//!   days kept.
//!
//! Every deletion runs in slices, each a statement and a transaction of its own: on SQLite
//! the click writer's batches take turns with them rather than wait for one long delete.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use platform::{AppResult, db::Db};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Alias, Expr, ExprTrait, Func, Query},
};

/// Links whose visitors one statement deletes.
const LINKS_PER_DELETE: i64 = 10_000;
/// Raw rows one statement deletes at most.
const ROWS_PER_DELETE: u64 = 10_000;

/// The daily clean-up (the `links.clean_up` job).
pub(crate) async fn clean_up(
    db: &Db,
    today: NaiveDate,
    click_retention_days: Option<u32>,
) -> AppResult<()> {
    let yesterday = today - TimeDelta::days(1);
    let visitors = forget_visitors_before(db, yesterday).await?;
    tracing::info!(visitors, before = %yesterday, "past days' visitors forgotten");
    if let Some(days) = click_retention_days {
        let before = (today - TimeDelta::days(days.into()))
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc();
        let clicks = delete_raw_before(db, "clicks", "clicked_at", before).await?;
        let orphans = delete_raw_before(db, "orphan_visits", "visited_at", before).await?;
        tracing::info!(
            clicks,
            orphans,
            %before,
            "raw clicks and orphan visits past their retention deleted"
        );
    }
    Ok(())
}

/// Deletes the visitors (`link_visitors`) of the days before `day`; returns how many.
///
/// In ranges of [`LINKS_PER_DELETE`] links, through the primary key (`link_id`, `day`,
/// `visitor_hash`): an index on `day` would cost the writer a second B-tree insert per
/// visitor.
pub async fn forget_visitors_before(db: &Db, day: NaiveDate) -> AppResult<u64> {
    let table = Alias::new("link_visitors");
    let link_id = || Expr::col(Alias::new("link_id"));
    // SELECT MAX(link_id) FROM link_visitors
    let last = Query::select()
        .expr(Func::max(link_id()))
        .from(table.clone())
        .to_owned();
    let last: Option<i64> = match db.query_one(&last).await? {
        Some(row) => row.try_get_by_index(0)?,
        None => None,
    };
    let Some(last) = last else {
        return Ok(0);
    };
    let mut forgotten = 0;
    let mut from = 0;
    while from <= last {
        // DELETE FROM link_visitors WHERE link_id >= ? AND link_id < ? AND day < ?
        let delete = Query::delete()
            .from_table(table.clone())
            .and_where(link_id().gte(from))
            .and_where(link_id().lt(from + LINKS_PER_DELETE))
            .and_where(Expr::col(Alias::new("day")).lt(day))
            .to_owned();
        forgotten += db.execute(&delete).await?.rows_affected();
        from += LINKS_PER_DELETE;
    }
    Ok(forgotten)
}

/// Deletes the rows of `table` (`clicks` or `orphan_visits`) whose `time` is before
/// `before`; returns how many.
///
/// Oldest first by id, [`ROWS_PER_DELETE`] rows looked at per statement, until a slice has
/// none to delete. Ids follow the order rows were written, which is their time's but for
/// a backlog written late: such a row is deleted with the rows written after it. This
/// reads only the rows it deletes and one slice more, where a search by time would read
/// the whole table (`clicks` has no index on time alone: one would cost the writer a
/// second B-tree insert per click).
pub async fn delete_raw_before(
    db: &Db,
    table: &str,
    time: &str,
    before: DateTime<Utc>,
) -> AppResult<u64> {
    let table = Alias::new(table);
    let id = || Alias::new("id");
    let mut deleted = 0;
    loop {
        // DELETE FROM <table> WHERE id IN (
        //   SELECT id FROM (SELECT id, <time> FROM <table> ORDER BY id LIMIT n) AS oldest
        //   WHERE <time> < ?)
        let oldest = Query::select()
            .column(id())
            .column(Alias::new(time))
            .from(table.clone())
            .order_by(id(), sea_orm::Order::Asc)
            .limit(ROWS_PER_DELETE)
            .to_owned();
        let old = Query::select()
            .column(id())
            .from_subquery(oldest, Alias::new("oldest"))
            .and_where(Expr::col(Alias::new(time)).lt(before))
            .to_owned();
        let delete = Query::delete()
            .from_table(table.clone())
            .and_where(Expr::col(id()).in_subquery(old))
            .to_owned();
        let n = db.execute(&delete).await?.rows_affected();
        deleted += n;
        if n == 0 {
            return Ok(deleted);
        }
    }
}
