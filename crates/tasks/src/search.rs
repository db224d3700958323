//! Finding tasks across the caller's projects: `GET /api/v1/tasks` and the lists built on
//! it (a project's tasks, saved filters, the views `today` and `upcoming`).
//!
//! One query: the caller's memberships bound every search (a join, so no other user's task
//! can match), the filters are conditions on indexed columns where they can be, and pages
//! are cut by keyset (the sort value and the id of the last task seen), so a later page
//! costs what the first does.

use chrono::{DateTime, Utc};
use platform::{AppResult, db::contains_any};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, Order, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    entities::{assignee, label, member, project, task, task_label},
    model::Status,
};

/// How a list is sorted; ties by id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TaskSort)]
pub enum Sort {
    /// Soonest due first; tasks without a due last.
    #[default]
    Due,
    /// Most urgent first.
    Priority,
    /// As arranged in the project.
    Position,
    /// Newest first.
    Created,
}

/// Whether tasks need any of the labels asked for, or all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelMode {
    #[default]
    Any,
    All,
}

/// What to look for, every part optional; parts combine with AND.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default)]
    pub label_mode: LabelMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<Status>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority: Vec<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_before: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_after: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overdue: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_due: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default)]
    pub sort: Sort,
}

/// The longest text search.
pub const MAX_SEARCH: usize = 200;

impl Filter {
    /// Checks what the types do not: priorities in range, the search's length.
    pub fn check(&self) -> platform::AppResult<()> {
        let mut v = platform::error::Validator::new();
        if self
            .q
            .as_ref()
            .is_some_and(|q| q.chars().count() > MAX_SEARCH)
        {
            v.error("q", format!("must be at most {MAX_SEARCH} characters"));
        }
        if let Some(bad) = self.priority.iter().find(|p| !(1..=4).contains(*p)) {
            v.error(
                "priority",
                format!("{bad} is not a priority: 1 (urgent) to 4 (none)"),
            );
        }
        v.finish()
    }
}

/// Where the previous page ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    /// The last task's sort value (`None`: a task without a due, sorting last).
    pub due: Option<DateTime<Utc>>,
    #[serde(default)]
    pub value: i64,
    pub id: i64,
}

impl Cursor {
    pub fn of(task: &task::Model, sort: Sort) -> Self {
        let value = match sort {
            Sort::Priority => i64::from(task.priority),
            Sort::Position => task.position,
            Sort::Created | Sort::Due => 0,
        };
        Self {
            due: task.due_at,
            value,
            id: task.id,
        }
    }
}

/// One page of `user`'s tasks matching `filter`, after `cursor`; `fetch` rows at most.
pub async fn find(
    db: &impl ConnectionTrait,
    user: i64,
    filter: &Filter,
    cursor: Option<Cursor>,
    fetch: u64,
    now: DateTime<Utc>,
) -> AppResult<Vec<task::Model>> {
    // The project must be live: asked per task by its key (`EXISTS`), not with `project_id
    // IN (SELECT id FROM projects WHERE deleted_at IS NULL)`, which SQLite ran as a list of
    // every live project built on each search (a scan of all projects: 13–15 ms of each list
    // over 30,000 projects in the benchmark). Not a join either: `q` searches unqualified
    // `title` and `description` columns, and projects have a description too.
    let mut query = task::Entity::find()
        .join(JoinType::InnerJoin, member_of())
        .filter(member::Column::UserId.eq(user))
        .filter(task::Column::DeletedAt.is_null())
        .filter(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(project::Entity)
                .and_where(
                    Expr::col((project::Entity, project::Column::Id))
                        .equals((task::Entity, task::Column::ProjectId)),
                )
                .and_where(Expr::col((project::Entity, project::Column::DeletedAt)).is_null())
                .to_owned(),
        ));
    if let Some(project) = filter.project {
        query = query.filter(task::Column::ProjectId.eq(project));
    }
    if let Some(assignee) = filter.assignee {
        query = query.filter(
            task::Column::Id.in_subquery(
                Query::select()
                    .column(assignee::Column::TaskId)
                    .from(assignee::Entity)
                    .and_where(assignee::Column::UserId.eq(assignee))
                    .to_owned(),
            ),
        );
    }
    if !filter.labels.is_empty() {
        // The caller's labels of these names; each task must carry one (any) or each (all).
        let labelled = |names: Vec<String>| {
            task::Column::Id.in_subquery(
                Query::select()
                    .column(task_label::Column::TaskId)
                    .from(task_label::Entity)
                    .inner_join(
                        label::Entity,
                        Expr::col((label::Entity, label::Column::Id))
                            .equals((task_label::Entity, task_label::Column::LabelId)),
                    )
                    .and_where(label::Column::OwnerId.eq(user))
                    .and_where(label::Column::Name.is_in(names))
                    .to_owned(),
            )
        };
        query = match filter.label_mode {
            LabelMode::Any => query.filter(labelled(filter.labels.clone())),
            LabelMode::All => filter
                .labels
                .iter()
                .fold(query, |q, name| q.filter(labelled(vec![name.clone()]))),
        };
    }
    if !filter.status.is_empty() {
        query = query.filter(task::Column::Status.is_in(filter.status.clone()));
    }
    if !filter.priority.is_empty() {
        query = query.filter(task::Column::Priority.is_in(filter.priority.clone()));
    }
    if let Some(before) = filter.due_before {
        query = query.filter(task::Column::DueAt.lt(before));
    }
    if let Some(after) = filter.due_after {
        query = query.filter(task::Column::DueAt.gte(after));
    }
    if filter.overdue {
        query = query
            .filter(task::Column::DueAt.lt(now))
            .filter(task::Column::Status.is_in([Status::NeedsAction, Status::InProgress]));
    }
    if filter.no_due {
        query = query.filter(task::Column::DueAt.is_null());
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
        query = query.filter(contains_any(
            [task::Column::Title, task::Column::Description],
            q,
        ));
    }
    if let Some(cursor) = cursor {
        query = query.filter(after(filter.sort, &cursor));
    }
    query = match filter.sort {
        Sort::Due => query
            .order_by(
                Expr::col((task::Entity, task::Column::DueAt)).is_null(),
                Order::Asc,
            )
            .order_by_asc(task::Column::DueAt)
            .order_by_asc(task::Column::Id),
        Sort::Priority => query
            .order_by_asc(task::Column::Priority)
            .order_by_asc(task::Column::Id),
        Sort::Position => query
            .order_by_asc(task::Column::Position)
            .order_by_asc(task::Column::Id),
        Sort::Created => query.order_by_desc(task::Column::Id),
    };
    Ok(query.limit(fetch).all(db).await?)
}

/// `tasks JOIN project_members ON project_id`.
fn member_of() -> sea_orm::RelationDef {
    task::Entity::belongs_to(member::Entity)
        .from(task::Column::ProjectId)
        .to(member::Column::ProjectId)
        .into()
}

/// Rows after the cursor in the order of `sort`.
fn after(sort: Sort, c: &Cursor) -> Condition {
    let id = task::Column::Id;
    match sort {
        Sort::Created => Condition::all().add(id.lt(c.id)),
        Sort::Priority | Sort::Position => {
            let col = if sort == Sort::Priority {
                task::Column::Priority
            } else {
                task::Column::Position
            };
            Condition::any()
                .add(col.gt(c.value))
                .add(Condition::all().add(col.eq(c.value)).add(id.gt(c.id)))
        }
        Sort::Due => match c.due {
            Some(due) => Condition::any()
                .add(task::Column::DueAt.gt(due))
                .add(
                    Condition::all()
                        .add(task::Column::DueAt.eq(due))
                        .add(id.gt(c.id)),
                )
                .add(task::Column::DueAt.is_null()),
            None => Condition::all()
                .add(task::Column::DueAt.is_null())
                .add(id.gt(c.id)),
        },
    }
}
