//! The tasks the list and CalDAV measurements run on, written straight into the database.
//!
//! 10,000 users (by default) with 100 tasks each, spread over one to five projects per user
//! (an inbox holding the most), and one more user whose single project holds the 10,000-task
//! calendar that the CalDAV sync reads. A tenth of the users share a project with the next
//! user (as `editor`), so some lists span another user's project too. Each user has six
//! labels; tasks carry zero to two of them. The mix of statuses, priorities, dues (none, a
//! date, a floating time, a time in a zone), deadlines, recurrences, descriptions and
//! reminders is a plausible personal to-do list's.
//!
//! As in [`crate::seed`], rows are generated here with the benchmark's seeded generator (so
//! every run has the same data) and streamed with `COPY` on PostgreSQL and multi-row INSERTs
//! on SQLite. They are written the way the app writes them (`service::tasks::insert`):
//! timestamps as RFC 3339 with `+00:00` (what sqlx stores for a `DateTime<Utc>` in SQLite
//! text), dates as `YYYY-MM-DD`, times as `HH:MM:SS`, wall-clock date-times as
//! `YYYY-MM-DD HH:MM:SS` (sqlx's `NaiveDateTime`), enums as the entities' string values, a
//! random `…@capstone` UID with `{uid}.ics` as the CalDAV name, `version` 2 (the insert and
//! its first touch) and `sync_seq` counting the project's changes. A due's instant (`due_at`)
//! is computed as the app does: a date is due at its last second and a floating time is
//! placed in the writer's zone (UTC: the seeded users have no preferences), a zoned time in
//! its zone. Zoned dues use zones without daylight saving (Asia/Tokyo, Asia/Kolkata,
//! America/Phoenix, Asia/Singapore), so that their instants need no zone database here.
//!
//! Not seeded: activity events (`task_events`, read only by the activity feed), assignees,
//! comments, and the reminders' firing plans — seeded reminders have no `next_at` and no
//! queued job, so the server's job queue stays idle during the measurement.
//!
//! Users are inserted with the password hash of the account registered through the API
//! before seeding, so every seeded user can sign in (and make an API key) with
//! [`crate::api::PASSWORD`].

use std::{
    borrow::Cow,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, DurationRound, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::{
    rng::Rng,
    seed::{Field, bulk_insert, timestamp},
};

/// How much to seed.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Users with a to-do list each.
    pub users: u32,
    pub tasks_per_user: u32,
    /// Tasks of the one calendar the CalDAV sync reads (one more user's only project).
    pub calendar_tasks: u32,
}

impl Default for Sizes {
    fn default() -> Self {
        Self {
            users: 10_000,
            tasks_per_user: 100,
            calendar_tasks: 10_000,
        }
    }
}

/// Label names every user has, in this order (label ids follow it).
pub const LABELS: [&str; 6] = ["work", "home", "errand", "waiting", "someday", "health"];
/// A word found in about 3% of the tasks' titles or descriptions (the text-search shape).
pub const SEARCH_WORD: &str = "invoice";

/// A seeded user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
}

/// What was seeded.
pub struct Seeded {
    /// The users with lists, in order.
    pub users: Vec<User>,
    /// The owner of the big calendar.
    pub calendar_owner: User,
    pub calendar_project: i64,
    /// The calendar's tasks: (id, CalDAV name).
    pub calendar_tasks: Vec<(i64, String)>,
    pub tasks: u64,
    pub took: Duration,
}

const SEED: u64 = 0x7A5C_5EED;

/// Seeds the users, projects, labels, tasks and reminders. `hash_of` is the email of an
/// account registered through the API, whose password hash every seeded user gets.
pub async fn seed(url: &str, sizes: Sizes, hash_of: &str) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let db = crate::seed::connect(url).await?;
    let backend = db.get_database_backend();
    let hash = text(
        &db,
        &format!("SELECT password_hash FROM users WHERE email = '{hash_of}'"),
    )
    .await
    .context("finding the registered account's password hash")?;
    let now = Utc::now().duration_trunc(TimeDelta::seconds(1))?;
    let ids = Ids {
        user: next_id(&db, "users").await?,
        project: next_id(&db, "projects").await?,
        task: next_id(&db, "tasks").await?,
        label: next_id(&db, "labels").await?,
    };
    let layout = project_layout(sizes, ids.project);
    let plan = Plan {
        sizes,
        ids,
        now,
        projects: &layout,
    };

    let phase = Instant::now();
    let users = (0..=sizes.users).map(|u| {
        let created: Field =
            timestamp(now - TimeDelta::days(400) + TimeDelta::seconds(u.into())).into();
        vec![
            Field::Int(plan.user_id(u)),
            plan.email(u).into(),
            format!("Bench user {u}").into(),
            Field::Text(Cow::Owned(hash.clone())),
            "member".into(),
            created.clone(),
            created.clone(),
            created,
        ]
    });
    bulk_insert(
        &db,
        "users (id, email, display_name, password_hash, role, email_verified_at, created_at, \
         updated_at)",
        users,
    )
    .await?;
    eprintln!("      users       {:>5.1} s", phase.elapsed().as_secs_f64());

    let phase = Instant::now();
    let projects = (0..=sizes.users).flat_map(|u| {
        let owner = plan.user_id(u);
        let created = timestamp(now - TimeDelta::days(365));
        plan.projects_of(u).map(move |(index, id, tasks)| {
            let name = if u == sizes.users {
                "Everything".to_owned()
            } else {
                PROJECT_NAMES[index].to_owned()
            };
            vec![
                Field::Int(id),
                name.into(),
                Field::Null,
                Field::Null,
                Field::Int(index as i64),
                Field::Bool(false),
                Field::Int(owner),
                Field::Int(i64::from(tasks)),
                Field::Int(0),
                created.clone().into(),
                created.clone().into(),
            ]
        })
    });
    bulk_insert(
        &db,
        "projects (id, name, colour, parent_id, position, archived, created_by, sync_seq, \
         sync_floor, created_at, updated_at)",
        projects,
    )
    .await?;
    let members = (0..=sizes.users).flat_map(|u| {
        let created = timestamp(now - TimeDelta::days(365));
        let owned = plan.projects_of(u).map(move |(_, id, _)| {
            vec![
                Field::Int(id),
                Field::Int(plan.user_id(u)),
                "owner".into(),
                created.clone().into(),
            ]
        });
        // A tenth of the users share their second project with the next user.
        let shared = plan.shared_project(u).map(|id| {
            vec![
                Field::Int(id),
                Field::Int(plan.user_id((u + 1) % sizes.users)),
                "editor".into(),
                timestamp(now - TimeDelta::days(300)).into(),
            ]
        });
        owned.chain(shared)
    });
    bulk_insert(
        &db,
        "project_members (project_id, user_id, role, created_at)",
        members,
    )
    .await?;
    let labels = (0..sizes.users).flat_map(|u| {
        LABELS.iter().enumerate().map(move |(k, name)| {
            vec![
                Field::Int(plan.label_id(u, k)),
                Field::Int(plan.user_id(u)),
                (*name).into(),
                Field::Null,
                timestamp(now - TimeDelta::days(365)).into(),
            ]
        })
    });
    bulk_insert(
        &db,
        "labels (id, owner_id, name, colour, created_at)",
        labels,
    )
    .await?;
    eprintln!("      projects    {:>5.1} s", phase.elapsed().as_secs_f64());

    let phase = Instant::now();
    let tasks = (0..=sizes.users)
        .flat_map(|u| plan.tasks_of(u))
        .map(|t| t.row());
    bulk_insert(
        &db,
        "tasks (id, project_id, uid, dav_name, title, description, status, completed_at, \
         priority, parent_id, position, due_kind, due_date, due_time, due_zone, due_at, \
         deadline, rrule, recurrence_anchor, series_start, created_by, version, sync_seq, \
         created_at, updated_at)",
        tasks,
    )
    .await?;
    eprintln!("      tasks       {:>5.1} s", phase.elapsed().as_secs_f64());
    let phase = Instant::now();
    let task_labels = (0..sizes.users).flat_map(|u| {
        plan.tasks_of(u).flat_map(move |t| {
            t.labels
                .iter()
                .map(|&k| vec![Field::Int(t.id), Field::Int(plan.label_id(u, k))])
                .collect::<Vec<_>>()
        })
    });
    bulk_insert(&db, "task_labels (task_id, label_id)", task_labels).await?;
    let reminders = (0..=sizes.users)
        .flat_map(|u| plan.tasks_of(u))
        .filter_map(|t| {
            let offset = t.reminder?;
            Some(vec![
                Field::Int(t.id),
                "due".into(),
                Field::Int(offset),
                "send".into(),
                Field::Int(60),
                timestamp(t.created_at).into(),
            ])
        });
    bulk_insert(
        &db,
        "reminders (task_id, relative_to, offset_minutes, late_policy, late_limit_minutes, \
         created_at)",
        reminders,
    )
    .await?;
    eprintln!("      labels etc. {:>5.1} s", phase.elapsed().as_secs_f64());

    let phase = Instant::now();
    if backend == DbBackend::Postgres {
        // Explicit ids leave the sequences behind: the app's next insert would collide.
        for table in ["users", "projects", "tasks", "labels"] {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT MAX(id) FROM {table}))"
            ))
            .await?;
        }
        db.execute_unprepared("VACUUM ANALYZE").await?;
    } else {
        // AUTOINCREMENT keeps up by itself; the planner needs its statistics.
        db.execute_unprepared("ANALYZE").await?;
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    eprintln!("      analyze     {:>5.1} s", phase.elapsed().as_secs_f64());
    let tasks = scalar(&db, "SELECT COUNT(*) FROM tasks").await?;
    db.close().await?;

    let user = |u: u32| User {
        id: plan.user_id(u),
        email: plan.email(u),
    };
    let calendar_project = plan
        .projects_of(sizes.users)
        .next()
        .expect("the calendar owner has a project")
        .1;
    Ok(Seeded {
        users: (0..sizes.users).map(user).collect(),
        calendar_owner: user(sizes.users),
        calendar_project,
        calendar_tasks: plan
            .tasks_of(sizes.users)
            .map(|t| (t.id, format!("{}.ics", t.uid)))
            .collect(),
        tasks: u64::try_from(tasks)?,
        took: started.elapsed(),
    })
}

/// The first free id of each table: rows are inserted with explicit ids, so that tasks can
/// name their projects and labels without reading them back.
#[derive(Clone, Copy)]
struct Ids {
    user: i64,
    project: i64,
    task: i64,
    label: i64,
}

const PROJECT_NAMES: [&str; 5] = ["Inbox", "Work", "Home", "Errands", "Side project"];

/// Who has what: everything derived from the user's index and the seed, so each table's
/// rows can be generated on their own, in the same order, without keeping 1M tasks around.
#[derive(Clone, Copy)]
struct Plan<'a> {
    sizes: Sizes,
    ids: Ids,
    now: DateTime<Utc>,
    /// Per user: the first project id and the number of projects.
    projects: &'a [(i64, u32)],
}

/// Per user: the first project id and the number of projects (the calendar's owner: one).
fn project_layout(sizes: Sizes, first: i64) -> Vec<(i64, u32)> {
    let mut rng = Rng::new(SEED);
    let mut next = first;
    (0..=sizes.users)
        .map(|u| {
            let count = if u == sizes.users {
                1
            } else {
                1 + rng.below(5) as u32
            };
            let first = next;
            next += i64::from(count);
            (first, count)
        })
        .collect()
}

impl<'a> Plan<'a> {
    fn user_id(&self, u: u32) -> i64 {
        self.ids.user + i64::from(u)
    }

    fn email(&self, u: u32) -> String {
        if u == self.sizes.users {
            "calendar@bench.example".to_owned()
        } else {
            format!("user{u:05}@bench.example")
        }
    }

    fn label_id(&self, u: u32, k: usize) -> i64 {
        self.ids.label + i64::from(u) * LABELS.len() as i64 + k as i64
    }

    fn task_count(&self, u: u32) -> u32 {
        if u == self.sizes.users {
            self.sizes.calendar_tasks
        } else {
            self.sizes.tasks_per_user
        }
    }

    /// The user's projects: (index, id, number of tasks).
    fn projects_of(&self, u: u32) -> impl Iterator<Item = (usize, i64, u32)> + use<'a> {
        let (first, count) = self.projects[u as usize];
        let mut tasks = vec![0u32; count as usize];
        for t in self.tasks_of(u) {
            tasks[(t.project_id - first) as usize] += 1;
        }
        (0..count as usize).map(move |i| (i, first + i as i64, tasks[i]))
    }

    /// The project a user shares with the next one, if any.
    fn shared_project(&self, u: u32) -> Option<i64> {
        let (first, count) = self.projects[u as usize];
        (u < self.sizes.users && u % 10 == 3 && count >= 2).then_some(first + 1)
    }

    fn tasks_of(&self, u: u32) -> impl Iterator<Item = Task> + use<'a> {
        let plan = *self;
        let mut rng = Rng::new(SEED ^ (u64::from(u) + 1).wrapping_mul(0x9E37_79B9));
        let (first_project, projects) = self.projects[u as usize];
        let first_task = self.ids.task + i64::from(u) * i64::from(self.sizes.tasks_per_user);
        let mut sync = vec![0i64; projects as usize];
        // The inbox holds twice the share of any other project.
        let weights: Vec<(usize, u64)> = (0..projects as usize)
            .map(|p| (p, if p == 0 { 2 } else { 1 }))
            .collect();
        (0..self.task_count(u)).map(move |i| {
            let p = rng.pick(&weights);
            sync[p] += 1;
            plan.task(
                &mut rng,
                first_task + i64::from(i),
                first_project + p as i64,
                plan.user_id(u),
                sync[p],
            )
        })
    }

    fn task(&self, rng: &mut Rng, id: i64, project_id: i64, owner: i64, sync_seq: i64) -> Task {
        let now = self.now;
        let uid = format!("{:016x}{:016x}@capstone", rng.next_u64(), rng.next_u64());
        let created_at = now - TimeDelta::seconds(rng.below(365 * 86_400) as i64);
        let status = rng.pick(&[
            ("needs_action", 55),
            ("in_progress", 6),
            ("completed", 35),
            ("cancelled", 4),
        ]);
        let closed = matches!(status, "completed" | "cancelled");
        let updated_at = if closed {
            (created_at + TimeDelta::seconds(rng.below(30 * 86_400) as i64)).min(now)
        } else {
            created_at
        };
        let priority = rng.pick(&[(4i16, 60), (3, 15), (2, 15), (1, 10)]);
        // Open tasks are due around now; closed ones were mostly due in the past.
        let due = match rng.pick(&[(0u8, 40), (1, 35), (2, 10), (3, 15)]) {
            0 => None,
            kind => {
                let days = if closed {
                    -(rng.below(180) as i64)
                } else {
                    rng.below(150) as i64 - 45
                };
                let date = now.date_naive() + TimeDelta::days(days);
                let time =
                    NaiveTime::from_hms_opt(8 + rng.below(11) as u32, 30 * rng.below(2) as u32, 0)
                        .expect("a valid time");
                Some(match kind {
                    1 => Due {
                        kind: "date",
                        date,
                        time: None,
                        zone: None,
                        at: (date + TimeDelta::days(1))
                            .and_time(NaiveTime::MIN)
                            .and_utc()
                            - TimeDelta::seconds(1),
                    },
                    2 => Due {
                        kind: "floating",
                        date,
                        time: Some(time),
                        zone: None,
                        at: date.and_time(time).and_utc(),
                    },
                    _ => {
                        let (zone, offset_minutes) = rng.pick(&[
                            (("Asia/Tokyo", 540), 1),
                            (("Asia/Kolkata", 330), 1),
                            (("America/Phoenix", -420), 1),
                            (("Asia/Singapore", 480), 1),
                        ]);
                        Due {
                            kind: "zoned",
                            date,
                            time: Some(time),
                            zone: Some(zone),
                            at: date.and_time(time).and_utc() - TimeDelta::minutes(offset_minutes),
                        }
                    }
                })
            }
        };
        let rrule = due
            .as_ref()
            .filter(|_| !closed && rng.percent(6))
            .map(|due| {
                let rule = rng.pick(&[
                    ("FREQ=DAILY", 3),
                    ("FREQ=WEEKLY", 4),
                    ("FREQ=WEEKLY;BYDAY=MO,WE,FR", 1),
                    ("FREQ=MONTHLY;BYMONTHDAY=1", 2),
                ]);
                (rule, due.date.and_time(due.time.unwrap_or(NaiveTime::MIN)))
            });
        let deadline = due
            .as_ref()
            .filter(|_| rng.percent(5))
            .map(|due| due.date + TimeDelta::days(rng.below(8) as i64));
        let labels = match rng.pick(&[(0u8, 45), (1, 40), (2, 15)]) {
            0 => vec![],
            1 => vec![rng.below(LABELS.len() as u64) as usize],
            _ => {
                let a = rng.below(LABELS.len() as u64) as usize;
                vec![
                    a,
                    (a + 1 + rng.below(LABELS.len() as u64 - 1) as usize) % LABELS.len(),
                ]
            }
        };
        let searched = rng.percent(3);
        let title = format!(
            "{} {}",
            rng.pick(&VERBS),
            if searched && rng.percent(50) {
                SEARCH_WORD
            } else {
                rng.pick(&OBJECTS)
            }
        );
        let description = if searched && !title.contains(SEARCH_WORD) {
            Some(format!(
                "Check the {SEARCH_WORD} first.\n\n- [ ] numbers\n- [ ] dates"
            ))
        } else if rng.percent(30) {
            Some(rng.pick(&DESCRIPTIONS).to_owned())
        } else {
            None
        };
        let reminder = due
            .as_ref()
            .filter(|_| rng.percent(20))
            .map(|_| rng.pick(&[(-30i64, 3), (-60, 2), (-1440, 1), (0, 2)]));
        Task {
            id,
            project_id,
            owner,
            uid,
            title,
            description,
            status,
            completed_at: (status == "completed").then_some(updated_at),
            priority,
            position: sync_seq,
            due,
            deadline,
            rrule,
            labels,
            reminder,
            version: if closed { 3 } else { 2 },
            sync_seq,
            created_at,
            updated_at,
        }
    }
}

const VERBS: [(&str, u64); 8] = [
    ("Call", 2),
    ("Email", 2),
    ("Buy", 2),
    ("Review", 2),
    ("Book", 1),
    ("Pay", 1),
    ("Fix", 1),
    ("Plan", 1),
];
const OBJECTS: [(&str, u64); 10] = [
    ("the dentist", 1),
    ("milk and bread", 1),
    ("the quarterly report", 1),
    ("pull request 4312", 1),
    ("train tickets", 1),
    ("the electricity bill", 1),
    ("the bike's brakes", 1),
    ("Anna about the move", 1),
    ("the team offsite", 1),
    ("a birthday present", 1),
];
const DESCRIPTIONS: [(&str, u64); 3] = [
    ("Before Friday, see the notes from last week.", 1),
    (
        "**Important**: ask about the *second* option too.\n\nhttps://example.com/notes",
        1,
    ),
    ("- [ ] first step\n- [ ] second step\n- [x] done already", 1),
];

/// A due as the app stores it.
struct Due {
    kind: &'static str,
    date: NaiveDate,
    time: Option<NaiveTime>,
    zone: Option<&'static str>,
    at: DateTime<Utc>,
}

struct Task {
    id: i64,
    project_id: i64,
    owner: i64,
    uid: String,
    title: String,
    description: Option<String>,
    status: &'static str,
    completed_at: Option<DateTime<Utc>>,
    priority: i16,
    position: i64,
    due: Option<Due>,
    deadline: Option<NaiveDate>,
    /// The rule and the series' first occurrence (wall clock).
    rrule: Option<(&'static str, NaiveDateTime)>,
    /// Indexes into [`LABELS`].
    labels: Vec<usize>,
    /// A reminder's offset from the due, in minutes.
    reminder: Option<i64>,
    version: i64,
    sync_seq: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Task {
    fn row(self) -> Vec<Field> {
        let due = self.due.as_ref();
        vec![
            Field::Int(self.id),
            Field::Int(self.project_id),
            self.uid.clone().into(),
            format!("{}.ics", self.uid).into(),
            self.title.into(),
            self.description.map_or(Field::Null, Field::from),
            self.status.into(),
            self.completed_at
                .map_or(Field::Null, |t| timestamp(t).into()),
            Field::Int(self.priority.into()),
            Field::Null,
            Field::Int(self.position),
            due.map(|d| d.kind).into(),
            due.map_or(Field::Null, |d| d.date.format("%F").to_string().into()),
            due.and_then(|d| d.time)
                .map_or(Field::Null, |t| t.format("%T").to_string().into()),
            due.and_then(|d| d.zone).into(),
            due.map_or(Field::Null, |d| timestamp(d.at).into()),
            self.deadline
                .map_or(Field::Null, |d| d.format("%F").to_string().into()),
            self.rrule.map(|(rule, _)| rule).into(),
            self.rrule.map(|_| "due").into(),
            self.rrule.map_or(Field::Null, |(_, start)| {
                start.format("%F %T").to_string().into()
            }),
            Field::Int(self.owner),
            Field::Int(self.version),
            Field::Int(self.sync_seq),
            timestamp(self.created_at).into(),
            timestamp(self.updated_at).into(),
        ]
    }
}

async fn next_id(db: &DatabaseConnection, table: &str) -> anyhow::Result<i64> {
    scalar(db, &format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")).await
}

async fn scalar(db: &impl ConnectionTrait, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .with_context(|| format!("no row from {sql}"))?;
    Ok(row.try_get_by_index(0)?)
}

async fn text(db: &impl ConnectionTrait, sql: &str) -> anyhow::Result<String> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .with_context(|| format!("no row from {sql}"))?;
    Ok(row.try_get_by_index(0)?)
}
