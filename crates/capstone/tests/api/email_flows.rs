//! Email verification and password reset, with the mail really sent over SMTP to a sink.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use testkit::{MailSink, Message, assert_problem};

use crate::helpers::{TestApp, registration, sign_in_for_tokens, spawn_app_with};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new passphrase";
const VERIFY: &str = "/api/v1/auth/email-verification";
const VERIFY_CONFIRM: &str = "/api/v1/auth/email-verification/confirm";
const RESET: &str = "/api/v1/auth/password-reset";
const RESET_CONFIRM: &str = "/api/v1/auth/password-reset/confirm";

/// The app, sending its mail to `sink`; and its database URL, for the test that has to
/// age a token.
async fn spawn_app_with_mail() -> (TestApp, MailSink, String) {
    let sink = MailSink::start().await;
    let mut database_url = String::new();
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(sink.smtp_url().into());
        database_url = c.database_url.expose_secret().to_owned();
    })
    .await;
    (app, sink, database_url)
}

/// Registers `email` and reads the verification mail that registration sends.
async fn register(app: &TestApp, sink: &MailSink, email: &str) -> Message {
    let response = app
        .post_json("/api/v1/auth/register", &registration(email))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    sink.wait_for(email).await
}

/// The bare token, on a line of its own, and checks that the link carries the same token.
/// [`register`], then the address confirmed with the token mailed to it: resets go only to
/// confirmed addresses.
async fn register_verified(app: &TestApp, sink: &MailSink, email: &str) {
    let token = token_in(&register(app, sink, email).await);
    let confirmed = app
        .post_json(VERIFY_CONFIRM, &json!({ "token": token }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);
}

fn token_in(mail: &Message) -> String {
    let body = mail.body();
    let token = body
        .lines()
        .find(|line| {
            line.len() >= 43
                && line
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .unwrap_or_else(|| panic!("no token line in:\n{body}"))
        .to_owned();
    assert!(
        body.lines()
            .any(|line| line.starts_with("http://") && line.ends_with(&format!("?token={token}"))),
        "no link with the token in:\n{body}"
    );
    token
}

async fn me(app: &TestApp, email: &str, password: &str) -> Response {
    app.request(Method::GET, "/api/v1/me")
        .basic_auth(email, Some(password))
        .send()
        .await
        .unwrap()
}

async fn email_verified(app: &TestApp, email: &str) -> bool {
    let response = me(app, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["email_verified"]
        .as_bool()
        .unwrap()
}

/// Asserts a 422 naming `field`.
async fn assert_invalid(response: Response, field: &str) {
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
}

async fn assert_accepted(response: Response) {
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.text().await.unwrap(), "", "202 has no body");
}

async fn token_grant(app: &TestApp, form: &[(&str, &str)]) -> Response {
    app.request(Method::POST, "/api/v1/auth/token")
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn registering_mails_a_token_that_verifies_the_address_once() {
    let (app, sink, _) = spawn_app_with_mail().await;
    let mail = register(&app, &sink, "ann@example.com").await;
    assert_eq!(mail.header("subject"), Some("Confirm your email address"));
    assert!(
        mail.header("from")
            .is_some_and(|from| from.contains("no-reply@localhost")),
        "{mail:?}"
    );
    let token = token_in(&mail);
    assert!(!email_verified(&app, "ann@example.com").await);

    // As pasted from a mail, with a line break.
    let confirmed = app
        .post_json(VERIFY_CONFIRM, &json!({ "token": format!(" {token}\n") }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);
    assert!(email_verified(&app, "ann@example.com").await);

    let again = app
        .post_json(VERIFY_CONFIRM, &json!({ "token": token }))
        .await;
    assert_invalid(again, "token").await;
}

/// A relay that refuses for a while ("451 try again later", as greylisting does) delays
/// the mail, and does not lose it: the mail job is tried again later (made due here by
/// moving the server's clock).
#[tokio::test]
async fn a_relay_that_says_try_again_later_gets_the_mail_on_a_later_try() {
    let (app, sink, _) = spawn_app_with_mail().await;
    sink.refuse_next(1);
    let response = app
        .post_json("/api/v1/auth/register", &registration("ann@example.com"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sink.refusals_left() > 0 {
        assert!(std::time::Instant::now() < deadline, "no try was made");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.advance_clock(chrono::TimeDelta::minutes(1)).await;
    let mail = sink.wait_for("ann@example.com").await;
    assert_eq!(mail.header("subject"), Some("Confirm your email address"));
    let token = token_in(&mail);
    let confirmed = app
        .post_json(VERIFY_CONFIRM, &json!({ "token": token }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_signed_in_user_can_ask_for_another_link_until_verified() {
    let (app, sink, _) = spawn_app_with_mail().await;
    let first = token_in(&register(&app, &sink, "ann@example.com").await);

    let anonymous = app.request(Method::POST, VERIFY).send().await.unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;

    let ask = || {
        app.request(Method::POST, VERIFY)
            .basic_auth("ann@example.com", Some(PASSWORD))
            .send()
    };
    assert_accepted(ask().await.unwrap()).await;
    let second = token_in(&sink.wait_for("ann@example.com").await);
    assert_ne!(first, second);

    let confirmed = app
        .post_json(VERIFY_CONFIRM, &json!({ "token": second }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);
    assert!(email_verified(&app, "ann@example.com").await);

    // Verified already: nothing to send, and the client is told so.
    let problem = assert_problem(ask().await.unwrap(), StatusCode::CONFLICT).await;
    assert_eq!(problem["errors"][0]["field"], "email");
    assert!(
        sink.wait_for_within("ann@example.com", Duration::from_millis(300))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_token_mailed_before_the_address_changed_does_not_verify_the_new_one() {
    let (app, sink, _) = spawn_app_with_mail().await;
    let token = token_in(&register(&app, &sink, "eve@example.com").await);
    let changed = app
        .request(Method::PATCH, "/api/v1/me")
        .basic_auth("eve@example.com", Some(PASSWORD))
        .json(&json!({ "email": "victim@example.com", "current_password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);

    let confirmed = app
        .post_json(VERIFY_CONFIRM, &json!({ "token": token }))
        .await;
    assert_invalid(confirmed, "token").await;
    assert!(!email_verified(&app, "victim@example.com").await);
}

#[tokio::test]
async fn concurrent_uses_of_one_token_succeed_once() {
    let (app, sink, _) = spawn_app_with_mail().await;
    let token = token_in(&register(&app, &sink, "ann@example.com").await);
    let attempts: Vec<_> = (0..6)
        .map(|_| {
            let client = app.client.clone();
            let body = json!({ "token": token });
            tokio::spawn(async move { client.post_json(VERIFY_CONFIRM, &body).await.status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::NO_CONTENT)
        .count();
    assert_eq!(won, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::NO_CONTENT || *s == StatusCode::UNPROCESSABLE_ENTITY),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_reset_for_an_unknown_address_is_202_and_sends_nothing() {
    let (app, sink, _) = spawn_app_with_mail().await;
    assert_accepted(
        app.post_json(RESET, &json!({ "email": "nobody@example.com" }))
            .await,
    )
    .await;
    // Mail for a real account, asked for afterwards, arrives; none came for the unknown one.
    register(&app, &sink, "ann@example.com").await;
    assert_accepted(
        app.post_json(RESET, &json!({ "email": "ann@example.com" }))
            .await,
    )
    .await;
    sink.wait_for("ann@example.com").await;
    assert!(
        sink.wait_for_within("nobody@example.com", Duration::from_millis(300))
            .await
            .is_none()
    );

    let malformed = app.post_json(RESET, &json!({ "email": "nobody" })).await;
    assert_invalid(malformed, "email").await;
}

#[tokio::test]
async fn a_reset_sets_the_new_password_and_signs_out_everywhere() {
    let (app, sink, _) = spawn_app_with_mail().await;
    register_verified(&app, &sink, "ann@example.com").await;
    let tokens: Value = token_grant(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "ann@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let session = app
        .post_json(
            "/api/v1/auth/session",
            &json!({ "email": "ann@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(session.status(), StatusCode::CREATED);
    let cookie = session
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("capstone_session="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let with_cookie = || {
        app.request(Method::GET, "/api/v1/me")
            .header("cookie", &cookie)
            .send()
    };
    assert_eq!(with_cookie().await.unwrap().status(), StatusCode::OK);

    assert_accepted(
        app.post_json(RESET, &json!({ "email": "Ann@Example.com" }))
            .await,
    )
    .await;
    let mail = sink.wait_for("ann@example.com").await;
    assert_eq!(mail.header("subject"), Some("Reset your password"));
    let token = token_in(&mail);

    // A weak password is refused and the token is not used up by it.
    let weak = app
        .post_json(
            RESET_CONFIRM,
            &json!({ "token": token, "password": "Password123" }),
        )
        .await;
    assert_invalid(weak, "password").await;

    let reset = app
        .post_json(
            RESET_CONFIRM,
            &json!({ "token": token, "password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);

    assert_problem(
        me(&app, "ann@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        me(&app, "ann@example.com", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    let refreshed = token_grant(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refreshed.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_problem(with_cookie().await.unwrap(), StatusCode::UNAUTHORIZED).await;

    let again = app
        .post_json(
            RESET_CONFIRM,
            &json!({ "token": token, "password": "yet another passphrase" }),
        )
        .await;
    assert_invalid(again, "token").await;
}

#[tokio::test]
async fn only_the_newest_reset_token_works_and_expired_or_garbage_ones_are_refused() {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Database};

    let (app, sink, database_url) = spawn_app_with_mail().await;
    let verification = token_in(&register(&app, &sink, "ann@example.com").await);
    let confirmed = app
        .post_json(VERIFY_CONFIRM, &json!({ "token": verification }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);
    let reset = async |token: String| {
        app.post_json(
            RESET_CONFIRM,
            &json!({ "token": token, "password": NEW_PASSWORD }),
        )
        .await
    };

    // One at a time: two mails sent at once may arrive in either order.
    let mut tokens = Vec::new();
    for _ in 0..2 {
        assert_accepted(
            app.post_json(RESET, &json!({ "email": "ann@example.com" }))
                .await,
        )
        .await;
        tokens.push(token_in(&sink.wait_for("ann@example.com").await));
    }
    let [older, newer] = <[String; 2]>::try_from(tokens).unwrap();
    assert_invalid(reset(older).await, "token").await;
    assert_invalid(reset(verification.clone()).await, "token").await;
    assert_invalid(reset("garbage".into()).await, "token").await;
    assert_invalid(
        app.post_json(VERIFY_CONFIRM, &json!({ "token": "garbage" }))
            .await,
        "token",
    )
    .await;

    // Age every token past its expiry, as time would.
    let db = Database::connect(&database_url).await.unwrap();
    db.execute_unprepared("UPDATE user_tokens SET expires_at = created_at")
        .await
        .unwrap();
    db.close().await.unwrap();
    assert_invalid(reset(newer).await, "token").await;
    assert_invalid(
        app.post_json(VERIFY_CONFIRM, &json!({ "token": verification }))
            .await,
        "token",
    )
    .await;
    assert_eq!(
        me(&app, "ann@example.com", PASSWORD).await.status(),
        StatusCode::OK,
        "the password is unchanged"
    );
}

#[tokio::test]
async fn a_reset_goes_only_to_a_confirmed_address_and_an_unconfirmed_one_is_told_how() {
    let (app, sink, _) = spawn_app_with_mail().await;
    register(&app, &sink, "ann@example.com").await;
    assert_accepted(
        app.post_json(RESET, &json!({ "email": "ann@example.com" }))
            .await,
    )
    .await;
    let mail = sink.wait_for("ann@example.com").await;
    assert_eq!(
        mail.header("subject"),
        Some("Confirm your email address to reset your password")
    );
    // What it carries confirms the address, and does not reset the password.
    let token = token_in(&mail);
    let reset = app
        .post_json(
            RESET_CONFIRM,
            &json!({ "token": token, "password": NEW_PASSWORD }),
        )
        .await;
    assert_invalid(reset, "token").await;
    let confirmed = app
        .post_json(VERIFY_CONFIRM, &json!({ "token": token }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);

    // Confirmed, the address gets the reset.
    assert_accepted(
        app.post_json(RESET, &json!({ "email": "ann@example.com" }))
            .await,
    )
    .await;
    let mail = sink.wait_for("ann@example.com").await;
    assert_eq!(mail.header("subject"), Some("Reset your password"));
}

#[tokio::test]
async fn changing_the_email_needs_the_password_and_tells_the_old_address() {
    let (app, sink, _) = spawn_app_with_mail().await;
    register_verified(&app, &sink, "ann@example.com").await;
    let tokens = sign_in_for_tokens(&app, "ann@example.com").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let change = async |body: Value| {
        app.request(Method::PATCH, "/api/v1/me")
            .bearer_auth(&access)
            .json(&body)
            .send()
            .await
            .unwrap()
    };

    // A stolen access token alone cannot move the account to another address.
    for body in [
        json!({ "email": "mallory@example.com" }),
        json!({ "email": "mallory@example.com", "current_password": "not the password" }),
        json!({ "password": NEW_PASSWORD }),
    ] {
        assert_invalid(change(body).await, "current_password").await;
    }
    assert!(
        sink.wait_for_within("mallory@example.com", Duration::from_millis(300))
            .await
            .is_none()
    );
    // The display name needs no password.
    assert_eq!(
        change(json!({ "display_name": "Ann B." })).await.status(),
        StatusCode::OK
    );

    let moved = change(json!({ "email": "ann@new.example", "current_password": PASSWORD })).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["email"], "ann@new.example");
    assert_eq!(moved["email_verified"], false);
    let notice = sink.wait_for("ann@example.com").await;
    assert_eq!(
        notice.header("subject"),
        Some("Your email address was changed")
    );
    let verification = sink.wait_for("ann@new.example").await;
    assert_eq!(
        verification.header("subject"),
        Some("Confirm your email address")
    );
    // Until it is confirmed, the new address gets no reset.
    assert_accepted(
        app.post_json(RESET, &json!({ "email": "ann@new.example" }))
            .await,
    )
    .await;
    let mail = sink.wait_for("ann@new.example").await;
    assert_ne!(mail.header("subject"), Some("Reset your password"));
}

#[tokio::test]
async fn reset_requests_are_rate_limited_per_address() {
    let (app, _sink, _) = spawn_app_with_mail().await;
    let body = json!({ "email": "someone@example.com" });
    for _ in 0..5 {
        assert_accepted(app.post_json(RESET, &body).await).await;
    }
    let limited = app.post_json(RESET, &body).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS).await;
    // Another address is not affected.
    assert_accepted(
        app.post_json(RESET, &json!({ "email": "other@example.com" }))
            .await,
    )
    .await;
}

#[tokio::test]
async fn the_flows_are_in_the_openapi_document() {
    let (app, _sink, _) = spawn_app_with_mail().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for (path, status) in [
        (VERIFY, "202"),
        (VERIFY_CONFIRM, "204"),
        (RESET, "202"),
        (RESET_CONFIRM, "204"),
    ] {
        let responses = &doc["paths"][path]["post"]["responses"];
        assert!(responses[status].is_object(), "{path} {status}");
        assert!(
            responses["422"].is_object() || responses["409"].is_object(),
            "{path} lists its problems"
        );
    }
}
