//! Lists built on the search: saved filters, the views today and upcoming in the user's
//! zone, and bulk changes that are all or nothing.

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{call, project, task};
use crate::helpers::{register, spawn_app};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn today_upcoming_and_saved_filters_find_the_right_tasks() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    call(
        &app,
        Method::PATCH,
        "/api/v1/me/preferences",
        ANN,
        Some(json!({"time_zone": "Pacific/Auckland"})),
        StatusCode::OK,
    )
    .await;
    let home = project(&app, ANN, "Home").await;
    let zone: chrono_tz::Tz = "Pacific/Auckland".parse().unwrap();
    let today = app.clock().now().with_timezone(&zone).date_naive();
    let date = |days: i64| (today + TimeDelta::days(days)).to_string();
    task(
        &app,
        ANN,
        home,
        json!({"title": "Late", "due": {"kind": "date", "date": date(-2)}}),
    )
    .await;
    task(
        &app,
        ANN,
        home,
        json!({"title": "Now", "due": {"kind": "date", "date": date(0)}, "labels": ["home"]}),
    )
    .await;
    task(
        &app,
        ANN,
        home,
        json!({"title": "Soon", "due": {"kind": "date", "date": date(3)}, "labels": ["home"]}),
    )
    .await;
    task(
        &app,
        ANN,
        home,
        json!({"title": "Later", "due": {"kind": "date", "date": date(30)}}),
    )
    .await;

    let today_list = call(
        &app,
        Method::GET,
        "/api/v1/tasks/today",
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(titles(&today_list), ["Late", "Now"]);
    let upcoming = call(
        &app,
        Method::GET,
        "/api/v1/tasks/upcoming",
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(titles(&upcoming), ["Now", "Soon"]);
    call(
        &app,
        Method::GET,
        "/api/v1/tasks/upcoming?days=400",
        ANN,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let saved = call(
        &app,
        Method::POST,
        "/api/v1/filters",
        ANN,
        Some(json!({"name": "Home things", "query": {"labels": ["home"], "sort": "due"}})),
        StatusCode::CREATED,
    )
    .await;
    let found = call(
        &app,
        Method::GET,
        &format!("/api/v1/filters/{}/tasks", saved["id"]),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(titles(&found), ["Now", "Soon"]);
    call(
        &app,
        Method::POST,
        "/api/v1/filters",
        ANN,
        Some(json!({"name": "Home things"})),
        StatusCode::CONFLICT,
    )
    .await;
    call(
        &app,
        Method::POST,
        "/api/v1/filters",
        ANN,
        Some(json!({"name": "Bad", "query": {"priority": [7]}})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    register(&app, BOB).await;
    call(
        &app,
        Method::GET,
        &format!("/api/v1/filters/{}/tasks", saved["id"]),
        BOB,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn a_bulk_change_is_all_or_nothing() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    register(&app, BOB).await;
    let home = project(&app, ANN, "Home").await;
    let work = project(&app, ANN, "Work").await;
    let a = task(&app, ANN, home, json!({"title": "A"})).await["id"]
        .as_i64()
        .unwrap();
    let b = task(&app, ANN, home, json!({"title": "B"})).await["id"]
        .as_i64()
        .unwrap();
    let bobs = project(&app, BOB, "Bob's").await;
    let not_mine = task(&app, BOB, bobs, json!({"title": "Bob's"})).await["id"]
        .as_i64()
        .unwrap();

    let refused = call(
        &app,
        Method::POST,
        "/api/v1/tasks/bulk",
        ANN,
        Some(json!({"ids": [a, not_mine, b], "action": "complete"})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "ids[1]");
    let still = call(
        &app,
        Method::GET,
        &format!("/api/v1/tasks/{a}"),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["status"], "needs_action", "nothing was done");

    let done = call(
        &app,
        Method::POST,
        "/api/v1/tasks/bulk",
        ANN,
        Some(json!({"ids": [a, b], "action": "update", "changes": {"priority": 1}})),
        StatusCode::OK,
    )
    .await;
    assert!(
        done["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["priority"] == 1)
    );
    let moved = call(
        &app,
        Method::POST,
        "/api/v1/tasks/bulk",
        ANN,
        Some(json!({"ids": [a, b], "action": "move", "project_id": work})),
        StatusCode::OK,
    )
    .await;
    assert!(
        moved["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["project_id"] == work)
    );
    call(
        &app,
        Method::POST,
        "/api/v1/tasks/bulk",
        ANN,
        Some(json!({"ids": [a, b], "action": "complete"})),
        StatusCode::OK,
    )
    .await;
    let deleted = call(
        &app,
        Method::POST,
        "/api/v1/tasks/bulk",
        ANN,
        Some(json!({"ids": [a, b], "action": "delete"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(deleted["deleted"], json!([a, b]));
    let trash = call(
        &app,
        Method::GET,
        "/api/v1/trash",
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(trash["tasks"].as_array().unwrap().len(), 2);
}
