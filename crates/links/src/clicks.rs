//! Recording clicks off the hot path.
//!
//! The redirect hands a [`ClickEvent`] (the raw facts: time, link, address, a few headers)
//! to a bounded queue and answers at once. One writer, on a thread of its own so that the
//! request load does not delay it, takes clicks off the queue in batches (whatever is
//! queued, up to the batch size: the busier, the larger) and, per batch, in one
//! transaction: parses them (browser, OS, device, bot, country, referrer, language, UTM),
//! adds to each link's counter (which tells the links deleted meanwhile, whose clicks are
//! dropped), inserts the raw rows, records first visits, and adds to the hourly rollups
//! that statistics are read from (and to the daily ones for clicks of a day already
//! compacted, see [`crate::compaction`]). The statements are in [`sql`]. On shutdown the
//! writer drains the queue before it stops, so a clean stop loses no click.
//!
//! Visits that reach no link take the same way as [`OrphanVisit`]s, for `orphan_visits`:
//! parsed as clicks are, written in the same transaction, with no counter nor rollup.

mod sql;

use std::{
    collections::{BTreeMap, HashMap, HashSet, btree_map::Entry},
    net::IpAddr,
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use platform::{
    AppResult,
    db::{Db, Dialect},
};
use sea_orm::{
    ConnectionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;

use self::sql::{Bucket, Rollup, RollupKey, Statements};
use crate::{
    geo::Geo,
    live::{Live, LiveClick},
    model::{Dimension, OrphanKind},
    referrer, useragent,
};

/// A click as the redirect saw it; everything else is worked out by the writer.
#[derive(Debug, Clone)]
pub struct ClickEvent {
    pub link_id: i64,
    pub at: DateTime<Utc>,
    pub ip: IpAddr,
    /// The request's texts the writer needs, copied into one allocation (one per redirect,
    /// not one per header): see [`Texts`].
    texts: Box<str>,
    /// Where each of [`Texts`] is in `texts`, if the request had it.
    spans: [Option<(u32, u32)>; Texts::COUNT],
}

/// The texts of a request a click keeps, in the order of [`ClickEvent::spans`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Texts<'a> {
    pub user_agent: Option<&'a str>,
    pub referrer: Option<&'a str>,
    pub accept_language: Option<&'a str>,
    pub country_header: Option<&'a str>,
    pub query: Option<&'a str>,
}

impl Texts<'_> {
    const COUNT: usize = 5;
}

impl ClickEvent {
    pub fn new(link_id: i64, at: DateTime<Utc>, ip: IpAddr, texts: Texts<'_>) -> Self {
        let parts = [
            texts.user_agent,
            texts.referrer,
            texts.accept_language,
            texts.country_header,
            texts.query,
        ];
        let mut joined = String::with_capacity(parts.iter().flatten().map(|t| t.len()).sum());
        let spans = parts.map(|part| {
            let part = part?;
            // Headers are capped far below 4 GiB by the server; a longer text is dropped.
            let start = u32::try_from(joined.len()).ok()?;
            let end = u32::try_from(joined.len() + part.len()).ok()?;
            joined.push_str(part);
            Some((start, end))
        });
        Self {
            link_id,
            at,
            ip,
            texts: joined.into_boxed_str(),
            spans,
        }
    }

    /// The texts, borrowed from the event.
    pub fn texts(&self) -> Texts<'_> {
        let [user_agent, referrer, accept_language, country_header, query] = self
            .spans
            .map(|span| span.map(|(start, end)| &self.texts[start as usize..end as usize]));
        Texts {
            user_agent,
            referrer,
            accept_language,
            country_header,
            query,
        }
    }
}

/// A visit that reached no link (see the migration `m20261201_000005`), kept as an orphan
/// visit for administrators.
#[derive(Debug, Clone)]
pub struct OrphanVisit {
    pub kind: OrphanKind,
    /// `""` for the default domain.
    pub domain: Box<str>,
    /// The slug asked for, or for [`OrphanKind::Regular404`] the path without its leading
    /// `/` (`None` for the bare domain).
    pub slug: Option<Box<str>>,
    /// The visit's facts, as for a click; its `link_id` is 0, there being no link.
    pub event: ClickEvent,
}

/// What the redirect queues for the writer.
#[derive(Debug)]
pub enum Visit {
    Click(ClickEvent),
    /// Boxed: rare, and larger than a click, which would make every slot of the queue so.
    Orphan(Box<OrphanVisit>),
}

/// The sending end, held by the redirect.
#[derive(Clone)]
pub struct ClickQueue {
    tx: mpsc::Sender<Visit>,
}

impl ClickQueue {
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Visit>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Self { tx }, rx)
    }

    /// Queues a click. When the queue is full (the database is slow or down), the redirect
    /// waits for room: slower redirects are better than lost clicks.
    pub async fn record(&self, event: ClickEvent) {
        self.send(Visit::Click(event)).await;
    }

    /// Queues an orphan visit, likewise.
    pub async fn record_orphan(&self, visit: OrphanVisit) {
        self.send(Visit::Orphan(Box::new(visit))).await;
    }

    async fn send(&self, visit: Visit) {
        if let Err(TrySendError::Full(visit)) = self.tx.try_send(visit) {
            metrics::counter!("links_click_queue_full_total").increment(1);
            let _ = self.tx.send(visit).await;
        }
    }
}

/// How often a writer gathering a batch looks at the queue.
const GATHER_TICK: Duration = Duration::from_millis(10);

/// The writer task: runs until `stop`, then writes everything still queued.
pub async fn run_writer(
    mut rx: mpsc::Receiver<Visit>,
    mut writer: ClickWriter,
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
        // far less than one per click. By looking at the queue every few milliseconds
        // rather than waiting on it: a receiver waiting on the queue is woken, across
        // threads, by every click sent (a profile found this thread in the scheduler a
        // third of its time).
        let deadline = tokio::time::Instant::now() + flush;
        while batch.len() + rx.len() < batch_size
            && tokio::time::Instant::now() < deadline
            && !stop.is_cancelled()
        {
            tokio::time::sleep(GATHER_TICK.min(flush)).await;
        }
        let room = batch_size - batch.len().min(batch_size);
        if room > 0 && !rx.is_empty() {
            rx.recv_many(&mut batch, room).await;
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

/// What a live stream shows of a stored click.
impl From<&Parsed> for LiveClick {
    fn from(p: &Parsed) -> Self {
        Self {
            link_id: p.link_id,
            at: p.at,
            is_bot: p.is_bot,
            browser: p.browser.clone(),
            os: p.os.clone(),
            device: p.device.clone(),
            referrer_host: p.referrer_host.clone(),
            country: p.country.clone(),
            language: p.language.clone(),
        }
    }
}

pub struct ClickWriter {
    db: Db,
    geo: Arc<Geo>,
    live: Live,
    statements: Statements,
    labels: Labels,
    salt: Option<(NaiveDate, String)>,
    seen: SeenVisitors,
}

/// One click, parsed, ready for the database: a row of `clicks` and what the other tables
/// need. Its labels are interned (see [`Labels`]): a batch holds thousands of clicks that
/// share a handful of browsers, countries and languages.
struct Parsed {
    link_id: i64,
    at: DateTime<Utc>,
    hour: DateTime<Utc>,
    day: NaiveDate,
    visitor: Visitor,
    /// `visitor` in hex, as stored.
    visitor_hash: Arc<str>,
    is_bot: bool,
    browser: Arc<str>,
    os: Arc<str>,
    device: Arc<str>,
    referrer: Option<Arc<str>>,
    referrer_host: Option<Arc<str>>,
    country: Option<Arc<str>>,
    language: Option<Arc<str>>,
    /// `utm_source`, `utm_medium`, `utm_campaign`, `utm_term`, `utm_content`.
    utm: [Option<Arc<str>>; 5],
}

impl Parsed {
    /// The rollup dimensions this click has a value in: always the total, and the others
    /// when known. A dimension without a value (no country known, no referrer, …) gets no
    /// rollup row: statistics count those clicks as the total minus the values.
    fn dimensions<'a>(
        &'a self,
        total: &'a Arc<str>,
    ) -> impl Iterator<Item = (&'static str, &'a Arc<str>)> {
        [
            (Dimension::Total, Some(total)),
            (Dimension::Country, self.country.as_ref()),
            (Dimension::Referrer, self.referrer_host.as_ref()),
            (Dimension::Browser, Some(&self.browser)),
            (Dimension::Os, Some(&self.os)),
            (Dimension::Device, Some(&self.device)),
            (Dimension::Language, self.language.as_ref()),
        ]
        .into_iter()
        .filter_map(|(dimension, value)| Some((dimension, value?)))
        .filter(|(dimension, value)| *dimension == Dimension::Total || !value.is_empty())
        .map(|(dimension, value)| (dimension.as_str(), value))
    }
}

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

/// What the writer has worked out before, kept so that the next click with the same
/// header costs a hash lookup: the classification of each user agent, and one shared
/// copy of each label (browser, country, language, referrer host, UTM value). Bounded:
/// when full, each map starts over.
#[derive(Default)]
struct Labels {
    agents: HashMap<Box<str>, useragent::Agent>,
    interned: HashSet<Arc<str>>,
}

impl Labels {
    const MAX: usize = 10_000;

    fn agent(&mut self, user_agent: &str) -> useragent::Agent {
        if let Some(agent) = self.agents.get(user_agent) {
            return *agent;
        }
        if self.agents.len() >= Self::MAX {
            self.agents.clear();
        }
        let agent = useragent::classify(user_agent);
        self.agents.insert(user_agent.into(), agent);
        agent
    }

    /// The shared copy of `label`, cut to the 255 characters a rollup value holds.
    fn intern(&mut self, label: &str) -> Arc<str> {
        let label = first_chars(label, 255);
        if let Some(shared) = self.interned.get(label) {
            return shared.clone();
        }
        if self.interned.len() >= Self::MAX {
            self.interned.clear();
        }
        let shared: Arc<str> = label.into();
        self.interned.insert(shared.clone());
        shared
    }
}

/// The first `max` characters of `text` (what its column holds), without copying.
pub(crate) fn first_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Human clicks, bot clicks, and visitors seen for the first time that day.
#[derive(Default, Clone, Copy)]
struct Counts {
    clicks: i64,
    bot_clicks: i64,
    visitors: i64,
}

impl ClickWriter {
    pub fn new(db: Db, geo: Arc<Geo>, live: Live) -> Self {
        Self {
            statements: Statements::new(Dialect::of(&db)),
            db,
            geo,
            live,
            labels: Labels::default(),
            salt: None,
            seen: SeenVisitors::default(),
        }
    }

    /// Writes `batch`, retrying with backoff while the database is unavailable: clicks are
    /// kept, never dropped (the queue in front applies back-pressure meanwhile).
    ///
    /// The batch is parsed once, then written in one transaction.
    pub async fn write_until_done(&mut self, batch: &[Visit]) {
        if batch.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let mut clicks = Vec::with_capacity(batch.len());
        let mut orphans = Vec::new();
        for visit in batch {
            match visit {
                Visit::Click(event) => clicks.push(event),
                Visit::Orphan(orphan) => orphans.push(&**orphan),
            }
        }
        let mut parsed = retry(batch.len(), async || self.parse_batch(&clicks).await).await;
        // An orphan's visitor hash is not kept (there is no link to count visitors of), so
        // any salt does.
        let orphans: Vec<_> = orphans
            .into_iter()
            .map(|o| (o, self.parse(&o.event, "")))
            .collect();
        let total = self.labels.intern("");
        let stored = retry(batch.len(), async || {
            self.write_parsed(&mut parsed, &orphans, &total).await
        })
        .await;
        self.seen.remember(stored);
        self.live.stored(parsed.iter().map(LiveClick::from)).await;
        metrics::counter!("links_clicks_written_total").increment(clicks.len() as u64);
        if !orphans.is_empty() {
            metrics::counter!("links_orphan_visits_written_total").increment(orphans.len() as u64);
        }
        metrics::histogram!("links_click_batch_seconds").record(started.elapsed().as_secs_f64());
    }

    /// The clicks of `batch`, parsed, in the order of the indexes written (link first):
    /// each B-tree page is then visited once per batch, not once per click. In random
    /// order, a batch larger than the page cache makes SQLite spill and re-read the same
    /// pages over and over (measured: one WAL frame written per row written).
    async fn parse_batch(&mut self, batch: &[&ClickEvent]) -> anyhow::Result<Vec<Parsed>> {
        // Each click is hashed with the salt of its own day: a batch may span midnight.
        let mut salts = BTreeMap::new();
        for day in batch.iter().map(|e| e.at.date_naive()) {
            if let Entry::Vacant(slot) = salts.entry(day) {
                slot.insert(self.salt_for(day).await?);
            }
        }
        let mut events = batch.to_vec();
        events.sort_by_key(|e| (e.link_id, e.at));
        Ok(events
            .into_iter()
            .map(|e| self.parse(e, &salts[&e.at.date_naive()]))
            .collect())
    }

    /// Writes parsed clicks and orphan visits in one transaction; returns the visitors it
    /// stored, for [`SeenVisitors`]. Drops the clicks of links deleted meanwhile from
    /// `parsed`.
    async fn write_parsed(
        &self,
        parsed: &mut Vec<Parsed>,
        orphans: &[(&OrphanVisit, Parsed)],
        total: &Arc<str>,
    ) -> anyhow::Result<Vec<(i64, NaiveDate, Visitor)>> {
        let statements = &self.statements;
        let mut tx = sql::Batch::begin(&self.db).await?;
        statements.insert_orphans(&mut tx, orphans).await?;
        if parsed.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        // Each link's counter first: a write, so on SQLite it takes the write lock before
        // anything below is read; and it tells which links are still there. The tables
        // written below have no foreign key (each row would pay for its check, see the
        // migration `m20261130_000002`): only the clicks of these links go on, and on
        // PostgreSQL the counters' row locks keep these links until commit (deleting one
        // deletes its counter).
        let counts = by_increment(parsed);
        let (existing, new_counters) = statements.add_to_click_counts(&mut tx, &counts).await?;
        if existing.len() < counts.values().map(Vec::len).sum() {
            let before = parsed.len();
            parsed.retain(|p| existing.contains(&p.link_id));
            tracing::info!(
                clicks = before - parsed.len(),
                "clicks on links deleted meanwhile are not kept"
            );
        }
        let unseen = self.seen.unseen(parsed);
        statements.insert_clicks(&mut tx, parsed).await?;
        let new_visitors = first_visits(statements, &mut tx, parsed, &unseen).await?;

        // The rollups: counts per link, dimension, bucket and value, by hour; and by day
        // too for clicks of a day already compacted into `click_days` (late ones).
        let compacted = statements.compacted_through(&mut tx).await?;
        let mut hourly = Vec::with_capacity(parsed.len() * 7);
        let mut daily = Vec::new();
        for (i, p) in parsed.iter().enumerate() {
            let counts = if p.is_bot {
                Counts {
                    bot_clicks: 1,
                    ..Counts::default()
                }
            } else {
                Counts {
                    clicks: 1,
                    visitors: i64::from(new_visitors.contains(&i)),
                    ..Counts::default()
                }
            };
            let late = compacted.is_some_and(|through| p.day <= through);
            for (dimension, value) in p.dimensions(total) {
                hourly.push((
                    (p.link_id, dimension, Bucket::Hour(p.hour), value.clone()),
                    counts,
                ));
                if late {
                    daily.push((
                        (p.link_id, dimension, Bucket::Day(p.day), value.clone()),
                        counts,
                    ));
                }
            }
        }
        statements
            .upsert_rollups(&mut tx, Rollup::Hourly, &coalesce(hourly))
            .await?;
        statements
            .upsert_rollups(&mut tx, Rollup::Daily, &coalesce(daily))
            .await?;
        tx.commit().await?;
        // Committed: a failure from here on must not make the batch be written again.
        if let Err(err) = statements.after_new_counters(&self.db, new_counters).await {
            tracing::warn!(error = %err, "refreshing the counters' statistics failed");
        }

        Ok(unseen
            .iter()
            .map(|&i| {
                let p = &parsed[i];
                (p.link_id, p.day, p.visitor)
            })
            .collect())
    }

    fn parse(&mut self, e: &ClickEvent, salt: &str) -> Parsed {
        let texts = e.texts();
        let user_agent = texts.user_agent.unwrap_or("");
        let agent = self.labels.agent(user_agent);
        let labels = &mut self.labels;
        let mut intern = |label: Option<String>| label.map(|l| labels.intern(&l));
        let country = intern(self.geo.country(texts.country_header, e.ip));
        let referrer_host = intern(texts.referrer.and_then(referrer::host));
        let language = intern(texts.accept_language.and_then(referrer::primary_language));
        let utm = texts.query.map(referrer::utm).unwrap_or_default();
        let utm = [utm.source, utm.medium, utm.campaign, utm.term, utm.content].map(&mut intern);
        // A visitor is their address and browser, hashed with today's salt: countable for
        // a day, never reversible, never linkable across days. The address itself is not
        // stored anywhere.
        let visitor: Visitor = {
            let mut h = Sha256::new();
            h.update(salt.as_bytes());
            h.update(e.ip.to_string().as_bytes());
            h.update(user_agent.as_bytes());
            h.finalize()[..16].try_into().expect("16 of 32 bytes")
        };
        Parsed {
            link_id: e.link_id,
            at: e.at,
            hour: e.at.duration_trunc(TimeDelta::hours(1)).unwrap_or(e.at),
            day: e.at.date_naive(),
            visitor,
            visitor_hash: hex::encode(visitor).into(),
            is_bot: agent.is_bot,
            browser: self.labels.intern(agent.browser.as_str()),
            os: self.labels.intern(agent.os.as_str()),
            device: self.labels.intern(agent.device.as_str()),
            referrer: texts.referrer.map(|r| first_chars(r, 2048).into()),
            referrer_host,
            country,
            language,
            utm,
        }
    }

    /// Today's visitor salt: made by the first instance that needs it, shared through the
    /// database, and the only one kept (yesterday's is deleted).
    async fn salt_for(&mut self, day: NaiveDate) -> AppResult<String> {
        if let Some((d, salt)) = &self.salt
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
        self.salt = Some((day, salt.clone()));
        Ok(salt)
    }
}

/// Of the `unseen` clicks (indexes into `parsed`), those whose visitor is new that day for
/// the link, i.e. not stored yet by any instance.
async fn first_visits(
    statements: &Statements,
    tx: &mut sql::Batch,
    parsed: &[Parsed],
    unseen: &[usize],
) -> anyhow::Result<HashSet<usize>> {
    let hash = |i: usize| {
        let p = &parsed[i];
        (p.link_id, p.day, p.visitor_hash.clone())
    };
    let candidates: Vec<_> = unseen.iter().map(|&i| hash(i)).collect();
    let inserted = statements.insert_visitors(tx, &candidates).await?;
    Ok(unseen
        .iter()
        .copied()
        .zip(candidates)
        .filter(|(_, key)| inserted.contains(key))
        .map(|(i, _)| i)
        .collect())
}

/// Runs `attempt` until it succeeds, waiting longer after each failure (up to 10 s): a
/// database that is down or locked delays clicks, it does not lose them.
async fn retry<T>(clicks: usize, mut attempt: impl AsyncFnMut() -> anyhow::Result<T>) -> T {
    let mut delay = Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(done) => return done,
            Err(err) => {
                tracing::error!(error = %err, clicks, ?delay, "writing clicks failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// One rollup row per key, in primary-key order (see the sort in [`ClickWriter::parse_batch`]),
/// with the counts of the clicks that share it summed. A sorted vector merged in place:
/// a batch has hundreds of thousands of (click, dimension) pairs, and a map would allocate
/// a node for each.
fn coalesce(mut rows: Vec<(RollupKey, Counts)>) -> Vec<(RollupKey, Counts)> {
    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    rows.dedup_by(|next, kept| {
        let same = next.0 == kept.0;
        if same {
            kept.1.clicks += next.1.clicks;
            kept.1.bot_clicks += next.1.bot_clicks;
            kept.1.visitors += next.1.visitors;
        }
        same
    });
    rows
}

/// Each link's clicks in the batch, grouped by that number: link ids per increment.
fn by_increment(parsed: &[Parsed]) -> BTreeMap<i64, Vec<i64>> {
    let mut per_link: BTreeMap<i64, i64> = BTreeMap::new();
    for p in parsed {
        *per_link.entry(p.link_id).or_default() += 1;
    }
    let mut by_increment: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (link_id, n) in per_link {
        by_increment.entry(n).or_default().push(link_id);
    }
    by_increment
}

#[derive(sea_orm::DeriveIden)]
enum VisitorSalts {
    Table,
    Day,
    Salt,
}
