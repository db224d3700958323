//! The links app's queries. Handlers call these; the SQL that matters (joins, the tag
//! filters, the keyset pages) is spelled out here with SeaQuery so it reads like SQL and
//! runs on SQLite and PostgreSQL alike.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use platform::{
    AppError, AppResult,
    auth::{CurrentUser, Owned},
    db::{Violation, contains_any, violation},
    error::FieldError,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    RelationTrait, TransactionTrait,
    sea_query::{Alias, Expr, ExprTrait, LockType, OnConflict, Query},
};
use serde::{Deserialize, Serialize};

use crate::{
    api::{Link, ValidLink, ValidRule},
    compaction,
    domains::Domains,
    entities::{click_count, link, link_tag, rule, tag},
    model::Safety,
    model::Slug,
};

/// Inserts a link with its tags and rules, all or nothing. A generated slug that happens
/// to be taken is drawn again; a custom slug that is taken is a 409 on `slug`.
pub async fn create(
    tx: &sea_orm::DatabaseTransaction,
    owner: i64,
    link: ValidLink,
    password_hash: Option<String>,
    slug_length: usize,
    safety: Safety,
) -> AppResult<link::Model> {
    let now = Utc::now();
    let custom = link.slug.is_some();
    let mut attempt = 0;
    let created = loop {
        attempt += 1;
        let slug = link
            .slug
            .clone()
            .unwrap_or_else(|| Slug::generate(slug_length));
        let row = link::ActiveModel {
            owner_id: Set(owner),
            slug: Set(slug.into_inner()),
            domain: Set(link.domain.clone()),
            target_url: Set(link.target.as_str().to_owned()),
            title: Set(link.title.clone()),
            redirect_status: Set(link.redirect_status.code() as i16),
            forward_query: Set(link.forward_query),
            password_hash: Set(password_hash.clone()),
            valid_from: Set(link.valid_from),
            valid_until: Set(link.valid_until),
            max_clicks: Set(link.max_clicks),
            safety: Set(safety),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        // A savepoint, so that a clash on PostgreSQL does not abort the whole transaction.
        let savepoint = tx.begin().await?;
        match row.insert(&savepoint).await {
            Ok(created) => {
                savepoint.commit().await?;
                break created;
            }
            Err(err) if is_slug_clash(&err) => {
                savepoint.rollback().await?;
                if custom {
                    return Err(AppError::conflict("slug", "is already taken"));
                }
                if attempt >= 5 {
                    return Err(AppError::Internal(anyhow::anyhow!(
                        "no free slug after 5 draws; raise links.slug_length"
                    )));
                }
            }
            Err(err) => return Err(err.into()),
        }
    };
    set_tags(tx, owner, created.id, &link.tags).await?;
    set_rules(tx, created.id, &link.rules).await?;
    Ok(created)
}

/// The owner's oldest link to `link`'s target on its domain, with its slug if it names one:
/// what a create with `find_if_exists` answers with instead of making another link.
///   SELECT * FROM links WHERE owner_id = ? AND target_url = ? AND domain = ? [AND slug = ?]
///     ORDER BY id LIMIT 1
/// (`links_owner_target_idx`).
pub async fn find_existing(
    db: &impl ConnectionTrait,
    owner: i64,
    link: &ValidLink,
) -> AppResult<Option<link::Model>> {
    let mut select = link::Entity::find()
        .filter(link::Column::OwnerId.eq(owner))
        .filter(link::Column::TargetUrl.eq(link.target.as_str()))
        .filter(link::Column::Domain.eq(&link.domain));
    if let Some(slug) = &link.slug {
        select = select.filter(link::Column::Slug.eq(slug.as_str()));
    }
    Ok(select.order_by_asc(link::Column::Id).one(db).await?)
}

fn is_slug_clash(err: &sea_orm::DbErr) -> bool {
    matches!(violation(err), Some(Violation::Unique { columns }) if columns.iter().any(|c| c == "slug"))
}

/// Makes `tags` the link's tags, creating the owner's tags that do not exist yet.
pub async fn set_tags(
    db: &impl ConnectionTrait,
    owner: i64,
    link_id: i64,
    tags: &[String],
) -> AppResult<()> {
    link_tag::Entity::delete_many()
        .filter(link_tag::Column::LinkId.eq(link_id))
        .exec(db)
        .await?;
    if tags.is_empty() {
        return Ok(());
    }
    // INSERT … ON CONFLICT (owner_id, name) DO NOTHING: tags are created on first use, and
    // two requests creating the same tag at once both succeed.
    let now = Utc::now();
    tag::Entity::insert_many(tags.iter().map(|name| tag::ActiveModel {
        owner_id: Set(owner),
        name: Set(name.clone()),
        created_at: Set(now),
        ..Default::default()
    }))
    .on_conflict(
        OnConflict::columns([tag::Column::OwnerId, tag::Column::Name])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let ids: Vec<i64> = tag::Entity::find()
        .select_only()
        .column(tag::Column::Id)
        .filter(tag::Column::OwnerId.eq(owner))
        .filter(tag::Column::Name.is_in(tags.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    link_tag::Entity::insert_many(ids.into_iter().map(|tag_id| link_tag::ActiveModel {
        link_id: Set(link_id),
        tag_id: Set(tag_id),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Makes `rules` the link's rules, in order.
pub async fn set_rules(
    db: &impl ConnectionTrait,
    link_id: i64,
    rules: &[ValidRule],
) -> AppResult<()> {
    rule::Entity::delete_many()
        .filter(rule::Column::LinkId.eq(link_id))
        .exec(db)
        .await?;
    if rules.is_empty() {
        return Ok(());
    }
    rule::Entity::insert_many(
        rules
            .iter()
            .enumerate()
            .map(|(position, r)| rule::ActiveModel {
                link_id: Set(link_id),
                position: Set(position as i16),
                kind: Set(r.kind),
                value: Set(r.value.clone()),
                target_url: Set(r.target.as_str().to_owned()),
                ..Default::default()
            }),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The API view of `links`, with their click counts, tags and rules read in three queries
/// for the whole page (not three per link).
pub async fn views(
    db: &impl ConnectionTrait,
    links: Vec<link::Model>,
    domains: &Domains,
) -> AppResult<Vec<Link>> {
    let ids: Vec<i64> = links.iter().map(|l| l.id).collect();
    // SELECT link_tags.link_id, tags.name FROM link_tags
    //   INNER JOIN tags ON tags.id = link_tags.tag_id
    //   WHERE link_tags.link_id IN (…) ORDER BY tags.name
    let tag_rows: Vec<(i64, String)> = link_tag::Entity::find()
        .select_only()
        .column(link_tag::Column::LinkId)
        .column(tag::Column::Name)
        .join(JoinType::InnerJoin, link_tag::Relation::Tag.def())
        .filter(link_tag::Column::LinkId.is_in(ids.clone()))
        .order_by_asc(tag::Column::Name)
        .into_tuple()
        .all(db)
        .await?;
    let counts: HashMap<i64, i64> = click_count::Entity::find()
        .select_only()
        .column(click_count::Column::LinkId)
        .column(click_count::Column::Clicks)
        .filter(click_count::Column::LinkId.is_in(ids.clone()))
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let rule_rows = rule::Entity::find()
        .filter(rule::Column::LinkId.is_in(ids))
        .order_by_asc(rule::Column::LinkId)
        .order_by_asc(rule::Column::Position)
        .all(db)
        .await?;
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for (link_id, name) in tag_rows {
        tags.entry(link_id).or_default().push(name);
    }
    let mut rules: HashMap<i64, Vec<rule::Model>> = HashMap::new();
    for r in rule_rows {
        rules.entry(r.link_id).or_default().push(r);
    }
    Ok(links
        .into_iter()
        .map(|l| {
            let id = l.id;
            Link::new(
                l,
                counts.get(&id).copied().unwrap_or(0),
                tags.remove(&id).unwrap_or_default(),
                rules.remove(&id).unwrap_or_default(),
                domains,
            )
        })
        .collect())
}

pub async fn view(
    db: &impl ConnectionTrait,
    link: link::Model,
    domains: &Domains,
) -> AppResult<Link> {
    Ok(views(db, vec![link], domains).await?.remove(0))
}

/// How a list is ordered (newest first by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    #[default]
    Created,
    Clicks,
}

/// With `tag` given several times: links with any of them, or with all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TagMode {
    #[default]
    Any,
    All,
}

#[derive(Debug, Default)]
pub struct ListFilter {
    pub q: Option<String>,
    pub slug: Option<String>,
    /// Checked: `''` for the default domain.
    pub domain: Option<String>,
    pub tags: Vec<String>,
    pub tag_mode: TagMode,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub sort: Sort,
}

/// Where the previous page ended: the sort key and id of its last link.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListCursor {
    pub key: CursorKey,
    pub id: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CursorKey {
    Clicks(i64),
    Created(DateTime<Utc>),
}

/// How many links `user` has on each domain that has any:
///   SELECT domain, COUNT(*) FROM links WHERE owner_id = ? GROUP BY domain
pub async fn links_per_domain(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
) -> AppResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = link::Entity::owned_by(user)
        .select_only()
        .column(link::Column::Domain)
        .column_as(link::Column::Id.count(), "links")
        .group_by(link::Column::Domain)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// A page of `user`'s links: `fetch` rows after `after`, filtered and sorted.
pub async fn list(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    filter: &ListFilter,
    after: Option<ListCursor>,
    fetch: u64,
) -> AppResult<Vec<link::Model>> {
    let mut query = link::Entity::owned_by(user);
    if let Some(slug) = &filter.slug {
        query = query.filter(link::Column::Slug.eq(slug.trim()));
    }
    if let Some(domain) = &filter.domain {
        query = query.filter(link::Column::Domain.eq(domain));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        query = query.filter(contains_any(
            [
                link::Column::Slug,
                link::Column::TargetUrl,
                link::Column::Title,
            ],
            q,
        ));
    }
    if !filter.tags.is_empty() {
        // links.id IN (SELECT link_tags.link_id FROM link_tags
        //   INNER JOIN tags ON tags.id = link_tags.tag_id
        //   WHERE tags.owner_id = ? AND tags.name IN (…)
        //   [GROUP BY link_tags.link_id HAVING COUNT(*) = <number of tags>])
        let mut tagged = Query::select();
        tagged
            .column((link_tag::Entity, link_tag::Column::LinkId))
            .from(link_tag::Entity)
            .inner_join(
                tag::Entity,
                Expr::col((tag::Entity, tag::Column::Id))
                    .equals((link_tag::Entity, link_tag::Column::TagId)),
            )
            .and_where(Expr::col((tag::Entity, tag::Column::OwnerId)).eq(user.id))
            .and_where(
                Expr::col((tag::Entity, tag::Column::Name)).is_in(filter.tags.iter().cloned()),
            );
        if filter.tag_mode == TagMode::All {
            tagged
                .group_by_col((link_tag::Entity, link_tag::Column::LinkId))
                .and_having(
                    Expr::col((link_tag::Entity, link_tag::Column::TagId))
                        .count()
                        .eq(filter.tags.len() as i64),
                );
        }
        query = query.filter(link::Column::Id.in_subquery(tagged.to_owned()));
    }
    if let Some(after) = filter.created_after {
        query = query.filter(link::Column::CreatedAt.gte(after));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(link::Column::CreatedAt.lt(before));
    }
    // Sorted by clicks: LEFT JOIN link_click_counts ON link_id = links.id, whose missing
    // rows are links without clicks, and the key is COALESCE(clicks, 0).
    let key = match filter.sort {
        Sort::Created => Expr::col((link::Entity, link::Column::CreatedAt)),
        Sort::Clicks => {
            query = query.join(JoinType::LeftJoin, link::Relation::ClickCount.def());
            Expr::col((click_count::Entity, click_count::Column::Clicks)).if_null(0)
        }
    };
    if let Some(cursor) = after {
        // (key, id) < (cursor.key, cursor.id), spelled out for both databases.
        let cursor_key: sea_orm::Value = match cursor.key {
            CursorKey::Clicks(n) => n.into(),
            CursorKey::Created(at) => at.into(),
        };
        query = query.filter(
            sea_orm::Condition::any()
                .add(key.clone().lt(cursor_key.clone()))
                .add(
                    key.clone()
                        .eq(cursor_key)
                        .and(Expr::col((link::Entity, link::Column::Id)).lt(cursor.id)),
                ),
        );
    }
    Ok(query
        .order_by_desc(key)
        .order_by_desc(link::Column::Id)
        .limit(fetch)
        .all(db)
        .await?)
}

/// The cursor after `link` in a list sorted by `sort`.
pub fn cursor_of(link: &Link, sort: Sort) -> ListCursor {
    ListCursor {
        key: match sort {
            Sort::Created => CursorKey::Created(link.created_at),
            Sort::Clicks => CursorKey::Clicks(link.click_count),
        },
        id: link.id,
    }
}

/// A tag, how many of the owner's links carry it, and how many clicks those links have.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TagCount {
    pub name: String,
    pub link_count: i64,
    pub click_count: i64,
}

/// `user`'s tags (or only the one called `name`) with their link and click counts, by
/// name. LEFT JOINs, so that a tag whose links were all deleted shows with 0 rather than
/// disappears, and a link without clicks yet (no counter row) counts 0 clicks:
///
/// SELECT tags.name, COUNT(link_tags.link_id),
///        CAST(COALESCE(SUM(link_click_counts.clicks), 0) AS BIGINT)
///   FROM tags
///   LEFT JOIN link_tags ON link_tags.tag_id = tags.id
///   LEFT JOIN link_click_counts ON link_click_counts.link_id = link_tags.link_id
///   WHERE tags.owner_id = ? [AND tags.name = ?]
///   GROUP BY tags.id, tags.name ORDER BY tags.name
///
/// (A link has at most one counter, so the join does not multiply the link count. The
/// cast: PostgreSQL sums `bigint`s as `numeric`.)
pub async fn tag_counts(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    name: Option<&str>,
) -> AppResult<Vec<TagCount>> {
    let counter = link_tag::Entity::belongs_to(click_count::Entity)
        .from(link_tag::Column::LinkId)
        .to(click_count::Column::LinkId)
        .into();
    let mut query = tag::Entity::owned_by(user)
        .select_only()
        .column(tag::Column::Name)
        .column_as(
            Expr::col((link_tag::Entity, link_tag::Column::LinkId)).count(),
            "link_count",
        )
        .column_as(
            Expr::col((click_count::Entity, click_count::Column::Clicks))
                .sum()
                .if_null(0)
                .cast_as("BIGINT"),
            "click_count",
        )
        .join_rev(JoinType::LeftJoin, link_tag::Relation::Tag.def())
        .join(JoinType::LeftJoin, counter);
    if let Some(name) = name {
        query = query.filter(tag::Column::Name.eq(name));
    }
    let rows: Vec<(String, i64, i64)> = query
        .group_by(tag::Column::Id)
        .group_by(tag::Column::Name)
        .order_by_asc(tag::Column::Name)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(name, link_count, click_count)| TagCount {
            name,
            link_count,
            click_count,
        })
        .collect())
}

/// `user`'s tag `name`, if they have one.
pub async fn find_tag(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    name: &str,
) -> AppResult<Option<tag::Model>> {
    Ok(tag::Entity::find()
        .filter(tag::Column::OwnerId.eq(user.id))
        .filter(tag::Column::Name.eq(name))
        .one(db)
        .await?)
}

/// Renames `user`'s tag `from` to `to`, on every link that carries it. `false` when the
/// user has no tag `from`; a 409 on `name` when they already have one called `to` (two
/// tags are not merged behind their owner's back).
pub async fn rename_tag(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    from: &str,
    to: &str,
) -> AppResult<bool> {
    let renamed = tag::Entity::update_many()
        .col_expr(tag::Column::Name, Expr::value(to))
        .filter(tag::Column::OwnerId.eq(user.id))
        .filter(tag::Column::Name.eq(from))
        .exec(db)
        .await;
    match renamed {
        Ok(result) => Ok(result.rows_affected > 0),
        Err(err) if matches!(violation(&err), Some(Violation::Unique { .. })) => Err(
            AppError::Conflict(vec![FieldError::new("name", "is already one of your tags")]),
        ),
        Err(err) => Err(err.into()),
    }
}

/// Deletes `user`'s tag `name`, which takes it off every link (`link_tags` cascades); the
/// links stay. `false` when the user has no such tag.
pub async fn delete_tag(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    name: &str,
) -> AppResult<bool> {
    let deleted = tag::Entity::delete_many()
        .filter(tag::Column::OwnerId.eq(user.id))
        .filter(tag::Column::Name.eq(name))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Deletes a link's clicks and every figure counted from them, all or nothing; returns how
/// many clicks there were. The tables are emptied in the order the click writer fills
/// them, counter first, so that on PostgreSQL the two wait for each other's row locks
/// rather than deadlock; and the compaction mark is held `FOR SHARE` (as the writer holds
/// it), so that no day of this link's hours is being folded into `click_days` meanwhile.
/// Clicks still queued when this runs are written after it, and counted.
///   DELETE FROM link_click_counts WHERE link_id = ?
///   DELETE FROM clicks WHERE link_id = ?   (then link_visitors, click_rollups, click_days)
pub async fn forget_clicks(db: &platform::db::Db, link_id: i64) -> AppResult<u64> {
    let tx = db.begin().await?;
    // SQLite runs one writing transaction at a time, and a read first would make this one
    // a reader to upgrade (which fails if another connection wrote meanwhile).
    if tx.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        compaction::compacted_through(&tx, Some(LockType::Share)).await?;
    }
    let mut clicks = 0;
    for table in [
        "link_click_counts",
        "clicks",
        "link_visitors",
        "click_rollups",
        "click_days",
    ] {
        let delete = Query::delete()
            .from_table(Alias::new(table))
            .and_where(Expr::col(Alias::new("link_id")).eq(link_id))
            .to_owned();
        let deleted = tx.execute(&delete).await?.rows_affected();
        if table == "clicks" {
            clicks = deleted;
        }
    }
    tx.commit().await?;
    Ok(clicks)
}

/// Turns a per-item failure into field errors for a bulk report.
pub fn item_errors(err: AppError) -> Vec<FieldError> {
    match err {
        AppError::Validation(errors) | AppError::Conflict(errors) => errors,
        other => vec![FieldError::new("", other.to_string())],
    }
}
