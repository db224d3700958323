//! Recording clicks off the hot path.
//!
//! The redirect hands a [`ClickEvent`] (the raw facts: time, link, address, a few headers)
//! to a bounded queue and answers at once. One writer task takes clicks off the queue in
//! batches (whatever is queued, up to the batch size: the busier, the larger) and, per
//! batch, in one transaction: parses them (browser, OS, device, bot, country, referrer,
//! language, UTM), inserts the raw rows, adds to each link's counter, records first
//! visits, and adds to the hourly rollups that statistics are read from (and to the daily
//! ones for clicks of a day already compacted, see [`crate::compaction`]). On shutdown the
//! writer drains the queue before it stops, so a clean stop loses no click.

use std::{
    collections::{BTreeMap, HashSet, btree_map::Entry},
    net::IpAddr,
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use platform::{
    AppResult,
    db::{Db, fixed_chunks},
};
use sea_orm::{
    ConnectionTrait, TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, LockType, OnConflict, Query},
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;

use crate::{
    compaction,
    entities::{click, link},
    geo::Geo,
    referrer, useragent,
};

/// A click as the redirect saw it; everything else is worked out by the writer.
#[derive(Debug, Clone)]
pub struct ClickEvent {
    pub link_id: i64,
    pub at: DateTime<Utc>,
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    pub accept_language: Option<String>,
    pub country_header: Option<String>,
    pub query: Option<String>,
}

/// The sending end, held by the redirect.
#[derive(Clone)]
pub struct ClickQueue {
    tx: mpsc::Sender<ClickEvent>,
}

impl ClickQueue {
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<ClickEvent>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, rx)
    }

    /// Queues a click. When the queue is full (the database is slow or down), the redirect
    /// waits for room: slower redirects are better than lost clicks.
    pub async fn record(&self, event: ClickEvent) {
        if let Err(TrySendError::Full(event)) = self.tx.try_send(event) {
            metrics::counter!("links_click_queue_full_total").increment(1);
            let _ = self.tx.send(event).await;
        }
    }
}

/// The writer task: runs until `stop`, then writes everything still queued.
pub async fn run_writer(
    mut rx: mpsc::Receiver<ClickEvent>,
    writer: Arc<ClickWriter>,
    batch_size: usize,
    flush: Duration,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(batch_size);
    loop {
        let received = tokio::select! {
            n = rx.recv_many(&mut batch, batch_size) => n,
            () = stop.cancelled() => 0,
        };
        if received == 0 {
            break;
        }
        // Gather a little longer under light load: one transaction for many clicks costs
        // far less than one per click.
        let deadline = tokio::time::sleep(flush);
        tokio::pin!(deadline);
        while batch.len() < batch_size {
            let room = batch_size - batch.len();
            tokio::select! {
                n = rx.recv_many(&mut batch, room) => if n == 0 { break },
                () = &mut deadline => break,
                () = stop.cancelled() => break,
            }
        }
        writer.write_until_done(&batch).await;
        batch.clear();
    }
    // Stopping: nothing new can arrive (the server has stopped), write what is left.
    rx.close();
    while rx.recv_many(&mut batch, batch_size).await > 0 {
        writer.write_until_done(&batch).await;
        batch.clear();
    }
    tracing::info!("click writer stopped; every queued click is written");
}

pub struct ClickWriter {
    db: Db,
    geo: Arc<Geo>,
    salt: tokio::sync::Mutex<Option<(NaiveDate, String)>>,
    seen: std::sync::Mutex<SeenVisitors>,
}

/// One click, parsed, ready for the database: a row of `clicks` and what the other tables
/// need. Kept compact (the labels a user agent parses to are static strings), as a batch
/// holds thousands.
struct Parsed {
    link_id: i64,
    at: DateTime<Utc>,
    hour: DateTime<Utc>,
    day: NaiveDate,
    visitor: Visitor,
    is_bot: bool,
    browser: &'static str,
    os: &'static str,
    device: &'static str,
    referrer: Option<String>,
    referrer_host: Option<String>,
    country: Option<String>,
    language: Option<String>,
    utm: referrer::Utm,
}

impl Parsed {
    /// The rollup dimensions and this click's value in each (empty: not known).
    fn dimensions(&self) -> [(&'static str, &str); 7] {
        fn known(value: &Option<String>) -> &str {
            value.as_deref().unwrap_or("")
        }
        [
            ("total", ""),
            ("country", known(&self.country)),
            ("referrer", known(&self.referrer_host)),
            ("browser", self.browser),
            ("os", self.os),
            ("device", self.device),
            ("language", known(&self.language)),
        ]
    }

    /// The `clicks` row, in the order of [`CLICK_COLUMNS`].
    fn row(&self) -> [Expr; 16] {
        [
            self.link_id.into(),
            self.at.into(),
            self.referrer.clone().into(),
            self.referrer_host.clone().into(),
            self.country.clone().into(),
            self.browser.into(),
            self.os.into(),
            self.device.into(),
            self.language.clone().into(),
            self.is_bot.into(),
            hex::encode(self.visitor).into(),
            self.utm.source.clone().into(),
            self.utm.medium.clone().into(),
            self.utm.campaign.clone().into(),
            self.utm.term.clone().into(),
            self.utm.content.clone().into(),
        ]
    }
}

const CLICK_COLUMNS: [click::Column; 16] = [
    click::Column::LinkId,
    click::Column::ClickedAt,
    click::Column::Referrer,
    click::Column::ReferrerHost,
    click::Column::Country,
    click::Column::Browser,
    click::Column::Os,
    click::Column::Device,
    click::Column::Language,
    click::Column::IsBot,
    click::Column::VisitorHash,
    click::Column::UtmSource,
    click::Column::UtmMedium,
    click::Column::UtmCampaign,
    click::Column::UtmTerm,
    click::Column::UtmContent,
];

/// A visitor's daily hash (see [`ClickWriter::parse`]).
type Visitor = [u8; 16];

/// Visitors this process has already stored for a link and day, so that a returning
/// visitor costs no database work. Bounded: when full it starts over, and a forgotten
/// visitor is only looked up in the database again, never counted twice.
#[derive(Default)]
struct SeenVisitors(HashSet<(i64, NaiveDate, Visitor)>);

impl SeenVisitors {
    const MAX: usize = 200_000;

    /// Indexes (into `parsed`) of each human (link, day, visitor) not known to be stored.
    fn unseen(&self, parsed: &[Parsed]) -> Vec<usize> {
        let mut first = HashSet::new();
        parsed
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_bot)
            .filter(|(_, p)| {
                let key = (p.link_id, p.day, p.visitor);
                !self.0.contains(&key) && first.insert(key)
            })
            .map(|(i, _)| i)
            .collect()
    }

    fn remember(&mut self, visitors: impl IntoIterator<Item = (i64, NaiveDate, Visitor)>) {
        for key in visitors {
            if self.0.len() >= Self::MAX {
                self.0.clear();
            }
            self.0.insert(key);
        }
    }
}

/// The two rollup tables: by hour, and by UTC day for the days already compacted.
#[derive(Clone, Copy)]
enum Rollup {
    Hourly,
    Daily,
}

/// Human clicks, bot clicks, and visitors seen for the first time that day.
#[derive(Default, Clone, Copy)]
struct Counts {
    clicks: i64,
    bot_clicks: i64,
    visitors: i64,
}

/// A rollup row's key: link, dimension, bucket (an hour or a day), value.
type RollupKey<'a, B> = (i64, &'static str, B, &'a str);

impl ClickWriter {
    pub fn new(db: Db, geo: Arc<Geo>) -> Self {
        Self {
            db,
            geo,
            salt: tokio::sync::Mutex::new(None),
            seen: std::sync::Mutex::default(),
        }
    }

    /// Writes `batch`, retrying with backoff while the database is unavailable: clicks are
    /// kept, never dropped (the queue in front applies back-pressure meanwhile).
    pub async fn write_until_done(&self, batch: &[ClickEvent]) {
        let mut delay = Duration::from_millis(100);
        loop {
            let started = std::time::Instant::now();
            match self.write(batch).await {
                Ok(()) => {
                    metrics::counter!("links_clicks_written_total").increment(batch.len() as u64);
                    metrics::histogram!("links_click_batch_seconds")
                        .record(started.elapsed().as_secs_f64());
                    return;
                }
                Err(err) => {
                    tracing::error!(error = %err, clicks = batch.len(), ?delay, "writing clicks failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    async fn write(&self, batch: &[ClickEvent]) -> AppResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let parsed: Vec<Parsed> = {
            // Each click is hashed with the salt of its own day: a batch may span midnight.
            let mut salts = BTreeMap::new();
            for day in batch.iter().map(|e| e.at.date_naive()) {
                if let Entry::Vacant(slot) = salts.entry(day) {
                    slot.insert(self.salt_for(day).await?);
                }
            }
            // In the order of the indexes written below (link first): each B-tree page is
            // then visited once per batch, not once per click. In random order, a batch
            // larger than the page cache makes SQLite spill and re-read the same pages over
            // and over (measured: one WAL frame written per row written).
            let mut events: Vec<&ClickEvent> = batch.iter().collect();
            events.sort_by_key(|e| (e.link_id, e.at));
            events
                .into_iter()
                .map(|e| self.parse(e, &salts[&e.at.date_naive()]))
                .collect()
        };
        let unseen = self.seen.lock().expect("not poisoned").unseen(&parsed);

        let tx = self.db.begin().await?;
        // The raw clicks, 500 per statement (SQLite allows 32,766 bound values). Being
        // a write, this also takes SQLite's write lock before anything below is read.
        for chunk in fixed_chunks(&parsed, 500) {
            let mut insert = Query::insert();
            insert.into_table(click::Entity).columns(CLICK_COLUMNS);
            for p in chunk {
                insert.values_panic(p.row());
            }
            tx.execute(&insert).await?;
        }
        add_to_click_counts(&tx, &parsed).await?;
        let new_visitors = self.first_visits(&tx, &parsed, &unseen).await?;

        // The rollups: counts per link, dimension, bucket and value, by hour; and by day
        // too for clicks of a day already compacted into `click_days` (late ones).
        let compacted = compaction::compacted_through(&tx, Some(LockType::Share)).await?;
        // Ordered maps: rows are upserted in primary-key order (see the sort above).
        let mut hourly: BTreeMap<RollupKey<DateTime<Utc>>, Counts> = BTreeMap::new();
        let mut daily: BTreeMap<RollupKey<NaiveDate>, Counts> = BTreeMap::new();
        for (i, p) in parsed.iter().enumerate() {
            let new_visitor = i64::from(new_visitors.contains(&i));
            let late = compacted.is_some_and(|through| p.day <= through);
            // A dimension without a value (no country known, no referrer, …) gets no row:
            // statistics count those clicks as the total minus the values.
            let known = p
                .dimensions()
                .into_iter()
                .filter(|(dimension, value)| *dimension == "total" || !value.is_empty());
            for (dimension, value) in known {
                let add = |counts: &mut Counts| {
                    if p.is_bot {
                        counts.bot_clicks += 1;
                    } else {
                        counts.clicks += 1;
                        counts.visitors += new_visitor;
                    }
                };
                add(hourly
                    .entry((p.link_id, dimension, p.hour, value))
                    .or_default());
                if late {
                    add(daily
                        .entry((p.link_id, dimension, p.day, value))
                        .or_default());
                }
            }
        }
        upsert_rollups(&tx, Rollup::Hourly, hourly).await?;
        upsert_rollups(&tx, Rollup::Daily, daily).await?;
        tx.commit().await?;

        self.seen
            .lock()
            .expect("not poisoned")
            .remember(unseen.iter().map(|&i| {
                let p = &parsed[i];
                (p.link_id, p.day, p.visitor)
            }));
        Ok(())
    }

    fn parse(&self, e: &ClickEvent, salt: &str) -> Parsed {
        let agent = useragent::classify(e.user_agent.as_deref().unwrap_or(""));
        let country = self.geo.country(e.country_header.as_deref(), e.ip);
        let referrer_host = e.referrer.as_deref().and_then(referrer::host);
        let language = e
            .accept_language
            .as_deref()
            .and_then(referrer::primary_language);
        let utm = e.query.as_deref().map(referrer::utm).unwrap_or_default();
        // A visitor is their address and browser, hashed with today's salt: countable for
        // a day, never reversible, never linkable across days. The address itself is not
        // stored anywhere.
        let visitor: Visitor = {
            let mut h = Sha256::new();
            h.update(salt.as_bytes());
            h.update(e.ip.to_string().as_bytes());
            h.update(e.user_agent.as_deref().unwrap_or("").as_bytes());
            h.finalize()[..16].try_into().expect("16 of 32 bytes")
        };
        Parsed {
            link_id: e.link_id,
            at: e.at,
            hour: e.at.duration_trunc(TimeDelta::hours(1)).unwrap_or(e.at),
            day: e.at.date_naive(),
            visitor,
            is_bot: agent.is_bot,
            browser: agent.browser.as_str(),
            os: agent.os.as_str(),
            device: agent.device.as_str(),
            referrer: e
                .referrer
                .as_deref()
                .map(|r| r.chars().take(2048).collect()),
            referrer_host,
            country,
            language,
            utm,
        }
    }

    /// Of the `unseen` clicks (indexes into `parsed`), those whose visitor is new that day
    /// for the link, i.e. not stored yet by any instance.
    async fn first_visits(
        &self,
        tx: &impl ConnectionTrait,
        parsed: &[Parsed],
        unseen: &[usize],
    ) -> AppResult<HashSet<usize>> {
        let mut new = HashSet::new();
        for chunk in fixed_chunks(unseen, 500) {
            // INSERT … ON CONFLICT DO NOTHING RETURNING …: exactly the rows that are new
            // come back.
            let mut insert = Query::insert();
            insert.into_table(LinkVisitors::Table).columns([
                LinkVisitors::LinkId,
                LinkVisitors::Day,
                LinkVisitors::VisitorHash,
            ]);
            for &i in chunk {
                let p = &parsed[i];
                insert.values_panic([
                    p.link_id.into(),
                    p.day.into(),
                    hex::encode(p.visitor).into(),
                ]);
            }
            insert
                .on_conflict(
                    OnConflict::columns([
                        LinkVisitors::LinkId,
                        LinkVisitors::Day,
                        LinkVisitors::VisitorHash,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .returning(Query::returning().columns([
                    LinkVisitors::LinkId,
                    LinkVisitors::Day,
                    LinkVisitors::VisitorHash,
                ]));
            let inserted: HashSet<(i64, NaiveDate, String)> = tx
                .query_all(&insert)
                .await?
                .into_iter()
                .filter_map(|row| {
                    Some((
                        row.try_get("", "link_id").ok()?,
                        row.try_get("", "day").ok()?,
                        row.try_get("", "visitor_hash").ok()?,
                    ))
                })
                .collect();
            new.extend(chunk.iter().copied().filter(|&i| {
                let p = &parsed[i];
                inserted.contains(&(p.link_id, p.day, hex::encode(p.visitor)))
            }));
        }
        Ok(new)
    }

    /// Today's visitor salt: made by the first instance that needs it, shared through the
    /// database, and the only one kept (yesterday's is deleted).
    async fn salt_for(&self, day: NaiveDate) -> AppResult<String> {
        let mut cached = self.salt.lock().await;
        if let Some((d, salt)) = cached.as_ref()
            && *d == day
        {
            return Ok(salt.clone());
        }
        let fresh = platform::auth::secret::generate("");
        let insert = Query::insert()
            .into_table(VisitorSalts::Table)
            .columns([VisitorSalts::Day, VisitorSalts::Salt])
            .values_panic([day.into(), fresh.into()])
            .on_conflict(
                OnConflict::column(VisitorSalts::Day)
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        self.db.execute(&insert).await?;
        let select = Query::select()
            .column(VisitorSalts::Salt)
            .from(VisitorSalts::Table)
            .and_where(Expr::col(VisitorSalts::Day).eq(day))
            .to_owned();
        let row = self
            .db
            .query_one(&select)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the salt of {day} vanished"))?;
        let salt: String = row.try_get("", "salt")?;
        let delete = Query::delete()
            .from_table(VisitorSalts::Table)
            .and_where(Expr::col(VisitorSalts::Day).lt(day))
            .to_owned();
        self.db.execute(&delete).await?;
        *cached = Some((day, salt.clone()));
        Ok(salt)
    }
}

#[derive(sea_orm::DeriveIden)]
enum LinkVisitors {
    Table,
    LinkId,
    Day,
    VisitorHash,
}

#[derive(sea_orm::DeriveIden)]
enum VisitorSalts {
    Table,
    Day,
    Salt,
}

/// Each link's `click_count` plus its clicks in the batch: one
/// `UPDATE links SET click_count = click_count + n WHERE id IN (…)` per distinct `n` (most
/// links get one click per batch, so there are few).
async fn add_to_click_counts(tx: &impl ConnectionTrait, parsed: &[Parsed]) -> AppResult<()> {
    let mut per_link: BTreeMap<i64, i64> = BTreeMap::new();
    for p in parsed {
        *per_link.entry(p.link_id).or_default() += 1;
    }
    let mut by_increment: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (link_id, n) in per_link {
        by_increment.entry(n).or_default().push(link_id);
    }
    for (n, ids) in by_increment {
        for chunk in fixed_chunks(&ids, 1000) {
            let update = Query::update()
                .table(link::Entity)
                .value(
                    link::Column::ClickCount,
                    Expr::col(link::Column::ClickCount).add(n),
                )
                .and_where(Expr::col(link::Column::Id).is_in(chunk.iter().copied()))
                .to_owned();
            tx.execute(&update).await?;
        }
    }
    Ok(())
}

/// INSERT INTO click_rollups | click_days … ON CONFLICT (link_id, dimension, bucket, value)
///   DO UPDATE SET clicks = <table>.clicks + excluded.clicks, …
/// in statements of 1,000 rows.
async fn upsert_rollups<B: Into<sea_orm::sea_query::Expr> + Copy>(
    tx: &impl ConnectionTrait,
    rollup: Rollup,
    rows: BTreeMap<RollupKey<'_, B>, Counts>,
) -> AppResult<()> {
    let (table, bucket) = match rollup {
        Rollup::Hourly => ("click_rollups", "bucket"),
        Rollup::Daily => ("click_days", "day"),
    };
    let rows: Vec<_> = rows.into_iter().collect();
    for chunk in fixed_chunks(&rows, 1000) {
        let mut insert = Query::insert();
        insert.into_table(Alias::new(table)).columns([
            Alias::new("link_id"),
            Alias::new("dimension"),
            Alias::new(bucket),
            Alias::new("value"),
            Alias::new("clicks"),
            Alias::new("bot_clicks"),
            Alias::new("visitors"),
        ]);
        for ((link_id, dimension, at, value), counts) in chunk {
            let value: String = value.chars().take(255).collect();
            insert.values_panic([
                (*link_id).into(),
                (*dimension).into(),
                (*at).into(),
                value.into(),
                counts.clicks.into(),
                counts.bot_clicks.into(),
                counts.visitors.into(),
            ]);
        }
        let add = |col: &str| Expr::cust(format!("{table}.{col} + excluded.{col}"));
        insert.on_conflict(
            OnConflict::columns([
                Alias::new("link_id"),
                Alias::new("dimension"),
                Alias::new(bucket),
                Alias::new("value"),
            ])
            .value(Alias::new("clicks"), add("clicks"))
            .value(Alias::new("bot_clicks"), add("bot_clicks"))
            .value(Alias::new("visitors"), add("visitors"))
            .to_owned(),
        );
        tx.execute(&insert).await?;
    }
    Ok(())
}
