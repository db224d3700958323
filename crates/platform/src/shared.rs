//! What the instances of one deployment share besides the database: Redis, when
//! `redis_url` is set. It serves two purposes:
//!
//! - **counters with a time window** ([`crate::auth::rate_limit`]): failed sign-ins and
//!   requests for mail are counted once for the whole deployment, so that running more
//!   instances does not multiply the limits;
//! - **broadcasts** ([`Shared::publish`], [`Shared::subscribe`]): an instance that changes
//!   something another instance caches (a link, for the redirect) says so, and the others
//!   drop their copy at once instead of when its time to live runs out.
//!
//! Redis never holds the only copy of anything, so it may go away. While it cannot be
//! reached, counters are kept in each process, as they are without Redis, and caches fall
//! back on their time to live. A failed call marks Redis down for a few seconds, so that
//! during an outage a request loses nothing to waiting on it.
//!
//! Every key and channel starts with `redis_prefix`, so that deployments (or tests) can
//! share one Redis server.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use redis::{
    Client, FromRedisValue, Pipeline,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use secrecy::ExposeSecret;

use crate::{background::Background, config::Config};

/// How long one call may take before Redis is taken to be down. Redis answers in well
/// under a millisecond on a local network; a call this slow is an outage.
const CALL_TIMEOUT: Duration = Duration::from_millis(500);
/// How long Redis is left alone after a failed call.
const DOWN_FOR: Duration = Duration::from_secs(5);
/// The wait before a broken subscription is tried again, doubling up to the cap.
const RESUBSCRIBE_MIN: Duration = Duration::from_millis(200);
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(10);

/// Redis, or nothing (then everything is kept per process). Cheap to clone.
#[derive(Clone, Default)]
pub struct Shared {
    redis: Option<Arc<Redis>>,
}

struct Redis {
    client: Client,
    connection: ConnectionManager,
    prefix: String,
    /// Calls are not tried before this many milliseconds after `epoch`.
    down_until_ms: AtomicU64,
    epoch: Instant,
}

/// What a subscriber is told.
#[derive(Debug, PartialEq, Eq)]
pub enum Broadcast {
    /// A message published on the channel.
    Message(String),
    /// The subscription was broken and is back: messages published meanwhile are lost, so
    /// whatever they would have invalidated must be dropped wholesale.
    Missed,
}

impl Shared {
    /// Nothing shared: counters and caches are per process.
    pub fn local() -> Self {
        Self::default()
    }

    /// Redis at `redis_url`, if set. Connecting is lazy: a Redis that is down at start
    /// is reported and then tried again as calls are made, rather than stopping the start.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let Some(url) = &config.redis_url else {
            return Ok(Self::local());
        };
        let client =
            Client::open(url.expose_secret()).map_err(|e| anyhow::anyhow!("redis_url: {e}"))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
            .map_err(|e| anyhow::anyhow!("redis_url: {e}"))?;
        let shared = Self {
            redis: Some(Arc::new(Redis {
                client,
                connection,
                prefix: config.redis_prefix.clone(),
                down_until_ms: AtomicU64::new(0),
                epoch: Instant::now(),
            })),
        };
        let url = crate::config::redact_url(url.expose_secret());
        if shared.ping().await {
            tracing::info!(%url, "connected to Redis");
        } else {
            tracing::warn!(
                %url,
                "Redis is unreachable: counting per process until it is back"
            );
        }
        Ok(shared)
    }

    pub fn is_configured(&self) -> bool {
        self.redis.is_some()
    }

    /// Whether Redis answers (`false` without Redis).
    pub async fn ping(&self) -> bool {
        self.query::<(String,)>(redis::pipe().cmd("PING"))
            .await
            .is_some_and(|(pong,)| pong == "PONG")
    }

    /// `name` under this deployment's prefix: `{prefix}:{name}`.
    pub fn key(&self, name: &str) -> Option<String> {
        let redis = self.redis.as_ref()?;
        Some(format!("{}:{name}", redis.prefix))
    }

    /// Runs `pipeline`; `None` without Redis, or when Redis is down or the call fails
    /// (then Redis is left alone for [`DOWN_FOR`]). The caller falls back on what it
    /// keeps itself.
    pub async fn query<T: FromRedisValue>(&self, pipeline: &Pipeline) -> Option<T> {
        let redis = self.redis.as_ref()?;
        redis
            .call(async {
                let mut connection = redis.connection.clone();
                pipeline.query_async::<T>(&mut connection).await
            })
            .await
    }

    /// Publishes `message` on the channel `name` (under the prefix), to every instance
    /// subscribed, this one included. Does nothing without Redis; a message that cannot be
    /// sent is lost, which the subscribers' time to live makes up for.
    pub async fn publish(&self, name: &str, message: &str) {
        if let Some(channel) = self.key(name) {
            let _: Option<(i64,)> = self
                .query(redis::pipe().cmd("PUBLISH").arg(channel).arg(message))
                .await;
        }
    }

    /// Calls `on_event` with each message published on the channel `name`, and with
    /// [`Broadcast::Missed`] after a broken subscription is restored, until shutdown.
    /// Does nothing without Redis.
    pub fn subscribe(
        &self,
        name: &str,
        background: &Background,
        on_event: impl Fn(Broadcast) + Send + Sync + 'static,
    ) {
        let (Some(redis), Some(channel)) = (self.redis.clone(), self.key(name)) else {
            return;
        };
        background.spawn("redis subscriber", move |stop| async move {
            let mut broken = false;
            let mut wait = RESUBSCRIBE_MIN;
            loop {
                let listening = redis.listen(&channel, broken, &on_event);
                let result = tokio::select! {
                    () = stop.cancelled() => return,
                    result = listening => result,
                };
                match result {
                    Ok(()) => tracing::warn!(%channel, "Redis subscription closed"),
                    Err(err) => tracing::warn!(%channel, error = %err, "Redis subscription failed"),
                }
                broken = true;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(RESUBSCRIBE_MAX);
            }
        });
    }
}

impl Redis {
    async fn call<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        if now_ms < self.down_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        let error = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(err)) => err.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        let until = now_ms + DOWN_FOR.as_millis() as u64;
        // Only the call that marks Redis down reports it, not every one failing with it.
        if self.down_until_ms.swap(until, Ordering::Relaxed) <= now_ms {
            tracing::warn!(%error, retry_in = ?DOWN_FOR, "Redis call failed: using per-process state");
        }
        metrics::counter!("redis_errors_total").increment(1);
        None
    }

    /// Subscribes to `channel` on a connection of its own and passes on what arrives until
    /// the connection closes.
    async fn listen(
        &self,
        channel: &str,
        after_break: bool,
        on_event: &(impl Fn(Broadcast) + Send + Sync),
    ) -> anyhow::Result<()> {
        let mut pubsub = tokio::time::timeout(CALL_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| anyhow::anyhow!("connecting timed out"))??;
        pubsub.subscribe(channel).await?;
        tracing::debug!(%channel, "subscribed");
        if after_break {
            on_event(Broadcast::Missed);
        }
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            match message.get_payload::<String>() {
                Ok(payload) => on_event(Broadcast::Message(payload)),
                Err(err) => tracing::warn!(%channel, error = %err, "unreadable broadcast"),
            }
        }
        Ok(())
    }
}
