//! `Idempotency-Key` on writes (draft-ietf-httpapi-idempotency-key-header): a client that
//! retries a POST, PATCH, PUT or DELETE after a lost answer sends the same key, and gets the
//! first answer again instead of a second task, a second payment, a second anything.
//!
//! The key is the caller's own (per user, so two users' keys never meet). The first request
//! with a key claims it (a row in `idempotency_keys`, by its unique primary key, so two
//! instances cannot both run it), runs, and stores its answer — unless the answer is a 5xx,
//! which frees the key for a retry. Later requests with the key get that answer back, with
//! `Idempotent-Replayed: true`; one made while the first still runs gets 409; one with the
//! same key but another method, path or body gets 422 (the key was reused by mistake).
//! Keys are kept a day.

use axum::{
    body::{Body, Bytes},
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::OnConflict};
use sha2::{Digest, Sha256};

use crate::{AppError, AppState, auth::CurrentUser};

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";

/// How long a key is remembered.
pub const KEPT: TimeDelta = TimeDelta::hours(24);

/// Bodies read to fingerprint a request, and answers stored: writes are small.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub mod entity {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// SHA-256 of the method, the path and query, and the body.
        pub fingerprint: String,
        /// None while the first request runs.
        pub status: Option<i16>,
        pub content_type: Option<String>,
        pub location: Option<String>,
        pub body: Option<Vec<u8>>,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

/// The middleware, on the API's routes.
pub async fn replay(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(raw) = req.headers().get(HEADER).cloned() else {
        return next.run(req).await;
    };
    if !matches!(
        *req.method(),
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    ) {
        return next.run(req).await;
    }
    let key = match raw.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            key.to_owned()
        }
        _ => {
            return AppError::BadRequest(
                "Idempotency-Key must be 1 to 255 visible ASCII characters.".into(),
            )
            .into_response();
        }
    };
    let (mut parts, body) = req.into_parts();
    // Without a user the key means nothing: the handler answers 401 as usual.
    let Ok(user) = CurrentUser::from_request_parts(&mut parts, &state).await else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return AppError::PayloadTooLarge.into_response();
    };
    let fingerprint = fingerprint(&parts.method, &parts.uri, &bytes);
    let now = state.clock.now();
    match claim(&state, user.id, &key, &fingerprint, now).await {
        Ok(Claim::Mine) => {}
        Ok(Claim::Done(row)) if row.fingerprint != fingerprint => {
            return AppError::validation(
                "Idempotency-Key",
                "was used before with another request; use a new key for a new request",
            )
            .into_response();
        }
        Ok(Claim::Done(row)) => return replayed(row),
        Ok(Claim::Running) => {
            return AppError::conflict(
                "Idempotency-Key",
                "a request with this key is still being answered; retry in a moment",
            )
            .into_response();
        }
        Err(err) => return err.into_response(),
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    match keep(&state, user.id, &key, response).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

fn fingerprint(method: &Method, uri: &axum::http::Uri, body: &Bytes) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str());
    hash.update(b" ");
    hash.update(uri.path_and_query().map_or("", |p| p.as_str()));
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

enum Claim {
    Mine,
    Running,
    Done(entity::Model),
}

async fn claim(
    state: &AppState,
    user: i64,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<Claim, AppError> {
    // A key past its day is forgotten: the new request may have it.
    Entity::delete_many()
        .filter(Column::UserId.eq(user))
        .filter(Column::Key.eq(key))
        .filter(Column::CreatedAt.lt(now - KEPT))
        .exec(&state.db)
        .await?;
    let inserted = Entity::insert(ActiveModel {
        user_id: Set(user),
        key: Set(key.to_owned()),
        fingerprint: Set(fingerprint.to_owned()),
        status: Set(None),
        content_type: Set(None),
        location: Set(None),
        body: Set(None),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([Column::UserId, Column::Key])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&state.db)
    .await?;
    if inserted == 1 {
        return Ok(Claim::Mine);
    }
    let row = Entity::find_by_id((user, key.to_owned()))
        .one(&state.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("an idempotency key vanished while read"))?;
    Ok(if row.status.is_some() {
        Claim::Done(row)
    } else if row.fingerprint == fingerprint {
        Claim::Running
    } else {
        Claim::Done(row)
    })
}

/// Stores the answer under the key (or, for a 5xx, frees the key) and returns it.
async fn keep(
    state: &AppState,
    user: i64,
    key: &str,
    response: Response,
) -> Result<Response, AppError> {
    let status = response.status();
    let by_key = Entity::delete_many()
        .filter(Column::UserId.eq(user))
        .filter(Column::Key.eq(key));
    if status.is_server_error() {
        by_key.exec(&state.db).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        by_key.exec(&state.db).await?;
        return Err(anyhow::anyhow!("an answer too large to keep for its idempotency key").into());
    };
    let text = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Entity::update_many()
        .col_expr(
            Column::Status,
            sea_orm::sea_query::Expr::value(status.as_u16() as i16),
        )
        .col_expr(
            Column::ContentType,
            sea_orm::sea_query::Expr::value(text(header::CONTENT_TYPE)),
        )
        .col_expr(
            Column::Location,
            sea_orm::sea_query::Expr::value(text(header::LOCATION)),
        )
        .col_expr(
            Column::Body,
            sea_orm::sea_query::Expr::value(bytes.to_vec()),
        )
        .filter(Column::UserId.eq(user))
        .filter(Column::Key.eq(key))
        .exec(&state.db)
        .await?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

fn replayed(row: entity::Model) -> Response {
    let status = row
        .status
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    for (name, value) in [
        (header::CONTENT_TYPE, row.content_type),
        (header::LOCATION, row.location),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    (status, headers, row.body.unwrap_or_default()).into_response()
}

/// Forgets keys past their day: run by the queue's daily clean-up.
pub async fn forget_old(db: &crate::db::Db, now: DateTime<Utc>) -> Result<u64, sea_orm::DbErr> {
    Ok(Entity::delete_many()
        .filter(Column::CreatedAt.lt(now - KEPT))
        .exec(db)
        .await?
        .rows_affected)
}
