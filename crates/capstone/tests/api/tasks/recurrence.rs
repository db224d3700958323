//! Recurrence: occurrences stay at the same wall-clock time across daylight-saving
//! changes; completing moves the task to the next one and keeps the history.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{call, project, task};
use crate::helpers::{register, spawn_app};

const ANN: &str = "ann@example.com";

fn pairs(list: &Value) -> Vec<(String, String)> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["local"].as_str().unwrap().to_owned(),
                o["utc"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_daily_task_stays_at_nine_across_the_clock_change() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let home = project(&app, ANN, "Home").await;
    let daily = task(
        &app,
        ANN,
        home,
        json!({
            "title": "Stretch",
            "due": {"kind": "zoned", "local": "2027-03-27T09:00:00", "zone": "Europe/London"},
            "recurrence": {"rrule": "FREQ=DAILY"},
        }),
    )
    .await;
    let path = format!("/api/v1/tasks/{}/occurrences?limit=3", daily["id"]);
    let list = call(&app, Method::GET, &path, ANN, None, StatusCode::OK).await;
    assert_eq!(
        pairs(&list),
        [
            ("2027-03-27T09:00:00".into(), "2027-03-27T09:00:00Z".into()),
            ("2027-03-28T09:00:00".into(), "2027-03-28T08:00:00Z".into()),
            ("2027-03-29T09:00:00".into(), "2027-03-29T08:00:00Z".into()),
        ]
    );

    // Completing it records the occurrence and moves it to the next, open again.
    let task_path = format!("/api/v1/tasks/{}", daily["id"]);
    let done = call(
        &app,
        Method::PATCH,
        &task_path,
        ANN,
        Some(json!({"status": "completed"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "needs_action");
    assert_eq!(done["due"]["local"], "2027-03-28T09:00:00");
    assert_eq!(done["due"]["utc"], "2027-03-28T08:00:00Z");
    let activity = call(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{home}/activity"),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(activity["items"][0]["action"], "completed");

    // Skipping the current occurrence moves on too; skipping a later one removes it.
    let skip = format!(
        "/api/v1/tasks/{}/occurrences/2027-03-28T09:00:00",
        daily["id"]
    );
    let skipped = call(&app, Method::DELETE, &skip, ANN, None, StatusCode::OK).await;
    assert_eq!(skipped["due"]["local"], "2027-03-29T09:00:00");
    let later = format!(
        "/api/v1/tasks/{}/occurrences/2027-03-30T09:00:00",
        daily["id"]
    );
    let without = call(&app, Method::DELETE, &later, ANN, None, StatusCode::OK).await;
    assert_eq!(
        without["recurrence"]["exdates"],
        json!(["2027-03-30T09:00:00"])
    );
    let list = call(&app, Method::GET, &path, ANN, None, StatusCode::OK).await;
    let locals: Vec<String> = pairs(&list).into_iter().map(|(l, _)| l).collect();
    assert_eq!(
        locals,
        [
            "2027-03-29T09:00:00",
            "2027-03-31T09:00:00",
            "2027-04-01T09:00:00"
        ]
    );
}

#[tokio::test]
async fn the_last_friday_of_the_month_in_auckland_and_a_series_that_ends() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let home = project(&app, ANN, "Home").await;
    let review = task(
        &app,
        ANN,
        home,
        json!({
            "title": "Review",
            "due": {"kind": "zoned", "local": "2027-03-26T17:00:00", "zone": "Pacific/Auckland"},
            "recurrence": {"rrule": "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3"},
        }),
    )
    .await;
    let path = format!("/api/v1/tasks/{}/occurrences?limit=10", review["id"]);
    let list = call(&app, Method::GET, &path, ANN, None, StatusCode::OK).await;
    // NZDT (+13) ends on 2027-04-04: March is +13, April and May +12.
    assert_eq!(
        pairs(&list),
        [
            ("2027-03-26T17:00:00".into(), "2027-03-26T04:00:00Z".into()),
            ("2027-04-30T17:00:00".into(), "2027-04-30T05:00:00Z".into()),
            ("2027-05-28T17:00:00".into(), "2027-05-28T05:00:00Z".into()),
        ]
    );
    let task_path = format!("/api/v1/tasks/{}", review["id"]);
    for expected in ["2027-04-30T17:00:00", "2027-05-28T17:00:00"] {
        let moved = call(
            &app,
            Method::PATCH,
            &task_path,
            ANN,
            Some(json!({"status": "completed"})),
            StatusCode::OK,
        )
        .await;
        assert_eq!(moved["due"]["local"], expected);
    }
    // The third was the last: it stays completed.
    let last = call(
        &app,
        Method::PATCH,
        &task_path,
        ANN,
        Some(json!({"status": "completed"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(last["status"], "completed");
    assert_eq!(last["due"]["local"], "2027-05-28T17:00:00");
}

#[tokio::test]
async fn a_task_anchored_on_completion_comes_back_days_after_it_was_done() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let home = project(&app, ANN, "Home").await;
    let now = app.clock().now().date_naive();
    let water = task(
        &app,
        ANN,
        home,
        json!({
            "title": "Water the plants",
            "due": {"kind": "date", "date": (now - chrono::Days::new(10)).to_string()},
            "recurrence": {"rrule": "FREQ=DAILY;INTERVAL=3", "anchor": "completion"},
        }),
    )
    .await;
    let done = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/tasks/{}", water["id"]),
        ANN,
        Some(json!({"status": "completed"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        done["due"]["date"],
        (now + chrono::Days::new(3)).to_string(),
        "three days after today, not after the missed due"
    );
}
