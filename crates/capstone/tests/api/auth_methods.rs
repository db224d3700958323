//! The four ways to authenticate, each resolving to the same account.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::assert_problem;

use crate::helpers::{
    PASSWORD, as_basic, as_bearer, register, sign_in_for_tokens, spawn_app, token_request,
};

const ME: &str = "/api/v1/me";

#[tokio::test]
async fn without_credentials_the_api_answers_401_with_a_challenge() {
    let app = spawn_app().await;
    let response = app.get(ME).await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("Bearer") && challenge.contains("Basic"),
        "{challenge}"
    );
    assert_problem(response, StatusCode::UNAUTHORIZED).await;

    for garbage in ["Basic !!!", "Bearer nonsense", "Digest abc", "Basic"] {
        let response = app
            .request(Method::GET, ME)
            .header("authorization", garbage)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{garbage}");
    }
}

#[tokio::test]
async fn basic_auth_signs_in_scripts() {
    let app = spawn_app().await;
    let id = register(&app, "ann@example.com").await;
    let me: Value = as_basic(&app, Method::GET, ME, "ANN@example.com")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], id);

    let wrong = app
        .request(Method::GET, ME)
        .basic_auth("ann@example.com", Some("not the password"))
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_session_cookie_signs_in_browsers_and_needs_the_csrf_token_to_change_things() {
    let app = spawn_app().await;
    let id = register(&app, "ann@example.com").await;
    let response = app
        .post_json(
            "/api/v1/auth/session",
            &json!({"email": "ann@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("capstone_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    let cookie = session.split(';').next().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();

    let me: Value = app
        .request(Method::GET, ME)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], id);

    // A cross-site form would send the cookie but cannot know the token.
    let forged = app
        .request(Method::PATCH, ME)
        .header("cookie", &cookie)
        .json(&json!({"display_name": "Mallory"}))
        .send()
        .await
        .unwrap();
    assert_problem(forged, StatusCode::FORBIDDEN).await;
    let allowed = app
        .request(Method::PATCH, ME)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"display_name": "Ann B."}))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);

    // Signing out ends the session on the server, not just in the browser.
    let out = app
        .request(Method::DELETE, "/api/v1/auth/session")
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = app
        .request(Method::GET, ME)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bearer_tokens_come_from_the_token_endpoint() {
    let app = spawn_app().await;
    let id = register(&app, "ann@example.com").await;
    let tokens = sign_in_for_tokens(&app, "ann@example.com").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["expires_in"].as_u64().unwrap() > 0);
    let access = tokens["access_token"].as_str().unwrap();
    let me: Value = as_bearer(&app, Method::GET, ME, access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], id);

    let wrong = token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "ann@example.com"),
            ("password", "nope"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let unknown = token_request(&app, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_kills_the_family() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    let first = sign_in_for_tokens(&app, "ann@example.com").await;
    let first_refresh = first["refresh_token"].as_str().unwrap();

    let second: Value = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first_refresh),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let second_refresh = second["refresh_token"]
        .as_str()
        .expect("a new refresh token");
    assert_ne!(second_refresh, first_refresh);

    // The old token comes back: someone kept a copy. Everything from that sign-in dies.
    let reused = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first_refresh),
        ],
    )
    .await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        reused.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let descendant = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second_refresh),
        ],
    )
    .await;
    assert_eq!(
        descendant.status(),
        StatusCode::BAD_REQUEST,
        "the whole family is revoked"
    );

    // Another sign-in is its own family and still works.
    let other = sign_in_for_tokens(&app, "ann@example.com").await;
    let refreshed = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", other["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_it_and_always_answers_200() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    let tokens = sign_in_for_tokens(&app, "ann@example.com").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let revoke = |token: String| {
        let client = app.client.clone();
        async move {
            client
                .request(Method::POST, "/api/v1/auth/revoke")
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(revoke(refresh.to_owned()).await, StatusCode::OK);
    assert_eq!(revoke("never-issued".to_owned()).await, StatusCode::OK);
    let after = token_request(
        &app,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(after.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tampered_expired_and_unsigned_jwts_are_refused() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    let app = spawn_app().await;
    let id = register(&app, "ann@example.com").await;
    register(&app, "bob@example.com").await;
    let access = sign_in_for_tokens(&app, "ann@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = access.split('.').collect();

    // Claim to be someone else, keep the signature.
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut forged = payload.clone();
    forged["sub"] = json!((id + 1).to_string());
    let forged_payload = URL_SAFE_NO_PAD.encode(forged.to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);

    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{forged_payload}.");

    let mut expired = payload.clone();
    expired["exp"] = json!(1);
    let expired = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(expired.to_string()),
        parts[2]
    );

    for (name, token) in [
        ("tampered", tampered),
        ("alg=none", unsigned),
        ("expired", expired),
    ] {
        let response = as_bearer(&app, Method::GET, ME, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
    }
}

#[tokio::test]
async fn a_burst_of_bad_logins_is_rate_limited() {
    let app = crate::helpers::spawn_app_with(|c| c.login_failures_per_account = 5).await;
    register(&app, "ann@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let response = token_request(
            &app,
            &[
                ("grant_type", "password"),
                ("username", "ann@example.com"),
                ("password", "guess"),
            ],
        )
        .await;
        statuses.push(response.status());
    }
    assert_eq!(&statuses[..5], &[StatusCode::BAD_REQUEST; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    // Blocked even with the right password, and on every sign-in method.
    let basic = as_basic(&app, Method::GET, ME, "ann@example.com")
        .send()
        .await
        .unwrap();
    assert!(basic.headers().contains_key("retry-after"));
    assert_problem(basic, StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn unknown_emails_and_wrong_passwords_look_the_same() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    let unknown = token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "nobody@example.com"),
            ("password", "x"),
        ],
    )
    .await;
    let wrong = token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "ann@example.com"),
            ("password", "x"),
        ],
    )
    .await;
    assert_eq!(unknown.status(), wrong.status());
    assert_eq!(unknown.text().await.unwrap(), wrong.text().await.unwrap());
}
