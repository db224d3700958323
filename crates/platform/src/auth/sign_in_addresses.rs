//! The client addresses an account has signed in from (`sign_in_addresses`), as SHA-256 so
//! that the table holds no address in clear. A sign-in from one of them is the owner's
//! likely enough to pass while strangers' guesses have the account over its failure limit.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, entity::prelude::*, sea_query::OnConflict};
use sha2::{Digest, Sha256};

use crate::error::AppResult;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sign_in_addresses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub address_hash: String,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn hash(ip: IpAddr) -> String {
    hex::encode(Sha256::digest(ip.to_string().as_bytes()))
}

/// Whether `user` has signed in from `ip` before.
pub async fn is_known(db: &impl ConnectionTrait, user: i64, ip: IpAddr) -> AppResult<bool> {
    Ok(Entity::find_by_id((user, hash(ip)))
        .one(db)
        .await?
        .is_some())
}

/// Notes a sign-in of `user` from `ip`.
pub async fn remember(db: &impl ConnectionTrait, user: i64, ip: IpAddr) -> AppResult<()> {
    Entity::insert(ActiveModel {
        user_id: Set(user),
        address_hash: Set(hash(ip)),
        last_seen_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([Column::UserId, Column::AddressHash])
            .update_column(Column::LastSeenAt)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}
