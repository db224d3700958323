//! Signed webhooks, end to end: a receiver that verifies every delivery with the reference
//! Standard Webhooks library gets each link event once, late if it was down, and a second
//! secret while one is rotated. Retries are made due by moving the server's clock.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{FakeReceiver, Received, assert_problem};

use crate::helpers::{TestApp, as_basic, get_json, register, spawn_app_with};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";
const LINK_EVENTS: [&str; 4] = [
    "link.created",
    "link.updated",
    "link.deleted",
    "link.expired",
];

/// A server whose outbound calls may reach 127.0.0.1, with ANN registered.
async fn app() -> TestApp {
    let app = spawn_app_with(|c| c.allow_private_outbound = true).await;
    register(&app, ANN).await;
    app
}

/// Registers a webhook of ANN's for `receiver`, which learns its secret.
async fn subscribe(app: &TestApp, receiver: &FakeReceiver, events: &[&str]) -> Value {
    let created = as_basic(app, Method::POST, "/api/v1/webhooks", ANN)
        .json(&json!({"url": receiver.url(), "events": events, "description": "ci"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let hook: Value = created.json().await.unwrap();
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.set_secret(secret);
    hook
}

/// Waits (up to 10 s) until the receiver has had `n` requests; returns them.
async fn until_received(receiver: &FakeReceiver, n: usize) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let received = receiver.received();
        if received.len() >= n {
            return received;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} requests: {received:?}",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits (up to 10 s) until the receiver has acknowledged `n` distinct events. (A test that
/// moves the clock by hours while a delivery is in flight makes its lease lapse, and the
/// event is sent again: at least once, as after a crash; the receiver drops the repeat.)
async fn until_acknowledged(receiver: &FakeReceiver, n: usize) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let acknowledged = receiver.acknowledged();
        if acknowledged.len() >= n {
            return acknowledged;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n}: {:?}",
            acknowledged.len(),
            receiver.received()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn create_link(app: &TestApp, body: Value) -> Value {
    let response = as_basic(app, Method::POST, "/api/v1/links", ANN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_link_event_arrives_signed_and_once() {
    let app = app().await;
    let receiver = FakeReceiver::start().await;
    let hook = subscribe(&app, &receiver, &LINK_EVENTS).await;

    let until = (chrono::Utc::now() + TimeDelta::hours(1)).to_rfc3339();
    let link = create_link(
        &app,
        json!({"target_url": "https://example.com/a", "slug": "hooked", "valid_until": until}),
    )
    .await;
    let path = format!("/api/v1/links/{}", link["id"]);
    until_acknowledged(&receiver, 1).await;
    let renamed = as_basic(&app, Method::PATCH, &path, ANN)
        .json(&json!({"title": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    until_acknowledged(&receiver, 2).await;
    app.advance_clock(TimeDelta::hours(1)).await;
    until_acknowledged(&receiver, 3).await;
    let deleted = as_basic(&app, Method::DELETE, &path, ANN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let received = until_acknowledged(&receiver, 4).await;

    let types: Vec<&str> = received.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "link.created",
            "link.updated",
            "link.expired",
            "link.deleted"
        ]
    );
    assert!(
        receiver.received().iter().all(|r| r.verified),
        "{:?}",
        receiver.received()
    );
    assert_eq!(received[0].body["data"]["slug"], "hooked");
    assert_eq!(received[1].body["data"]["title"], "Renamed");
    assert!(received[0].id.starts_with("msg_"));

    let log = get_json(
        &app,
        &format!("/api/v1/webhooks/{}/deliveries", hook["id"]),
        ANN,
    )
    .await;
    let outcomes: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.len() >= 4 && outcomes.iter().all(|o| *o == "delivered"),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn a_link_whose_clicks_are_used_up_expires_once_per_limit() {
    let app = app().await;
    let receiver = FakeReceiver::start().await;
    subscribe(&app, &receiver, &["link.expired"]).await;
    let link = create_link(
        &app,
        json!({"target_url": "https://example.com/", "slug": "twice", "max_clicks": 2}),
    )
    .await;

    assert_eq!(app.get("/twice").await.status(), StatusCode::FOUND);
    // Not yet: one click is left.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 0, "{:?}", receiver.received());
    assert_eq!(app.get("/twice").await.status(), StatusCode::FOUND);
    for _ in 0..3 {
        assert_eq!(app.get("/twice").await.status(), StatusCode::GONE);
    }
    let received = until_acknowledged(&receiver, 1).await;
    assert_eq!(received[0].event_type, "link.expired");
    assert_eq!(received[0].body["data"]["slug"], "twice");
    assert_eq!(received[0].body["data"]["max_clicks"], 2);

    // A raised limit, used up again, is a second expiry; the refusals were not. (Once
    // both clicks are stored: the changed link is read again with the stored count.)
    let path = format!("/api/v1/links/{}", link["id"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_json(&app, &path, ANN).await["click_count"] != 2 {
        assert!(Instant::now() < deadline, "the two clicks were not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let raised = as_basic(&app, Method::PATCH, &path, ANN)
        .json(&json!({"max_clicks": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(raised.status(), StatusCode::OK);
    assert_eq!(app.get("/twice").await.status(), StatusCode::FOUND);
    let received = until_acknowledged(&receiver, 2).await;
    assert_eq!(received[1].body["data"]["max_clicks"], 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.acknowledged().len(),
        2,
        "{:?}",
        receiver.received()
    );
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_the_event_later_under_the_same_id() {
    let app = app().await;
    let receiver = FakeReceiver::start().await;
    let hook = subscribe(&app, &receiver, &["link.created"]).await;
    receiver.fail(2, 503, None);
    create_link(&app, json!({"target_url": "https://example.com/b"})).await;
    until_received(&receiver, 1).await;
    // Retried 5 s later, then 5 minutes later.
    app.advance_clock(TimeDelta::seconds(5)).await;
    until_received(&receiver, 2).await;
    app.advance_clock(TimeDelta::minutes(5)).await;
    let received = until_received(&receiver, 3).await;
    assert!(
        received.iter().all(|r| r.id == received[0].id),
        "one webhook-id: {received:?}"
    );
    assert_eq!(receiver.acknowledged().len(), 1);

    // A Retry-After longer than the schedule is honoured.
    receiver.fail(1, 429, Some("3600"));
    create_link(&app, json!({"target_url": "https://example.com/c"})).await;
    until_received(&receiver, 4).await;
    app.advance_clock(TimeDelta::minutes(30)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        receiver.received().len(),
        4,
        "not before the hour it asked for"
    );
    app.advance_clock(TimeDelta::minutes(31)).await;
    until_received(&receiver, 5).await;
    assert_eq!(receiver.acknowledged().len(), 2);

    let log = get_json(
        &app,
        &format!("/api/v1/webhooks/{}/deliveries", hook["id"]),
        ANN,
    )
    .await;
    let attempts: Vec<(i64, Value)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["attempt"].as_i64().unwrap(), d["response_status"].clone()))
        .collect();
    // Newest first.
    assert_eq!(
        attempts,
        [
            (2, json!(204)),
            (1, json!(429)),
            (3, json!(204)),
            (2, json!(503)),
            (1, json!(503))
        ]
    );
}

#[tokio::test]
async fn a_refusal_is_final_and_a_rotated_secret_still_signs_for_a_day() {
    let app = app().await;
    let receiver = FakeReceiver::start().await;
    let hook = subscribe(&app, &receiver, &["link.created"]).await;
    let base = format!("/api/v1/webhooks/{}", hook["id"]);

    // 410 Gone: no retry.
    receiver.fail(1, 410, None);
    let ping = as_basic(&app, Method::POST, &format!("{base}/test"), ANN)
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::ACCEPTED);
    let ping: Value = ping.json().await.unwrap();
    let received = until_received(&receiver, 1).await;
    assert_eq!(received[0].id, ping["message_id"].as_str().unwrap());
    assert_eq!(received[0].event_type, "webhook.test");
    app.advance_clock(TimeDelta::hours(2)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 1);

    // After a rotation, a receiver still on the old secret verifies, as does one on the new.
    let rotated = as_basic(&app, Method::PATCH, &base, ANN)
        .json(&json!({"rotate_secret": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), StatusCode::OK);
    let new_secret = rotated.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_secret, hook["secret"].as_str().unwrap());
    as_basic(&app, Method::POST, &format!("{base}/test"), ANN)
        .send()
        .await
        .unwrap();
    assert!(until_received(&receiver, 2).await[1].verified, "old secret");
    receiver.set_secret(&new_secret);
    as_basic(&app, Method::POST, &format!("{base}/test"), ANN)
        .send()
        .await
        .unwrap();
    assert!(until_received(&receiver, 3).await[2].verified, "new secret");
    // The secret is never shown again.
    let shown = get_json(&app, &base, ANN).await;
    assert!(shown.get("secret").is_none(), "{shown}");
}

#[tokio::test]
async fn bad_webhooks_are_refused_and_anothers_is_not_found() {
    let app = spawn_app_with(|_| {}).await;
    register(&app, ANN).await;
    register(&app, BOB).await;
    let refused = async |body: Value, field: &str| {
        let response = as_basic(&app, Method::POST, "/api/v1/webhooks", ANN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    };
    let events = json!(["link.created"]);
    refused(
        json!({"url": "http://127.0.0.1:9/hook", "events": events}),
        "url",
    )
    .await;
    refused(
        json!({"url": "http://localhost/hook", "events": events}),
        "url",
    )
    .await;
    refused(
        json!({"url": "http://10.1.2.3/hook", "events": events}),
        "url",
    )
    .await;
    refused(
        json!({"url": "ftp://example.com/", "events": events}),
        "url",
    )
    .await;
    refused(
        json!({"url": "https://user:pw@example.com/", "events": events}),
        "url",
    )
    .await;
    refused(
        json!({"url": "https://93.184.215.14/", "events": ["link.exploded"]}),
        "events",
    )
    .await;
    refused(
        json!({"url": "https://93.184.215.14/", "events": []}),
        "events",
    )
    .await;

    let created = as_basic(&app, Method::POST, "/api/v1/webhooks", ANN)
        .json(&json!({"url": "https://93.184.215.14/hook", "events": events}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"].clone();
    for (method, path) in [
        (Method::GET, format!("/api/v1/webhooks/{id}")),
        (Method::PATCH, format!("/api/v1/webhooks/{id}")),
        (Method::DELETE, format!("/api/v1/webhooks/{id}")),
        (Method::POST, format!("/api/v1/webhooks/{id}/test")),
        (Method::GET, format!("/api/v1/webhooks/{id}/deliveries")),
    ] {
        let response = as_basic(&app, method.clone(), &path, BOB)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::NOT_FOUND).await;
    }
    let bobs = get_json(&app, "/api/v1/webhooks", BOB).await;
    assert_eq!(bobs["items"], json!([]));
}
