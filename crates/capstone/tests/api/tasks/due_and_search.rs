//! Tasks: each kind of due as given and as an instant, validation naming each field,
//! labels and assignees, and finding tasks across projects.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{call, project, task};
use crate::helpers::{register, spawn_app};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";

#[tokio::test]
async fn a_due_is_a_date_a_floating_time_or_a_time_in_a_zone() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    call(
        &app,
        Method::PATCH,
        "/api/v1/me/preferences",
        ANN,
        Some(json!({"time_zone": "America/New_York"})),
        StatusCode::OK,
    )
    .await;
    let home = project(&app, ANN, "Home").await;

    let dated = task(
        &app,
        ANN,
        home,
        json!({"title": "Taxes", "due": {"kind": "date", "date": "2027-04-15"}}),
    )
    .await;
    assert_eq!(dated["due"]["kind"], "date");
    assert_eq!(dated["due"]["date"], "2027-04-15");
    // Due until the day's last second in her zone (EDT, UTC-4).
    assert_eq!(dated["due"]["utc"], "2027-04-16T03:59:59Z");

    let floating = task(
        &app,
        ANN,
        home,
        json!({"title": "Call", "due": {"kind": "floating", "local": "2027-01-10T09:00:00"}}),
    )
    .await;
    assert_eq!(floating["due"]["local"], "2027-01-10T09:00:00");
    assert_eq!(floating["due"]["utc"], "2027-01-10T14:00:00Z");

    let zoned = task(&app, ANN, home, json!({"title": "Meet", "due": {"kind": "zoned", "local": "2027-07-01T09:00:00", "zone": "Europe/London"}})).await;
    assert_eq!(zoned["due"]["zone"], "Europe/London");
    assert_eq!(zoned["due"]["utc"], "2027-07-01T08:00:00Z");

    // A time that does not exist (New York skips 02:00–03:00 on 2027-03-14) moves forward.
    let gap = task(&app, ANN, home, json!({"title": "Gap", "due": {"kind": "zoned", "local": "2027-03-14T02:30:00", "zone": "America/New_York"}})).await;
    assert_eq!(gap["due"]["utc"], "2027-03-14T07:30:00Z");

    // Cleared with null; a deadline is a date of its own.
    let path = format!("/api/v1/tasks/{}", zoned["id"]);
    let changed = call(
        &app,
        Method::PATCH,
        &path,
        ANN,
        Some(json!({"due": null, "deadline": "2027-07-03"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["due"], json!(null));
    assert_eq!(changed["deadline"], "2027-07-03");
}

#[tokio::test]
async fn bad_fields_are_named_and_nothing_is_written() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let home = project(&app, ANN, "Home").await;
    let path = format!("/api/v1/projects/{home}/tasks");
    for (body, field) in [
        (
            json!({"title": "x", "due": {"kind": "zoned", "local": "2027-07-01T09:00:00", "zone": "Mars/Olympus"}}),
            "due",
        ),
        (
            json!({"title": "x", "due": {"kind": "date", "date": "2027-02-30"}}),
            "due",
        ),
        (json!({"title": "x", "priority": 7}), "priority"),
        (json!({"title": "x", "parent_id": 999_999}), "parent_id"),
        (json!({"title": ""}), "title"),
        (
            json!({"title": "x", "recurrence": {"rrule": "FREQ=HOURLY"}, "due": {"kind": "date", "date": "2027-01-01"}}),
            "recurrence.rrule",
        ),
        (
            json!({"title": "x", "recurrence": {"rrule": "FREQ=DAILY"}}),
            "recurrence",
        ),
        (
            json!({"title": "x", "reminders": [{"offset_minutes": 5}]}),
            "reminders[0]",
        ),
        (json!({"title": "x", "assignees": [424242]}), "assignees"),
    ] {
        let problem = call(
            &app,
            Method::POST,
            &path,
            ANN,
            Some(body.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let named = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"].as_str().unwrap().starts_with(field));
        assert!(named, "{body} should name {field}: {problem}");
    }
    let listed = call(&app, Method::GET, &path, ANN, None, StatusCode::OK).await;
    assert_eq!(listed["items"], json!([]), "no partial writes");
}

#[tokio::test]
async fn tasks_are_found_across_projects_by_label_assignee_status_and_due() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let bob = register(&app, BOB).await;
    let home = project(&app, ANN, "Home").await;
    let work = project(&app, ANN, "Work").await;
    let members = format!("/api/v1/projects/{work}/members");
    call(
        &app,
        Method::POST,
        &members,
        ANN,
        Some(json!({"email": BOB, "role": "editor"})),
        StatusCode::CREATED,
    )
    .await;

    let overdue = task(&app, ANN, home, json!({"title": "Renew passport", "priority": 1, "labels": ["errand", "urgent"], "due": {"kind": "date", "date": "2020-01-01"}})).await;
    let soon = task(&app, ANN, work, json!({"title": "Write report", "labels": ["Errand"], "assignees": [bob], "due": {"kind": "zoned", "local": "2099-01-01T09:00:00", "zone": "UTC"}})).await;
    let someday = task(
        &app,
        ANN,
        work,
        json!({"title": "Learn Welsh", "description": "Duolingo **daily**"}),
    )
    .await;
    assert!(overdue["overdue"].as_bool().unwrap());
    assert_eq!(overdue["labels"], json!(["errand", "urgent"]));

    let ids = |v: &serde_json::Value| -> Vec<i64> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    let all = call(
        &app,
        Method::GET,
        "/api/v1/tasks",
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        ids(&all),
        [
            overdue["id"].as_i64().unwrap(),
            soon["id"].as_i64().unwrap(),
            someday["id"].as_i64().unwrap()
        ],
        "by due, no due last"
    );
    for (query, expected) in [
        ("overdue=true", vec![&overdue]),
        ("no_due=true", vec![&someday]),
        ("label=errand", vec![&overdue]),
        ("label=Errand&label=urgent", vec![&overdue, &soon]),
        ("label=errand&label=urgent&label_mode=all", vec![&overdue]),
        ("priority=1&priority=2", vec![&overdue]),
        (&format!("assignee={bob}"), vec![&soon]),
        (
            &format!("project={work}&sort=created"),
            vec![&someday, &soon],
        ),
        ("q=duolingo", vec![&someday]),
        ("due_after=2030-01-01T00:00:00Z", vec![&soon]),
    ] {
        let found = call(
            &app,
            Method::GET,
            &format!("/api/v1/tasks?{query}"),
            ANN,
            None,
            StatusCode::OK,
        )
        .await;
        let want: Vec<i64> = expected.iter().map(|t| t["id"].as_i64().unwrap()).collect();
        assert_eq!(ids(&found), want, "?{query}");
    }
    // Bob sees the work project's tasks only.
    let bobs = call(
        &app,
        Method::GET,
        "/api/v1/tasks",
        BOB,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&bobs).len(), 2);
    // Pages follow one another without gaps or repeats.
    let first = call(
        &app,
        Method::GET,
        "/api/v1/tasks?limit=2",
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = call(
        &app,
        Method::GET,
        &format!("/api/v1/tasks?limit=2&cursor={cursor}"),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!([ids(&first), ids(&second)].concat(), ids(&all));
    call(
        &app,
        Method::GET,
        "/api/v1/tasks?priority=9",
        ANN,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}
