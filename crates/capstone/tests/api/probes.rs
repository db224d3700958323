//! What a probe of the running server from outside found, kept as tests: an attacker's and
//! a careless client's requests, each answered as it should be on both databases.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::assert_problem;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{PASSWORD, TestApp, as_basic, make_admin, register, spawn_app_with};

const ANN: &str = "ann@example.com";
const STRANGER: &str = "203.0.113.9";

/// Sign-in limits of three, and the client's address from `x-forwarded-for`, so that one
/// test can be several clients.
async fn app_behind_a_proxy() -> TestApp {
    let app = spawn_app_with(|c| {
        c.client_ip_header = Some("x-forwarded-for".into());
        c.login_failures_per_account = 3;
    })
    .await;
    register(&app, ANN).await;
    app
}

/// `GET /api/v1/me` with Basic `ANN:password`, from `address` (`None`: the peer's, from
/// which ANN registered).
async fn me_from(app: &TestApp, address: Option<&str>, password: &str) -> StatusCode {
    let mut request = app
        .request(Method::GET, "/api/v1/me")
        .basic_auth(ANN, Some(password));
    if let Some(address) = address {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap().status()
}

/// Sends 24 copies of a request with a wrong password at once; returns how many were
/// checked (401) rather than refused (429).
async fn checked_of_a_burst(request: impl Fn() -> reqwest::RequestBuilder) -> usize {
    let tries: Vec<_> = (0..24).map(|_| tokio::spawn(request().send())).collect();
    let mut checked = 0;
    for attempt in tries {
        match attempt.await.unwrap().unwrap().status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    checked
}

#[tokio::test]
async fn errors_stay_readable_for_clients_that_accept_gzip() {
    let app = app_behind_a_proxy().await;
    // The test client asks for gzip and decodes what says it is gzipped.
    for (response, status) in [
        (app.get("/api/v1/me").await, StatusCode::UNAUTHORIZED),
        (app.get("/api/v1/nothing-here").await, StatusCode::NOT_FOUND),
        (
            app.post_json("/api/v1/auth/register", &crate::helpers::registration(ANN))
                .await,
            StatusCode::CONFLICT,
        ),
    ] {
        assert_eq!(response.headers().get("content-encoding"), None);
        assert_problem(response, status).await;
    }
    // A large answer is still compressed.
    let docs = app.get("/openapi.json").await;
    assert_eq!(docs.status(), StatusCode::OK);
    docs.json::<Value>().await.expect("the decoded document");
}

#[tokio::test]
async fn a_strangers_guesses_do_not_lock_the_owner_out() {
    let app = app_behind_a_proxy().await;
    for _ in 0..5 {
        me_from(&app, Some(STRANGER), "a wrong guess").await;
    }
    // The stranger is stopped, even with the right password…
    assert_eq!(
        me_from(&app, Some(STRANGER), PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …and so is an address the account has never used, while it is under attack…
    assert_eq!(
        me_from(&app, Some("198.51.100.7"), PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …but the owner, from the address they registered from, signs in.
    assert_eq!(me_from(&app, None, PASSWORD).await, StatusCode::OK);
    let token = app
        .request(Method::POST, "/api/v1/auth/token")
        .form(&[
            ("grant_type", "password"),
            ("username", ANN),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_burst_of_wrong_passwords_gets_no_more_checks_than_the_limit() {
    let app = app_behind_a_proxy().await;
    let checked = checked_of_a_burst(|| {
        app.request(Method::GET, "/api/v1/me")
            .basic_auth(ANN, Some("a wrong guess"))
            .header("x-forwarded-for", STRANGER)
    })
    .await;
    assert_eq!(checked, 3, "each checked try is a counted failure");
}

#[tokio::test]
async fn a_burst_of_wrong_link_passwords_gets_no_more_checks_than_the_limit() {
    let app = app_behind_a_proxy().await;
    let created = as_basic(&app, Method::POST, "/api/v1/links", ANN)
        .json(&json!({"target_url": "https://example.com/", "slug": "locked", "password": "open sesame"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let checked = checked_of_a_burst(|| {
        app.request(Method::POST, "/locked")
            .form(&[("password", "a wrong guess")])
    })
    .await;
    assert_eq!(checked, 3);
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let app = spawn_app_with(|c| {
        c.client_ip_header = Some("x-forwarded-for".into());
        c.registrations_per_ip = 2;
    })
    .await;
    let from = async |address: &str, email: &str| {
        app.request(Method::POST, "/api/v1/auth/register")
            .header("x-forwarded-for", address)
            .json(&crate::helpers::registration(email))
            .send()
            .await
            .unwrap()
    };
    for n in 0..2 {
        let created = from(STRANGER, &format!("bot{n}@example.com")).await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let refused = from(STRANGER, "bot9@example.com").await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS).await;
    // Someone else is not affected.
    let other = from("198.51.100.7", "ann@example.com").await;
    assert_eq!(other.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn control_characters_are_refused_where_text_enters_never_a_500() {
    let app = app_behind_a_proxy().await;
    // Sign-in with a NUL in the address, by Basic and by the token endpoint.
    let basic = app
        .request(Method::GET, "/api/v1/me")
        .basic_auth("a\0b@example.com", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_problem(basic, StatusCode::UNAUTHORIZED).await;
    let token = app
        .request(Method::POST, "/api/v1/auth/token")
        .form(&[
            ("grant_type", "password"),
            ("username", "a\0b@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(token.status().is_client_error(), "{}", token.status());
    // A NUL in a path outside the API, in a query, in a title, in a key's name.
    let path = app
        .request(Method::POST, "/%00abc")
        .form(&[("password", "x")])
        .send()
        .await
        .unwrap();
    assert_problem(path, StatusCode::NOT_FOUND).await;
    let query = as_basic(&app, Method::GET, "/api/v1/links?q=%00", ANN)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(query, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "q");
    for (path, body, field) in [
        (
            "/api/v1/links",
            json!({"target_url": "https://example.com/", "title": "a\u{0}b"}),
            "title",
        ),
        ("/api/v1/me/api-keys", json!({"name": "k\u{0}"}), "name"),
        (
            "/api/v1/links",
            json!({"target_url": "https://example.com/", "tags": ["ok", "b\u{7}"]}),
            "tags[1]",
        ),
    ] {
        let response = as_basic(&app, Method::POST, path, ANN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
}

#[tokio::test]
async fn the_public_routes_have_the_apis_layers() {
    let app = spawn_app_with(|c| c.request_timeout_secs = 1).await;
    register(&app, ANN).await;
    let created = as_basic(&app, Method::POST, "/api/v1/links", ANN)
        .json(&json!({"target_url": "https://example.com/", "slug": "guarded", "password": "open sesame"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    // The password page: a request id, and not to be framed.
    let page = app.get("/guarded").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().contains_key("x-request-id"));
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    // A form without its field is a problem, not framework text.
    let empty = app
        .request(Method::POST, "/guarded")
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    let problem = assert_problem(empty, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "password");
    // An unknown slug answers a JSON client in JSON.
    let unknown = app
        .request(Method::GET, "/no-such-slug")
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_problem(unknown, StatusCode::NOT_FOUND).await;

    // A body that never arrives is answered when the request times out.
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /guarded HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 100\r\n\r\npassword=",
        )
        .await
        .unwrap();
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered before the test gives up")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let app = spawn_app_with(|c| c.header_read_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let mut buffer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
        .await
        .expect("the server closes the connection before the test gives up");
    // Closed (0 bytes) or answered 408; never held.
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => {
            let answer = String::from_utf8_lossy(&buffer[..n]);
            assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        }
    }
}

#[tokio::test]
async fn a_path_no_slug_can_have_is_not_looked_up() {
    let app = app_behind_a_proxy().await;
    let long = format!("/{}", "x".repeat(60_000));
    let response = app.get(&long).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn searches_tags_and_times_out_of_bounds_are_clear_errors() {
    let app = app_behind_a_proxy().await;
    let created = as_basic(&app, Method::POST, "/api/v1/links", ANN)
        .json(&json!({"target_url": "https://example.com/", "slug": "tagged", "tags": ["a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"].clone();

    let get = async |path: String| {
        as_basic(&app, Method::GET, &path, ANN)
            .send()
            .await
            .unwrap()
    };
    let long = get(format!("/api/v1/links?q={}", "x".repeat(60_000))).await;
    let problem = assert_problem(long, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "q");
    // The same tag twice is one tag.
    let twice = get("/api/v1/links?tag=a&tag=a&tag_mode=all".into()).await;
    assert_eq!(twice.status(), StatusCode::OK);
    let found = twice.json::<Value>().await.unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    // Times outside 1970–9999, in a body and in a query.
    let far = as_basic(&app, Method::PATCH, &format!("/api/v1/links/{id}"), ANN)
        .json(&json!({"valid_until": "0100-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(far, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "valid_until");
    let stats = get(format!(
        "/api/v1/links/{id}/stats?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z"
    ))
    .await;
    let problem = assert_problem(stats, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "from");
    // A flag given empty is not a flag left out.
    let empty = get(format!("/api/v1/links/{id}/stats?bots=")).await;
    let problem = assert_problem(empty, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "bots");
    // A value no enum has, in a query the admin routes read.
    make_admin(&app, ANN).await;
    let role = get("/api/v1/admin/users?role=null".into()).await;
    let problem = assert_problem(role, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "role");
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused() {
    let app = app_behind_a_proxy().await;
    for body in [json!([null, null]), json!("time_zone"), json!(7)] {
        let response = as_basic(&app, Method::PATCH, "/api/v1/me/preferences", ANN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
}
