//! The redirect's view of a link, kept in memory so that a redirect does not wait on the
//! database: bounded (quick_cache's S3-FIFO keeps the links visited more than once), with
//! a time to live, and holding "no such slug" answers too, so that a flood of requests for
//! unknown slugs cannot reach the database either.
//!
//! quick_cache rather than moka: a hit is one hash lookup and an atomic, with no
//! bookkeeping queue behind it, and 100,000 cached links take 32 MB instead of 60. It has
//! no time to live of its own, so each entry carries its load time.
//!
//! Entries are keyed by slug on the default domain and by `domain/slug` on the others (a
//! slug has no `/`). An extra domain's entry for a slug that only the default domain has
//! holds the default's link itself, so that both count its clicks as one.
//!
//! Each instance has its own cache. An instance that changes a link forgets it at once, and
//! with Redis tells the others to forget it too (a broadcast on `links:changed`); without
//! Redis, or while it is down, the others see the change when their entry's time to live
//! runs out.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use ipnet::IpNet;
use platform::{
    AppResult,
    background::Background,
    db::Db,
    shared::{Broadcast, Shared},
};
use quick_cache::sync::Cache;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    entities::{click_count, link, rule},
    model::{RuleKind, parse_network},
};

/// Everything a redirect needs to know about a link.
#[derive(Debug)]
pub struct CachedLink {
    pub id: i64,
    pub target: String,
    pub status: StatusCode,
    pub forward_query: bool,
    pub password_hash: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_clicks: Option<i64>,
    /// Clicks so far, counted here as they happen (the database's count lags by a batch).
    pub clicks: AtomicI64,
    /// Set once this copy has seen the link reach `max_clicks` (see [`CachedLink::reached_limit`]).
    pub limit_noticed: AtomicBool,
    pub rules: Vec<CachedRule>,
    /// False while a safety check is pending, or after it failed.
    pub live: bool,
}

#[derive(Debug)]
pub struct CachedRule {
    pub kind: RuleKind,
    pub value: String,
    /// An IP rule's network, parsed once here rather than at every redirect.
    pub network: Option<IpNet>,
    pub target: String,
}

impl CachedLink {
    /// Counts a click and says whether it was within `max_clicks`.
    pub fn take_click(&self) -> bool {
        let before = self.clicks.fetch_add(1, Ordering::Relaxed);
        self.max_clicks.is_none_or(|max| before < max)
    }

    pub fn exhausted(&self) -> bool {
        self.max_clicks
            .is_some_and(|max| self.clicks.load(Ordering::Relaxed) >= max)
    }

    /// True once per cached copy, after the click that used up `max_clicks` (or the first
    /// refused one, when the copy was read already used up): the moment to say the link
    /// has expired. Instances and later copies may say it again; the notice's job key makes
    /// it one event.
    pub fn reached_limit(&self) -> bool {
        self.exhausted() && !self.limit_noticed.swap(true, Ordering::Relaxed)
    }
}

pub struct SlugCache {
    entries: Cache<String, Entry>,
    ttl: Duration,
    /// `links.domains`: forgetting a slug of the default domain forgets it on these too.
    extra_domains: Vec<String>,
    shared: Shared,
}

/// The channel on which instances announce the slugs they changed (as cache keys).
const CHANGED: &str = "links:changed";

/// A cached answer (`None`: no such link) and when it was read from the database.
#[derive(Clone)]
struct Entry {
    link: Option<Arc<CachedLink>>,
    loaded: Instant,
}

impl SlugCache {
    /// An empty cache, which hears from the other instances through `shared` until
    /// `background` stops.
    pub fn start(
        capacity: u64,
        ttl: Duration,
        extra_domains: Vec<String>,
        shared: Shared,
        background: &Background,
    ) -> Arc<Self> {
        let cache = Arc::new(Self {
            entries: Cache::new(usize::try_from(capacity).unwrap_or(usize::MAX)),
            ttl,
            extra_domains,
            shared: shared.clone(),
        });
        // A weak reference: the subscription must not keep the cache alive by itself.
        let listener = Arc::downgrade(&cache);
        shared.subscribe(CHANGED, background, move |event| {
            let Some(cache) = listener.upgrade() else {
                return;
            };
            match event {
                Broadcast::Message(key) => cache.forget(&key),
                Broadcast::Missed => cache.entries.clear(),
            }
        });
        cache
    }

    /// The link behind `slug` on `domain` (`None`: no such link), from memory or else the
    /// database; on an extra domain, the default domain's link when that one has none.
    pub async fn get(
        &self,
        db: &Db,
        domain: &str,
        slug: &str,
    ) -> AppResult<Option<Arc<CachedLink>>> {
        if domain.is_empty() {
            return self.get_default(db, slug).await;
        }
        let key = key(domain, slug);
        if let Some(link) = self.fresh(&key) {
            return Ok(link);
        }
        let link = match load(db, domain, slug).await? {
            Some(link) => Some(Arc::new(link)),
            None => self.get_default(db, slug).await?,
        };
        self.insert(key, link.clone());
        Ok(link)
    }

    async fn get_default(&self, db: &Db, slug: &str) -> AppResult<Option<Arc<CachedLink>>> {
        if let Some(link) = self.fresh(slug) {
            return Ok(link);
        }
        let link = load(db, "", slug).await?.map(Arc::new);
        self.insert(slug.to_owned(), link.clone());
        Ok(link)
    }

    /// A cached answer still within its time to live.
    fn fresh(&self, key: &str) -> Option<Option<Arc<CachedLink>>> {
        self.entries
            .get(key)
            .filter(|hit| hit.loaded.elapsed() < self.ttl)
            .map(|hit| hit.link)
    }

    /// Forgets `slug` on `domain`, here and in every other instance, after its link changed
    /// or was deleted (or was created, replacing a cached "no such slug").
    pub async fn invalidate(&self, domain: &str, slug: &str) {
        let key = key(domain, slug);
        self.forget(&key);
        self.shared.publish(CHANGED, &key).await;
    }

    /// Forgets the entry under `key`, and for a slug of the default domain, the extra
    /// domains' entries that may hold its link (see [`SlugCache::get`]).
    fn forget(&self, key: &str) {
        self.entries.remove(key);
        if !key.contains('/') {
            for domain in &self.extra_domains {
                self.entries.remove(format!("{domain}/{key}").as_str());
            }
        }
    }

    fn insert(&self, key: String, link: Option<Arc<CachedLink>>) {
        let loaded = Instant::now();
        self.entries.insert(key, Entry { link, loaded });
    }
}

/// The cache key of `slug` on `domain` (see the module's documentation).
fn key(domain: &str, slug: &str) -> String {
    if domain.is_empty() {
        slug.to_owned()
    } else {
        format!("{domain}/{slug}")
    }
}

async fn load(db: &Db, domain: &str, slug: &str) -> AppResult<Option<CachedLink>> {
    let Some((link, clicks)) = link::Entity::find()
        .filter(link::Column::Slug.eq(slug))
        .filter(link::Column::Domain.eq(domain))
        .find_also_related(click_count::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let rules = rule::Entity::find()
        .filter(rule::Column::LinkId.eq(link.id))
        .order_by_asc(rule::Column::Position)
        .all(db)
        .await?;
    Ok(Some(cached(link, click_count::of(clicks.as_ref()), rules)))
}

impl SlugCache {
    /// Fills the cache with up to `limit` links, most clicked first, so that the first
    /// visits after a start do not each wait on the database. The links are streamed, not
    /// collected: a hundred thousand of them at once would cost hundreds of megabytes at
    /// the peak, which the allocator then keeps.
    pub async fn warm(&self, db: &Db, limit: u64) -> AppResult<usize> {
        let mut rules: HashMap<i64, Vec<rule::Model>> = HashMap::new();
        for r in rule::Entity::find()
            .order_by_asc(rule::Column::Position)
            .all(db)
            .await?
        {
            rules.entry(r.link_id).or_default().push(r);
        }
        let mut links = link::Entity::find()
            .find_also_related(click_count::Entity)
            .order_by_desc(Expr::col((click_count::Entity, click_count::Column::Clicks)).if_null(0))
            .limit(limit)
            .stream(db)
            .await?;
        let mut count = 0;
        while let Some((link, clicks)) = links.try_next().await? {
            let link_rules = rules.remove(&link.id).unwrap_or_default();
            // A visit may have cached a fresher entry meanwhile; keep it.
            let key = key(&link.domain, &link.slug);
            if self.entries.peek(key.as_str()).is_none() {
                let clicks = click_count::of(clicks.as_ref());
                self.insert(key, Some(Arc::new(cached(link, clicks, link_rules))));
            }
            count += 1;
            // Rows arrive faster than this loop uses them, so without a pause it would keep
            // its worker thread to itself until the end, holding up requests queued there.
            if count % 256 == 0 {
                tokio::task::yield_now().await;
            }
        }
        Ok(count)
    }
}

fn cached(link: link::Model, clicks: i64, rules: Vec<rule::Model>) -> CachedLink {
    let rules = rules
        .into_iter()
        .map(|r| CachedRule {
            network: (r.kind == RuleKind::Ip)
                .then(|| parse_network(&r.value).ok())
                .flatten(),
            kind: r.kind,
            value: r.value,
            target: r.target_url,
        })
        .collect();
    CachedLink {
        id: link.id,
        target: link.target_url,
        status: StatusCode::from_u16(link.redirect_status as u16).unwrap_or(StatusCode::FOUND),
        forward_query: link.forward_query,
        password_hash: link.password_hash,
        valid_from: link.valid_from,
        valid_until: link.valid_until,
        max_clicks: link.max_clicks,
        clicks: AtomicI64::new(clicks),
        limit_noticed: AtomicBool::new(false),
        rules,
        live: link.safety.is_live(),
    }
}
