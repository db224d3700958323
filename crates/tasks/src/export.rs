//! Tasks out as iCalendar: one project's (`GET /api/v1/projects/{id}/export`), or a feed's.
//! Each task is written by [`crate::ical_map`], with what it needs (labels, parent,
//! reminders) loaded for all of them at once.

use std::collections::HashMap;

use platform::AppResult;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{
    entities::task,
    ical::{self, Object},
    ical_map, views,
};

/// Each task as a calendar object.
pub async fn objects(db: &impl ConnectionTrait, rows: &[task::Model]) -> AppResult<Vec<Object>> {
    let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
    let mut labels = views::label_names(db, &ids).await?;
    let parents: HashMap<i64, String> = task::Entity::find()
        .filter(task::Column::Id.is_in(rows.iter().filter_map(|t| t.parent_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.uid))
        .collect();
    let alarms = views::reminders_of(db, &ids).await?;
    Ok(rows
        .iter()
        .map(|t| {
            let names = labels.remove(&t.id).unwrap_or_default();
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
