//! Clicks as they are stored, for the live streams (`GET /api/v1/links/{id}/clicks/live`) of
//! every instance.
//!
//! Each instance's writer stores the clicks its own redirects took. Alone, it hands each
//! stored batch to its streams through a broadcast channel, and only while a stream is
//! open. With Redis, a stream may be open on another instance than the one a visitor
//! reached, so the streams say which links they watch (a sorted set of link ids, scored by
//! when the watch lapses, renewed while the stream is open), and the writer publishes the
//! clicks of watched links on a channel that every instance, its own included, passes on to
//! its streams. A batch with no watched link costs one Redis round trip; none without Redis.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use chrono::{DateTime, Utc};
use platform::{
    background::Background,
    shared::{Broadcast, Shared},
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};

/// A stored click, as a stream shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct LiveClick {
    pub link_id: i64,
    pub at: DateTime<Utc>,
    pub is_bot: bool,
    pub browser: Arc<str>,
    pub os: Arc<str>,
    pub device: Arc<str>,
    pub referrer_host: Option<Arc<str>>,
    pub country: Option<Arc<str>>,
    pub language: Option<Arc<str>>,
}

pub type LiveBatch = Arc<[LiveClick]>;

/// The Redis channel batches are published on, and the set of watched links.
const CHANNEL: &str = "links:live-clicks";
const WATCHED: &str = "links:live-watched";
/// How long a watch lasts unless renewed, and how often an open stream renews it.
const WATCH_FOR: Duration = Duration::from_secs(90);
const RENEW_EVERY: Duration = Duration::from_secs(30);

/// Where stored clicks go for the live streams. Cheap to clone.
#[derive(Clone)]
pub struct Live {
    local: broadcast::Sender<LiveBatch>,
    shared: Shared,
}

impl Live {
    /// With Redis, subscribes this instance to the batches every writer publishes.
    pub fn start(shared: Shared, background: &Background) -> Self {
        // A few batches of room: a stream that falls further behind is told what it missed.
        let (local, _) = broadcast::channel(16);
        let to_streams = local.clone();
        shared.subscribe(CHANNEL, background, move |event| match event {
            Broadcast::Message(json) => match serde_json::from_str::<Vec<LiveClick>>(&json) {
                Ok(batch) => {
                    let _ = to_streams.send(batch.into());
                }
                Err(err) => tracing::warn!(error = %err, "unreadable live clicks"),
            },
            // Clicks published meanwhile are gone: the streams go on with the next ones.
            Broadcast::Missed => {}
        });
        Self { local, shared }
    }

    /// Every batch from now on, for a stream of `link_id`'s clicks; the link is watched
    /// until the returned guard is dropped (with the stream).
    pub async fn subscribe(
        &self,
        link_id: i64,
    ) -> (broadcast::Receiver<LiveBatch>, Option<DropGuard>) {
        let receiver = self.local.subscribe();
        if !self.shared.is_configured() {
            return (receiver, None);
        }
        // Watched before the stream starts, so that no click after this is missed.
        self.watch(link_id).await;
        let stop = CancellationToken::new();
        let (live, until) = (self.clone(), stop.clone());
        tokio::spawn(async move {
            let mut renew = tokio::time::interval(RENEW_EVERY);
            renew.tick().await;
            loop {
                tokio::select! {
                    () = until.cancelled() => return,
                    _ = renew.tick() => live.watch(link_id).await,
                }
            }
        });
        (receiver, Some(stop.drop_guard()))
    }

    async fn watch(&self, link_id: i64) {
        if let Some(key) = self.shared.key(WATCHED) {
            let lapses = now_ms() + WATCH_FOR.as_millis() as u64;
            let _: Option<(i64,)> = self
                .shared
                .query(redis::pipe().zadd(key, link_id, lapses))
                .await;
        }
    }

    /// Called by the writer with each batch it stored.
    pub async fn stored(&self, clicks: impl Iterator<Item = LiveClick>) {
        let Some(key) = self.shared.key(WATCHED) else {
            return self.to_own_streams(clicks);
        };
        // The links watched now, dropping the watches that lapsed.
        let now = now_ms();
        let watched: Option<(HashSet<i64>,)> = self
            .shared
            .query(
                redis::pipe()
                    .zrembyscore(&key, "-inf", now)
                    .ignore()
                    .zrangebyscore(&key, now, "+inf"),
            )
            .await;
        let Some((watched,)) = watched else {
            // Redis is down: this instance's streams still get what it stored.
            return self.to_own_streams(clicks);
        };
        if watched.is_empty() {
            return;
        }
        let batch: Vec<LiveClick> = clicks.filter(|c| watched.contains(&c.link_id)).collect();
        if !batch.is_empty() {
            let json = serde_json::to_string(&batch).expect("clicks serialise");
            self.shared.publish(CHANNEL, &json).await;
        }
    }

    /// Hands `clicks` to this instance's streams, if any is open.
    fn to_own_streams(&self, clicks: impl Iterator<Item = LiveClick>) {
        if self.local.receiver_count() > 0 {
            // The last stream may close meanwhile: then the batch is dropped.
            let _ = self.local.send(clicks.collect());
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
