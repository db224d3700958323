//! The `users` table, and the values that go into it, parsed rather than merely checked.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Lower-cased; see [`Email`].
    pub email: String,
    pub display_name: String,
    /// argon2id PHC string; `None` for accounts made by social login.
    pub password_hash: Option<String>,
    pub role: Role,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Failed sign-ins since the last successful one.
    pub failed_logins: i32,
    pub last_login_at: Option<DateTime<Utc>>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::session::Entity")]
    Session,
    #[sea_orm(has_many = "super::api_keys::Entity")]
    ApiKey,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<super::api_keys::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApiKey.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// What a user may do beyond their own resources.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "member")]
    Member,
}

/// An account as the API shows it: never the password hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub email_verified: bool,
    /// Disabled accounts cannot sign in, and their sessions, tokens and keys stop working.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<Model> for User {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            email: m.email,
            display_name: m.display_name,
            role: m.role,
            email_verified: m.email_verified_at.is_some(),
            disabled: m.disabled_at.is_some(),
            created_at: m.created_at,
            last_login_at: m.last_login_at,
        }
    }
}

/// An email address, trimmed and lower-cased so that `Ann@Example.com` and
/// `ann@example.com` are one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let invalid = || Err("is not an email address".to_owned());
        if email.is_empty() {
            return Err("is required".into());
        }
        if email.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return invalid();
        };
        let labels_ok = domain.split('.').count() >= 2
            && domain
                .split('.')
                .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if local.is_empty()
            || local.len() > 64
            || !labels_ok
            || email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"".contains(c))
        {
            return invalid();
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A name shown to other users: 1 to 100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        match name.chars().count() {
            0 => Err("is required".into()),
            101.. => Err("must be at most 100 characters".into()),
            _ if name.chars().any(char::is_control) => {
                Err("must not contain control characters".into())
            }
            _ => Ok(Self(name.to_owned())),
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@-x.com",
            "ann@x..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(DisplayName::parse("  Ann  ").unwrap().into_inner(), "Ann");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(101)).is_err());
        assert!(DisplayName::parse("a\u{7}b").is_err());
    }
}
