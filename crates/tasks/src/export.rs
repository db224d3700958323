//! Tasks out as iCalendar: one project's (`GET /api/v1/projects/{id}/export`), or a feed's.
//! Each task is written by [`crate::ical_map`], with what it needs (labels, parent,
//! reminders) loaded for all of them at once.

use std::collections::HashMap;

use platform::AppResult;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    entities::{label, reminder, task, task_label},
    ical::{self, Object},
    ical_map,
};

/// Each task as a calendar object.
pub async fn objects(db: &impl ConnectionTrait, rows: &[task::Model]) -> AppResult<Vec<Object>> {
    let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
    let links = task_label::Entity::find()
        .filter(task_label::Column::TaskId.is_in(ids.clone()))
        .all(db)
        .await?;
    let names: HashMap<i64, String> = label::Entity::find()
        .filter(label::Column::Id.is_in(links.iter().map(|l| l.label_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.id, l.name))
        .collect();
    let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
    for l in links {
        if let Some(name) = names.get(&l.label_id) {
            labels.entry(l.task_id).or_default().push(name.clone());
        }
    }
    let parents: HashMap<i64, String> = task::Entity::find()
        .filter(task::Column::Id.is_in(rows.iter().filter_map(|t| t.parent_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.uid))
        .collect();
    let mut alarms: HashMap<i64, Vec<reminder::Model>> = HashMap::new();
    for r in reminder::Entity::find()
        .filter(reminder::Column::TaskId.is_in(ids))
        .order_by_asc(reminder::Column::Id)
        .all(db)
        .await?
    {
        alarms.entry(r.task_id).or_default().push(r);
    }
    Ok(rows
        .iter()
        .map(|t| {
            let mut names = labels.remove(&t.id).unwrap_or_default();
            names.sort();
            names.dedup();
            let cx = ical_map::Context {
                labels: &names,
                parent_uid: t
                    .parent_id
                    .and_then(|p| parents.get(&p))
                    .map(String::as_str),
                reminders: alarms.get(&t.id).map_or(&[], Vec::as_slice),
            };
            ical_map::to_object(t, &cx)
        })
        .collect())
}

/// Tasks as one calendar (a feed, an export): every VTODO in one VCALENDAR, each
/// VTIMEZONE a client sent once.
pub async fn calendar(db: &impl ConnectionTrait, rows: &[task::Model]) -> AppResult<String> {
    let mut all = Object::default();
    for object in objects(db, rows).await? {
        all.todos.extend(object.todos);
        for component in object.other_components {
            if !all.other_components.contains(&component) {
                all.other_components.push(component);
            }
        }
    }
    all.other_properties
        .push("X-WR-CALNAME:Capstone tasks".to_owned());
    Ok(ical::write(&all))
}
