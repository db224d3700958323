//! Push by ntfy: a user sets a topic (and a token) in their preferences, sends a kind of
//! notification to the `ntfy` channel, and the server publishes it to a fake ntfy server.
//! Task reminders are what tell them here: they fire on the movable clock.

use std::time::Duration;

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{FakeNtfy, assert_problem};

use crate::{
    helpers::{TestApp, as_basic, get_json, register, spawn_app_with},
    tasks::{project, task},
};

const ANN: &str = "ann@example.com";
const TOKEN: &str = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2";

async fn patch_preferences(app: &TestApp, body: Value) -> reqwest::Response {
    as_basic(app, Method::PATCH, "/api/v1/me/preferences", ANN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// An app whose user-chosen URLs may reach 127.0.0.1 (the fake server), with ANN registered
/// and sending task reminders to the inbox and ntfy.
async fn app_with_ann() -> TestApp {
    let app = spawn_app_with(|c| c.allow_private_outbound = true).await;
    register(&app, ANN).await;
    let chosen = patch_preferences(
        &app,
        json!({"channels": {"task.reminder": ["in_app", "ntfy"]}}),
    )
    .await;
    assert_eq!(chosen.status(), StatusCode::OK);
    app
}

/// A task of ANN's due in two hours, reminded of `minutes` from now, in a project of its
/// own; returns the task.
async fn reminded_in(app: &TestApp, minutes: i64, title: &str) -> Value {
    let home = project(app, ANN, title).await;
    let due = (app.clock().now() + TimeDelta::hours(2))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let at = app.clock().now() + TimeDelta::minutes(minutes);
    task(
        app,
        ANN,
        home,
        json!({
            "title": title,
            "due": {"kind": "zoned", "local": due, "zone": "UTC"},
            "reminders": [{"at": at}],
        }),
    )
    .await
}

/// Waits until ANN's inbox holds `n` reminders; returns them, newest first.
async fn reminders_in_inbox(app: &TestApp, n: usize) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..400 {
        let inbox = get_json(app, "/api/v1/me/notifications", ANN).await;
        found = inbox["items"].as_array().unwrap().clone();
        if found.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    found
}

#[tokio::test]
async fn a_reminder_is_pushed_with_its_title_body_link_and_token() {
    let ntfy = FakeNtfy::start().await;
    ntfy.require_token(TOKEN);
    let app = app_with_ann().await;
    let url = ntfy.topic_url("ann-reminders");
    let set = patch_preferences(&app, json!({"ntfy": {"url": url, "token": TOKEN}})).await;
    assert_eq!(set.status(), StatusCode::OK);
    let shown = set.text().await.unwrap();
    assert!(!shown.contains(TOKEN), "the token is never shown: {shown}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["ntfy"], json!({"url": url, "token_set": true}));
    assert_eq!(
        shown["channels"]["task.reminder"],
        json!(["in_app", "ntfy"])
    );
    let read = as_basic(&app, Method::GET, "/api/v1/me/preferences", ANN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!read.contains(TOKEN), "{read}");

    // A title beyond ASCII, which the JSON form carries as it is.
    let call_mum = reminded_in(&app, 10, "Appeler maman ☎").await;
    app.advance_clock(TimeDelta::minutes(11)).await;
    let published = ntfy.wait_for(1).await;
    assert_eq!(published.len(), 1, "{published:?}");
    let push = &published[0];
    assert_eq!(push.status, 200, "{push:?}");
    assert_eq!(push.path, "/", "the JSON form, at the server's root");
    assert_eq!(
        push.headers["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(
        push.authorization(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(push.topic, "ann-reminders");
    assert_eq!(push.title.as_deref(), Some("Reminder: Appeler maman ☎"));
    assert!(push.message.starts_with("Due "), "{}", push.message);
    assert_eq!(push.priority, 3);
    assert_eq!(push.tags, ["task.reminder"]);
    // The same notification in the inbox, whose link is the push's click.
    let inbox = reminders_in_inbox(&app, 1).await;
    assert_eq!(inbox[0]["title"], "Reminder: Appeler maman ☎");
    assert_eq!(push.click.as_deref(), inbox[0]["link"].as_str());
    assert!(
        push.click
            .as_deref()
            .unwrap()
            .ends_with(&format!("/api/v1/tasks/{}", call_mum["id"])),
        "{:?}",
        push.click
    );

    // A wrong token is a refusal no retry mends: one attempt, then the job is dead.
    ntfy.require_token("tk_another");
    reminded_in(&app, 10, "Water the plants").await;
    app.advance_clock(TimeDelta::minutes(11)).await;
    assert_eq!(ntfy.wait_for(2).await[1].status, 401);
    app.advance_clock(TimeDelta::hours(2)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ntfy.published().len(), 2, "not tried again");
}

#[tokio::test]
async fn a_rate_limited_push_waits_for_its_retry_after_then_goes() {
    let ntfy = FakeNtfy::start().await;
    let app = app_with_ann().await;
    let set = patch_preferences(&app, json!({"ntfy": {"url": ntfy.topic_url("ann")}})).await;
    assert_eq!(
        set.json::<Value>().await.unwrap()["ntfy"]["token_set"],
        false
    );
    ntfy.fail(2, 429, Some("120"));

    reminded_in(&app, 10, "Call mum").await;
    app.advance_clock(TimeDelta::minutes(11)).await;
    assert_eq!(ntfy.wait_for(1).await[0].status, 429);
    assert_eq!(ntfy.published()[0].authorization(), None, "no token set");
    // Not before the two minutes it asked for…
    app.advance_clock(TimeDelta::seconds(90)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ntfy.published().len(), 1, "{:?}", ntfy.published());
    // …but once they are over; and again after the second 429.
    app.advance_clock(TimeDelta::seconds(31)).await;
    assert_eq!(ntfy.wait_for(2).await[1].status, 429);
    app.advance_clock(TimeDelta::seconds(121)).await;
    let published = ntfy.wait_for(3).await;
    assert_eq!(published.len(), 3);
    assert_eq!(published[2].status, 200);
    assert_eq!(published[2].title.as_deref(), Some("Reminder: Call mum"));
    // Sent once: nothing more however long we wait.
    app.advance_clock(TimeDelta::hours(3)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ntfy.accepted().len(), 1);
}

#[tokio::test]
async fn removing_the_topic_stops_pushes_even_queued_ones() {
    let ntfy = FakeNtfy::start().await;
    let app = app_with_ann().await;
    let url = ntfy.topic_url("ann");
    patch_preferences(&app, json!({"ntfy": {"url": url}})).await;
    reminded_in(&app, 10, "First").await;
    app.advance_clock(TimeDelta::minutes(11)).await;
    assert_eq!(ntfy.wait_for(1).await.len(), 1);

    // A push refused for now, then the topic removed: the retry finds nothing to do.
    ntfy.fail(1, 503, Some("60"));
    reminded_in(&app, 10, "Second").await;
    app.advance_clock(TimeDelta::minutes(11)).await;
    assert_eq!(ntfy.wait_for(2).await[1].status, 503);
    let removed = patch_preferences(&app, json!({"ntfy": null})).await;
    assert_eq!(removed.status(), StatusCode::OK);
    let removed: Value = removed.json().await.unwrap();
    assert_eq!(removed["ntfy"], Value::Null);
    // The channel stays chosen; without a topic it sends nothing.
    assert_eq!(
        removed["channels"]["task.reminder"],
        json!(["in_app", "ntfy"])
    );
    app.advance_clock(TimeDelta::minutes(2)).await;
    reminded_in(&app, 10, "Third").await;
    app.advance_clock(TimeDelta::minutes(11)).await;
    let inbox = reminders_in_inbox(&app, 3).await;
    assert_eq!(inbox.len(), 3, "the inbox has them all");
    app.advance_clock(TimeDelta::hours(1)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ntfy.published().len(), 2, "{:?}", ntfy.published());

    // A change of other preferences keeps the topic; a new one keeps the token only if
    // given again.
    patch_preferences(&app, json!({"ntfy": {"url": url, "token": TOKEN}})).await;
    patch_preferences(&app, json!({"time_zone": "Europe/Paris"})).await;
    let now = get_json(&app, "/api/v1/me/preferences", ANN).await;
    assert_eq!(now["ntfy"], json!({"url": url, "token_set": true}));
    let moved = patch_preferences(&app, json!({"ntfy": {"url": ntfy.topic_url("other")}})).await;
    assert_eq!(
        moved.json::<Value>().await.unwrap()["ntfy"]["token_set"],
        false
    );
}

#[tokio::test]
async fn a_private_or_malformed_topic_url_and_a_bad_token_are_refused() {
    let ntfy = FakeNtfy::start().await;
    let app = spawn_app_with(|_| {}).await;
    register(&app, ANN).await;
    let field_and_message = async |body: Value| {
        let problem = assert_problem(
            patch_preferences(&app, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let error = &problem["errors"][0];
        (
            error["field"].as_str().unwrap().to_owned(),
            error["message"].as_str().unwrap().to_owned(),
        )
    };
    // 127.0.0.1 without `allow_private_outbound`, as for webhooks.
    let (field, message) = field_and_message(json!({"ntfy": {"url": ntfy.topic_url("ann")}})).await;
    assert_eq!(field, "ntfy.url");
    assert!(message.contains("loopback"), "{message}");
    let (field, _) = field_and_message(json!({"ntfy": {"url": "http://10.1.2.3/ann"}})).await;
    assert_eq!(field, "ntfy.url");
    for url in [
        "ftp://ntfy.sh/ann",
        "https://ntfy.sh/",
        "https://ntfy.sh/a/b c",
    ] {
        let (field, _) = field_and_message(json!({"ntfy": {"url": url}})).await;
        assert_eq!(field, "ntfy.url", "{url}");
    }
    let problem = assert_problem(
        patch_preferences(
            &app,
            json!({"ntfy": {"url": "http://10.1.2.3/ann", "token": "two words"}}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["ntfy.url", "ntfy.token"],
        "every bad field is named"
    );
    // A misspelt field is not silently dropped (it would have removed the token).
    let misspelt = patch_preferences(
        &app,
        json!({"ntfy": {"url": "https://ntfy.sh/ann", "access_token": TOKEN}}),
    )
    .await;
    assert!(misspelt.status().is_client_error(), "{}", misspelt.status());
    // Nothing was stored.
    let now = get_json(&app, "/api/v1/me/preferences", ANN).await;
    assert_eq!(now["ntfy"], Value::Null);
    // `ntfy` is a channel like the others.
    let chosen = patch_preferences(&app, json!({"channels": {"webhook.disabled": ["ntfy"]}})).await;
    assert_eq!(chosen.status(), StatusCode::OK);
}
