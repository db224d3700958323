//! Signed webhooks: the one way every app's events leave the server for its users' systems.
//!
//! An app declares its event types ([`Webhooks::declare`]) and, in the transaction of the
//! change, calls [`Webhooks::emit`]: one delivery job per webhook of the owner that wants
//! that type, so an event exists if and only if its change committed. Each delivery follows
//! the Standard Webhooks specification ([`signature`]): the same `webhook-id` on every
//! attempt, so that receivers can drop repeats, and a fresh `webhook-timestamp` per attempt.
//! A delivery is retried on the schedule receivers expect from Standard Webhooks senders
//! (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about a day), sooner never than a
//! `Retry-After` asks; a 4xx other than 408 and 429 is final. A webhook failing for a day is
//! disabled, and its owner told.
//!
//! Every attempt is a row of `webhook_deliveries`, shown at
//! `GET /api/v1/webhooks/{id}/deliveries`. The URL is checked by the outbound SSRF guard
//! when it is set and again at every delivery ([`crate::outbound::guarded_client`]).

mod deliver;
pub mod entity;
pub mod routes;
pub mod signature;

use std::{
    collections::BTreeSet,
    sync::{Arc, RwLock},
};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use serde_json::Value;

use crate::{clock::Clock, error::AppResult, jobs::Jobs};
use entity::webhook;

/// The event sent by `POST /api/v1/webhooks/{id}/test`, whatever the webhook wants.
pub const TEST_EVENT: &str = "webhook.test";

/// The event types apps declare, and the queue their deliveries go through.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: Jobs,
    clock: Clock,
    types: RwLock<BTreeSet<&'static str>>,
    allow_private: bool,
}

/// The body of every delivery: the Standard Webhooks payload structure.
#[derive(Debug, Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    timestamp: DateTime<Utc>,
    data: &'a Value,
}

impl Webhooks {
    /// Registers the delivery job on `jobs`. `allow_private` lets deliveries reach private
    /// and loopback addresses (`allow_private_outbound`).
    pub fn new(
        db: &crate::db::Db,
        jobs: &Jobs,
        notify: &crate::notify::Notify,
        allow_private: bool,
    ) -> anyhow::Result<Self> {
        let webhooks = Self {
            inner: Arc::new(Inner {
                jobs: jobs.clone(),
                clock: jobs.clock().clone(),
                types: RwLock::default(),
                allow_private,
            }),
        };
        deliver::register(db.clone(), jobs, notify.clone(), allow_private)?;
        Ok(webhooks)
    }

    /// Adds an app's event types to those webhooks may ask for.
    pub fn declare(&self, types: &[&'static str]) {
        self.inner
            .types
            .write()
            .expect("types lock")
            .extend(types.iter().copied());
    }

    pub fn knows(&self, event_type: &str) -> bool {
        self.inner
            .types
            .read()
            .expect("types lock")
            .contains(event_type)
    }

    /// Every declared type, in order (for error messages and the documentation).
    pub fn types(&self) -> Vec<&'static str> {
        self.inner
            .types
            .read()
            .expect("types lock")
            .iter()
            .copied()
            .collect()
    }

    pub fn allow_private(&self) -> bool {
        self.inner.allow_private
    }

    /// In the transaction of the change: queues `event_type` with `data` for each enabled
    /// webhook of `owner` that wants it. Call [`Webhooks::committed`] after the commit.
    pub async fn emit(
        &self,
        tx: &impl ConnectionTrait,
        owner: i64,
        event_type: &'static str,
        data: &Value,
    ) -> AppResult<()> {
        debug_assert!(self.knows(event_type), "undeclared event type {event_type}");
        let hooks = webhook::Entity::find()
            .filter(webhook::Column::OwnerId.eq(owner))
            .filter(webhook::Column::DisabledAt.is_null())
            .all(tx)
            .await?;
        let wanted: Vec<i64> = hooks
            .iter()
            .filter(|hook| hook.events().iter().any(|e| e == event_type))
            .map(|hook| hook.id)
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        self.enqueue(tx, &wanted, event_type, data).await?;
        Ok(())
    }

    /// Queues a `webhook.test` event for one webhook; returns its message id.
    pub(crate) async fn ping(&self, tx: &impl ConnectionTrait, hook: i64) -> AppResult<String> {
        let data = serde_json::json!({ "webhook_id": hook });
        self.enqueue(tx, &[hook], TEST_EVENT, &data).await
    }

    async fn enqueue(
        &self,
        tx: &impl ConnectionTrait,
        hooks: &[i64],
        event_type: &str,
        data: &Value,
    ) -> AppResult<String> {
        let message_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let body = serde_json::to_string(&Envelope {
            event_type,
            timestamp: self.inner.clock.now(),
            data,
        })
        .map_err(|err| anyhow::anyhow!("an event does not serialise: {err}"))?;
        for &webhook_id in hooks {
            let job = deliver::Deliver {
                webhook_id,
                message_id: message_id.clone(),
                event_type: event_type.to_owned(),
                body: body.clone(),
            };
            let options = crate::jobs::Enqueue {
                key: Some(format!("webhook:{message_id}:{webhook_id}")),
                ..Default::default()
            };
            self.inner.jobs.enqueue_with(tx, &job, options).await?;
        }
        Ok(message_id)
    }

    /// After the transaction that emitted committed: deliveries may start at once.
    pub fn committed(&self) {
        self.inner.jobs.wake();
    }
}
