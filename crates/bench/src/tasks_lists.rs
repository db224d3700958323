//! Task lists and CalDAV sync of the tasks app, on one database (issue 23, point 9):
//!
//! 1. starts `capstone serve` on a fresh database (which migrates it), registers one
//!    account through the API (its password hash is the one every seeded user gets), stops
//!    it, and seeds 1,000,000 tasks of 10,000 users and a 10,000-task calendar straight into
//!    the database ([`crate::tasks_seed`]), then ANALYZE;
//! 2. starts the server again (cold caches) and makes an API key through the API for each of
//!    200 users spread over the 10,000 (HTTP Basic with the password, as a user would);
//! 3. times `GET /api/v1/tasks` in a few shapes a user would ask for, each request as the
//!    next of those users with their key, sequentially on one keep-alive connection, and,
//!    interleaved with it, **the floor**: the very SQL the server's search issues
//!    (`crates/tasks/src/search.rs`, written out in [`floor`]) with the same parameters, run
//!    from here through sea-orm on one connection. Each answer's tasks must be the floor's
//!    rows, in order, or the run fails: that is what shows the floor is the same query;
//! 4. times a CalDAV `sync-collection` of the 10,000-task calendar ([`crate::tasks_dav`]);
//! 5. stops the server with SIGTERM; its peak RSS is read until it exits.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, Value,
};
use serde::Serialize;

use crate::{
    api,
    load::percentile_ms,
    report::{mark, ms, thousands},
    scratch::Backend,
    server::{self, Paths, Server},
    tasks_dav,
    tasks_seed::{self, LABELS, SEARCH_WORD, Sizes},
};

/// The issue's targets.
pub const MAX_LIST_P50_MS: f64 = 10.0;
pub const MAX_LIST_TO_SQL: f64 = 2.0;
pub const MAX_INCREMENTAL_SYNC_MS: f64 = 50.0;
pub const MAX_PEAK_RSS_MB: f64 = 200.0;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests per shape before the timed ones, not counted.
const WARMUP: usize = 50;
/// `GET /api/v1/tasks`'s default page (the SQL fetches one more row, to know of a next page).
const PAGE: usize = 20;

/// What to seed and how much to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub sizes: Sizes,
    /// Users with an API key, whom the list requests go as, in turn.
    pub api_users: usize,
    /// Timed requests per shape (and as many direct queries).
    pub samples: usize,
    /// Incremental syncs timed, one task changed before each.
    pub syncs: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            sizes: Sizes::default(),
            api_users: 200,
            samples: 500,
            syncs: 100,
        }
    }
}

/// One database's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub database: String,
    pub users: u32,
    /// All tasks seeded, the calendar's included.
    pub tasks: u64,
    pub tasks_per_user: u32,
    /// Users the requests went as, each with an API key made through the API.
    pub api_users: usize,
    pub seed_s: f64,
    pub lists: Vec<Shape>,
    /// `GET /api/v1/me` with the same keys: what any authenticated request costs (HTTP, the
    /// key's and the user's lookups), to read the lists' distance from their SQL by.
    pub me_p50_ms: f64,
    pub me_p99_ms: f64,
    pub caldav: tasks_dav::Sync,
    /// The server's peak resident memory (VmHWM), to its exit after SIGTERM.
    pub peak_rss_kib: u64,
    /// Peak RSS so far after the start, the lists and the CalDAV syncs.
    pub peak_rss_kib_by_phase: [Option<u64>; 3],
    pub notes: Vec<String>,
}

/// One shape of list request.
#[derive(Debug, Clone, Serialize)]
pub struct Shape {
    pub name: String,
    /// `GET /api/v1/tasks?…` (dates as sent, relative to the run's time).
    pub query: String,
    pub samples: usize,
    pub api_p50_ms: f64,
    pub api_p99_ms: f64,
    pub sql_p50_ms: f64,
    pub sql_p99_ms: f64,
    /// API p50 over SQL p50.
    pub ratio_p50: f64,
    /// Tasks per answer, on average.
    pub tasks_per_page: f64,
}

pub async fn measure_with(
    paths: &Paths,
    backend: Backend,
    database_url: &str,
    plan: Plan,
) -> anyhow::Result<Figures> {
    let short = match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    let log = paths.out.join(format!("tasks-lists-{short}.log"));
    let _ = std::fs::remove_file(&log);
    let client = api::client();
    let mut notes = Vec::new();

    // First start: the server migrates, and the account whose password hash the seeded
    // users share is made through the API. Then it stops: seeding writes behind its back,
    // and the measured run starts with cold caches.
    let mut server = Server::capstone(paths, database_url, &log)?;
    server
        .wait_until(&client, "/readyz", 200, STARTUP_TIMEOUT)
        .await?;
    api::register(&client, &server.base_url()).await?;
    server.stop(STOP_TIMEOUT).await?;

    let sizes = plan.sizes;
    eprintln!(
        "    seeding {} users × {} tasks and a {}-task calendar",
        thousands(sizes.users.into()),
        sizes.tasks_per_user,
        thousands(sizes.calendar_tasks.into())
    );
    let seeded = tasks_seed::seed(database_url, sizes, api::EMAIL).await?;
    eprintln!(
        "    seeded {} tasks in {:.1} s",
        thousands(seeded.tasks as i64),
        seeded.took.as_secs_f64()
    );

    let mut server = Server::capstone(paths, database_url, &log)?;
    server
        .wait_until(&client, "/readyz", 200, STARTUP_TIMEOUT)
        .await?;
    let base = server.base_url();
    let log_mark = server.log_mark();
    let rss_start = server.peak_rss_kib();

    // API keys made through the API, as a user would: HTTP Basic with the password (an
    // argon2 verification each, which is why the timed requests use the keys instead).
    let api_users = plan.api_users.min(seeded.users.len()).max(1);
    let started = Instant::now();
    let mut callers = Vec::with_capacity(api_users);
    for i in 0..api_users {
        let user = &seeded.users[i * seeded.users.len() / api_users];
        let key = api_key(&client, &base, &user.email, "read").await?;
        callers.push(Caller { id: user.id, key });
    }
    eprintln!(
        "    {api_users} API keys made through the API in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let (me_p50_ms, me_p99_ms) = time_me(&client, &base, &callers, plan.samples).await?;
    eprintln!(
        "    GET /api/v1/me          p50 {} p99 {}",
        ms(me_p50_ms),
        ms(me_p99_ms)
    );
    let floor = connect(database_url).await?;
    let mut lists = Vec::new();
    for shape in SHAPES {
        server.ensure_running()?;
        let figures = time_shape(&client, &base, &floor, &callers, shape, plan.samples).await?;
        eprintln!(
            "    {:<22} API p50 {} p99 {}; SQL p50 {} p99 {}; {:.1}×",
            figures.name,
            ms(figures.api_p50_ms),
            ms(figures.api_p99_ms),
            ms(figures.sql_p50_ms),
            ms(figures.sql_p99_ms),
            figures.ratio_p50
        );
        lists.push(figures);
    }
    floor.close().await?;
    let rss_lists = server.peak_rss_kib();

    let owner = &seeded.calendar_owner;
    let key = api_key(&client, &base, &owner.email, "write").await?;
    let caldav = tasks_dav::measure(
        &client,
        &base,
        tasks_dav::Calendar {
            owner_id: owner.id,
            email: &owner.email,
            key: &key,
            project: seeded.calendar_project,
            tasks: &seeded.calendar_tasks,
        },
        plan.syncs,
    )
    .await?;
    eprintln!(
        "    CalDAV sync of {} tasks: full {}, incremental p50 {} p99 {}",
        thousands(caldav.calendar_tasks as i64),
        ms(caldav.full_ms),
        ms(caldav.incremental_p50_ms),
        ms(caldav.incremental_p99_ms)
    );
    let rss_caldav = server.peak_rss_kib();

    let stopped = server.stop(STOP_TIMEOUT).await?;
    notes.extend(server::log_problems(&log, log_mark));
    if !stopped.status.success() {
        notes.push(format!(
            "the server exited with {} after SIGTERM; log: {}",
            stopped.status,
            log.display()
        ));
    }
    Ok(Figures {
        database: backend.name().to_owned(),
        users: sizes.users,
        tasks: seeded.tasks,
        tasks_per_user: sizes.tasks_per_user,
        api_users,
        seed_s: seeded.took.as_secs_f64(),
        lists,
        me_p50_ms,
        me_p99_ms,
        caldav,
        peak_rss_kib: stopped.peak_rss_kib,
        peak_rss_kib_by_phase: [rss_start, rss_lists, rss_caldav],
        notes,
    })
}

/// A user the requests go as.
struct Caller {
    id: i64,
    key: String,
}

/// `GET /api/v1/me` as each caller in turn, after a warm-up: (p50, p99) in ms.
async fn time_me(
    client: &reqwest::Client,
    base: &str,
    callers: &[Caller],
    samples: usize,
) -> anyhow::Result<(f64, f64)> {
    let mut us = Vec::with_capacity(samples);
    for i in 0..WARMUP + samples {
        let caller = &callers[i % callers.len()];
        let started = Instant::now();
        let response = client
            .get(format!("{base}/api/v1/me"))
            .bearer_auth(&caller.key)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        let took = started.elapsed();
        ensure!(
            status.is_success() && !body.is_empty(),
            "GET /api/v1/me answered {status}"
        );
        if i >= WARMUP {
            us.push(micros(took));
        }
    }
    us.sort_unstable();
    Ok((percentile_ms(&us, 0.50), percentile_ms(&us, 0.99)))
}

/// `POST /api/v1/me/api-keys` as `email` with the seeded password.
async fn api_key(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    scope: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/api/v1/me/api-keys"))
        .basic_auth(email, Some(api::PASSWORD))
        .json(&serde_json::json!({"name": "bench", "scope": scope}))
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    ensure!(
        status.is_success(),
        "making an API key for {email} answered {status}: {body}"
    );
    let body: serde_json::Value = serde_json::from_str(&body)?;
    body["key"]
        .as_str()
        .map(str::to_owned)
        .context("no key in the API key's answer")
}

/// The shapes of list a user asks for: what `search.rs` offers, in the combinations the
/// apps' default views use.
#[derive(Debug, Clone, Copy)]
enum ListShape {
    /// All tasks, soonest due first (the default sort).
    Default,
    /// Open tasks due within a week (an "upcoming" list).
    DueSoon,
    /// Tasks with one label.
    Label,
    /// Open tasks past their due.
    Overdue,
    /// Tasks to do, most urgent first.
    ByPriority,
    /// A word in the title or description.
    Search,
}

const SHAPES: [ListShape; 6] = [
    ListShape::Default,
    ListShape::DueSoon,
    ListShape::Label,
    ListShape::Overdue,
    ListShape::ByPriority,
    ListShape::Search,
];

impl ListShape {
    fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::DueSoon => "open, due within 7 d",
            Self::Label => "one label",
            Self::Overdue => "overdue",
            Self::ByPriority => "to do, by priority",
            Self::Search => "text search",
        }
    }

    /// The query string, with the times it names.
    fn query(self, now: DateTime<Utc>) -> Vec<(&'static str, String)> {
        match self {
            Self::Default => vec![],
            Self::DueSoon => vec![
                ("status", "needs_action".into()),
                ("status", "in_progress".into()),
                ("due_before", rfc3339(now + TimeDelta::days(7))),
            ],
            Self::Label => vec![("label", LABELS[0].into())],
            Self::Overdue => vec![("overdue", "true".into())],
            Self::ByPriority => vec![
                ("status", "needs_action".into()),
                ("sort", "priority".into()),
            ],
            Self::Search => vec![("q", SEARCH_WORD.into())],
        }
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The task columns in the entity's order (`crates/tasks/src/entities.rs`), as sea-orm
/// selects them.
const TASK_COLUMNS: [&str; 33] = [
    "id",
    "project_id",
    "uid",
    "dav_name",
    "title",
    "description",
    "status",
    "completed_at",
    "priority",
    "parent_id",
    "position",
    "start_kind",
    "start_date",
    "start_time",
    "start_zone",
    "start_at",
    "due_kind",
    "due_date",
    "due_time",
    "due_zone",
    "due_at",
    "deadline",
    "rrule",
    "recurrence_anchor",
    "series_start",
    "exdates",
    "ical_extra",
    "created_by",
    "version",
    "sync_seq",
    "created_at",
    "updated_at",
    "deleted_at",
];

/// The statement `search::find` builds for `shape`, as `user`, at `now`, for the first
/// page: the same text sea-orm writes (checked against the server's, as PostgreSQL logged
/// it) and the same values, bound the same way. Conditions come in `find`'s order.
fn floor(shape: ListShape, backend: DbBackend, user: i64, now: DateTime<Utc>) -> Statement {
    let mut values: Vec<Value> = Vec::new();
    let mut bind = |value: Value| {
        values.push(value);
        match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    let columns = TASK_COLUMNS
        .iter()
        .map(|c| format!("\"tasks\".\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!(
        "SELECT {columns} FROM \"tasks\" \
         INNER JOIN \"project_members\" ON \"tasks\".\"project_id\" = \"project_members\".\"project_id\" \
         WHERE \"project_members\".\"user_id\" = {} \
         AND \"tasks\".\"deleted_at\" IS NULL \
         AND EXISTS(SELECT {} FROM \"projects\" WHERE \"projects\".\"id\" = \"tasks\".\"project_id\" \
         AND \"projects\".\"deleted_at\" IS NULL)",
        bind(user.into()),
        bind(1i32.into())
    );
    let statuses = |bind: &mut dyn FnMut(Value) -> String, list: &[&str]| {
        list.iter()
            .map(|s| bind((*s).into()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match shape {
        ListShape::Default => {}
        ListShape::DueSoon => {
            let list = statuses(&mut bind, &["needs_action", "in_progress"]);
            sql += &format!(" AND \"tasks\".\"status\" IN ({list})");
            sql += &format!(
                " AND \"tasks\".\"due_at\" < {}",
                bind((now + TimeDelta::days(7)).into())
            );
        }
        ListShape::Label => {
            let owner = bind(user.into());
            let name = bind(LABELS[0].into());
            sql += &format!(
                " AND \"tasks\".\"id\" IN (SELECT \"task_id\" FROM \"task_labels\" \
                 INNER JOIN \"labels\" ON \"labels\".\"id\" = \"task_labels\".\"label_id\" \
                 WHERE \"labels\".\"owner_id\" = {owner} AND \"labels\".\"name\" IN ({name}))"
            );
        }
        ListShape::Overdue => {
            sql += &format!(" AND \"tasks\".\"due_at\" < {}", bind(now.into()));
            let list = statuses(&mut bind, &["needs_action", "in_progress"]);
            sql += &format!(" AND \"tasks\".\"status\" IN ({list})");
        }
        ListShape::ByPriority => {
            let list = statuses(&mut bind, &["needs_action"]);
            sql += &format!(" AND \"tasks\".\"status\" IN ({list})");
        }
        ListShape::Search => {
            let pattern = format!("%{SEARCH_WORD}%");
            let title = bind(pattern.clone().into());
            let description = bind(pattern.into());
            // sea-query writes the escape character as a string literal in the dialect's
            // own syntax, and these two columns unqualified (`contains_any`).
            let escape = match backend {
                DbBackend::Postgres => r"E'\\'",
                _ => r"'\'",
            };
            sql += &format!(
                " AND (LOWER(\"title\") LIKE {title} ESCAPE {escape} \
                 OR LOWER(\"description\") LIKE {description} ESCAPE {escape})"
            );
        }
    }
    sql += match shape {
        ListShape::ByPriority => " ORDER BY \"tasks\".\"priority\" ASC, \"tasks\".\"id\" ASC",
        _ => {
            " ORDER BY \"tasks\".\"due_at\" IS NULL ASC, \"tasks\".\"due_at\" ASC, \
             \"tasks\".\"id\" ASC"
        }
    };
    sql += &format!(" LIMIT {}", bind(((PAGE + 1) as u64).into()));
    Statement::from_sql_and_values(backend, sql, values)
}

/// The floor's connection: one, with the server's SQLite settings for a reading
/// connection (its shared pool's: WAL, a 2 MiB cache).
async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(3))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .pragma("cache_size", "-2048")
        });
    Database::connect(options)
        .await
        .context("connecting to the database for the floor")
}

/// One shape: `samples` requests, each followed by the same query run directly, after a
/// warm-up of both; every answer checked against its query's rows.
async fn time_shape(
    client: &reqwest::Client,
    base: &str,
    db: &DatabaseConnection,
    callers: &[Caller],
    shape: ListShape,
    samples: usize,
) -> anyhow::Result<Shape> {
    let backend = db.get_database_backend();
    let mut api_us = Vec::with_capacity(samples);
    let mut sql_us = Vec::with_capacity(samples);
    let mut tasks_seen = 0usize;
    let mut shown_query = String::new();
    for i in 0..WARMUP + samples {
        let caller = &callers[i % callers.len()];
        let now = Utc::now();
        let mut url = url::Url::parse(&format!("{base}/api/v1/tasks"))?;
        for (name, value) in shape.query(now) {
            url.query_pairs_mut().append_pair(name, &value);
        }
        if shown_query.is_empty() {
            shown_query = url.query().unwrap_or("").to_owned();
        }

        let started = Instant::now();
        let response = client.get(url).bearer_auth(&caller.key).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let api = started.elapsed();
        if !status.is_success() {
            bail!(
                "GET /api/v1/tasks?{shown_query} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }

        let statement = floor(shape, backend, caller.id, now);
        let started = Instant::now();
        let rows = db
            .query_all_raw(statement)
            .await
            .with_context(|| format!("the floor of {:?}", shape.name()))?;
        let sql = started.elapsed();

        // The answer must be the floor's rows: the same tasks in the same order, and a next
        // page exactly when the query found one more row.
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        let shown: Vec<i64> = page["items"]
            .as_array()
            .context("no items in the list's answer")?
            .iter()
            .filter_map(|t| t["id"].as_i64())
            .collect();
        let found: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<i64>("", "id"))
            .collect::<Result<_, _>>()?;
        let more = found.len() > PAGE;
        ensure!(
            shown[..] == found[..found.len().min(PAGE)] && page["next_cursor"].is_string() == more,
            "{:?} as user {}: the API listed {shown:?} (next page: {}), the floor's SQL \
             {found:?}: the floor is not the server's query",
            shape.name(),
            caller.id,
            page["next_cursor"].is_string()
        );
        if i >= WARMUP {
            tasks_seen += shown.len();
            api_us.push(micros(api));
            sql_us.push(micros(sql));
        }
    }
    api_us.sort_unstable();
    sql_us.sort_unstable();
    let api_p50_ms = percentile_ms(&api_us, 0.50);
    let sql_p50_ms = percentile_ms(&sql_us, 0.50);
    Ok(Shape {
        name: shape.name().to_owned(),
        query: shown_query,
        samples,
        api_p50_ms,
        api_p99_ms: percentile_ms(&api_us, 0.99),
        sql_p50_ms,
        sql_p99_ms: percentile_ms(&sql_us, 0.99),
        ratio_p50: api_p50_ms / sql_p50_ms,
        tasks_per_page: tasks_seen as f64 / samples.max(1) as f64,
    })
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

impl Figures {
    pub fn print(&self) {
        println!();
        println!(
            "  Task lists and CalDAV on {}: {} tasks ({} users × {} and one {}-task calendar), \
             seeded in {:.0} s",
            self.database,
            thousands(self.tasks as i64),
            thousands(self.users.into()),
            self.tasks_per_user,
            thousands(self.caldav.calendar_tasks as i64),
            self.seed_s
        );
        println!(
            "  GET /api/v1/tasks as {} users in turn (API keys), {} sequential requests per \
             shape, each followed by the same SQL run directly (the floor)",
            self.api_users,
            self.lists.first().map_or(0, |s| s.samples)
        );
        println!(
            "  {:<24}{:>10}{:>10}{:>10}{:>10}{:>8}  {:>6}  target: p50 < {} ms, ≤ {}× SQL",
            "shape",
            "API p50",
            "API p99",
            "SQL p50",
            "SQL p99",
            "×SQL",
            "tasks",
            MAX_LIST_P50_MS,
            MAX_LIST_TO_SQL
        );
        for s in &self.lists {
            println!(
                "  {:<24}{:>10}{:>10}{:>10}{:>10}{:>6.1}×  {:>6.1}  {} {}",
                s.name,
                ms(s.api_p50_ms),
                ms(s.api_p99_ms),
                ms(s.sql_p50_ms),
                ms(s.sql_p99_ms),
                s.ratio_p50,
                s.tasks_per_page,
                mark(s.api_p50_ms < MAX_LIST_P50_MS),
                mark(s.ratio_p50 <= MAX_LIST_TO_SQL)
            );
        }
        println!(
            "  {:<24}{:>10}{:>10}{:>38}",
            "(GET /api/v1/me)",
            ms(self.me_p50_ms),
            ms(self.me_p99_ms),
            "any authenticated request: no target"
        );
        let c = &self.caldav;
        let line = |label: &str, value: String, target: &str| {
            println!("{}", format!("  {label:<36}{value:<18}{target}").trim_end());
        };
        println!(
            "  CalDAV sync-collection of a {}-task calendar (getetag; HTTP Basic, API key)",
            thousands(c.calendar_tasks as i64)
        );
        line(
            "  full (empty token), first",
            ms(c.full_ms),
            &format!("{} hrefs ✓", thousands(c.full_hrefs as i64)),
        );
        line(
            &format!("  full, p50 of {}", c.full_samples),
            ms(c.full_p50_ms),
            "",
        );
        line(
            "  full with calendar-data",
            ms(c.full_with_data_ms),
            &format!("{:.1} MB answer", c.full_with_data_bytes as f64 / 1e6),
        );
        line(
            &format!("  incremental, 1 change, p50 ({})", c.incremental_samples),
            format!(
                "{} {}",
                ms(c.incremental_p50_ms),
                mark(c.incremental_p50_ms < MAX_INCREMENTAL_SYNC_MS)
            ),
            &format!("< {MAX_INCREMENTAL_SYNC_MS} ms; exactly the changed href ✓"),
        );
        line(
            "  incremental, p99",
            format!(
                "{} {}",
                ms(c.incremental_p99_ms),
                mark(c.incremental_p99_ms < MAX_INCREMENTAL_SYNC_MS)
            ),
            &format!("< {MAX_INCREMENTAL_SYNC_MS} ms"),
        );
        line(
            "  the change (PATCH), p50",
            ms(c.change_p50_ms),
            "not a target",
        );
        let mb = |kib: u64| kib as f64 / 1024.0;
        let phase =
            |kib: Option<u64>| kib.map_or_else(|| "n/a".into(), |k| format!("{:.0}", mb(k)));
        line(
            "peak RSS",
            format!(
                "{:.0} MB {}",
                mb(self.peak_rss_kib),
                mark(mb(self.peak_rss_kib) < MAX_PEAK_RSS_MB)
            ),
            &format!(
                "< {MAX_PEAK_RSS_MB} MB (after start/lists/CalDAV: {}/{}/{} MB)",
                phase(self.peak_rss_kib_by_phase[0]),
                phase(self.peak_rss_kib_by_phase[1]),
                phase(self.peak_rss_kib_by_phase[2])
            ),
        );
        for note in &self.notes {
            println!("  note: {note}");
        }
    }
}
