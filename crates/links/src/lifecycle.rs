//! A link's life through the API: made, changed, deleted. Each is one transaction that
//! writes the link, queues its checks, plans its expiry and emits its webhook event; then
//! the redirect cache is told and the queue woken. The routes parse and authorise and
//! call these; the bulk import calls [`create`] for each row.

use chrono::Utc;
use platform::{AppError, AppResult, AppState, auth::password};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, DatabaseTransaction, EntityTrait, IntoActiveModel,
    TransactionTrait,
};

use crate::{
    LinksState,
    api::{ValidChanges, ValidLink},
    entities::link,
    events,
    model::Safety,
    store,
};

/// Hashes a link password (argon2id, off the async workers). Link passwords are shared
/// secrets, not account passwords, so only their length is checked.
pub(crate) async fn hash_link_password(password: Option<String>) -> AppResult<Option<String>> {
    match password {
        Some(p) => Ok(Some(password::hash_unchecked(p).await?)),
        None => Ok(None),
    }
}

/// What a create did.
pub(crate) enum Created {
    New(link::Model),
    /// `find_if_exists` found this link to the same target.
    Existing(link::Model),
}

/// Makes a link (or, with `find_if_exists`, finds it), for the create and bulk routes: the
/// password hashed off the async workers, the rows written in one transaction, then the
/// redirect cache told and the title fetch and safety check queued.
pub(crate) async fn create(
    state: &AppState,
    links: &LinksState,
    owner: i64,
    valid: ValidLink,
) -> AppResult<Created> {
    if valid.find_if_exists
        && let Some(existing) = store::find_existing(&state.db, owner, &valid).await?
    {
        return Ok(Created::Existing(existing));
    }
    let password_hash = hash_link_password(valid.password.clone()).await?;
    let needs_title = valid.title.is_none();
    let tx = state.db.begin().await?;
    let created = store::create(
        &tx,
        owner,
        valid,
        password_hash,
        links.settings.slug_length,
        links.initial_safety(),
    )
    .await?;
    links
        .enrichment
        .new_link(&tx, &created, needs_title)
        .await?;
    written(state, links, &tx, events::CREATED, &created).await?;
    tx.commit().await?;
    // A cached "not found" for the slug is forgotten; the jobs may start.
    links.cache.invalidate(&created.domain, &created.slug).await;
    state.jobs.wake();
    Ok(Created::New(created))
}

/// Applies `changes` to `current`. A new target, or new rules (each with a target), puts a
/// checked link back to pending until it is checked again: otherwise a link checked once
/// could be pointed anywhere afterwards.
pub(crate) async fn change(
    state: &AppState,
    links: &LinksState,
    current: link::Model,
    changes: ValidChanges,
) -> AppResult<link::Model> {
    let (id, owner) = (current.id, current.owner_id);
    let (old_domain, old_slug) = (current.domain.clone(), current.slug.clone());
    let target = changes.target.filter(|t| t.as_str() != current.target_url);
    let recheck = (target.is_some() || changes.rules.is_some()) && links.enrichment.checks_safety();
    let mut row = current.into_active_model();
    if let Some(target) = target {
        row.target_url = Set(target.into_inner());
    }
    if recheck {
        row.safety = Set(Safety::Pending);
    }
    if let Some(slug) = changes.slug {
        row.slug = Set(slug.into_inner());
    }
    if let Some(domain) = changes.domain {
        row.domain = Set(domain);
    }
    if let Some(title) = changes.title {
        row.title = Set(title);
    }
    if let Some(status) = changes.redirect_status {
        row.redirect_status = Set(status.code() as i16);
    }
    if let Some(forward) = changes.forward_query {
        row.forward_query = Set(forward);
    }
    if let Some(password) = changes.password {
        row.password_hash = Set(hash_link_password(password).await?);
    }
    if let Some(max_clicks) = changes.max_clicks {
        row.max_clicks = Set(max_clicks);
    }
    row.valid_from = Set(changes.valid_from);
    row.valid_until = Set(changes.valid_until);
    row.updated_at = Set(Utc::now());

    let tx = state.db.begin().await?;
    let updated = row.update(&tx).await.map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => AppError::conflict("slug", "is already taken"),
        other => other,
    })?;
    if let Some(tags) = changes.tags {
        store::set_tags(&tx, owner, id, &tags).await?;
    }
    if let Some(rules) = changes.rules {
        store::set_rules(&tx, id, &rules).await?;
    }
    if recheck {
        links.enrichment.recheck(&tx, updated.id).await?;
    }
    written(state, links, &tx, events::UPDATED, &updated).await?;
    tx.commit().await?;
    links.cache.invalidate(&old_domain, &old_slug).await;
    links.cache.invalidate(&updated.domain, &updated.slug).await;
    state.jobs.wake();
    Ok(updated)
}

/// What follows a link written in `tx`, in the same transaction: its expiry planned (a
/// date or a click limit) and its webhook event emitted.
async fn written(
    state: &AppState,
    links: &LinksState,
    tx: &DatabaseTransaction,
    event: &'static str,
    link: &link::Model,
) -> AppResult<()> {
    events::plan_expiry(state, tx, link).await?;
    events::emit(&state.webhooks, &links.domains, tx, event, link.clone()).await
}

/// Deletes `found` and its clicks; its slug stops redirecting at once.
pub(crate) async fn delete(
    state: &AppState,
    links: &LinksState,
    found: link::Model,
) -> AppResult<()> {
    let tx = state.db.begin().await?;
    events::emit(
        &state.webhooks,
        &links.domains,
        &tx,
        events::DELETED,
        found.clone(),
    )
    .await?;
    link::Entity::delete_by_id(found.id).exec(&tx).await?;
    tx.commit().await?;
    links.cache.invalidate(&found.domain, &found.slug).await;
    state.jobs.wake();
    Ok(())
}
