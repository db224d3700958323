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
