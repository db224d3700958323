//! Several instances on one database, sharing Redis: sign-in limits count once for all of
//! them, and a link changed through one is followed anew by the others at once. And what
//! happens when Redis goes away: the service stays up and counts per process.
//!
//! The tests that need a Redis run when `CAPSTONE_TEST_REDIS_URL` is set (`.ci/run` sets
//! it for the PostgreSQL pass), or start a `redis-server` of their own.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use platform::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, another_instance, as_basic, register, spawn_app_with, token_request,
};

const ANN: &str = "ann@example.com";

/// Whether the suite has a Redis; says why a test is skipped when it has not.
fn have_redis(test: &str) -> bool {
    let have = testkit::redis_url().is_some();
    if !have {
        eprintln!("{test}: skipped, CAPSTONE_TEST_REDIS_URL is not set");
    }
    have
}

/// Caches kept for an hour, so that only a broadcast can make an instance see a change.
fn long_cache(config: &mut Config) {
    config
        .app_table("links")
        .insert("cache_ttl_secs".into(), 3600.into());
}

async fn create_link(app: &TestApp, slug: &str, target: &str) -> i64 {
    let response = as_basic(app, Method::POST, "/api/v1/links", ANN)
        .json(&json!({"target_url": target, "slug": slug}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

async fn retarget(app: &TestApp, id: i64, target: &str) {
    let response = as_basic(app, Method::PATCH, &format!("/api/v1/links/{id}"), ANN)
        .json(&json!({"target_url": target}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn location(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Follows `path` on `app` until it leads to `target`, for at most `within`.
async fn leads_to_within(app: &TestApp, path: &str, target: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if location(app, path).await == target {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn failed_sign_in(app: &TestApp) -> StatusCode {
    token_request(
        app,
        &[
            ("grant_type", "password"),
            ("username", ANN),
            ("password", "a wrong guess"),
        ],
    )
    .await
    .status()
}

#[tokio::test]
async fn failed_sign_ins_are_counted_once_for_all_instances() {
    if !have_redis("failed_sign_ins_are_counted_once_for_all_instances") {
        return;
    }
    let limit = |config: &mut Config| config.login_failures_per_account = 4;
    let first = spawn_app_with(limit).await;
    let second = another_instance(&first, limit).await;
    register(&first, ANN).await;
    let ready: Value = second.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["redis"], "up");

    for app in [&first, &second, &first, &second] {
        assert_eq!(failed_sign_in(app).await, StatusCode::BAD_REQUEST);
    }
    // Two failures on each, four in all: both instances now refuse, even the right password.
    for app in [&first, &second] {
        let response = as_basic(app, Method::GET, "/api/v1/me", ANN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&wait), "Retry-After {wait}");
    }
}

#[tokio::test]
async fn a_live_stream_on_one_instance_shows_clicks_taken_by_another() {
    if !have_redis("a_live_stream_on_one_instance_shows_clicks_taken_by_another") {
        return;
    }
    let first = spawn_app_with(|_| {}).await;
    let second = another_instance(&first, |_| {}).await;
    register(&first, ANN).await;
    let watched = create_link(&first, "watched", "https://one.example/").await;
    create_link(&first, "unwatched", "https://two.example/").await;

    let path = format!("/api/v1/links/{watched}/clicks/live");
    let mut stream = as_basic(&second, Method::GET, &path, ANN)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    // Both visits reach the first instance, whose writer stores them.
    for slug in ["/unwatched", "/watched"] {
        assert_eq!(first.get(slug).await.status(), StatusCode::FOUND);
    }
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains("event: click") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("the click reaches the other instance's stream within 10 s")
            .unwrap()
            .expect("the stream goes on");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(text.matches("event: click").count(), 1, "{text}");
    let more = tokio::time::timeout(Duration::from_millis(500), stream.chunk()).await;
    assert!(more.is_err(), "only the watched link's click: {more:?}");
}

#[tokio::test]
async fn a_link_changed_through_one_instance_is_followed_anew_by_the_others_at_once() {
    if !have_redis("a_link_changed_through_one_instance_is_followed_anew_by_the_others_at_once") {
        return;
    }
    let first = spawn_app_with(long_cache).await;
    let second = another_instance(&first, long_cache).await;
    register(&first, ANN).await;
    // An unknown slug is cached as such on the second instance...
    assert_eq!(second.get("/later").await.status(), StatusCode::NOT_FOUND);
    let id = create_link(&first, "later", "https://one.example/").await;
    // ...and forgotten when the first creates it.
    assert!(
        leads_to_within(
            &second,
            "/later",
            "https://one.example/",
            Duration::from_secs(2)
        )
        .await
    );

    retarget(&first, id, "https://two.example/").await;
    assert!(
        leads_to_within(
            &second,
            "/later",
            "https://two.example/",
            Duration::from_secs(2)
        )
        .await,
        "the second instance still follows its cached copy"
    );

    let deleted = as_basic(&second, Method::DELETE, &format!("/api/v1/links/{id}"), ANN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let deadline = Instant::now() + Duration::from_secs(2);
    while first.get("/later").await.status() != StatusCode::NOT_FOUND {
        assert!(
            Instant::now() < deadline,
            "the first instance still redirects"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `redis-server` of the test's own, on a free port, stopped when dropped.
struct OwnRedis {
    port: u16,
    process: Child,
}

impl OwnRedis {
    /// `None` when there is no `redis-server` to run.
    fn start(port: u16) -> Option<Self> {
        let process = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self { port, process })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn after_a_redis_outage_the_other_instances_drop_what_they_may_have_missed() {
    let Some(redis) = OwnRedis::start(free_port()) else {
        eprintln!("skipped: no redis-server to run");
        return;
    };
    let url = redis.url();
    let configure = |config: &mut Config| {
        long_cache(config);
        config.redis_url = Some(url.clone().into());
    };
    let first = spawn_app_with(configure).await;
    let second = another_instance(&first, configure).await;
    register(&first, ANN).await;
    let id = create_link(&first, "outage", "https://before.example/").await;
    assert!(
        leads_to_within(
            &second,
            "/outage",
            "https://before.example/",
            Duration::from_secs(2)
        )
        .await
    );
    // A change that reaches the second instance before Redis goes: its subscription is up.
    // (On a busy machine its first try can time out; the retry that succeeds drops the
    // cache, as after any break, and must not do so after the outage below has begun.)
    retarget(&first, id, "https://before-2.example/").await;
    assert!(
        leads_to_within(
            &second,
            "/outage",
            "https://before-2.example/",
            Duration::from_secs(5)
        )
        .await,
        "the second instance never heard of the change"
    );

    // Redis goes away: the change is made, but its broadcast is lost.
    let port = redis.port;
    drop(redis);
    retarget(&first, id, "https://during.example/").await;
    assert_eq!(location(&first, "/outage").await, "https://during.example/");
    assert_eq!(
        location(&second, "/outage").await,
        "https://before-2.example/",
        "no broadcast could reach the second instance"
    );
    let ready: Value = second.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready", "Redis is optional");
    assert_eq!(ready["redis"], "down");

    // Once Redis is back, the second instance resubscribes and drops its whole cache.
    let _redis = OwnRedis::start(port).expect("redis-server restarts");
    assert!(
        leads_to_within(
            &second,
            "/outage",
            "https://during.example/",
            Duration::from_secs(15)
        )
        .await,
        "the second instance kept a copy it may have missed a change to"
    );
}

#[tokio::test]
async fn with_redis_unreachable_each_instance_still_limits_sign_ins_itself() {
    let nowhere = format!("redis://127.0.0.1:{}", free_port());
    let app = spawn_app_with(|config| {
        config.redis_url = Some(nowhere.clone().into());
        config.login_failures_per_account = 3;
    })
    .await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap()["redis"], "down");

    register(&app, ANN).await;
    // Links are created (their broadcast is dropped) and followed as usual.
    create_link(&app, "anyway", "https://anyway.example/").await;
    assert_eq!(location(&app, "/anyway").await, "https://anyway.example/");
    for _ in 0..3 {
        assert_eq!(failed_sign_in(&app).await, StatusCode::BAD_REQUEST);
    }
    assert_eq!(failed_sign_in(&app).await, StatusCode::TOO_MANY_REQUESTS);
}
