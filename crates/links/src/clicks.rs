//! Recording clicks off the hot path.
//!
//! The redirect hands a [`ClickEvent`] (the raw facts: time, link, address, a few headers)
//! to a bounded queue and answers at once. One writer task takes clicks off the queue in
//! batches and, per batch, in one transaction: parses them (browser, OS, device, bot,
//! country, referrer, language, UTM), inserts the raw rows, adds to each link's counter,
//! and adds to the hourly rollups that statistics are read from. On shutdown the writer
//! drains the queue before it stops, so a clean stop loses no click.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use platform::{AppResult, db::Db};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, EntityTrait, TransactionTrait,
    sea_query::{CaseStatement, Expr, ExprTrait, OnConflict, Query},
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;

use crate::{
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
}

/// A rollup row's key: link, dimension, hour, value.
type RollupKey<'a> = (i64, &'static str, DateTime<Utc>, &'a str);
/// Human clicks, bot clicks, new visitors.
type RollupCounts = (i64, i64, i64);

/// One click, parsed, ready for the database.
struct Parsed {
    row: click::ActiveModel,
    link_id: i64,
    hour: DateTime<Utc>,
    day: NaiveDate,
    visitor: String,
    is_bot: bool,
    dimensions: [(&'static str, String); 7],
}

impl ClickWriter {
    pub fn new(db: Db, geo: Arc<Geo>) -> Self {
        Self {
            db,
            geo,
            salt: tokio::sync::Mutex::new(None),
        }
    }

    /// Writes `batch`, retrying with backoff while the database is unavailable: clicks are
    /// kept, never dropped (the queue in front applies back-pressure meanwhile).
    pub async fn write_until_done(&self, batch: &[ClickEvent]) {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.write(batch).await {
                Ok(()) => {
                    metrics::counter!("links_clicks_written_total").increment(batch.len() as u64);
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
            let salt = self.salt_for(batch[0].at.date_naive()).await?;
            batch.iter().map(|e| self.parse(e, &salt)).collect()
        };
        let tx = self.db.begin().await?;

        // 1. The raw clicks, in chunks (SQLite allows 32,766 bound values per statement).
        for chunk in parsed.chunks(500) {
            click::Entity::insert_many(chunk.iter().map(|p| p.row.clone()))
                .exec_without_returning(&tx)
                .await?;
        }

        // 2. Each link's counter, in one statement per 500 links:
        //    UPDATE links SET click_count = click_count + CASE id WHEN … THEN n … END
        //    WHERE id IN (…)
        let mut per_link: HashMap<i64, i64> = HashMap::new();
        for p in &parsed {
            *per_link.entry(p.link_id).or_default() += 1;
        }
        let per_link: Vec<(i64, i64)> = per_link.into_iter().collect();
        for chunk in per_link.chunks(500) {
            let increment = chunk.iter().fold(CaseStatement::new(), |case, (id, n)| {
                case.case(Expr::col(link::Column::Id).eq(*id), *n)
            });
            let update = Query::update()
                .table(link::Entity)
                .value(
                    link::Column::ClickCount,
                    Expr::col(link::Column::ClickCount).add(increment.finally(0)),
                )
                .and_where(Expr::col(link::Column::Id).is_in(chunk.iter().map(|(id, _)| *id)))
                .to_owned();
            tx.execute(&update).await?;
        }

        // 3. Visitors seen for the first time today on their link.
        let new_visitors = self.first_visits(&tx, &parsed).await?;

        // 4. The rollups: counts per link, hour and dimension value.
        let mut rollups: HashMap<RollupKey, RollupCounts> = HashMap::new();
        for (i, p) in parsed.iter().enumerate() {
            let new_visitor = new_visitors.contains(&i);
            for (dimension, value) in &p.dimensions {
                let entry = rollups
                    .entry((p.link_id, *dimension, p.hour, value.as_str()))
                    .or_default();
                if p.is_bot {
                    entry.1 += 1;
                } else {
                    entry.0 += 1;
                    entry.2 += i64::from(new_visitor);
                }
            }
        }
        let rows: Vec<_> = rollups.into_iter().collect();
        for chunk in rows.chunks(1000) {
            upsert_rollups(&tx, chunk).await?;
        }
        tx.commit().await?;
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
        let visitor = {
            let mut h = Sha256::new();
            h.update(salt.as_bytes());
            h.update(e.ip.to_string().as_bytes());
            h.update(e.user_agent.as_deref().unwrap_or("").as_bytes());
            hex::encode(&h.finalize()[..16])
        };
        let cap = |s: Option<&str>, n: usize| s.map(|s| s.chars().take(n).collect::<String>());
        let row = click::ActiveModel {
            link_id: Set(e.link_id),
            clicked_at: Set(e.at),
            referrer: Set(cap(e.referrer.as_deref(), 2048)),
            referrer_host: Set(referrer_host.clone()),
            country: Set(country.clone()),
            browser: Set(agent.browser.as_str().to_owned()),
            os: Set(agent.os.as_str().to_owned()),
            device: Set(agent.device.as_str().to_owned()),
            language: Set(language.clone()),
            is_bot: Set(agent.is_bot),
            visitor_hash: Set(visitor.clone()),
            utm_source: Set(utm.source),
            utm_medium: Set(utm.medium),
            utm_campaign: Set(utm.campaign),
            utm_term: Set(utm.term),
            utm_content: Set(utm.content),
            ..Default::default()
        };
        Parsed {
            row,
            link_id: e.link_id,
            hour: e.at.duration_trunc(TimeDelta::hours(1)).unwrap_or(e.at),
            day: e.at.date_naive(),
            visitor,
            is_bot: agent.is_bot,
            dimensions: [
                ("total", String::new()),
                ("country", country.unwrap_or_default()),
                ("referrer", referrer_host.unwrap_or_default()),
                ("browser", agent.browser.as_str().to_owned()),
                ("os", agent.os.as_str().to_owned()),
                ("device", agent.device.as_str().to_owned()),
                ("language", language.unwrap_or_default()),
            ],
        }
    }

    /// Indexes (into `parsed`) of the human clicks whose visitor is new today for the link.
    async fn first_visits(
        &self,
        tx: &impl ConnectionTrait,
        parsed: &[Parsed],
    ) -> AppResult<Vec<usize>> {
        let mut first: HashMap<(i64, NaiveDate, &str), usize> = HashMap::new();
        for (i, p) in parsed.iter().enumerate().filter(|(_, p)| !p.is_bot) {
            first
                .entry((p.link_id, p.day, p.visitor.as_str()))
                .or_insert(i);
        }
        let candidates: Vec<_> = first.into_iter().collect();
        let mut new = Vec::new();
        for chunk in candidates.chunks(500) {
            // INSERT … ON CONFLICT DO NOTHING RETURNING …: exactly the rows that are new
            // come back, i.e. the visitors not seen on that link today by any instance.
            let mut insert = Query::insert();
            insert.into_table(LinkVisitors::Table).columns([
                LinkVisitors::LinkId,
                LinkVisitors::Day,
                LinkVisitors::VisitorHash,
            ]);
            for ((link_id, day, visitor), _) in chunk {
                insert.values_panic([(*link_id).into(), (*day).into(), (*visitor).into()]);
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
                .returning(
                    Query::returning().columns([LinkVisitors::LinkId, LinkVisitors::VisitorHash]),
                );
            let inserted: HashSet<(i64, String)> = tx
                .query_all(&insert)
                .await?
                .into_iter()
                .filter_map(|row| {
                    Some((
                        row.try_get("", "link_id").ok()?,
                        row.try_get("", "visitor_hash").ok()?,
                    ))
                })
                .collect();
            new.extend(
                chunk
                    .iter()
                    .filter(|((link_id, _, visitor), _)| {
                        inserted.contains(&(*link_id, (*visitor).to_owned()))
                    })
                    .map(|(_, index)| *index),
            );
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

#[derive(sea_orm::DeriveIden)]
enum ClickRollups {
    Table,
    LinkId,
    Dimension,
    Bucket,
    Value,
    Clicks,
    BotClicks,
    Visitors,
}

/// INSERT INTO click_rollups … ON CONFLICT (link_id, dimension, bucket, value)
///   DO UPDATE SET clicks = click_rollups.clicks + excluded.clicks, …
async fn upsert_rollups(
    tx: &impl ConnectionTrait,
    rows: &[(RollupKey<'_>, RollupCounts)],
) -> AppResult<()> {
    let mut insert = Query::insert();
    insert.into_table(ClickRollups::Table).columns([
        ClickRollups::LinkId,
        ClickRollups::Dimension,
        ClickRollups::Bucket,
        ClickRollups::Value,
        ClickRollups::Clicks,
        ClickRollups::BotClicks,
        ClickRollups::Visitors,
    ]);
    for ((link_id, dimension, bucket, value), (clicks, bots, visitors)) in rows {
        let value: String = value.chars().take(255).collect();
        insert.values_panic([
            (*link_id).into(),
            (*dimension).into(),
            (*bucket).into(),
            value.into(),
            (*clicks).into(),
            (*bots).into(),
            (*visitors).into(),
        ]);
    }
    insert.on_conflict(
        OnConflict::columns([
            ClickRollups::LinkId,
            ClickRollups::Dimension,
            ClickRollups::Bucket,
            ClickRollups::Value,
        ])
        .value(
            ClickRollups::Clicks,
            Expr::cust("click_rollups.clicks + excluded.clicks"),
        )
        .value(
            ClickRollups::BotClicks,
            Expr::cust("click_rollups.bot_clicks + excluded.bot_clicks"),
        )
        .value(
            ClickRollups::Visitors,
            Expr::cust("click_rollups.visitors + excluded.visitors"),
        )
        .to_owned(),
    );
    tx.execute(&insert).await?;
    Ok(())
}
