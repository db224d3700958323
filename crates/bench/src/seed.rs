//! The data the benchmark runs on, written straight into the database.
//!
//! 100,000 links (`b000000` … `b099999`) owned by the benchmark's account, and 1,000,000
//! clicks on the first of them (the "hot" link whose statistics are timed), spread over the
//! last 90 days with a realistic mix of browsers, systems, devices, countries, referrers and
//! languages, 5% of them bots. Then `click_rollups`, `link_visitors` and `link_click_counts`
//! are derived from those clicks in SQL, the way the click writer would have left them.
//!
//! Going through the API would take hours and measure the wrong thing; going through SQL
//! takes seconds: rows are generated here (seeded, so every run has the same data) and
//! streamed on one connection, with `COPY` on PostgreSQL and multi-row INSERTs in large
//! transactions on SQLite (see [`bulk_insert`]). On SQLite that connection alone runs with
//! `synchronous=OFF` (a crash mid-seed would only cost the seed); the server's own
//! connections keep their settings.
//!
//! Timestamps are written as the app writes them: RFC 3339 with `+00:00` and only the
//! sub-second digits needed (chrono's `AutoSi`, which is how sqlx stores a
//! `DateTime<Utc>` in SQLite text; PostgreSQL parses the same literal into `timestamptz`).

use std::{
    borrow::Cow,
    fmt::Write,
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
    TransactionTrait,
};

use crate::rng::Rng;

pub const LINKS: u32 = 100_000;
pub const CLICKS: u32 = 1_000_000;
/// Rows per INSERT statement: large enough that parsing and round trips vanish, small
/// enough to stay far below any statement size limit (about 250 KB of SQL for clicks).
const ROWS_PER_INSERT: usize = 1_000;
/// Rows per transaction on SQLite.
const ROWS_PER_TRANSACTION: usize = 200_000;
/// The days the seeded clicks cover, ending now.
pub const CLICK_DAYS: i64 = 90;

pub fn slug(i: u32) -> String {
    format!("b{i:06}")
}

/// What was seeded.
pub struct Seeded {
    pub hot_link_id: i64,
    pub took: Duration,
}

/// One connection to the benchmark's database; on SQLite, without waiting for the disk.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(3))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Off)
                .busy_timeout(Duration::from_secs(5))
        });
    Database::connect(options)
        .await
        .context("connecting to the database")
}

/// Seeds the links and clicks for the account `email` (which must exist).
pub async fn seed(url: &str, email: &str) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let db = connect(url).await?;
    let owner = scalar(
        &db,
        &format!("SELECT id FROM users WHERE email = '{email}'"),
    )
    .await
    .context("finding the benchmark's account")?;
    // Whole microseconds: what PostgreSQL keeps, so both databases hold identical values.
    let now = Utc::now().duration_trunc(TimeDelta::microseconds(1))?;

    let phase = Instant::now();
    insert_links(&db, owner, now).await?;
    let hot = scalar(
        &db,
        &format!("SELECT id FROM links WHERE slug = '{}'", slug(0)),
    )
    .await?;
    eprintln!("      links       {:>5.1} s", phase.elapsed().as_secs_f64());
    let phase = Instant::now();
    insert_clicks(&db, hot, now).await?;
    eprintln!("      clicks      {:>5.1} s", phase.elapsed().as_secs_f64());
    let phase = Instant::now();
    derive_aggregates(&db, now).await?;
    eprintln!("      aggregates  {:>5.1} s", phase.elapsed().as_secs_f64());

    // Leave the database as a server that had been running would find it.
    match db.get_database_backend() {
        // Statistics for the planner (autovacuum would gather them soon after a bulk load;
        // doing it now keeps it from starting in the middle of the measurement).
        DbBackend::Postgres => db.execute_unprepared("VACUUM ANALYZE").await?,
        // Fold the write-ahead log into the database file, so the server starts on a small
        // WAL as it would after any clean stop.
        _ => {
            db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?
        }
    };
    db.close().await?;
    Ok(Seeded {
        hot_link_id: hot,
        took: started.elapsed(),
    })
}

async fn insert_links(
    db: &DatabaseConnection,
    owner: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    // Created a little before the first click, one a second.
    let created = now - TimeDelta::days(CLICK_DAYS + 1);
    let rows = (0..LINKS).map(|i| {
        let at: Field = timestamp(created + TimeDelta::seconds(i.into())).into();
        vec![
            Field::Int(owner),
            slug(i).into(),
            format!("https://example.com/articles/{i}").into(),
            Field::Int(302),
            Field::Bool(false),
            "unchecked".into(),
            at.clone(),
            at,
        ]
    });
    bulk_insert(
        db,
        "links (owner_id, slug, target_url, redirect_status, forward_query, safety, \
         created_at, updated_at)",
        rows,
    )
    .await
}

// The mix of clicks. Values are the ones the click writer stores (see links::useragent,
// links::referrer, links::geo); the weights are a plausible public link's audience.
const BROWSERS: &[(&str, u64)] = &[
    ("chrome", 55),
    ("safari", 20),
    ("firefox", 7),
    ("edge", 8),
    ("samsung_internet", 4),
    ("opera", 2),
    ("other", 4),
];
const SYSTEMS: &[(&str, u64)] = &[
    ("windows", 33),
    ("android", 30),
    ("ios", 19),
    ("mac_os", 11),
    ("linux", 4),
    ("chrome_os", 1),
    ("other", 2),
];
const COUNTRIES: &[(Option<&str>, u64)] = &[
    (Some("US"), 30),
    (Some("DE"), 9),
    (Some("GB"), 8),
    (Some("IN"), 8),
    (Some("FR"), 6),
    (Some("BR"), 5),
    (Some("CA"), 4),
    (Some("JP"), 4),
    (Some("NL"), 3),
    (Some("ES"), 3),
    (Some("IT"), 3),
    (Some("PL"), 2),
    (Some("AU"), 2),
    (Some("SE"), 2),
    (Some("MX"), 2),
    (None, 9),
];
/// (full referrer, its host); `None` is a direct visit.
const REFERRERS: &[(Option<(&str, &str)>, u64)] = &[
    (None, 40),
    (Some(("https://www.google.com/", "www.google.com")), 18),
    (Some(("https://t.co/x1Yz", "t.co")), 10),
    (
        Some((
            "https://news.ycombinator.com/item?id=1",
            "news.ycombinator.com",
        )),
        8,
    ),
    (
        Some(("https://www.reddit.com/r/rust/", "www.reddit.com")),
        7,
    ),
    (
        Some(("https://www.linkedin.com/feed/", "www.linkedin.com")),
        6,
    ),
    (Some(("https://www.facebook.com/", "www.facebook.com")), 5),
    (Some(("https://duckduckgo.com/", "duckduckgo.com")), 3),
    (Some(("https://github.com/", "github.com")), 3),
];
const LANGUAGES: &[(Option<&str>, u64)] = &[
    (Some("en"), 52),
    (Some("de"), 9),
    (Some("fr"), 7),
    (Some("es"), 8),
    (Some("pt"), 5),
    (Some("ja"), 4),
    (Some("zh"), 3),
    (None, 12),
];
/// utm_source, utm_medium, utm_campaign.
type Campaign = (&'static str, &'static str, &'static str);
/// Tagged visits; `None` is untagged.
const CAMPAIGNS: &[(Option<Campaign>, u64)] = &[
    (None, 80),
    (Some(("newsletter", "email", "launch")), 10),
    (Some(("twitter", "social", "launch")), 6),
    (Some(("linkedin", "social", "hiring")), 4),
];

async fn insert_clicks(
    db: &DatabaseConnection,
    link: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut rng = Rng::new(0x00C1_1CC5);
    let start = now - TimeDelta::days(CLICK_DAYS);
    // Clicks in time order (as the writer inserts them), each at a random moment of its own
    // slot of 90 days / 1,000,000 = 7.776 s.
    let slot = TimeDelta::days(CLICK_DAYS)
        .num_microseconds()
        .expect("90 days fit")
        / i64::from(CLICKS);
    let rows = (0..CLICKS).map(move |i| {
        let offset = i64::from(i) * slot + rng.below(slot as u64) as i64;
        let at = timestamp(start + TimeDelta::microseconds(offset));
        let is_bot = rng.percent(5);
        let (browser, os, device, referrer, language, campaign);
        if is_bot {
            // Crawlers and link expanders: no referrer, no language, no campaign.
            (browser, os, device) = ("other", "other", "bot");
            (referrer, language, campaign) = (None, None, None);
        } else {
            browser = rng.pick(BROWSERS);
            os = rng.pick(SYSTEMS);
            device = match os {
                "android" | "ios" if rng.percent(15) => "tablet",
                "android" | "ios" => "mobile",
                "other" => "other",
                _ => "desktop",
            };
            referrer = rng.pick(REFERRERS);
            language = rng.pick(LANGUAGES);
            campaign = rng.pick(CAMPAIGNS);
        }
        let country = rng.pick(COUNTRIES);
        // A third of the visits come from 2,000 regulars (who come back the same day), the
        // rest from a crowd of 250,000 (who mostly do not).
        let visitor = if rng.percent(33) {
            rng.below(2_000)
        } else {
            2_000 + rng.below(250_000)
        };
        let hash = {
            let mut v = Rng::new(visitor);
            format!("{:016x}{:016x}", v.next_u64(), v.next_u64())
        };
        vec![
            Field::Int(link),
            at.into(),
            referrer.map(|r| r.0).into(),
            referrer.map(|r| r.1).into(),
            country.into(),
            browser.into(),
            os.into(),
            device.into(),
            language.into(),
            Field::Bool(is_bot),
            hash.into(),
            campaign.map(|c| c.0).into(),
            campaign.map(|c| c.1).into(),
            campaign.map(|c| c.2).into(),
        ]
    });
    bulk_insert(
        db,
        "clicks (link_id, clicked_at, referrer, referrer_host, country, browser, os, device, \
         language, is_bot, visitor_hash, utm_source, utm_medium, utm_campaign)",
        rows,
    )
    .await
}

/// A value to insert.
#[derive(Clone)]
pub enum Field {
    Int(i64),
    Bool(bool),
    Text(Cow<'static, str>),
    Null,
}

impl From<&'static str> for Field {
    fn from(s: &'static str) -> Self {
        Field::Text(Cow::Borrowed(s))
    }
}

impl From<String> for Field {
    fn from(s: String) -> Self {
        Field::Text(Cow::Owned(s))
    }
}

impl From<Option<&'static str>> for Field {
    fn from(s: Option<&'static str>) -> Self {
        s.map_or(Field::Null, Field::from)
    }
}

/// Inserts `rows` into `table (columns…)` the fastest way each database offers to a client:
/// on PostgreSQL one `COPY … FROM STDIN` (parsing a large multi-row INSERT costs it about
/// four times as much as the insert itself), on SQLite multi-row INSERTs of
/// [`ROWS_PER_INSERT`] rows in transactions of [`ROWS_PER_TRANSACTION`].
pub async fn bulk_insert(
    db: &DatabaseConnection,
    table_and_columns: &str,
    rows: impl Iterator<Item = Vec<Field>>,
) -> anyhow::Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        use sea_orm::sqlx::postgres::PgPoolCopyExt;
        let mut copy = db
            .get_postgres_connection_pool()
            .copy_in_raw(&format!("COPY {table_and_columns} FROM STDIN"))
            .await?;
        let mut buffer = String::new();
        for (i, row) in rows.enumerate() {
            copy_line(&mut buffer, &row);
            if (i + 1) % ROWS_PER_INSERT == 0 {
                copy.send(buffer.as_bytes()).await?;
                buffer.clear();
            }
        }
        copy.send(buffer.as_bytes()).await?;
        copy.finish().await?;
        return Ok(());
    }
    let mut tx = db.begin().await?;
    let mut sql = String::new();
    for (i, row) in rows.enumerate() {
        if sql.is_empty() {
            write!(sql, "INSERT INTO {table_and_columns} VALUES ")?;
        } else {
            sql.push(',');
        }
        values(&mut sql, &row);
        if (i + 1) % ROWS_PER_INSERT == 0 {
            tx.execute_unprepared(&sql).await?;
            sql.clear();
        }
        if (i + 1) % ROWS_PER_TRANSACTION == 0 {
            tx.commit().await?;
            tx = db.begin().await?;
        }
    }
    if !sql.is_empty() {
        tx.execute_unprepared(&sql).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `(1, 'text', NULL, TRUE)`: an SQL row literal.
fn values(sql: &mut String, row: &[Field]) {
    sql.push('(');
    for (i, field) in row.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        match field {
            Field::Int(n) => write!(sql, "{n}").expect("writing to a String"),
            Field::Bool(b) => sql.push_str(if *b { "TRUE" } else { "FALSE" }),
            Field::Text(s) => {
                sql.push('\'');
                sql.push_str(&s.replace('\'', "''"));
                sql.push('\'');
            }
            Field::Null => sql.push_str("NULL"),
        }
    }
    sql.push(')');
}

/// A line of PostgreSQL's `COPY` text format: tab-separated, `\N` for NULL.
fn copy_line(out: &mut String, row: &[Field]) {
    for (i, field) in row.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        match field {
            Field::Int(n) => write!(out, "{n}").expect("writing to a String"),
            Field::Bool(b) => out.push(if *b { 't' } else { 'f' }),
            Field::Text(s) => {
                for ch in s.chars() {
                    match ch {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        ch => out.push(ch),
                    }
                }
            }
            Field::Null => out.push_str("\\N"),
        }
    }
    out.push('\n');
}

/// `click_rollups`, `link_visitors` and `link_click_counts`, from the clicks, with the
/// meaning the click writer gives them (links::clicks):
///
/// - a rollup row per link, hour, dimension and value: `clicks` (humans), `bot_clicks`;
/// - `visitors` counts human clicks that were their visitor's first on that link that UTC
///   day, in the hour and values of that first click: summed over a day that is the day's
///   unique visitors, exactly as the writer counts them (no approximation);
/// - `link_visitors` holds each (link, day, visitor) seen;
/// - `click_days` holds the days before today, summed from the hourly rollups, and
///   `click_days_compacted.through` is yesterday, as the server's compactor leaves them.
///
/// The bucket is the hour in the stored format: `date_trunc('hour', …)` on PostgreSQL,
/// and on SQLite the text cut after the hour with `:00:00+00:00` appended, which is what
/// `DateTime<Utc>` of a whole hour encodes to (`2026-11-24T21:00:00+00:00`).
async fn derive_aggregates(db: &DatabaseConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let hour = hour_expression(db.get_database_backend(), "clicked_at");
    let day = if postgres {
        "(clicked_at AT TIME ZONE 'UTC')::date"
    } else {
        "substr(clicked_at, 1, 10)"
    };
    let tx = db.begin().await?;
    if postgres {
        // date_trunc works in the session's time zone; hours must be UTC hours.
        tx.execute_unprepared("SET LOCAL TimeZone = 'UTC'").await?;
    }
    // Each click once, with its hour and whether it is its visitor's first of the day: one
    // sort of the clicks instead of one per dimension.
    tx.execute_unprepared(&format!(
        "CREATE TEMP TABLE seed_facts AS \
         SELECT link_id, {hour} AS bucket, country, referrer_host, browser, os, device, \
                language, is_bot, \
                CASE WHEN NOT is_bot AND ROW_NUMBER() OVER ( \
                    PARTITION BY link_id, {day}, visitor_hash, is_bot \
                    ORDER BY clicked_at, id) = 1 THEN 1 ELSE 0 END AS first_visit \
         FROM clicks"
    ))
    .await?;
    let dimensions = [
        ("total", None),
        ("country", Some("COALESCE(country, '')")),
        ("referrer", Some("COALESCE(referrer_host, '')")),
        ("browser", Some("browser")),
        ("os", Some("os")),
        ("device", Some("device")),
        ("language", Some("COALESCE(language, '')")),
    ];
    for (dimension, value) in dimensions {
        // PostgreSQL refuses a string constant in GROUP BY, so `total` groups without it.
        // Clicks without a value get no row (the statistics count them as the total
        // minus the values), as the writer leaves them.
        let (select, filter, group) = match value {
            Some(value) => (
                value.to_owned(),
                format!("WHERE {value} <> ''"),
                format!(", {value}"),
            ),
            None => ("''".to_owned(), String::new(), String::new()),
        };
        tx.execute_unprepared(&format!(
            "INSERT INTO click_rollups \
                 (link_id, dimension, bucket, value, clicks, bot_clicks, visitors) \
             SELECT link_id, '{dimension}', bucket, {select}, \
                    SUM(CASE WHEN is_bot THEN 0 ELSE 1 END), \
                    SUM(CASE WHEN is_bot THEN 1 ELSE 0 END), \
                    SUM(first_visit) \
             FROM seed_facts {filter} GROUP BY link_id, bucket{group}"
        ))
        .await?;
    }
    tx.execute_unprepared("DROP TABLE seed_facts").await?;
    // The days that are over, compacted as the server's compactor would have left them.
    let today = now.date_naive();
    let bucket_day = if postgres {
        "(bucket AT TIME ZONE 'UTC')::date"
    } else {
        "substr(bucket, 1, 10)"
    };
    tx.execute_unprepared(&format!(
        "INSERT INTO click_days \
             (link_id, dimension, day, value, clicks, bot_clicks, visitors) \
         SELECT link_id, dimension, {bucket_day}, value, \
                SUM(clicks), SUM(bot_clicks), SUM(visitors) \
         FROM click_rollups WHERE bucket < '{today}T00:00:00+00:00' \
         GROUP BY link_id, dimension, {bucket_day}, value"
    ))
    .await?;
    tx.execute_unprepared(&format!(
        "UPDATE click_days_compacted SET through = '{}' WHERE id = 1",
        today - TimeDelta::days(1)
    ))
    .await?;
    tx.execute_unprepared(&format!(
        "INSERT INTO link_visitors (link_id, day, visitor_hash) \
         SELECT DISTINCT link_id, {day}, visitor_hash FROM clicks WHERE NOT is_bot"
    ))
    .await?;
    tx.execute_unprepared(
        "INSERT INTO link_click_counts (link_id, clicks) \
         SELECT link_id, COUNT(*) FROM clicks GROUP BY link_id",
    )
    .await?;
    tx.commit().await?;

    // Every click is in the `total` rollups once.
    let rolled_up = scalar(
        db,
        "SELECT CAST(SUM(clicks + bot_clicks) AS BIGINT) FROM click_rollups \
         WHERE dimension = 'total'",
    )
    .await?;
    ensure!(
        rolled_up == i64::from(CLICKS),
        "the total rollups count {rolled_up} clicks, not {CLICKS}"
    );
    Ok(())
}

/// After a run: do the rollups the server wrote itself (for links other than the seeded hot
/// one) have the bucket the seeding formula gives for their clicks? A mismatch would mean
/// the seeded rollups are invisible to, or counted apart by, the statistics. `None` if all
/// agree, else what differs.
pub async fn check_buckets(url: &str, hot_link_id: i64) -> anyhow::Result<Option<String>> {
    let db = connect(url).await?;
    let hour = hour_expression(db.get_database_backend(), "c.clicked_at");
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("SET TimeZone = 'UTC'").await?;
    }
    let (written, unmatched) = (
        scalar(
            &db,
            &format!(
                "SELECT COUNT(*) FROM click_rollups WHERE link_id <> {hot_link_id} \
                 AND dimension = 'total'"
            ),
        )
        .await?,
        scalar(
            &db,
            &format!(
                "SELECT COUNT(*) FROM click_rollups r WHERE r.link_id <> {hot_link_id} \
                 AND r.dimension = 'total' AND NOT EXISTS (SELECT 1 FROM clicks c \
                 WHERE c.link_id = r.link_id AND {hour} = r.bucket)"
            ),
        )
        .await?,
    );
    db.close().await?;
    Ok((unmatched > 0).then(|| {
        format!(
            "{unmatched} of {written} hourly rollups written by the server have a bucket the \
             seeding formula does not produce: the seeded rollups may not match the app's"
        )
    }))
}

/// Rows in `clicks`.
pub async fn count_clicks(url: &str) -> anyhow::Result<i64> {
    let db = connect(url).await?;
    let n = scalar(&db, "SELECT COUNT(*) FROM clicks").await?;
    db.close().await?;
    Ok(n)
}

/// The one integer a query returns.
async fn scalar(db: &impl ConnectionTrait, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .with_context(|| format!("no row from {sql}"))?;
    Ok(row.try_get_by_index(0)?)
}

/// The UTC hour `column` falls in, as the rollups store it (see [`derive_aggregates`]).
fn hour_expression(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("date_trunc('hour', {column})"),
        _ => format!("substr({column}, 1, 13) || ':00:00+00:00'"),
    }
}

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Scratch PostgreSQL databases: one per run, created empty and dropped at the end.
pub mod postgres {
    use std::time::Duration;

    use anyhow::Context;
    use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

    use crate::rng::Rng;

    /// The server at `admin_url`, if it answers within a few seconds.
    pub async fn admin(admin_url: &str) -> anyhow::Result<DatabaseConnection> {
        let mut options = ConnectOptions::new(admin_url.to_owned());
        options
            .max_connections(1)
            .connect_timeout(Duration::from_secs(3))
            .acquire_timeout(Duration::from_secs(3))
            .sqlx_logging(false);
        let db = Database::connect(options).await?;
        db.execute_unprepared("SELECT 1").await?;
        Ok(db)
    }

    /// Creates `capstone_bench_<random>`; returns its name and URL.
    pub async fn create(
        admin: &DatabaseConnection,
        admin_url: &str,
    ) -> anyhow::Result<(String, String)> {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        let name = format!("capstone_bench_{:08x}", Rng::new(seed).next_u64() as u32);
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .with_context(|| format!("creating database {name}"))?;
        let mut url = url::Url::parse(admin_url).context("parsing the PostgreSQL URL")?;
        url.set_path(&format!("/{name}"));
        Ok((name, url.to_string()))
    }

    pub async fn drop(admin: &DatabaseConnection, name: &str) -> anyhow::Result<()> {
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .with_context(|| format!("dropping database {name}"))?;
        Ok(())
    }
}
