//! Notifications: the inbox, its live stream, mail sent by a job, and each user's
//! preferences. The platform's own kind, `webhook.disabled`, is what tells them here.

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{FakeReceiver, MailSink, assert_problem};

use crate::helpers::{as_basic, get_json, register, spawn_app_with};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";

#[tokio::test]
async fn a_webhook_failing_for_a_day_is_turned_off_and_its_owner_told_everywhere() {
    let sink = MailSink::start().await;
    let app = spawn_app_with(|c| {
        c.allow_private_outbound = true;
        c.smtp_url = Some(sink.smtp_url().into());
    })
    .await;
    register(&app, ANN).await;
    register(&app, BOB).await;
    sink.wait_for(ANN).await; // the address check every new account gets

    // A live stream of ANN's notifications, read as a browser's EventSource would.
    let stream = as_basic(&app, Method::GET, "/api/v1/me/notifications/stream", ANN)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (mut stream, mut text) = (stream, String::new());
        while let Ok(Some(chunk)) = stream.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some((line, rest)) = text.split_once('\n') {
                let _ = lines_tx.send(line.to_owned());
                text = rest.to_owned();
            }
        }
    });

    let receiver = FakeReceiver::start().await;
    receiver.fail(100, 500, None);
    let created = as_basic(&app, Method::POST, "/api/v1/webhooks", ANN)
        .json(&json!({"url": receiver.url(), "events": ["link.created"]}))
        .send()
        .await
        .unwrap();
    let hook: Value = created.json().await.unwrap();
    as_basic(&app, Method::POST, "/api/v1/links", ANN)
        .json(&json!({"target_url": "https://example.com/"}))
        .send()
        .await
        .unwrap();
    // Attempts until deliveries have failed for a day, each retry made due by moving the
    // clock: the first at once, the next 5 s, 5 min, 30 min and 2 h later, each 11 h after
    // the one before here.
    for attempts in 1..=4 {
        for _ in 0..400 {
            if receiver.received().len() >= attempts {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(receiver.received().len(), attempts);
        app.advance_clock(TimeDelta::hours(11)).await;
    }
    // The fourth attempt, 33 hours after the first, found it failing for a day.
    let turned_off = get_json(&app, &format!("/api/v1/webhooks/{}", hook["id"]), ANN).await;
    assert_eq!(turned_off["enabled"], false, "{turned_off}");
    assert!(
        turned_off["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failed for a day")
    );

    // In the inbox, unread…
    let inbox = get_json(&app, "/api/v1/me/notifications?unread=true", ANN).await;
    let told = inbox["items"][0].clone();
    assert_eq!(told["kind"], "webhook.disabled", "{inbox}");
    assert!(told["read_at"].is_null());
    let count = get_json(&app, "/api/v1/me/notifications/unread-count", ANN).await;
    assert_eq!(count["unread"], 1);
    // …on the live stream…
    let data = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.recv())
            .await
            .expect("a notification on the stream")
            .unwrap();
        if let Some(data) = line.strip_prefix("data:") {
            break serde_json::from_str::<Value>(data.trim()).unwrap();
        }
    };
    assert_eq!(data["id"], told["id"]);
    // …and by mail, sent by a job.
    let mail = sink.wait_for(ANN).await;
    assert_eq!(
        mail.header("subject"),
        Some("A webhook of yours was turned off")
    );
    assert!(mail.body().contains(&receiver.url()), "{}", mail.body());

    // Read: one, then the count is zero; BOB cannot read ANN's.
    let id = told["id"].as_i64().unwrap();
    let path = format!("/api/v1/me/notifications/{id}/read");
    let bobs = as_basic(&app, Method::POST, &path, BOB)
        .send()
        .await
        .unwrap();
    assert_problem(bobs, StatusCode::NOT_FOUND).await;
    let read = as_basic(&app, Method::POST, &path, ANN)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert!(!read.json::<Value>().await.unwrap()["read_at"].is_null());
    let count = get_json(&app, "/api/v1/me/notifications/unread-count", ANN).await;
    assert_eq!(count["unread"], 0);
    let unread = get_json(&app, "/api/v1/me/notifications?unread=true", ANN).await;
    assert_eq!(unread["items"], json!([]));
    assert_eq!(
        get_json(&app, "/api/v1/me/notifications", BOB).await["items"],
        json!([])
    );
}

#[tokio::test]
async fn preferences_choose_the_zone_and_channels_and_refuse_what_does_not_exist() {
    let app = spawn_app_with(|_| {}).await;
    register(&app, ANN).await;
    let defaults = get_json(&app, "/api/v1/me/preferences", ANN).await;
    assert_eq!(defaults["time_zone"], "UTC");
    assert_eq!(
        defaults["channels"]["webhook.disabled"],
        json!(["in_app", "email"])
    );

    let patch = async |body: Value| {
        as_basic(&app, Method::PATCH, "/api/v1/me/preferences", ANN)
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let zone = patch(json!({"time_zone": "Mars/Olympus_Mons"})).await;
    let problem = assert_problem(zone, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "time_zone");
    let kind = patch(json!({"channels": {"link.exploded": ["email"]}})).await;
    let problem = assert_problem(kind, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "channels");
    let channel = patch(json!({"channels": {"webhook.disabled": ["pigeon"]}})).await;
    assert_problem(channel, StatusCode::UNPROCESSABLE_ENTITY).await;

    let changed =
        patch(json!({"time_zone": "Europe/Paris", "channels": {"webhook.disabled": ["in_app"]}}))
            .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let now = get_json(&app, "/api/v1/me/preferences", ANN).await;
    assert_eq!(now["time_zone"], "Europe/Paris");
    assert_eq!(now["channels"]["webhook.disabled"], json!(["in_app"]));
    // A change of one thing keeps the other.
    patch(json!({"time_zone": "Pacific/Auckland"})).await;
    let now = get_json(&app, "/api/v1/me/preferences", ANN).await;
    assert_eq!(now["channels"]["webhook.disabled"], json!(["in_app"]));
}
