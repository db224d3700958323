//! The links app's webhook events: `link.created`, `link.updated`, `link.deleted`, and
//! `link.expired` when a link's `valid_until` passes or its `max_clicks` is used up. Each
//! is emitted in the transaction of its change (or, for an expiry, by a job due at that
//! time or enqueued by the redirect that used up the last click), with the link as the API
//! shows it as `data`.

use chrono::{DateTime, Utc};
use platform::{
    AppResult, AppState,
    db::Db,
    jobs::{Enqueue, Job, JobContext, JobError, Jobs},
    webhooks::Webhooks,
};
use sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait};
use serde::{Deserialize, Serialize};

use crate::{domains::Domains, entities::link, store};

pub const CREATED: &str = "link.created";
pub const UPDATED: &str = "link.updated";
pub const DELETED: &str = "link.deleted";
pub const EXPIRED: &str = "link.expired";

pub const TYPES: &[&str] = &[CREATED, UPDATED, DELETED, EXPIRED];

/// In `tx`: the event `event_type` about `link` for its owner's webhooks.
pub async fn emit(
    webhooks: &Webhooks,
    domains: &Domains,
    tx: &impl ConnectionTrait,
    event_type: &'static str,
    link: link::Model,
) -> AppResult<()> {
    let owner = link.owner_id;
    let view = store::view(tx, link, domains).await?;
    let data = serde_json::to_value(view).map_err(|e| anyhow::anyhow!("a link view: {e}"))?;
    webhooks.emit(tx, owner, event_type, &data).await
}

/// `link.expired`: due when a link's `valid_until` passes, unless the date changed since;
/// or enqueued when its `max_clicks` is used up, unless the limit changed since.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpiryNotice {
    pub link_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_clicks: Option<i64>,
}

impl Job for ExpiryNotice {
    const KIND: &'static str = "links.expiry_notice";
}

/// In `tx`: the expiry notice of `link`, if it has an end date (one per link and date).
pub async fn plan_expiry(
    state: &AppState,
    tx: &impl ConnectionTrait,
    link: &link::Model,
) -> AppResult<()> {
    if let Some(valid_until) = link.valid_until {
        let notice = ExpiryNotice {
            link_id: link.id,
            valid_until: Some(valid_until),
            max_clicks: None,
        };
        let options = Enqueue {
            run_at: Some(valid_until),
            key: Some(format!(
                "{}:{}:{}",
                ExpiryNotice::KIND,
                link.id,
                valid_until.timestamp_millis()
            )),
        };
        state.jobs.enqueue_with(tx, &notice, options).await?;
    }
    Ok(())
}

/// `link.expired` for a link whose last allowed click was just taken (by `jobs`, once per
/// link and limit however many instances or copies see it). Off the request's way: a
/// failure to enqueue is logged, and the click is answered all the same.
pub async fn clicks_used_up(jobs: &Jobs, db: &Db, link_id: i64, max_clicks: i64) {
    let notice = ExpiryNotice {
        link_id,
        valid_until: None,
        max_clicks: Some(max_clicks),
    };
    let options = Enqueue {
        run_at: None,
        key: Some(format!(
            "{}:{link_id}:clicks:{max_clicks}",
            ExpiryNotice::KIND
        )),
    };
    match jobs.enqueue_with(db, &notice, options).await {
        Ok(_) => jobs.wake(),
        Err(err) => tracing::warn!(link_id, error = %err, "cannot enqueue a link's expiry"),
    }
}

/// Registers the expiry notice's job.
pub fn register(app: &AppState, domains: Domains) {
    let (db, webhooks) = (app.db.clone(), app.webhooks.clone());
    app.jobs
        .register(move |notice: ExpiryNotice, _: JobContext| {
            send_expiry(db.clone(), webhooks.clone(), domains.clone(), notice)
        });
}

async fn send_expiry(
    db: Db,
    webhooks: Webhooks,
    domains: Domains,
    notice: ExpiryNotice,
) -> Result<(), JobError> {
    let tx = db.begin().await?;
    let Some(link) = link::Entity::find_by_id(notice.link_id).one(&tx).await? else {
        return Ok(());
    };
    if notice.valid_until.is_some() && link.valid_until != notice.valid_until {
        return Ok(()); // its end moved: that date has its own notice
    }
    if notice.max_clicks.is_some() && link.max_clicks != notice.max_clicks {
        return Ok(()); // its limit changed: reaching that one is another notice
    }
    emit(&webhooks, &domains, &tx, EXPIRED, link).await?;
    tx.commit().await?;
    webhooks.committed();
    Ok(())
}
