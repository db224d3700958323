//! Click statistics, read from the rollups (never from the raw clicks), so that a link
//! with millions of clicks answers as fast as one with ten; for one link, for the links of
//! a tag or of a domain, or for all of an owner's links (see [`Scope`]): the breakdowns,
//! and the time series when its buckets are whole UTC days, from the daily rollups of
//! whole compacted days plus the hourly ones around them (see [`crate::compaction`]);
//! other series from the hourly totals (2,160 rows for 90 days).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use platform::{AppResult, auth::CurrentUser};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, FromQueryResult,
    sea_query::{Alias, Expr, ExprTrait, Func, Order, Query, SelectStatement, SimpleExpr},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    compaction,
    entities::{link, link_tag},
    model::Dimension,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Hour,
    Day,
    Week,
    Month,
}

/// Whose clicks [`Stats`] count.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One link.
    Link(i64),
    /// Every link carrying a tag (a tag has one owner, so the links are theirs).
    Tag(i64),
    /// Every link of an owner.
    Owner(i64),
    /// Every link of an owner on a domain (`""` for the default one).
    Domain { owner: i64, domain: &'a str },
}

impl Scope<'_> {
    /// The scope's rows of a rollup table, as a condition on its `link_id`:
    ///   link_id = ?
    ///   link_id IN (SELECT link_id FROM link_tags WHERE tag_id = ?)
    ///   link_id IN (SELECT id FROM links WHERE owner_id = ?)
    ///   link_id IN (SELECT id FROM links WHERE owner_id = ? AND domain = ?)
    /// The rollups' keys start with `link_id`, so each link of a tag or an owner is a short
    /// range of the index, as for one link.
    fn links(self) -> SimpleExpr {
        let link_id = Expr::col(Alias::new("link_id"));
        match self {
            Scope::Link(id) => link_id.eq(id),
            Scope::Tag(tag) => link_id.in_subquery(
                Query::select()
                    .column(link_tag::Column::LinkId)
                    .from(link_tag::Entity)
                    .and_where(link_tag::Column::TagId.eq(tag))
                    .to_owned(),
            ),
            Scope::Owner(owner) => link_id.in_subquery(
                Query::select()
                    .column(link::Column::Id)
                    .from(link::Entity)
                    .and_where(link::Column::OwnerId.eq(owner))
                    .to_owned(),
            ),
            Scope::Domain { owner, domain } => link_id.in_subquery(
                Query::select()
                    .column(link::Column::Id)
                    .from(link::Entity)
                    .and_where(link::Column::OwnerId.eq(owner))
                    .and_where(link::Column::Domain.eq(domain))
                    .to_owned(),
            ),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    /// The link counted, for a link's statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_id: Option<i64>,
    /// The tag whose links are counted, for a tag's statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The domain whose links are counted, for a domain's statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub interval: Interval,
    /// The IANA time zone the buckets are aligned to.
    pub tz: String,
    pub total_clicks: i64,
    /// Distinct visitors per day, summed over the range (a visitor is counted once a day,
    /// and once per link: over several links, one who follows two of them counts twice).
    pub unique_visitors: i64,
    /// Clicks by bots and link previews: left out of every other figure unless `bots=true`.
    pub bot_clicks: i64,
    /// One entry per bucket from `from` to `to`, empty ones included.
    pub series: Vec<Bucket>,
    /// The top values of each dimension, most clicks first.
    pub top: HashMap<String, Vec<TopValue>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Bucket {
    /// Start of the bucket, in `tz`.
    pub start: String,
    pub clicks: i64,
    pub visitors: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopValue {
    /// `(unknown)`, or `(direct)` for clicks without a referrer.
    pub value: String,
    pub clicks: i64,
}

pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub interval: Interval,
    pub tz: Tz,
    pub bots: bool,
    pub top: u64,
}

/// The `total` counts of an hour (`click_rollups`), or of a UTC day (`click_days`) from
/// its first instant.
#[derive(Debug, FromQueryResult)]
struct TotalRow {
    bucket: DateTime<Utc>,
    clicks: i64,
    bot_clicks: i64,
    visitors: i64,
}

#[derive(Debug, FromQueryResult)]
struct DayRow {
    day: NaiveDate,
    clicks: i64,
    bot_clicks: i64,
    visitors: i64,
}

#[derive(Debug, FromQueryResult)]
struct ValueRow {
    dimension: String,
    value: String,
    clicks: i64,
}

/// `SUM(col)` as a BIGINT on both databases (PostgreSQL's SUM of BIGINT is NUMERIC).
fn sum(col: &str) -> SimpleExpr {
    Func::cast_as(Func::sum(Expr::col(Alias::new(col))), Alias::new("BIGINT")).into()
}

pub async fn stats(db: &impl ConnectionTrait, scope: Scope<'_>, range: &Range) -> AppResult<Stats> {
    let backend = db.get_database_backend();
    // Hours overlapping [from, to): the rollup of the hour `from` falls in counts whole.
    let first_hour = range
        .from
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(range.from);

    let through = compaction::compacted_through(db, None).await?;
    let split = Split::new(first_hour, range.to, through);
    let totals = series_totals(db, scope, range, first_hour, &split).await?;

    // Breakdowns: whole compacted days from `click_days`, the hours around them from
    // `click_rollups`, summed per value here.
    let mut values: HashMap<(String, String), i64> = HashMap::new();
    let mut queries = Vec::new();
    if let Some((first, last)) = split.days {
        queries.push(value_totals(
            "click_days",
            scope,
            range.bots,
            Condition::all()
                .add(Expr::col(Alias::new("day")).gte(first))
                .add(Expr::col(Alias::new("day")).lte(last)),
        ));
    }
    // One query per range of hours: `bucket` ranges joined with OR would make the
    // database read every hour of the link instead of two short index ranges.
    for (start, end) in &split.hours {
        queries.push(value_totals(
            "click_rollups",
            scope,
            range.bots,
            Condition::all()
                .add(Expr::col(Alias::new("bucket")).gte(*start))
                .add(Expr::col(Alias::new("bucket")).lt(*end)),
        ));
    }
    for query in queries {
        for v in ValueRow::find_by_statement(backend.build(&query))
            .all(db)
            .await?
        {
            *values.entry((v.dimension, v.value)).or_default() += v.clicks;
        }
    }

    let mut series = empty_series(range);
    let (mut total, mut visitors, mut bots) = (0, 0, 0);
    let mut cursor = 0;
    for h in &totals {
        let clicks = h.clicks + if range.bots { h.bot_clicks } else { 0 };
        total += clicks;
        visitors += h.visitors;
        bots += h.bot_clicks;
        // Hours and buckets are both in time order: walk them together.
        let start = bucket_start(h.bucket.with_timezone(&range.tz), range.interval);
        while series.get(cursor).is_some_and(|(s, _, _)| *s < start) {
            cursor += 1;
        }
        if let Some(b) = series.get_mut(cursor).filter(|(s, _, _)| *s == start) {
            b.1 += clicks;
            b.2 += h.visitors;
        }
    }

    // Clicks without a value for a dimension (no country known, no referrer, …) have no
    // rollup row of their own: they are the total minus the clicks with a value.
    let total_in_range = values
        .get(&(Dimension::Total.as_str().to_owned(), String::new()))
        .copied()
        .unwrap_or(0);
    let mut top: HashMap<String, Vec<TopValue>> = Dimension::BREAKDOWNS
        .iter()
        .map(|d| (d.as_str().to_owned(), Vec::new()))
        .collect();
    for ((dimension, value), clicks) in values {
        // Rows with an empty value, as older versions stored them, are left to the sum.
        if let Some(entries) = top.get_mut(&dimension)
            && !value.is_empty()
        {
            entries.push(TopValue { value, clicks });
        }
    }
    for (dimension, entries) in &mut top {
        let unknown = total_in_range - entries.iter().map(|v| v.clicks).sum::<i64>();
        if unknown > 0 {
            let label = if dimension == Dimension::Referrer.as_str() {
                "(direct)"
            } else {
                "(unknown)"
            };
            entries.push(TopValue {
                value: label.to_owned(),
                clicks: unknown,
            });
        }
    }
    for values in top.values_mut() {
        values.sort_by(|a, b| b.clicks.cmp(&a.clicks).then_with(|| a.value.cmp(&b.value)));
        values.truncate(range.top as usize);
    }

    Ok(Stats {
        link_id: match scope {
            Scope::Link(id) => Some(id),
            Scope::Tag(_) | Scope::Owner(_) | Scope::Domain { .. } => None,
        },
        tag: None,
        domain: None,
        from: range.from,
        to: range.to,
        interval: range.interval,
        tz: range.tz.name().to_owned(),
        total_clicks: total,
        unique_visitors: visitors,
        bot_clicks: bots,
        series: series
            .into_iter()
            .map(|(start, clicks, visitors)| Bucket {
                start: start.to_rfc3339(),
                clicks,
                visitors,
            })
            .collect(),
        top,
    })
}

/// The `total` rows the series is summed from, in time order: the hours of the range;
/// or, when every bucket is made of whole UTC days (time zone UTC, by day or longer), the
/// compacted days of [`Split`] from `click_days` and the hours around them. Ninety days
/// are then about a hundred rows rather than 2,160: on SQLite each row fetched is a
/// hand-over between the connection's thread and ours (a profile of the benchmark's
/// statistics requests put a third of the samples in those thread switches).
async fn series_totals(
    db: &impl ConnectionTrait,
    scope: Scope<'_>,
    range: &Range,
    first_hour: DateTime<Utc>,
    split: &Split,
) -> AppResult<Vec<TotalRow>> {
    let backend = db.get_database_backend();
    let whole_days = range.tz == Tz::UTC && range.interval != Interval::Hour;
    let (days, hours) = match split.days {
        Some(days) if whole_days => (Some(days), split.hours.clone()),
        _ => (None, vec![(first_hour, range.to)]),
    };
    let mut rows = Vec::new();
    // SELECT bucket, SUM(clicks), SUM(bot_clicks), SUM(visitors) FROM click_rollups
    //   WHERE <scope> AND dimension = 'total' AND bucket >= ? AND bucket < ?
    //   GROUP BY bucket
    for (start, end) in hours {
        let query = totals("click_rollups", "bucket", scope)
            .and_where(Expr::col(Alias::new("bucket")).gte(start))
            .and_where(Expr::col(Alias::new("bucket")).lt(end))
            .to_owned();
        rows.extend(
            TotalRow::find_by_statement(backend.build(&query))
                .all(db)
                .await?,
        );
    }
    // The same by `day` from click_days, for days first..=last.
    if let Some((first, last)) = days {
        let query = totals("click_days", "day", scope)
            .and_where(Expr::col(Alias::new("day")).gte(first))
            .and_where(Expr::col(Alias::new("day")).lte(last))
            .to_owned();
        for day in DayRow::find_by_statement(backend.build(&query))
            .all(db)
            .await?
        {
            rows.push(TotalRow {
                bucket: day.day.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
                clicks: day.clicks,
                bot_clicks: day.bot_clicks,
                visitors: day.visitors,
            });
        }
    }
    rows.sort_by_key(|row| row.bucket);
    Ok(rows)
}

/// The `total` counts of the scope's links in `table`, by `bucket`; the caller adds the
/// range.
fn totals(table: &str, bucket: &str, scope: Scope<'_>) -> SelectStatement {
    Query::select()
        .column(Alias::new(bucket))
        .expr_as(sum("clicks"), Alias::new("clicks"))
        .expr_as(sum("bot_clicks"), Alias::new("bot_clicks"))
        .expr_as(sum("visitors"), Alias::new("visitors"))
        .from(Alias::new(table))
        .and_where(scope.links())
        .and_where(Expr::col(Alias::new("dimension")).eq(Dimension::Total.as_str()))
        .group_by_col(Alias::new(bucket))
        .to_owned()
}

/// Where the breakdowns of `[from, to)` are read: the whole UTC days that are compacted
/// (`days`, inclusive) from `click_days`, and the hours before and after them (`hours`,
/// half-open ranges) from `click_rollups`.
#[derive(Debug, PartialEq)]
struct Split {
    days: Option<(NaiveDate, NaiveDate)>,
    hours: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Split {
    fn new(from: DateTime<Utc>, to: DateTime<Utc>, compacted: Option<NaiveDate>) -> Self {
        let midnight = |day: NaiveDate| day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let first = if midnight(from.date_naive()) == from {
            from.date_naive()
        } else {
            from.date_naive() + Duration::days(1)
        };
        match compacted.map(|through| Ord::min(through, to.date_naive() - Duration::days(1))) {
            Some(last) if first <= last => {
                let (days_start, days_end) = (midnight(first), midnight(last + Duration::days(1)));
                Split {
                    days: Some((first, last)),
                    hours: [(from, days_start), (days_end, to)]
                        .into_iter()
                        .filter(|(start, end)| start < end)
                        .collect(),
                }
            }
            _ => Split {
                days: None,
                hours: vec![(from, to)],
            },
        }
    }
}

/// SELECT dimension, value, SUM(clicks [+ bot_clicks]) AS clicks FROM <table>
///   WHERE <scope> AND dimension IN ('total', …) AND <buckets>
///   GROUP BY dimension, value HAVING SUM(…) > 0
fn value_totals(table: &str, scope: Scope<'_>, bots: bool, buckets: Condition) -> SelectStatement {
    let counted = if bots {
        Expr::col(Alias::new("clicks")).add(Expr::col(Alias::new("bot_clicks")))
    } else {
        Expr::col(Alias::new("clicks"))
    };
    let total: SimpleExpr = Func::cast_as(Func::sum(counted), Alias::new("BIGINT")).into();
    Query::select()
        .column(Alias::new("dimension"))
        .column(Alias::new("value"))
        .expr_as(total.clone(), Alias::new("clicks"))
        .from(Alias::new(table))
        .and_where(scope.links())
        .and_where(
            Expr::col(Alias::new("dimension")).is_in(Dimension::all().map(Dimension::as_str)),
        )
        .cond_where(buckets)
        .group_by_col(Alias::new("dimension"))
        .group_by_col(Alias::new("value"))
        .and_having(total.gt(0))
        .to_owned()
}

/// Most buckets a series may have (a year of hours is 8,784).
pub const MAX_BUCKETS: usize = 10_000;

/// Every bucket start from the one holding `from` up to `to`, with zero counts.
fn empty_series(range: &Range) -> Vec<(DateTime<Tz>, i64, i64)> {
    let mut series = Vec::new();
    let mut start = bucket_start(range.from.with_timezone(&range.tz), range.interval);
    while start.with_timezone(&Utc) < range.to && series.len() < MAX_BUCKETS {
        series.push((start, 0, 0));
        start = next_bucket(start, range.interval);
    }
    series
}

/// How many buckets a range would have, to refuse absurd requests before any work.
pub fn bucket_count(from: DateTime<Utc>, to: DateTime<Utc>, interval: Interval) -> i64 {
    let span = to - from;
    match interval {
        Interval::Hour => span.num_hours() + 1,
        Interval::Day => span.num_days() + 1,
        Interval::Week => span.num_weeks() + 1,
        Interval::Month => span.num_days() / 28 + 1,
    }
}

/// The start of the bucket holding `t`, in `t`'s time zone. Weeks start on Monday.
pub fn bucket_start(t: DateTime<Tz>, interval: Interval) -> DateTime<Tz> {
    let tz = t.timezone();
    let local_midnight = |date: NaiveDate| {
        // Midnight may not exist (a DST jump at 00:00): take the first instant of the day.
        tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .unwrap_or_else(|| tz.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight")))
    };
    match interval {
        Interval::Hour => t
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(t),
        Interval::Day => local_midnight(t.date_naive()),
        Interval::Week => local_midnight(
            t.date_naive() - Duration::days(t.weekday().num_days_from_monday() as i64),
        ),
        Interval::Month => local_midnight(t.date_naive().with_day(1).expect("day 1 exists")),
    }
}

fn next_bucket(start: DateTime<Tz>, interval: Interval) -> DateTime<Tz> {
    match interval {
        Interval::Hour => start + Duration::hours(1),
        Interval::Day => bucket_start(start + Duration::hours(26), Interval::Day),
        Interval::Week => bucket_start(
            start + Duration::days(7) + Duration::hours(2),
            Interval::Week,
        ),
        Interval::Month => bucket_start(start + Duration::days(32), Interval::Month),
    }
}

/// A link and its clicks in a range, for ranking.
#[derive(Debug, Serialize, ToSchema, FromQueryResult)]
pub struct RankedLink {
    pub id: i64,
    pub slug: String,
    pub target_url: String,
    pub clicks: i64,
    pub visitors: i64,
}

/// The caller's links ranked by clicks in `[from, to)`, keeping those with at least
/// `min_clicks`:
///
/// SELECT links.id, links.slug, links.target_url, SUM(r.clicks) AS clicks, SUM(r.visitors)
///   FROM links INNER JOIN click_rollups r ON r.link_id = links.id AND r.dimension = 'total'
///   WHERE links.owner_id = ? AND r.bucket >= ? AND r.bucket < ?
///   GROUP BY links.id, links.slug, links.target_url
///   HAVING SUM(r.clicks) >= ? ORDER BY clicks DESC, links.id LIMIT ?
pub async fn rank_links(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    min_clicks: i64,
    limit: u64,
) -> AppResult<Vec<RankedLink>> {
    let r = Alias::new("r");
    let links = Alias::new("links");
    let clicks_sum: SimpleExpr = Func::cast_as(
        Func::sum(Expr::col((r.clone(), Alias::new("clicks")))),
        Alias::new("BIGINT"),
    )
    .into();
    let visitors_sum: SimpleExpr = Func::cast_as(
        Func::sum(Expr::col((r.clone(), Alias::new("visitors")))),
        Alias::new("BIGINT"),
    )
    .into();
    let query = Query::select()
        .column((links.clone(), Alias::new("id")))
        .column((links.clone(), Alias::new("slug")))
        .column((links.clone(), Alias::new("target_url")))
        .expr_as(clicks_sum.clone(), Alias::new("clicks"))
        .expr_as(visitors_sum, Alias::new("visitors"))
        .from(links.clone())
        .join_as(
            sea_orm::JoinType::InnerJoin,
            Alias::new("click_rollups"),
            r.clone(),
            Expr::col((r.clone(), Alias::new("link_id")))
                .equals((links.clone(), Alias::new("id")))
                .and(Expr::col((r.clone(), Alias::new("dimension"))).eq(Dimension::Total.as_str())),
        )
        .and_where(Expr::col((links.clone(), Alias::new("owner_id"))).eq(user.id))
        .and_where(Expr::col((r.clone(), Alias::new("bucket"))).gte(from))
        .and_where(Expr::col((r.clone(), Alias::new("bucket"))).lt(to))
        .group_by_col((links.clone(), Alias::new("id")))
        .group_by_col((links.clone(), Alias::new("slug")))
        .group_by_col((links.clone(), Alias::new("target_url")))
        .and_having(clicks_sum.gte(min_clicks))
        .order_by(Alias::new("clicks"), Order::Desc)
        .order_by((links, Alias::new("id")), Order::Asc)
        .limit(limit)
        .to_owned();

    Ok(
        RankedLink::find_by_statement(db.get_database_backend().build(&query))
            .all(db)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tz: Tz, s: &str) -> DateTime<Tz> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&tz)
    }

    #[test]
    fn buckets_follow_the_time_zone() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        // 23:30 UTC on 31 March is 01:30 on 1 April in Paris (summer time).
        let t = at(paris, "2026-03-31T23:30:00Z");
        assert_eq!(
            bucket_start(t, Interval::Day).to_rfc3339(),
            "2026-04-01T00:00:00+02:00"
        );
        assert_eq!(
            bucket_start(t, Interval::Month).to_rfc3339(),
            "2026-04-01T00:00:00+02:00"
        );
        assert_eq!(
            bucket_start(t, Interval::Week).to_rfc3339(),
            "2026-03-30T00:00:00+02:00"
        );
        assert_eq!(
            bucket_start(t, Interval::Hour).to_rfc3339(),
            "2026-04-01T01:00:00+02:00"
        );
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn breakdowns_read_whole_compacted_days_and_the_hours_around_them() {
        let (from, to) = (utc("2026-03-01T13:00:00Z"), utc("2026-03-10T05:00:00Z"));
        assert_eq!(
            Split::new(from, to, Some(day("2026-11-01"))),
            Split {
                days: Some((day("2026-03-02"), day("2026-03-09"))),
                hours: vec![
                    (from, utc("2026-03-02T00:00:00Z")),
                    (utc("2026-03-10T00:00:00Z"), to),
                ],
            }
        );
        // Days not compacted yet come from the hours.
        assert_eq!(
            Split::new(from, to, Some(day("2026-03-04"))),
            Split {
                days: Some((day("2026-03-02"), day("2026-03-04"))),
                hours: vec![
                    (from, utc("2026-03-02T00:00:00Z")),
                    (utc("2026-03-05T00:00:00Z"), to),
                ],
            }
        );
        // A range of whole days has no edges.
        let (midnight, next) = (utc("2026-03-02T00:00:00Z"), utc("2026-03-04T00:00:00Z"));
        assert_eq!(
            Split::new(midnight, next, Some(day("2026-11-01"))),
            Split {
                days: Some((day("2026-03-02"), day("2026-03-03"))),
                hours: vec![],
            }
        );
        // Nothing compacted, or no whole day: hours only.
        for (from, to, compacted) in [
            (from, to, None),
            (from, utc("2026-03-02T12:00:00Z"), Some(day("2026-11-01"))),
            (from, to, Some(day("2026-02-01"))),
        ] {
            assert_eq!(
                Split::new(from, to, compacted),
                Split {
                    days: None,
                    hours: vec![(from, to)],
                }
            );
        }
    }

    #[test]
    fn series_are_filled_across_a_dst_change() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let range = Range {
            from: DateTime::parse_from_rfc3339("2026-03-27T12:00:00Z")
                .unwrap()
                .into(),
            to: DateTime::parse_from_rfc3339("2026-03-31T12:00:00Z")
                .unwrap()
                .into(),
            interval: Interval::Day,
            tz: paris,
            bots: false,
            top: 10,
        };
        let days: Vec<String> = empty_series(&range)
            .iter()
            .map(|(s, _, _)| s.to_rfc3339())
            .collect();
        assert_eq!(
            days,
            [
                "2026-03-27T00:00:00+01:00",
                "2026-03-28T00:00:00+01:00",
                "2026-03-29T00:00:00+01:00",
                "2026-03-30T00:00:00+02:00",
                "2026-03-31T00:00:00+02:00",
            ]
        );
    }
}
