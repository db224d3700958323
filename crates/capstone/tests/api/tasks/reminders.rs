//! Reminders: fired by the job queue at their time, once, whatever the number of
//! instances; re-planned when the due changes; late ones after a stop follow their policy.

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{call, project, task};
use crate::helpers::{TestApp, another_instance, register, spawn_app};

const ANN: &str = "ann@example.com";

async fn inbox(app: &TestApp) -> Vec<Value> {
    let page = call(
        app,
        Method::GET,
        "/api/v1/me/notifications",
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

/// Waits until the inbox holds `n` reminders (or a while has passed); returns them.
async fn reminders_in_inbox(app: &TestApp, n: usize) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..200 {
        found = inbox(app)
            .await
            .into_iter()
            .filter(|m| m["kind"] == "task.reminder")
            .collect();
        if found.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    found
}

#[tokio::test]
async fn a_reminder_fires_at_its_time_once_and_moves_with_the_due() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let home = project(&app, ANN, "Home").await;
    let due = (app.clock().now() + TimeDelta::hours(2))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let call_mum = task(
        &app,
        ANN,
        home,
        json!({
            "title": "Call mum",
            "due": {"kind": "zoned", "local": due, "zone": "UTC"},
            "reminders": [{"relative_to": "due", "offset_minutes": -30}],
        }),
    )
    .await;
    let planned = call_mum["reminders"][0]["next_at"]
        .as_str()
        .unwrap()
        .to_owned();

    // Nothing before its time.
    app.advance_clock(TimeDelta::minutes(80)).await;
    assert!(reminders_in_inbox(&app, 1).await.is_empty());

    // Moving the due moves the reminder: the old time passes silently.
    let later = (app.clock().now() + TimeDelta::hours(3))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let path = format!("/api/v1/tasks/{}", call_mum["id"]);
    let moved = call(
        &app,
        Method::PATCH,
        &path,
        ANN,
        Some(json!({"due": {"kind": "zoned", "local": later, "zone": "UTC"}})),
        StatusCode::OK,
    )
    .await;
    assert_ne!(moved["reminders"][0]["next_at"].as_str().unwrap(), planned);
    app.advance_clock(TimeDelta::minutes(60)).await;
    assert!(
        reminders_in_inbox(&app, 1).await.is_empty(),
        "the old time no longer fires"
    );

    app.advance_clock(TimeDelta::minutes(120)).await;
    let fired = reminders_in_inbox(&app, 1).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["title"], "Reminder: Call mum");
    // And only once, however long we wait.
    app.advance_clock(TimeDelta::hours(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reminders_in_inbox(&app, 2).await.len(), 1);
    let now = call(&app, Method::GET, &path, ANN, None, StatusCode::OK).await;
    assert_eq!(now["reminders"][0]["next_at"], Value::Null);
}

#[tokio::test]
async fn three_instances_send_a_reminder_once() {
    let app = spawn_app().await;
    let second = another_instance(&app, |_| {}).await;
    let third = another_instance(&app, |_| {}).await;
    register(&app, ANN).await;
    let home = project(&app, ANN, "Home").await;
    let at = app.clock().now() + TimeDelta::minutes(10);
    for i in 0..5 {
        task(
            &app,
            ANN,
            home,
            json!({"title": format!("Task {i}"), "reminders": [{"at": at}]}),
        )
        .await;
    }
    for instance in [&app, &second, &third] {
        instance.advance_clock(TimeDelta::minutes(11)).await;
    }
    let fired = reminders_in_inbox(&app, 5).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fired_later = reminders_in_inbox(&app, 6).await;
    assert_eq!(fired.len(), 5);
    assert_eq!(fired_later.len(), 5, "none twice");
}

#[tokio::test]
async fn a_reminder_found_late_after_a_stop_follows_its_policy() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let home = project(&app, ANN, "Home").await;
    let at = app.clock().now() + TimeDelta::minutes(10);
    task(&app, ANN, home, json!({"title": "Soon enough", "reminders": [{"at": at, "late_policy": "drop", "late_limit_minutes": 120}]})).await;
    task(&app, ANN, home, json!({"title": "Too late", "reminders": [{"at": at, "late_policy": "drop", "late_limit_minutes": 30}]})).await;
    task(&app, ANN, home, json!({"title": "Whenever", "reminders": [{"at": at, "late_policy": "send", "late_limit_minutes": 0}]})).await;
    // The server is down from before the reminders' time until an hour after it: the
    // clock moves while nothing runs the jobs, as a stopped server would find it.
    app.advance_clock(TimeDelta::minutes(70)).await;
    let fired = reminders_in_inbox(&app, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let titles: Vec<String> = reminders_in_inbox(&app, 3)
        .await
        .iter()
        .map(|m| m["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fired.len(), 2);
    assert!(
        titles.contains(&"Reminder: Soon enough".to_owned()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Reminder: Whenever".to_owned()),
        "{titles:?}"
    );
    let late = fired
        .iter()
        .find(|m| m["title"] == "Reminder: Whenever")
        .unwrap();
    assert!(
        late["body"].as_str().unwrap().contains("minutes late"),
        "{late}"
    );
}
