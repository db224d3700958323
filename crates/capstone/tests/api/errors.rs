//! Every way a request can be wrong gets a problem+json with the right status.

use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::{assert_problem, problem_fields};

use crate::helpers::{media_type, registration, spawn_app, spawn_app_with};

const REGISTER: &str = "/api/v1/auth/register";

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, REGISTER)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem["instance"], REGISTER);
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, REGISTER)
        .header("content-type", "text/plain")
        .body(registration("ann@example.com").to_string())
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[tokio::test]
async fn oversized_body_is_413_and_nothing_is_written() {
    let app = spawn_app_with(|c| c.body_limit_bytes = 4096).await;
    let mut body = registration("big@example.com");
    body["display_name"] = json!("x".repeat(8192));
    let response = app.post_json(REGISTER, &body).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;

    // The same account still registers: nothing was half-written.
    let response = app
        .post_json(REGISTER, &registration("big@example.com"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn invalid_values_are_422_with_every_field_named() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            REGISTER,
            &json!({"email": "not-an-email", "password": "short", "display_name": " "}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let mut fields = problem_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["display_name", "email", "password"]);
    assert!(problem["errors"][0]["message"].as_str().unwrap().len() > 3);
}

#[tokio::test]
async fn wrong_json_shape_is_422_naming_the_field() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            REGISTER,
            &json!({"email": 42, "password": "correct horse battery", "display_name": "A"}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "email");

    let response = app
        .post_json(REGISTER, &json!({"email": "a@example.com"}))
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "password");
    assert_eq!(problem["errors"][0]["message"], "is required");
}

#[tokio::test]
async fn unknown_paths_are_404_problems_or_a_page_for_a_browser() {
    let app = spawn_app().await;
    let problem =
        assert_problem(app.get("/api/v1/nothing-here").await, StatusCode::NOT_FOUND).await;
    assert_eq!(problem["instance"], "/api/v1/nothing-here");

    // A browser that follows a mistyped short link gets a page; under /api, or from a
    // client that does not name HTML, it is a problem document still.
    let browse = |path: &str, accept: &'static str| {
        app.request(Method::GET, path)
            .header("accept", accept)
            .send()
    };
    let browser = "text/html,application/xhtml+xml,*/*;q=0.8";
    let page = browse("/abc123/more", browser).await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert_eq!(media_type(&page), "text/html");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<h1>Page not found</h1>")
    );
    for (path, accept) in [("/api/v1/nothing-here", browser), ("/abc123/more", "*/*")] {
        let response = browse(path, accept).await.unwrap();
        assert_problem(response, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let response = app
        .request(Method::DELETE, "/healthz")
        .send()
        .await
        .unwrap();
    let allow = response
        .headers()
        .get("allow")
        .expect("Allow header")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allow.contains("GET"), "{allow}");
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;

    let response = app.get(REGISTER).await;
    assert_eq!(response.headers()["allow"], "POST");
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn database_down_is_503_with_retry_after() {
    // A server whose database is unreachable (nothing listens on port 1): it still starts,
    // says it is alive but not ready, and answers API calls with 503 rather than 500.
    let db = platform::db::connect_lazy("postgres://capstone@127.0.0.1:1/none")
        .await
        .unwrap();
    let test_db = testkit::TestDatabase::fresh().await;
    let config = crate::helpers::test_config(&test_db);
    let running = capstone::start_with(config, db).await.unwrap();
    let client = testkit::TestClient::new(running.addr);

    assert_eq!(client.get("/healthz").await.status(), StatusCode::OK);
    let ready = client.get("/readyz").await;
    assert!(ready.headers().contains_key("retry-after"));
    assert_problem(ready, StatusCode::SERVICE_UNAVAILABLE).await;

    let response = client
        .post_json(REGISTER, &registration("ann@example.com"))
        .await;
    assert!(response.headers().contains_key("retry-after"));
    let problem = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    let text = problem.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("sqlx"),
        "internals leaked: {text}"
    );
    running.shutdown();
}

#[tokio::test]
async fn security_headers_are_set_and_cors_is_closed_by_default() {
    let app = spawn_app().await;
    let response = app
        .request(Method::GET, "/healthz")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.contains_key("content-security-policy"));
    assert!(!headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn configured_cors_origins_are_allowed() {
    let app = spawn_app_with(|c| c.cors_allowed_origins = vec!["https://app.example".into()]).await;
    let response = app
        .request(Method::OPTIONS, REGISTER)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );

    let other = app
        .request(Method::GET, "/healthz")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn a_request_that_outlives_the_timeout_is_503() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app_with(|c| c.request_timeout_secs = 1).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Headers promise a body that never fully arrives.
    let head = format!(
        "POST {REGISTER} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"email\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = vec![0; 4096];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read(&mut response),
    )
    .await
    .expect("answered within the timeout")
    .unwrap();
    let response = String::from_utf8_lossy(&response[..read]).to_lowercase();
    assert!(response.starts_with("http/1.1 503"), "{response}");
    assert!(
        response.contains("content-type: application/problem+json"),
        "{response}"
    );
}
