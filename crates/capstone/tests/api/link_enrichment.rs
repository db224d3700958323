//! Calling third parties for links: the target's title, and a safety check honouring the
//! lookup API's rate limits. Both against fake servers on 127.0.0.1.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{FakePage, FakeSafeBrowsing, FakeWebsite, LookupFailure};

use crate::helpers::{TestApp, as_basic, get_json, register, spawn_app_with};

const ANN: &str = "ann@example.com";

fn setting(config: &mut platform::Config, key: &str, value: impl Into<figment::value::Value>) {
    config.app_table("links").insert(key.into(), value.into());
}

async fn create(app: &TestApp, body: Value) -> Value {
    let response = as_basic(app, Method::POST, "/api/v1/links", ANN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn link(app: &TestApp, id: &Value) -> Value {
    get_json(app, &format!("/api/v1/links/{id}"), ANN).await
}

/// Polls the link until `field` equals `expected`.
async fn wait_until(
    app: &TestApp,
    id: &Value,
    field: &str,
    expected: Value,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let current = link(app, id).await;
        if current[field] == expected {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "{field} never became {expected}: {current}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_missing_title_is_fetched_from_the_page() {
    let site = FakeWebsite::start().await;
    site.serve("/article", FakePage::titled("Rust &amp; Backends"));
    let app = spawn_app_with(|c| setting(c, "allow_private_targets", true)).await;
    register(&app, ANN).await;
    let created = create(&app, json!({"target_url": site.url("/article")})).await;
    assert!(created["title"].is_null());
    wait_until(
        &app,
        &created["id"],
        "title",
        json!("Rust & Backends"),
        Duration::from_secs(10),
    )
    .await;

    // A title given by the owner is never overwritten, nor fetched.
    let own = create(
        &app,
        json!({"target_url": site.url("/article"), "title": "Mine"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(link(&app, &own["id"]).await["title"], "Mine");
    assert_eq!(site.requests().len(), 1);
}

#[tokio::test]
async fn title_fetches_never_reach_private_addresses_by_default() {
    let site = FakeWebsite::start().await;
    site.serve("/internal", FakePage::titled("Internal admin"));
    let app = spawn_app_with(|_| {}).await;
    register(&app, ANN).await;
    let created = create(&app, json!({"target_url": site.url("/internal")})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(link(&app, &created["id"]).await["title"].is_null());
    assert!(
        site.requests().is_empty(),
        "the guard must refuse before any request is sent"
    );
}

async fn app_with_safety(lookup: &FakeSafeBrowsing) -> TestApp {
    let (endpoint, key) = (lookup.endpoint(), lookup.api_key().to_owned());
    let app = spawn_app_with(move |c| {
        setting(c, "safety_endpoint", endpoint);
        setting(c, "safety_api_key", key);
        setting(c, "fetch_titles", false);
    })
    .await;
    register(&app, ANN).await;
    app
}

#[tokio::test]
async fn links_go_live_only_once_their_target_is_checked() {
    let lookup = FakeSafeBrowsing::start().await;
    lookup.list("https://malware.example/", "MALWARE");
    let app = app_with_safety(&lookup).await;

    let bad = create(
        &app,
        json!({"target_url": "https://malware.example/", "slug": "bad-one"}),
    )
    .await;
    let good = create(
        &app,
        json!({"target_url": "https://fine.example/", "slug": "good-one"}),
    )
    .await;
    wait_until(
        &app,
        &bad["id"],
        "safety",
        json!("unsafe"),
        Duration::from_secs(10),
    )
    .await;
    wait_until(
        &app,
        &good["id"],
        "safety",
        json!("safe"),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(app.get("/bad-one").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/good-one").await.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn a_checked_link_pointed_elsewhere_or_given_rules_is_checked_again() {
    let lookup = FakeSafeBrowsing::start().await;
    lookup.list("https://malware.example/", "MALWARE");
    lookup.list("https://phish.example/", "SOCIAL_ENGINEERING");
    let app = app_with_safety(&lookup).await;
    let patch = async |id: &Value, body: Value| {
        let response = as_basic(&app, Method::PATCH, &format!("/api/v1/links/{id}"), ANN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()
    };
    let checked = async |id: &Value, verdict: &str| {
        wait_until(&app, id, "safety", json!(verdict), Duration::from_secs(10)).await;
    };

    let moved = create(
        &app,
        json!({"target_url": "https://fine.example/", "slug": "moved"}),
    )
    .await;
    checked(&moved["id"], "safe").await;
    assert_eq!(app.get("/moved").await.status(), StatusCode::FOUND);
    // Re-pointed at a listed address: off at once, and it stays off.
    let changed = patch(
        &moved["id"],
        json!({"target_url": "https://malware.example/"}),
    )
    .await;
    assert_eq!(changed["safety"], "pending");
    assert_eq!(app.get("/moved").await.status(), StatusCode::NOT_FOUND);
    checked(&moved["id"], "unsafe").await;
    assert_eq!(app.get("/moved").await.status(), StatusCode::NOT_FOUND);

    // A rule's target is a target too, on create and on change.
    let ruled = create(
        &app,
        json!({"target_url": "https://fine.example/", "slug": "ruled",
               "rules": [{"kind": "device", "value": "ios", "target_url": "https://phish.example/"}]}),
    )
    .await;
    checked(&ruled["id"], "unsafe").await;
    let plain = create(
        &app,
        json!({"target_url": "https://fine.example/", "slug": "plain"}),
    )
    .await;
    checked(&plain["id"], "safe").await;
    patch(
        &plain["id"],
        json!({"rules": [{"kind": "country", "value": "FR", "target_url": "https://phish.example/"}]}),
    )
    .await;
    checked(&plain["id"], "unsafe").await;
    assert_eq!(app.get("/plain").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_rate_limited_check_waits_as_told_and_is_not_dropped() {
    let lookup = FakeSafeBrowsing::start().await;
    lookup.fail_next(1, LookupFailure::rate_limited(1));
    let app = app_with_safety(&lookup).await;
    let started = Instant::now();
    let created = create(
        &app,
        json!({"target_url": "https://fine.example/", "slug": "patient"}),
    )
    .await;
    assert_eq!(created["safety"], "pending");
    assert_eq!(
        app.get("/patient").await.status(),
        StatusCode::NOT_FOUND,
        "not live before its check"
    );
    wait_until(
        &app,
        &created["id"],
        "safety",
        json!("safe"),
        Duration::from_secs(15),
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert!(lookup.request_count() >= 2);
    assert_eq!(app.get("/patient").await.status(), StatusCode::FOUND);
}
