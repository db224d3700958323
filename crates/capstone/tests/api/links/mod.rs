//! The links app as a user meets it: creating links every way the API allows, following
//! them, and the errors for everything that is wrong. One file per feature; here, what
//! several of them use: the user Ann and her app, creating and following links, bulk and
//! CSV imports, and waiting for clicks and orphan visits to be written.

mod bulk_csv;
mod cache;
mod clicks;
mod crud;
mod domains;
mod orphans;
mod passwords;
mod redirects;
mod rules;
mod stats;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, as_basic, get_json, register, spawn_app};

pub(super) const LINKS: &str = "/api/v1/links";
/// A browser's user agent: without one, a visit counts as a bot's.
pub(super) const FIREFOX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";
pub(super) const ANN: &str = "ann@example.com";

pub(super) async fn create(app: &TestApp, body: Value) -> Value {
    let response = as_basic(app, Method::POST, LINKS, ANN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{body}");
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/api/v1/links/")
    );
    response.json().await.unwrap()
}

pub(super) async fn app_with_ann() -> TestApp {
    let app = spawn_app().await;
    register(&app, ANN).await;
    app
}

pub(super) async fn follow(app: &TestApp, path: &str) -> reqwest::Response {
    app.get(path).await
}

/// `follow`, on the domain `host`.
pub(super) async fn follow_on(app: &TestApp, host: &str, path: &str) -> reqwest::Response {
    let request = app.request(Method::GET, path).header("host", host);
    request.send().await.unwrap()
}

/// `POST /api/v1/links/bulk` with `items`, as Ann.
pub(super) async fn bulk(app: &TestApp, items: &[Value]) -> reqwest::Response {
    as_basic(app, Method::POST, "/api/v1/links/bulk", ANN)
        .json(&json!({ "items": items }))
        .send()
        .await
        .unwrap()
}

/// A CSV import through the bulk route.
pub(super) async fn bulk_csv(app: &TestApp, body: String) -> reqwest::Response {
    as_basic(app, Method::POST, "/api/v1/links/bulk", ANN)
        .header("content-type", "text/csv; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Waits until the link has `expected` clicks written.
pub(super) async fn wait_for_clicks(app: &TestApp, id: &Value, expected: i64) {
    for _ in 0..100 {
        let link: Value = get_json(app, &format!("{LINKS}/{id}"), ANN).await;
        if link["click_count"].as_i64() == Some(expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("link {id} never reached {expected} clicks");
}

/// The orphan visits an administrator sees, newest first, once `expected` of them (by
/// `query`) are written.
pub(super) async fn orphan_visits(app: &TestApp, query: &str, expected: usize) -> Vec<Value> {
    let path = format!("/api/v1/orphan-visits{query}");
    for _ in 0..100 {
        let page: Value = get_json(app, &path, ANN).await;
        let items = page["items"].as_array().unwrap().clone();
        if items.len() >= expected {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page: Value = get_json(app, &path, ANN).await;
    panic!("fewer than {expected} orphan visits at {path}: {page}");
}
