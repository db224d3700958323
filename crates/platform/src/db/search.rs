//! Text search with `LIKE`, the same on both databases.

use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};

/// A condition that any of `columns` contains `text`, ignoring case.
///
/// Both sides are lower-cased, because PostgreSQL's `LIKE` is case-sensitive and SQLite's
/// is not; and `%`, `_` and `\` in the user's text are escaped, so that they are searched
/// for literally rather than acting as wildcards.
pub fn contains_any<C: ColumnTrait>(columns: impl IntoIterator<Item = C>, text: &str) -> Condition {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = LikeExpr::new(format!("%{escaped}%")).escape('\\');
    columns.into_iter().fold(Condition::any(), |any, col| {
        any.add(Expr::expr(Func::lower(Expr::col(col))).like(pattern.clone()))
    })
}
