//! `Idempotency-Key` on writes: a retried request gets the first answer, not a second
//! thing made; the same key with another request is refused.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{as_basic, register, spawn_app};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";

#[tokio::test]
async fn a_retried_create_with_the_same_key_makes_one_thing() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    register(&app, BOB).await;
    let send = |email: &'static str, key: &'static str, body: Value| {
        as_basic(&app, Method::POST, "/api/v1/projects", email)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = send(ANN, "k-1", json!({"name": "Home"})).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"].clone();
    let first: Value = first.json().await.unwrap();

    let again = send(ANN, "k-1", json!({"name": "Home"})).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let listed: Value = as_basic(&app, Method::GET, "/api/v1/projects", ANN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "one project");

    // The same key with another body is a mistake, not a retry.
    let reused = send(ANN, "k-1", json!({"name": "Work"})).await.unwrap();
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Keys are each user's own.
    let bobs = send(BOB, "k-1", json!({"name": "Home"})).await.unwrap();
    assert_eq!(bobs.status(), StatusCode::CREATED);
    assert!(bobs.headers().get("idempotent-replayed").is_none());
    // A refused request is answered the same way again, and makes nothing either.
    let bad = send(ANN, "k-2", json!({"name": ""})).await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad_again = send(ANN, "k-2", json!({"name": ""})).await.unwrap();
    assert_eq!(bad_again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_again.headers()["idempotent-replayed"], "true");
    let too_long = "x".repeat(300);
    let refused = as_basic(&app, Method::POST, "/api/v1/projects", ANN)
        .header("idempotency-key", too_long)
        .json(&json!({"name": "Home"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}
