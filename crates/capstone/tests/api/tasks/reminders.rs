//! Reminders: fired by the job queue at their time, once, whatever the number of
//! instances; re-planned when the due changes; late ones after a stop follow their policy.

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{call, project, task};
use crate::helpers::{TestApp, another_instance, register, spawn_app, spawn_app_with};

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

/// The reminders in the inbox now, after a moment for jobs due to run.
async fn reminders_after_a_moment(app: &TestApp) -> Vec<Value> {
    tokio::time::sleep(Duration::from_millis(400)).await;
    inbox(app)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "task.reminder")
        .collect()
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
    let sink = testkit::MailSink::start().await;
    let app = spawn_app_with(|c| c.smtp_url = Some(sink.smtp_url().into())).await;
    register(&app, ANN).await;
    sink.wait_for(ANN).await; // the address check every new account gets
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
    assert!(reminders_after_a_moment(&app).await.is_empty());

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
        reminders_after_a_moment(&app).await.is_empty(),
        "the old time no longer fires"
    );

    app.advance_clock(TimeDelta::minutes(120)).await;
    let fired = reminders_in_inbox(&app, 1).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["title"], "Reminder: Call mum");
    // By mail too (the kind's default channels), once.
    let mail = sink.wait_for(ANN).await;
    assert_eq!(mail.header("subject"), Some("Reminder: Call mum"));
    // And only once, however long we wait.
    app.advance_clock(TimeDelta::hours(5)).await;
    assert_eq!(reminders_after_a_moment(&app).await.len(), 1);
    assert!(
        sink.wait_for_within(ANN, Duration::from_millis(200))
            .await
            .is_none(),
        "one mail"
    );
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
    let fired_later = reminders_after_a_moment(&app).await;
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
    let titles: Vec<String> = reminders_after_a_moment(&app)
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

#[tokio::test]
async fn a_snoozed_reminder_fires_again_and_an_acknowledged_one_does_not() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let home = project(&app, ANN, "Home").await;
    let at = app.clock().now() + TimeDelta::minutes(10);
    let made = task(
        &app,
        ANN,
        home,
        json!({"title": "Stretch", "reminders": [{"at": at}]}),
    )
    .await;
    let reminder = made["reminders"][0]["id"].as_i64().unwrap();
    app.advance_clock(TimeDelta::minutes(11)).await;
    assert_eq!(reminders_in_inbox(&app, 1).await.len(), 1);

    let snoozed = call(
        &app,
        Method::POST,
        &format!("/api/v1/reminders/{reminder}/snooze"),
        ANN,
        Some(json!({"minutes": 15})),
        StatusCode::OK,
    )
    .await;
    assert!(snoozed["next_at"].is_string(), "{snoozed}");
    app.advance_clock(TimeDelta::minutes(16)).await;
    assert_eq!(
        reminders_in_inbox(&app, 2).await.len(),
        2,
        "fired again after the snooze"
    );

    call(
        &app,
        Method::POST,
        &format!("/api/v1/reminders/{reminder}/snooze"),
        ANN,
        Some(json!({"minutes": 15})),
        StatusCode::OK,
    )
    .await;
    let acknowledged = call(
        &app,
        Method::POST,
        &format!("/api/v1/reminders/{reminder}/acknowledge"),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(acknowledged["next_at"], Value::Null);
    app.advance_clock(TimeDelta::minutes(16)).await;
    assert_eq!(
        reminders_after_a_moment(&app).await.len(),
        2,
        "acknowledged: no more"
    );
    call(
        &app,
        Method::POST,
        &format!("/api/v1/reminders/{reminder}/snooze"),
        ANN,
        Some(json!({"minutes": 0})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn the_digest_comes_once_a_day_at_the_users_local_time() {
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
    let settings = call(
        &app,
        Method::PATCH,
        "/api/v1/me/task-settings",
        ANN,
        Some(json!({"digest_time": "08:00"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(settings["digest_time"], "08:00");
    assert_eq!(settings["reminder_time"], "09:00");
    call(
        &app,
        Method::PATCH,
        "/api/v1/me/task-settings",
        ANN,
        Some(json!({"digest_time": "8am"})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let home = project(&app, ANN, "Home").await;
    task(
        &app,
        ANN,
        home,
        json!({"title": "Overdue one", "due": {"kind": "date", "date": "2020-01-01"}}),
    )
    .await;

    // To the next 08:10 in New York.
    let zone: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let now = app.clock().now();
    let local = now.with_timezone(&zone);
    let mut target = local.date_naive().and_hms_opt(8, 10, 0).unwrap();
    if target <= local.naive_local() {
        target += TimeDelta::days(1);
    }
    let target = tasks::testing::place(target, zone);
    app.advance_clock(target - now).await;
    let mut digests = Vec::new();
    for _ in 0..200 {
        digests = inbox(&app)
            .await
            .into_iter()
            .filter(|m| m["kind"] == "task.digest")
            .collect();
        if !digests.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(digests.len(), 1);
    assert_eq!(digests[0]["title"], "Today: 0 due, 1 overdue");
    assert!(digests[0]["body"].as_str().unwrap().contains("Overdue one"));
    // Later sweeps the same day send nothing more.
    app.advance_clock(TimeDelta::minutes(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = inbox(&app)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "task.digest")
        .count();
    assert_eq!(again, 1);
}

#[tokio::test]
async fn an_open_task_past_its_due_is_told_to_webhooks_as_overdue() {
    let app = spawn_app_with(|c| c.allow_private_outbound = true).await;
    register(&app, ANN).await;
    let receiver = testkit::FakeReceiver::start().await;
    let hook = call(&app, Method::POST, "/api/v1/webhooks", ANN, Some(json!({"url": receiver.url(), "events": ["task.created", "task.overdue", "reminder.fired"]})), StatusCode::CREATED).await;
    receiver.set_secret(hook["secret"].as_str().unwrap());
    let home = project(&app, ANN, "Home").await;
    let due = (app.clock().now() + TimeDelta::hours(1))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    task(&app, ANN, home, json!({"title": "Pay rent", "due": {"kind": "zoned", "local": due, "zone": "UTC"}, "reminders": [{"relative_to": "due", "offset_minutes": -10}]})).await;
    // The creation is told first (moving the clock under a delivery in flight would make
    // its lease seem to lapse, and it would be sent again, as at-least-once allows).
    for _ in 0..200 {
        if !receiver.received().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.advance_clock(TimeDelta::minutes(61)).await;
    // Delivery is at least once: a receiver tells a repeat by its `webhook-id`.
    let distinct = || {
        let mut seen: Vec<(String, String)> = receiver
            .received()
            .iter()
            .map(|r| (r.id.clone(), r.event_type.clone()))
            .collect();
        seen.sort();
        seen.dedup();
        let mut types: Vec<String> = seen.into_iter().map(|(_, t)| t).collect();
        types.sort();
        types
    };
    let mut types = Vec::new();
    for _ in 0..200 {
        types = distinct();
        if types.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(types, ["reminder.fired", "task.created", "task.overdue"]);
    assert!(
        receiver.received().iter().all(|r| r.verified),
        "signed as Standard Webhooks"
    );
}
