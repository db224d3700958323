//! A user's preferences for tasks: the time of day a task due on a date is reminded, and
//! the daily digest's time; their zone is the platform's (`/api/v1/me/preferences`).

use chrono::NaiveTime;
use chrono_tz::Tz;
use platform::{AppResult, notify::entity::preferences};
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::entities::settings;

/// The reminder time of a date-only due when the user has not chosen one.
pub const DEFAULT_REMINDER_TIME: NaiveTime = NaiveTime::from_hms_opt(9, 0, 0).expect("09:00");

#[derive(Debug, Clone)]
pub struct UserSettings {
    pub zone: Tz,
    pub reminder_time: NaiveTime,
    pub digest_time: Option<NaiveTime>,
}

/// `user`'s zone (UTC until they choose one).
pub async fn zone_of(db: &impl ConnectionTrait, user: i64) -> AppResult<Tz> {
    Ok(preferences::Entity::find_by_id(user)
        .one(db)
        .await?
        .and_then(|p| p.time_zone.parse().ok())
        .unwrap_or(chrono_tz::UTC))
}

pub async fn of_user(db: &impl ConnectionTrait, user: i64) -> AppResult<UserSettings> {
    let zone = zone_of(db, user).await?;
    let stored = settings::Entity::find_by_id(user).one(db).await?;
    Ok(UserSettings {
        zone,
        reminder_time: stored
            .as_ref()
            .map_or(DEFAULT_REMINDER_TIME, |s| s.reminder_time),
        digest_time: stored.and_then(|s| s.digest_time),
    })
}

/// `GET/PATCH /api/v1/me/task-settings`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TaskSettings {
    /// When a task due on a date (no time) is reminded, in your time zone (`09:00`).
    #[schema(value_type = String, example = "09:00")]
    pub reminder_time: String,
    /// When your daily digest of overdue tasks and tasks due today comes; null: none.
    #[schema(value_type = Option<String>, example = "08:00")]
    pub digest_time: Option<String>,
    /// Your time zone (`/api/v1/me/preferences` changes it).
    pub time_zone: String,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskSettingsChanges {
    pub reminder_time: Option<String>,
    #[serde(default, deserialize_with = "platform::http::json::nullable")]
    #[schema(value_type = Option<String>)]
    pub digest_time: Option<Option<String>>,
}

fn hhmm(time: NaiveTime) -> String {
    time.format("%H:%M").to_string()
}

fn parse_hhmm(raw: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(raw, "%H:%M").map_err(|_| "is not a time of day as HH:MM".to_owned())
}

pub async fn view(db: &impl ConnectionTrait, user: i64) -> AppResult<TaskSettings> {
    let s = of_user(db, user).await?;
    Ok(TaskSettings {
        reminder_time: hhmm(s.reminder_time),
        digest_time: s.digest_time.map(hhmm),
        time_zone: s.zone.name().to_owned(),
    })
}

pub async fn change(
    db: &impl ConnectionTrait,
    user: i64,
    changes: TaskSettingsChanges,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<TaskSettings> {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let mut v = platform::error::Validator::new();
    let reminder_time = changes
        .reminder_time
        .as_deref()
        .and_then(|t| v.check("reminder_time", parse_hhmm(t)));
    let digest_time = changes
        .digest_time
        .map(|d| d.and_then(|t| v.check("digest_time", parse_hhmm(&t))));
    v.finish()?;
    let current = of_user(db, user).await?;
    let exists = settings::Entity::find_by_id(user).one(db).await?.is_some();
    let row = settings::ActiveModel {
        user_id: Set(user),
        reminder_time: Set(reminder_time.unwrap_or(current.reminder_time)),
        digest_time: Set(digest_time.unwrap_or(current.digest_time)),
        updated_at: Set(now),
    };
    if exists {
        row.update(db).await?;
    } else {
        row.insert(db).await?;
    }
    view(db, user).await
}
