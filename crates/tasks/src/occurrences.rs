//! A recurring task's occurrences, previewed: wall-clock times from its rule, each placed
//! in the task's zone by the one rule of [`crate::recurrence::place`].

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use platform::{AppError, AppResult};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    entities::task,
    model::When,
    recurrence::{Rule, Series},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct OccurrenceView {
    /// The wall-clock time (`2027-03-29T09:00:00`).
    pub local: NaiveDateTime,
    /// Its instant: in the task's zone, or yours for a floating time or a date.
    pub utc: DateTime<Utc>,
}

/// Up to `limit` occurrences from `from` (default: the current one) to `to`.
pub fn preview(
    task: &task::Model,
    viewer: Tz,
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
    limit: usize,
) -> AppResult<Vec<OccurrenceView>> {
    let (Some(rrule), Some(due)) = (task.rrule.as_deref(), task.due()) else {
        return Err(AppError::validation(
            "recurrence",
            "the task does not recur",
        ));
    };
    let rule: Rule = rrule
        .parse()
        .map_err(|_| anyhow::anyhow!("task {} has a stored rule that no longer parses", task.id))?;
    let zone = due.zone_or(viewer);
    let exceptions = task.exdates();
    let series = Series {
        rule: &rule,
        start: task.series_start.unwrap_or(due.local()),
        zone: Some(zone),
        exceptions: &exceptions,
    };
    // "After" is exclusive: one second before `from` includes it.
    let from = from.unwrap_or(due.local()) - TimeDelta::seconds(1);
    let found = series
        .occurrences(Some(from), to, limit)
        .map_err(|err| AppError::validation("recurrence.rrule", err.to_string()))?;
    Ok(found
        .into_iter()
        .map(|o| {
            let local = o.local;
            let utc = due.at_local(local).instant(zone);
            let utc = match due {
                When::Date { .. } => crate::recurrence::place(local, zone),
                _ => o.utc.unwrap_or(utc),
            };
            OccurrenceView { local, utc }
        })
        .collect())
}
