use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{as_basic, media_type, register, spawn_app};

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
    // Client generators name a method after each operation id: two alike break them.
    let mut ids = std::collections::BTreeMap::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            if let Some(other) = ids.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operation id {id:?} of {method} {path} is also {other}'s");
            }
        }
    }
    let register = &doc["paths"]["/api/v1/auth/register"]["post"]["responses"];
    for status in ["201", "400", "409", "413", "415", "422"] {
        assert!(
            register[status].is_object(),
            "register does not document {status}"
        );
    }
    // What the extractors answer is documented on every operation they guard.
    let patch_link = &doc["paths"]["/api/v1/links/{id}"]["patch"]["responses"];
    for status in ["400", "415", "422"] {
        assert!(
            patch_link[status].is_object(),
            "PATCH /links/{{id}}: {status}"
        );
    }
    // Every schema named is defined.
    let mut names = Vec::new();
    refs(&doc, &mut names);
    for name in names {
        let schema = name.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{name} is named but not defined"
        );
    }
}

fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(name)) = fields.get("$ref") {
                found.push(name.clone());
            }
            fields.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

/// The whole API as documented, kept in `snapshots/`: a change to a route, a parameter or a
/// schema shows in review as a change there. After a deliberate change, run this test with
/// `INSTA_UPDATE=always` (or `cargo insta review`) and commit the new snapshot with it.
#[tokio::test]
async fn the_openapi_document_is_the_one_reviewed() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    insta::assert_json_snapshot!("openapi", doc);
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
    app.get("/api/v1/no/such/path").await;
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
    // A visitor's path (a short link's) is not a request metric: see `http::request`.
    app.get("/some-slug").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(!text.contains("route=\"/{slug}\""), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
}

#[tokio::test]
async fn a_get_answers_304_while_its_etag_is_current() {
    let app = spawn_app().await;
    let ann = "ann@example.com";
    register(&app, ann).await;
    let get = |etag: Option<&str>| {
        let mut request = as_basic(&app, Method::GET, "/api/v1/me", ann);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        async move { request.send().await.unwrap() }
    };

    let first = get(None).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["cache-control"], "private, no-cache");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");

    let unchanged = get(Some(&etag)).await;
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()["etag"], etag.as_str());
    assert!(unchanged.bytes().await.unwrap().is_empty());
    // Another tag, or one of a list, compared as RFC 9110 says.
    assert_eq!(get(Some("\"other\"")).await.status(), StatusCode::OK);
    let listed = format!("\"other\", {}", etag.trim_start_matches("W/"));
    assert_eq!(get(Some(&listed)).await.status(), StatusCode::NOT_MODIFIED);

    let renamed = as_basic(&app, Method::PATCH, "/api/v1/me", ann)
        .json(&json!({"display_name": "Ann B."}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    assert!(
        renamed.headers().get("etag").is_none(),
        "only GETs are tagged"
    );
    let changed = get(Some(&etag)).await;
    assert_eq!(changed.status(), StatusCode::OK, "the account changed");
    assert_ne!(changed.headers()["etag"], etag.as_str());
    assert_eq!(
        changed.json::<Value>().await.unwrap()["display_name"],
        "Ann B."
    );

    // Errors are not tagged.
    let missing = as_basic(&app, Method::GET, "/api/v1/links/999", ann)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.headers().get("etag").is_none());
}
