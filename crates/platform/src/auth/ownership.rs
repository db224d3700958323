//! Ownership, the authorisation check every app makes: a user sees and changes only their
//! own rows, and someone else's row is *not found* (404), never *forbidden* (403) — a 403
//! would confirm that the id exists.
//!
//! The check is part of the query (`WHERE id = ? AND owner = ?`), not a comparison after a
//! fetch, so there is no path on which a row is loaded for the wrong user.

use sea_orm::{ColumnTrait, EntityTrait, PrimaryKeyTrait, QueryFilter, Select};

use super::CurrentUser;
use crate::{
    db::Db,
    error::{AppError, AppResult},
};

/// An entity whose rows each belong to one user.
pub trait Owned: EntityTrait {
    /// The column holding the owner's user id.
    fn owner_column() -> Self::Column;

    /// All of `user`'s rows: the starting point of every list query.
    fn owned_by(user: &CurrentUser) -> Select<Self> {
        Self::find().filter(Self::owner_column().eq(user.id))
    }
}

/// The row with primary key `id` if it belongs to `user`; 404 otherwise.
pub async fn find_owned<E: Owned>(
    db: &Db,
    id: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
    user: &CurrentUser,
) -> AppResult<E::Model> {
    E::find_by_id(id)
        .filter(E::owner_column().eq(user.id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}
