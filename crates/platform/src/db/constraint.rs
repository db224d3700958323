//! Constraint violations, read the same way from SQLite and PostgreSQL.
//!
//! The database is the one place that can say "this email is taken" without a race, so we
//! insert and let it refuse, then turn its refusal into a field-level error. The two
//! databases report violations differently (PostgreSQL: SQLSTATE, constraint name and a
//! `Key (col)=(value)` detail; SQLite: an extended result code and `UNIQUE constraint
//! failed: table.col`); this module reads both into one [`Violation`].

use std::ops::Deref;

use sea_orm::{DbErr, RuntimeErr, sqlx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A unique index or primary key refused a duplicate; `columns` are the clashing columns.
    Unique { columns: Vec<String> },
    /// A row points at a parent that does not exist (or a parent still has children).
    ForeignKey,
    /// A CHECK constraint refused a value; the name when the database reports it.
    Check { constraint: Option<String> },
    /// A NOT NULL column got no value.
    NotNull { column: Option<String> },
}

/// The constraint violation behind `err`, if that is what it is.
pub fn violation(err: &DbErr) -> Option<Violation> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return None;
    };
    let sqlx::Error::Database(e) = e.deref() else {
        return None;
    };
    if let Some(pg) = e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return match pg.code() {
            "23505" => Some(Violation::Unique {
                columns: pg.detail().map(pg_key_columns).unwrap_or_default(),
            }),
            "23503" => Some(Violation::ForeignKey),
            "23514" => Some(Violation::Check {
                constraint: pg.constraint().map(str::to_owned),
            }),
            "23502" => Some(Violation::NotNull {
                column: pg.column().map(str::to_owned),
            }),
            _ => None,
        };
    }
    sqlite_violation(e.code().as_deref().unwrap_or_default(), e.message())
}

/// SQLite's extended result codes and messages.
fn sqlite_violation(code: &str, message: &str) -> Option<Violation> {
    let after_colon = || message.split_once(": ").map(|(_, rest)| rest.trim());
    match code {
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
        "2067" | "1555" => Some(Violation::Unique {
            columns: after_colon()
                .map(|cols| {
                    cols.split(", ")
                        .map(|c| c.rsplit('.').next().unwrap_or(c).to_owned())
                        .collect()
                })
                .unwrap_or_default(),
        }),
        "787" => Some(Violation::ForeignKey),
        "275" => Some(Violation::Check {
            constraint: after_colon().map(str::to_owned),
        }),
        "1299" => Some(Violation::NotNull {
            column: after_colon().map(|c| c.rsplit('.').next().unwrap_or(c).to_owned()),
        }),
        _ => None,
    }
}

/// `Key (owner_id, slug)=(1, abc) already exists.` -> `["owner_id", "slug"]`.
fn pg_key_columns(detail: &str) -> Vec<String> {
    detail
        .strip_prefix("Key (")
        .and_then(|rest| rest.split_once(")=("))
        .map(|(cols, _)| cols.split(", ").map(str::to_owned).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sqlite_messages() {
        assert_eq!(
            sqlite_violation("2067", "UNIQUE constraint failed: users.email"),
            Some(Violation::Unique {
                columns: vec!["email".into()]
            })
        );
        assert_eq!(
            sqlite_violation(
                "2067",
                "UNIQUE constraint failed: links.owner_id, links.slug"
            ),
            Some(Violation::Unique {
                columns: vec!["owner_id".into(), "slug".into()]
            })
        );
        assert_eq!(
            sqlite_violation("275", "CHECK constraint failed: ck_users_role"),
            Some(Violation::Check {
                constraint: Some("ck_users_role".into())
            })
        );
        assert_eq!(
            sqlite_violation("787", "FOREIGN KEY constraint failed"),
            Some(Violation::ForeignKey)
        );
        assert_eq!(sqlite_violation("1", "syntax error"), None);
    }

    #[test]
    fn reads_postgres_details() {
        assert_eq!(
            pg_key_columns("Key (email)=(a@b.c) already exists."),
            vec!["email"]
        );
        assert_eq!(
            pg_key_columns("Key (owner_id, slug)=(1, x) already exists."),
            vec!["owner_id", "slug"]
        );
        assert!(pg_key_columns("something else").is_empty());
    }
}
