//! Tasks in from a file, all or nothing: an iCalendar file of VTODOs (what another
//! CalDAV server or app exports) or Todoist's CSV export. A file with one bad line is a
//! 422 naming that line, and nothing of it is kept (one transaction).

use chrono::{NaiveDate, NaiveDateTime};
use platform::{AppError, AppResult};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::{
    TasksState,
    access::{self, Access, Trash},
    api::{TITLE_CHARS, ValidChanges},
    entities::task,
    events::Event,
    ical, ical_map,
    model::{Priority, Role, When, parse_zone},
    service::tasks::{self, Origin, Writer},
    views,
};

/// Tasks one file may hold.
pub const MAX_TASKS: usize = 5_000;

/// The file's kind, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    ICalendar,
    TodoistCsv,
}

fn at_line(line: usize, message: impl std::fmt::Display) -> AppError {
    AppError::validation("body", format!("line {line}: {message}"))
}

/// Imports `text` into `project`; returns how many tasks were made.
pub async fn import(
    state: &TasksState,
    writer: Writer,
    project: i64,
    format: Format,
    text: &str,
) -> AppResult<usize> {
    let tx = platform::db::begin_write(&state.db).await?;
    let access = access::project(&tx, writer.user, project, Role::Editor, Trash::Excluded).await?;
    let made = match format {
        Format::ICalendar => from_ics(state, &tx, writer, &access, text).await?,
        Format::TodoistCsv => from_todoist(state, &tx, writer, &access, text).await?,
    };
    tx.commit().await?;
    state.committed();
    Ok(made)
}

async fn from_ics(
    state: &TasksState,
    tx: &DatabaseTransaction,
    writer: Writer,
    access: &Access,
    text: &str,
) -> AppResult<usize> {
    let objects = ical::parse_many(text).map_err(|err| at_line(err.line, &err.message))?;
    if objects.len() > MAX_TASKS {
        return Err(AppError::validation(
            "body",
            format!("at most {MAX_TASKS} tasks in a file"),
        ));
    }
    let now = state.now();
    let viewer = views::Viewer {
        zone: writer.zone,
        now,
    };
    let mut made: Vec<(task::Model, Option<String>)> = Vec::with_capacity(objects.len());
    for object in objects {
        let parsed = ical_map::from_object(object)
            .map_err(|message| AppError::validation("body", message))?;
        let taken = task::Entity::find()
            .filter(task::Column::ProjectId.eq(access.project.id))
            .filter(task::Column::Uid.eq(parsed.uid.as_str()))
            .one(tx)
            .await?;
        if taken.is_some() {
            return Err(AppError::validation(
                "body",
                format!(
                    "the task with UID {} is already in this project",
                    parsed.uid
                ),
            ));
        }
        let origin = Origin {
            uid: Some(parsed.uid.clone()),
            dav_name: None,
        };
        let task = tasks::insert(tx, writer, access, parsed.changes, origin, now).await?;
        task::Entity::update_many()
            .col_expr(
                task::Column::IcalExtra,
                sea_orm::sea_query::Expr::value(parsed.extra.to_column()),
            )
            .filter(task::Column::Id.eq(task.id))
            .exec(tx)
            .await?;
        made.push((task, parsed.parent_uid));
    }
    // Subtasks are linked once every task of the file exists, whatever their order.
    for (task, parent_uid) in &made {
        let Some(parent_uid) = parent_uid else {
            continue;
        };
        if let Some((parent, _)) = made.iter().find(|(t, _)| &t.uid == parent_uid) {
            task::Entity::update_many()
                .col_expr(
                    task::Column::ParentId,
                    sea_orm::sea_query::Expr::value(parent.id),
                )
                .filter(task::Column::Id.eq(task.id))
                .exec(tx)
                .await?;
        }
    }
    for (task, _) in &made {
        tasks::follow(state, tx, task, Event::Created, viewer).await?;
    }
    Ok(made.len())
}

/// Todoist's CSV export: `TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,
/// DATE_LANG,TIMEZONE,…`, one row per task (`TYPE` `task`), section or note; `INDENT` makes
/// subtasks; `PRIORITY` 4 is Todoist's p1 (urgent). A `DATE` is kept when it is a date or a
/// date and time (`2027-05-01`, `2027-05-01 09:00`); a phrase such as "every monday" has no
/// meaning outside Todoist's parser, so it goes into the description.
async fn from_todoist(
    state: &TasksState,
    tx: &DatabaseTransaction,
    writer: Writer,
    access: &Access,
    text: &str,
) -> AppResult<usize> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader
        .headers()
        .map_err(|err| at_line(1, err))?
        .iter()
        .map(|h| h.trim().to_ascii_uppercase())
        .collect::<Vec<_>>();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(kind), Some(content)) = (column("TYPE"), column("CONTENT")) else {
        return Err(at_line(
            1,
            "not a Todoist export: no TYPE and CONTENT columns",
        ));
    };
    let description = column("DESCRIPTION");
    let priority = column("PRIORITY");
    let indent = column("INDENT");
    let date = column("DATE");
    let zone = column("TIMEZONE");
    let now = state.now();
    let viewer = views::Viewer {
        zone: writer.zone,
        now,
    };
    // The last task made at each indent level, for subtasks.
    let mut parents: Vec<i64> = Vec::new();
    let mut made = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|err| {
            let line = err.position().map_or(0, |p| p.line() as usize);
            at_line(line, err)
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).map(str::trim).unwrap_or("");
        if field(Some(kind)) != "task" {
            continue;
        }
        if made.len() >= MAX_TASKS {
            return Err(at_line(
                line,
                format!("at most {MAX_TASKS} tasks in a file"),
            ));
        }
        let title: String = field(Some(content)).chars().take(TITLE_CHARS).collect();
        if title.is_empty() {
            return Err(at_line(line, "a task without CONTENT"));
        }
        let level: usize = match field(indent) {
            "" => 1,
            raw => raw
                .parse()
                .ok()
                .filter(|l| (1..=5).contains(l))
                .ok_or_else(|| at_line(line, format!("INDENT {raw:?} is not 1 to 5")))?,
        };
        let priority = match field(priority) {
            "" => Priority::NONE,
            raw => {
                let p: i64 = raw
                    .parse()
                    .ok()
                    .filter(|p| (1..=4).contains(p))
                    .ok_or_else(|| at_line(line, format!("PRIORITY {raw:?} is not 1 to 4")))?;
                Priority::try_from(5 - p).expect("1 to 4")
            }
        };
        let zone_name = field(zone);
        let (due, unparsed) =
            todoist_date(field(date), zone_name).map_err(|message| at_line(line, message))?;
        let mut text = field(description).to_owned();
        if let Some(phrase) = unparsed {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&format!("Todoist date: {phrase}"));
        }
        parents.truncate(level - 1);
        let parent = parents.last().copied();
        let changes = ValidChanges {
            title: Some(title),
            description: Some(Some(text).filter(|t| !t.is_empty())),
            priority: Some(priority),
            due: Some(due),
            parent_id: Some(parent),
            ..ValidChanges::default()
        };
        let task = tasks::insert(tx, writer, access, changes, Origin::default(), now).await?;
        parents.push(task.id);
        made.push(task);
    }
    for task in &made {
        tasks::follow(state, tx, task, Event::Created, viewer).await?;
    }
    Ok(made.len())
}

/// A Todoist DATE: a due Capstone can keep, or the phrase to keep as text.
fn todoist_date(raw: &str, zone: &str) -> Result<(Option<When>, Option<String>), String> {
    if raw.is_empty() {
        return Ok((None, None));
    }
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok((Some(When::Date { date }), None));
    }
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(raw, format) {
            let when = if zone.is_empty() {
                When::Floating { local }
            } else {
                When::Zoned {
                    local,
                    zone: parse_zone(zone).map_err(|m| format!("TIMEZONE {m}"))?,
                }
            };
            return Ok((Some(when), None));
        }
    }
    Ok((None, Some(raw.to_owned())))
}
