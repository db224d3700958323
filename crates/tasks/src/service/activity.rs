//! A project's activity: who did what, newest first — task events and comments read
//! together by one `UNION ALL` (the roadmap's Step 3: set operations).

use chrono::{DateTime, Utc};
use platform::AppResult;
use sea_orm::{
    ConnectionTrait, FromQueryResult,
    sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement, UnionType},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::entities::{comment, event};

/// One thing that happened in a project.
#[derive(Debug, Clone, Serialize, ToSchema, FromQueryResult)]
pub struct Activity {
    /// `event` (a task made, changed, completed, deleted…) or `comment`.
    pub kind: String,
    pub id: i64,
    pub task_id: Option<i64>,
    /// Who did it (None: a user since deleted).
    pub actor_id: Option<i64>,
    /// `created`, `updated`, `completed`, `skipped`, `deleted`, `restored` or `commented`.
    pub action: String,
    /// The task's title at the time, or the comment.
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// Where the previous page ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    pub fn of(a: &Activity) -> Self {
        Self {
            created_at: a.created_at,
            id: a.id,
        }
    }
}

pub async fn page(
    db: &impl ConnectionTrait,
    project: i64,
    before: Option<Cursor>,
    fetch: u64,
) -> AppResult<Vec<Activity>> {
    let mut events = branch(
        Query::select()
            .expr_as(Expr::val("event"), Alias::new("kind"))
            .column(event::Column::Id)
            .column(event::Column::TaskId)
            .column(event::Column::ActorId)
            .column(event::Column::Action)
            .expr_as(Expr::col(event::Column::Summary), Alias::new("text"))
            .column(event::Column::CreatedAt)
            .from(event::Entity)
            .and_where(Expr::col(event::Column::ProjectId).eq(project))
            .to_owned(),
        event::Column::CreatedAt,
        event::Column::Id,
        before.as_ref(),
    );
    let comments = branch(
        Query::select()
            .expr_as(Expr::val("comment"), Alias::new("kind"))
            .column(comment::Column::Id)
            .expr_as(Expr::col(comment::Column::TaskId), Alias::new("task_id"))
            .expr_as(Expr::col(comment::Column::AuthorId), Alias::new("actor_id"))
            .expr_as(Expr::val("commented"), Alias::new("action"))
            .expr_as(Expr::col(comment::Column::Body), Alias::new("text"))
            .column(comment::Column::CreatedAt)
            .from(comment::Entity)
            .and_where(Expr::col(comment::Column::ProjectId).eq(project))
            .to_owned(),
        comment::Column::CreatedAt,
        comment::Column::Id,
        before.as_ref(),
    );
    let query = events
        .union(UnionType::All, comments)
        .order_by(Alias::new("created_at"), Order::Desc)
        .order_by(Alias::new("id"), Order::Desc)
        .limit(fetch)
        .to_owned();
    let statement = db.get_database_backend().build(&query);
    Ok(Activity::find_by_statement(statement).all(db).await?)
}

/// One side of the union, cut at the cursor.
fn branch(
    mut select: SelectStatement,
    created_at: impl sea_orm::sea_query::IntoColumnRef + Copy,
    id: impl sea_orm::sea_query::IntoColumnRef + Copy,
    before: Option<&Cursor>,
) -> SelectStatement {
    if let Some(c) = before {
        select.cond_where(
            sea_orm::Condition::any()
                .add(Expr::col(created_at).lt(c.created_at))
                .add(
                    sea_orm::Condition::all()
                        .add(Expr::col(created_at).eq(c.created_at))
                        .add(Expr::col(id).lt(c.id)),
                ),
        );
    }
    select
}
