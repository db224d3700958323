//! The links app's webhook events: `link.created`, `link.updated`, `link.deleted`, and
//! `link.expired` when a link's `valid_until` passes. Each is emitted in the transaction of
//! its change (or, for an expiry, by a job due at that time), with the link as the API shows
//! it as `data`.

use chrono::{DateTime, Utc};
use platform::{
    AppResult, AppState,
    db::Db,
    jobs::{Enqueue, Job, JobContext, JobError},
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

/// Due when a link's `valid_until` passes: `link.expired`, unless the date changed since.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExpiryNotice {
    pub link_id: i64,
    pub valid_until: DateTime<Utc>,
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
            valid_until,
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
    if link.valid_until != Some(notice.valid_until) {
        return Ok(()); // its end moved: that date has its own notice
    }
    emit(&webhooks, &domains, &tx, EXPIRED, link).await?;
    tx.commit().await?;
    webhooks.committed();
    Ok(())
}
