//! The tasks app's tables as SeaORM entities (migration `m20261203_100001_create_tasks`).

pub mod project {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "projects")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub colour: Option<String>,
        pub description: Option<String>,
        pub parent_id: Option<i64>,
        pub position: i64,
        pub archived: bool,
        pub created_by: i64,
        /// Bumped by every change to the project's tasks: its CalDAV sync token.
        pub sync_seq: i64,
        /// Sync tokens below this are too old: the tombstones they need were purged.
        pub sync_floor: i64,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod member {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    use crate::model::Role;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "project_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub project_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        pub role: Role,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod task {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    use sea_orm::entity::prelude::*;

    use crate::model::{Anchor, Status, When};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tasks")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub project_id: i64,
        /// The iCalendar UID: what CalDAV clients know the task by.
        pub uid: String,
        /// The resource name in its CalDAV collection (`{uid}.ics` unless a client chose).
        pub dav_name: String,
        pub title: String,
        pub description: Option<String>,
        pub status: Status,
        pub completed_at: Option<DateTime<Utc>>,
        pub priority: i16,
        pub parent_id: Option<i64>,
        pub position: i64,
        pub start_kind: Option<String>,
        pub start_date: Option<NaiveDate>,
        pub start_time: Option<NaiveTime>,
        pub start_zone: Option<String>,
        pub start_at: Option<DateTime<Utc>>,
        pub due_kind: Option<String>,
        pub due_date: Option<NaiveDate>,
        pub due_time: Option<NaiveTime>,
        pub due_zone: Option<String>,
        pub due_at: Option<DateTime<Utc>>,
        pub deadline: Option<NaiveDate>,
        pub rrule: Option<String>,
        pub recurrence_anchor: Option<Anchor>,
        /// The first occurrence of the series (its DTSTART), from which COUNT is counted.
        pub series_start: Option<NaiveDateTime>,
        /// Skipped occurrences (EXDATE), as a JSON array of wall-clock times.
        pub exdates: Option<String>,
        /// What a CalDAV client sent that Capstone does not model, written back unchanged.
        pub ical_extra: Option<String>,
        pub created_by: i64,
        /// Bumped by every change: the task's ETag.
        pub version: i64,
        pub sync_seq: i64,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        pub deleted_at: Option<DateTime<Utc>>,
    }

    impl Model {
        pub fn due(&self) -> Option<When> {
            When::from_columns(
                self.due_kind.as_deref(),
                self.due_date,
                self.due_time,
                self.due_zone.as_deref(),
            )
        }

        pub fn start(&self) -> Option<When> {
            When::from_columns(
                self.start_kind.as_deref(),
                self.start_date,
                self.start_time,
                self.start_zone.as_deref(),
            )
        }

        pub fn exdates(&self) -> Vec<NaiveDateTime> {
            self.exdates
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod label {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "labels")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: i64,
        pub name: String,
        pub colour: Option<String>,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod task_label {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_labels")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub task_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub label_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod assignee {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_assignees")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub task_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod comment {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_comments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub task_id: i64,
        pub project_id: i64,
        pub author_id: i64,
        pub body: String,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod event {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub project_id: i64,
        pub task_id: Option<i64>,
        pub actor_id: Option<i64>,
        pub action: String,
        pub summary: String,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod completion {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_completions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub task_id: i64,
        /// The occurrence's wall-clock time (`2027-03-29T09:00:00`).
        pub occurrence: String,
        pub occurrence_at: Option<DateTime<Utc>>,
        pub completed_at: DateTime<Utc>,
        pub completed_by: Option<i64>,
        /// Skipped rather than done.
        pub skipped: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod reminder {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    use crate::model::{LatePolicy, RelativeTo};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reminders")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub task_id: i64,
        /// An absolute reminder's time.
        pub at: Option<DateTime<Utc>>,
        /// A relative reminder's anchor and offset.
        pub relative_to: Option<RelativeTo>,
        pub offset_minutes: Option<i32>,
        pub late_policy: LatePolicy,
        pub late_limit_minutes: i32,
        /// When it fires next (None: never again), and for which occurrence of the task.
        pub next_at: Option<DateTime<Utc>>,
        pub occurrence: Option<String>,
        pub snoozed_until: Option<DateTime<Utc>>,
        pub acknowledged_at: Option<DateTime<Utc>>,
        /// A CalDAV client's VALARM properties Capstone does not model.
        pub ical_extra: Option<String>,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod delivery {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reminder_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub reminder_id: i64,
        pub occurrence: String,
        pub due_at: DateTime<Utc>,
        pub fired_at: DateTime<Utc>,
        pub late_ms: i64,
        /// `sent`, `digest` or `dropped`.
        pub outcome: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod settings {
    use chrono::{DateTime, NaiveTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        /// When a task due on a date (without a time) is reminded, in the user's zone.
        pub reminder_time: NaiveTime,
        /// When the daily digest goes, in the user's zone; None: no digest.
        pub digest_time: Option<NaiveTime>,
        pub updated_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod digest {
    use chrono::{DateTime, NaiveDate, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_digests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub day: NaiveDate,
        pub sent_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod feed {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "calendar_feeds")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        /// One project's tasks; None: every project of the user's.
        pub project_id: Option<i64>,
        /// SHA-256 of the token in the feed's URL (the token itself is shown once).
        pub token_hash: String,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod filter {
    use chrono::{DateTime, Utc};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "task_filters")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub owner_id: i64,
        pub name: String,
        /// The search, as JSON (`search::Filter`).
        pub query: String,
        pub created_at: DateTime<Utc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
