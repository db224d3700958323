use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{media_type, spawn_app};

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn openapi_document_describes_every_route_and_the_problem_schema() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in ["/healthz", "/readyz", "/api/v1/auth/register"] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let register = &doc["paths"]["/api/v1/auth/register"]["post"]["responses"];
    for status in ["201", "400", "409", "413", "415", "422"] {
        assert!(
            register[status].is_object(),
            "register does not document {status}"
        );
    }
}

#[tokio::test]
async fn docs_are_served_by_the_binary_itself() {
    let app = spawn_app().await;
    let redirect = app.get("/docs").await;
    assert!(redirect.status().is_redirection());

    let page = app.get("/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "not the Swagger UI page");
    assert!(
        !html.contains("https://"),
        "the docs page must not load anything from a CDN"
    );

    // The assets the page loads come from us, not a CDN.
    for asset in [
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
        "/docs/swagger-initializer.js",
    ] {
        let response = app.get(asset).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    let init = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        init.contains("/openapi.json"),
        "the UI must load our document"
    );
}

#[tokio::test]
async fn metrics_count_requests_per_route_and_status() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.get("/no/such/path").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(media_type(&response), "text/plain");
    let text = response.text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains("route=\"/healthz\"")
            && l.contains("status=\"200\"")),
        "{text}"
    );
    // Unknown paths are one label, not one per path.
    assert!(text.contains("route=\"unmatched\""), "{text}");
    assert!(!text.contains("/no/such/path"));
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
}
