use reqwest::{Method, StatusCode};
use testkit::assert_problem;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_sane_request_id_round_trips() {
    let app = spawn_app().await;
    let response = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "client-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-abc.123");
}

#[tokio::test]
async fn a_missing_or_unsafe_request_id_is_replaced() {
    let app = spawn_app().await;
    let fresh = app.get("/healthz").await;
    let id = fresh.headers()["x-request-id"].to_str().unwrap().to_owned();
    let again = app.get("/healthz").await;
    assert_ne!(
        again.headers()["x-request-id"],
        id.as_str(),
        "each id is new"
    );

    let response = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "x".repeat(200))
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "x".repeat(200).as_str());
}

#[tokio::test]
async fn problems_carry_the_request_id() {
    let app = spawn_app().await;
    let response = app
        .request(Method::GET, "/api/v1/missing")
        .header("x-request-id", "trace-me")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me");
    let problem = assert_problem(response, StatusCode::NOT_FOUND).await;
    assert_eq!(problem["request_id"], "trace-me");
}
