//! One registry of root paths (`platform::paths`): no link's slug can take a root that the
//! platform or an app claims, and every route the server has sits under a claimed root (or is
//! the links catch-all), so neither can shadow the other.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::assert_problem;

use crate::helpers::{as_basic, register, spawn_app};

const ANN: &str = "ann@example.com";

#[tokio::test]
async fn no_slug_takes_a_claimed_root_and_every_route_is_under_one() {
    let app = spawn_app().await;
    register(&app, ANN).await;

    // Every claimed root that could be a slug by its shape is refused as one, in any case.
    let mut tried = 0;
    for root in platform::paths::claimed().filter(|r| {
        (3..=64).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    }) {
        for slug in [root.to_owned(), root.to_uppercase()] {
            let response = as_basic(&app, Method::POST, "/api/v1/links", ANN)
                .json(&json!({"target_url": "https://example.com/", "slug": slug}))
                .send()
                .await
                .unwrap();
            let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(problem["errors"][0]["field"], "slug", "{slug}: {problem}");
        }
        tried += 1;
    }
    assert!(tried >= 10, "only {tried} roots tried");

    // Every documented route, and the platform's pages, are under a claimed root.
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut paths: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    paths.extend(["/metrics", "/docs/", "/openapi.json", "/robots.txt"].map(str::to_owned));
    for path in &paths {
        let root = path.trim_start_matches('/').split('/').next().unwrap();
        assert!(
            platform::paths::is_claimed(root),
            "{path} is under an unclaimed root"
        );
    }
    for page in ["/metrics", "/openapi.json", "/robots.txt", "/healthz"] {
        assert_eq!(app.get(page).await.status(), StatusCode::OK, "{page}");
    }
}
