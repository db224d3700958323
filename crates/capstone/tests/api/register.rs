use reqwest::StatusCode;
use serde_json::Value;
use testkit::assert_problem;

use crate::helpers::{registration, spawn_app};

const REGISTER: &str = "/api/v1/auth/register";

#[tokio::test]
async fn registering_creates_an_account_with_201_and_location() {
    let app = spawn_app().await;
    let response = app
        .post_json(REGISTER, &registration("Ann@Example.com"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/api/v1/me");
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["display_name"], "Ann Example");
    assert_eq!(user["role"], "member");
    assert_eq!(user["email_verified"], false);
    assert!(user["id"].as_i64().unwrap() > 0);
    assert!(user.get("password_hash").is_none() && !user.to_string().contains("argon2"));
    // RFC 3339, UTC.
    let created = user["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') || created.ends_with("+00:00"),
        "{created}"
    );
}

#[tokio::test]
async fn a_taken_email_is_409_naming_the_field_whatever_its_case() {
    let app = spawn_app().await;
    assert_eq!(
        app.post_json(REGISTER, &registration("ann@example.com"))
            .await
            .status(),
        StatusCode::CREATED
    );
    let response = app
        .post_json(REGISTER, &registration("ANN@example.com"))
        .await;
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert_eq!(problem["errors"][0]["field"], "email");
    assert!(
        !problem
            .to_string()
            .to_lowercase()
            .contains("unique constraint"),
        "SQL leaked: {problem}"
    );
}

#[tokio::test]
async fn concurrent_sign_ups_with_one_email_make_one_account() {
    let app = spawn_app().await;
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let client = app.client.clone();
            tokio::spawn(async move {
                client
                    .post_json(REGISTER, &registration("race@example.com"))
                    .await
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn common_passwords_are_refused() {
    let app = spawn_app().await;
    let mut body = registration("ann@example.com");
    body["password"] = "Password123".into();
    let problem = assert_problem(
        app.post_json(REGISTER, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "password");
}
