//! Folding the hourly rollups of finished days into daily ones.
//!
//! Statistics over a long range read `click_days` for the whole UTC days in it and
//! `click_rollups` only for the hours around them: 90 rows per value instead of 2,160 for
//! a 90-day range. The compactor adds each day to `click_days` once it is over, in one
//! transaction that sums the day's hourly rows and advances `click_days_compacted.through`.
//! Clicks that reach the database for a day already compacted (a backlog written late)
//! are added to both tables by the writer, which reads `through` in the same transaction.

use chrono::{NaiveDate, TimeDelta, Utc};
use platform::{AppResult, db::Db};
use sea_orm::{
    ConnectionTrait, TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, Func, IntoTableRef, LockType, Query},
};

use crate::{entities::link, model::Dimension};

#[derive(sea_orm::DeriveIden)]
enum ClickDaysCompacted {
    Table,
    Id,
    Through,
}

/// Compacts each day up to `last` (inclusive) not compacted yet, one transaction per day;
/// returns how many days it compacted.
pub async fn compact_through(db: &Db, last: NaiveDate) -> AppResult<u32> {
    let mut days = 0;
    loop {
        let tx = db.begin().await?;
        let through = compacted_through(&tx, Some(LockType::Update)).await?;
        let next = match through {
            Some(day) => day + TimeDelta::days(1),
            // Never compacted: start from the first day that has clicks, if any.
            None => first_rollup_day(&tx)
                .await?
                .unwrap_or(last + TimeDelta::days(1)),
        };
        if next > last {
            if through.is_none() {
                set_through(&tx, last).await?;
                tx.commit().await?;
            }
            return Ok(days);
        }

        // INSERT INTO click_days (link_id, dimension, day, value, clicks, bot_clicks, visitors)
        //   SELECT r.link_id, r.dimension, <next>, r.value, SUM(r.clicks), …
        //   FROM links l CROSS JOIN click_rollups r
        //   WHERE r.link_id = l.id AND r.dimension IN ('total', 'country', …)
        //     AND r.bucket >= <next 00:00> AND r.bucket < <next + 1 00:00>
        //   GROUP BY r.link_id, r.dimension, r.value
        // Link by link, through the rollups' primary key: click_rollups has no index on
        // `bucket` (one would cost the writer a second B-tree insert per rollup row), and
        // SQLite keeps a CROSS JOIN's order rather than choosing to scan every rollup.
        let start = next.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let r = Alias::new("r");
        let col = |name: &str| Expr::col((r.clone(), Alias::new(name)));
        let dimensions = Dimension::all().map(Dimension::as_str);
        let day_rows = Query::select()
            .expr(col("link_id"))
            .expr(col("dimension"))
            .expr(Expr::val(next))
            .expr(col("value"))
            .expr(Func::sum(col("clicks")))
            .expr(Func::sum(col("bot_clicks")))
            .expr(Func::sum(col("visitors")))
            .from_as(link::Entity, Alias::new("l"))
            .cross_join(
                Alias::new("click_rollups")
                    .into_table_ref()
                    .alias(r.clone()),
            )
            .and_where(col("link_id").equals((Alias::new("l"), link::Column::Id)))
            .and_where(col("dimension").is_in(dimensions))
            .and_where(col("bucket").gte(start))
            .and_where(col("bucket").lt(start + TimeDelta::days(1)))
            .group_by_columns([
                (r.clone(), Alias::new("link_id")),
                (r.clone(), Alias::new("dimension")),
                (r.clone(), Alias::new("value")),
            ])
            .to_owned();
        let insert = Query::insert()
            .into_table(Alias::new("click_days"))
            .columns(
                [
                    "link_id",
                    "dimension",
                    "day",
                    "value",
                    "clicks",
                    "bot_clicks",
                    "visitors",
                ]
                .map(Alias::new),
            )
            .select_from(day_rows)
            .map_err(|e| anyhow::anyhow!("compaction query: {e}"))?
            .to_owned();
        tx.execute(&insert).await?;
        set_through(&tx, next).await?;
        tx.commit().await?;
        days += 1;
    }
}

/// `click_days_compacted.through`: the last UTC day whose `click_days` are complete.
///
/// The writer reads it `FOR SHARE` and the compactor `FOR UPDATE`, so that on PostgreSQL a
/// day is never compacted while a batch that counts clicks of that day in hours only is
/// still in flight. SQLite has no row locks and needs none: it runs one writing
/// transaction at a time (a writer reads this after its first write). Statistics read it
/// without a lock: the hourly rollups of a compacted day stay, so a day compacted just
/// after this read is still counted right, from its hours.
pub(crate) async fn compacted_through(
    conn: &impl ConnectionTrait,
    lock: Option<LockType>,
) -> AppResult<Option<NaiveDate>> {
    let mut select = Query::select()
        .column(ClickDaysCompacted::Through)
        .from(ClickDaysCompacted::Table)
        .and_where(Expr::col(ClickDaysCompacted::Id).eq(1))
        .to_owned();
    if let Some(lock) = lock {
        select.lock(lock);
    }
    let row = conn
        .query_one(&select)
        .await?
        .ok_or_else(|| anyhow::anyhow!("click_days_compacted has no row"))?;
    Ok(row.try_get("", "through")?)
}

async fn set_through(tx: &impl ConnectionTrait, day: NaiveDate) -> AppResult<()> {
    let update = Query::update()
        .table(ClickDaysCompacted::Table)
        .value(ClickDaysCompacted::Through, day)
        .and_where(Expr::col(ClickDaysCompacted::Id).eq(1))
        .to_owned();
    tx.execute(&update).await?;
    Ok(())
}

/// The UTC day of the oldest hourly rollup. Without an index on `bucket` this reads the
/// whole table, once in a database's life: only before its first compaction.
async fn first_rollup_day(tx: &impl ConnectionTrait) -> AppResult<Option<NaiveDate>> {
    let select = Query::select()
        .column(Alias::new("bucket"))
        .from(Alias::new("click_rollups"))
        .order_by(Alias::new("bucket"), sea_orm::Order::Asc)
        .limit(1)
        .to_owned();
    let Some(row) = tx.query_one(&select).await? else {
        return Ok(None);
    };
    let bucket: chrono::DateTime<Utc> = row.try_get("", "bucket")?;
    Ok(Some(bucket.date_naive()))
}
