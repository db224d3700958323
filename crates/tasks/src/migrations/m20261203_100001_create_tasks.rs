//! The tasks app's tables.
//!
//! Written as SQL rather than with the schema builder: a schema of a dozen related tables
//! reads best as the DDL it is. The few differences between the databases are column
//! types, filled in per dialect (types only, never values).
//!
//! - `projects` nest (`parent_id`) and are shared through `project_members`, a many-to-many
//!   table keyed by `(project_id, user_id)` with the member's role.
//! - `tasks` belong to a project. A due (and a start) is stored as what the user gave — a
//!   date, a floating local time, or a local time in a zone (`*_kind`, `*_date`, `*_time`,
//!   `*_zone`) — plus `*_at`, its instant, by which tasks are sorted, filtered and reminded.
//!   `sync_seq` is the project's change counter at the task's last change (CalDAV sync;
//!   a task in the trash is the tombstone a sync reports as removed, and `sync_floor` is
//!   the counter below which purged tombstones are gone); `dav_name` is the name a CalDAV
//!   client gave it.
//! - `labels` are per user; `task_labels` and `task_assignees` are many-to-many.
//! - `task_events` (what happened, for the activity feed) and `task_comments` are read
//!   together with `UNION ALL`.
//! - `reminders` keep their next firing time (`next_at`) and the occurrence it is for;
//!   `reminder_deliveries` records each firing, how late it was, once per
//!   (reminder, occurrence) by a unique key.
//! - `task_completions` is the history of a recurring task's completed occurrences.
//! - `task_digests` records each user's daily digest once per local day.
//! - Deleted projects and tasks stay with `deleted_at` set (the trash) until purged.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The schema, with `{id}`, `{ts}` (an instant), `{local}` (a wall-clock date and time),
/// `{time}` and `{bool}` column types per dialect.
const SCHEMA: &str = r#"
CREATE TABLE projects (
    id {id},
    name VARCHAR(200) NOT NULL,
    colour VARCHAR(7),
    description TEXT,
    parent_id BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    position BIGINT NOT NULL DEFAULT 0,
    archived {bool} NOT NULL DEFAULT FALSE,
    created_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sync_seq BIGINT NOT NULL DEFAULT 0,
    sync_floor BIGINT NOT NULL DEFAULT 0,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    deleted_at {ts}
);
CREATE INDEX projects_by_parent ON projects (parent_id);

CREATE TABLE project_members (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role VARCHAR(16) NOT NULL,
    created_at {ts} NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_by_user ON project_members (user_id, project_id);

CREATE TABLE tasks (
    id {id},
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    uid VARCHAR(255) NOT NULL,
    dav_name VARCHAR(255) NOT NULL,
    title VARCHAR(500) NOT NULL,
    description TEXT,
    status VARCHAR(16) NOT NULL,
    completed_at {ts},
    priority SMALLINT NOT NULL DEFAULT 4,
    parent_id BIGINT REFERENCES tasks (id) ON DELETE SET NULL,
    position BIGINT NOT NULL DEFAULT 0,
    start_kind VARCHAR(8),
    start_date DATE,
    start_time {time},
    start_zone VARCHAR(64),
    start_at {ts},
    due_kind VARCHAR(8),
    due_date DATE,
    due_time {time},
    due_zone VARCHAR(64),
    due_at {ts},
    deadline DATE,
    rrule VARCHAR(500),
    recurrence_anchor VARCHAR(16),
    series_start {local},
    exdates TEXT,
    ical_extra TEXT,
    created_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version BIGINT NOT NULL DEFAULT 1,
    sync_seq BIGINT NOT NULL DEFAULT 0,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    deleted_at {ts}
);
CREATE UNIQUE INDEX tasks_uid ON tasks (project_id, uid);
CREATE INDEX tasks_by_project ON tasks (project_id, deleted_at, position);
CREATE INDEX tasks_by_due ON tasks (due_at);
CREATE INDEX tasks_by_parent ON tasks (parent_id);
CREATE INDEX tasks_by_dav_name ON tasks (project_id, dav_name);
CREATE INDEX tasks_sync ON tasks (project_id, sync_seq);

CREATE TABLE labels (
    id {id},
    owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    colour VARCHAR(7),
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX labels_name ON labels (owner_id, name);

CREATE TABLE task_labels (
    task_id BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    label_id BIGINT NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, label_id)
);
CREATE INDEX task_labels_by_label ON task_labels (label_id, task_id);

CREATE TABLE task_assignees (
    task_id BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, user_id)
);
CREATE INDEX task_assignees_by_user ON task_assignees (user_id, task_id);

CREATE TABLE task_comments (
    id {id},
    task_id BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX task_comments_by_task ON task_comments (task_id, id);
CREATE INDEX task_comments_by_project ON task_comments (project_id, created_at);

CREATE TABLE task_events (
    id {id},
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    task_id BIGINT REFERENCES tasks (id) ON DELETE SET NULL,
    actor_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    action VARCHAR(32) NOT NULL,
    summary VARCHAR(500) NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX task_events_by_project ON task_events (project_id, created_at);

CREATE TABLE task_completions (
    id {id},
    task_id BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    occurrence VARCHAR(19) NOT NULL,
    occurrence_at {ts},
    completed_at {ts} NOT NULL,
    completed_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    skipped {bool} NOT NULL DEFAULT FALSE
);
CREATE INDEX task_completions_by_task ON task_completions (task_id, id);

CREATE TABLE reminders (
    id {id},
    task_id BIGINT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    at {ts},
    relative_to VARCHAR(8),
    offset_minutes INTEGER,
    late_policy VARCHAR(8) NOT NULL,
    late_limit_minutes INTEGER NOT NULL,
    next_at {ts},
    occurrence VARCHAR(40),
    snoozed_until {ts},
    acknowledged_at {ts},
    ical_extra TEXT,
    created_at {ts} NOT NULL
);
CREATE INDEX reminders_by_task ON reminders (task_id);

CREATE TABLE reminder_deliveries (
    id {id},
    reminder_id BIGINT NOT NULL REFERENCES reminders (id) ON DELETE CASCADE,
    occurrence VARCHAR(40) NOT NULL,
    due_at {ts} NOT NULL,
    fired_at {ts} NOT NULL,
    late_ms BIGINT NOT NULL,
    outcome VARCHAR(8) NOT NULL
);
CREATE UNIQUE INDEX reminder_deliveries_once ON reminder_deliveries (reminder_id, occurrence);

CREATE TABLE task_settings (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    reminder_time {time} NOT NULL,
    digest_time {time},
    updated_at {ts} NOT NULL
);

CREATE TABLE task_digests (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    sent_at {ts} NOT NULL,
    PRIMARY KEY (user_id, day)
);

CREATE TABLE calendar_feeds (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    token_hash VARCHAR(64) NOT NULL,
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX calendar_feeds_token ON calendar_feeds (token_hash);

CREATE TABLE task_filters (
    id {id},
    owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    query TEXT NOT NULL,
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX task_filters_name ON task_filters (owner_id, name);
"#;

const TABLES: &[&str] = &[
    "task_filters",
    "calendar_feeds",
    "task_digests",
    "task_settings",
    "reminder_deliveries",
    "reminders",
    "task_completions",
    "task_events",
    "task_comments",
    "task_assignees",
    "task_labels",
    "labels",
    "tasks",
    "project_members",
    "projects",
];

fn schema(backend: DbBackend) -> String {
    let [id, ts, local, time] = match backend {
        DbBackend::Postgres => ["BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ", "TIMESTAMP", "TIME"],
        _ => ["INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "TEXT", "TEXT"],
    };
    SCHEMA
        .replace("{id}", id)
        .replace("{ts}", ts)
        .replace("{local}", local)
        .replace("{time}", time)
        .replace("{bool}", "BOOLEAN")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in schema(manager.get_database_backend()).split(';') {
            if !statement.trim().is_empty() {
                db.execute_unprepared(statement).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in TABLES {
            db.execute_unprepared(&format!("DROP TABLE {table}"))
                .await?;
        }
        Ok(())
    }
}
