//! The job queue as administrators and the links app use it: links' title fetches are jobs,
//! a job no handler knows is dead and listed, and an administrator can retry it.

use std::time::{Duration, Instant};

use platform::jobs::{Job, Jobs};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use testkit::{FakePage, FakeWebsite, assert_problem};

use crate::helpers::{TestApp, as_basic, get_json, make_admin, register, spawn_app_with};

const ADMIN: &str = "ann@example.com";
const MEMBER: &str = "bob@example.com";

/// A kind of job that an older release enqueued and this one no longer runs.
#[derive(Serialize, Deserialize)]
struct Retired {
    report: i64,
}

impl Job for Retired {
    const KIND: &'static str = "reports.retired";
}

/// `GET /api/v1/admin/jobs?{query}` as the admin, until `found` picks a job from the page.
async fn wait_for_job(app: &TestApp, query: &str, found: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = get_json(app, &format!("/api/v1/admin/jobs?{query}"), ADMIN).await;
        if let Some(job) = page["items"].as_array().unwrap().iter().find(|j| found(j)) {
            return job.clone();
        }
        assert!(Instant::now() < deadline, "no such job in {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn administrators_see_the_queue_and_give_a_dead_job_another_chance() {
    let site = FakeWebsite::start().await;
    site.serve("/article", FakePage::titled("Queued"));
    let app = spawn_app_with(|c| {
        c.app_table("links")
            .insert("allow_private_targets".into(), true.into());
    })
    .await;
    register(&app, ADMIN).await;
    register(&app, MEMBER).await;
    make_admin(&app, ADMIN).await;

    // A link's title fetch is a job, done once the title is there.
    let created = as_basic(&app, Method::POST, "/api/v1/links", MEMBER)
        .json(&json!({"target_url": site.url("/article")}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let link_id = created.json::<Value>().await.unwrap()["id"].clone();
    let fetch = wait_for_job(&app, "kind=links.fetch_title", |j| {
        j["payload"]["link_id"] == link_id && j["state"] == "done"
    })
    .await;
    assert_eq!(fetch["attempts"], 1);
    let link = get_json(&app, &format!("/api/v1/links/{link_id}"), MEMBER).await;
    assert_eq!(link["title"], "Queued");

    // A job of a kind this release does not know is dead, with why.
    let db = platform::db::connect(&crate::helpers::test_config(&app._db))
        .await
        .unwrap();
    let jobs = Jobs::new(db.clone(), Default::default(), Default::default());
    let id = jobs
        .enqueue(&db, &Retired { report: 7 })
        .await
        .unwrap()
        .unwrap();
    let dead = wait_for_job(&app, "state=dead", |j| j["id"] == id).await;
    assert_eq!(dead["kind"], "reports.retired");
    assert_eq!(dead["payload"], json!({"report": 7}));
    assert!(dead["last_error"].as_str().unwrap().contains("no handler"));

    // Only administrators see the queue.
    let member = as_basic(&app, Method::GET, "/api/v1/admin/jobs", MEMBER)
        .send()
        .await
        .unwrap();
    assert_problem(member, StatusCode::FORBIDDEN).await;

    // A retry queues it again, from its first attempt.
    let retry = |id: Value| {
        as_basic(
            &app,
            Method::POST,
            &format!("/api/v1/admin/jobs/{id}/retry"),
            ADMIN,
        )
        .send()
    };
    let retried = retry(json!(id)).await.unwrap();
    assert_eq!(retried.status(), StatusCode::OK);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(
        (retried["state"].as_str(), retried["attempts"].as_i64()),
        (Some("queued"), Some(0))
    );
    wait_for_job(&app, "state=dead", |j| j["id"] == id && j["attempts"] == 1).await;
    // Only a dead job can be retried; a job that does not exist is not found.
    let not_dead = retry(fetch["id"].clone()).await.unwrap();
    assert_problem(not_dead, StatusCode::CONFLICT).await;
    let missing = retry(json!(999_999)).await.unwrap();
    assert_problem(missing, StatusCode::NOT_FOUND).await;
    db.close().await.unwrap();
}
