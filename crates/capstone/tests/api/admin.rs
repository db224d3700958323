//! Roles: admin routes, disabling accounts, and the `capstone users` command.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::assert_problem;

use crate::helpers::{
    as_basic, as_bearer, capstone_cli, make_admin, register, sign_in_for_tokens, spawn_app,
};

#[tokio::test]
async fn members_get_403_and_anonymous_callers_401_on_admin_routes() {
    let app = spawn_app().await;
    register(&app, "bob@example.com").await;
    assert_problem(
        app.get("/api/v1/admin/users").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let member = as_basic(&app, Method::GET, "/api/v1/admin/users", "bob@example.com")
        .send()
        .await
        .unwrap();
    assert_problem(member, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn the_first_admin_is_made_from_the_command_line() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    register(&app, "bob@example.com").await;
    make_admin(&app, "Ann@Example.com").await;

    let listed = capstone_cli(&app, &["users", "list"]).await;
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("ann@example.com") && l.contains("admin")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("bob@example.com") && l.contains("member")),
        "{text}"
    );
    let missing = capstone_cli(&app, &["users", "set-role", "nobody@example.com", "admin"]).await;
    assert!(!missing.status.success());

    let page: Value = as_basic(
        &app,
        Method::GET,
        "/api/v1/admin/users?q=BOB",
        "ann@example.com",
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let emails: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["bob@example.com"]);
}

#[tokio::test]
async fn a_disabled_account_loses_every_credential_at_once() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    let bob = register(&app, "bob@example.com").await;
    make_admin(&app, "ann@example.com").await;

    let tokens = sign_in_for_tokens(&app, "bob@example.com").await;
    let key: Value = as_basic(&app, Method::POST, "/api/v1/me/api-keys", "bob@example.com")
        .json(&json!({"name": "k"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let disable = as_basic(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/users/{bob}"),
        "ann@example.com",
    )
    .json(&json!({"disabled": true}))
    .send()
    .await
    .unwrap();
    assert_eq!(disable.status(), StatusCode::OK);
    assert_eq!(disable.json::<Value>().await.unwrap()["disabled"], true);

    let access = tokens["access_token"].as_str().unwrap();
    for (name, response) in [
        (
            "basic",
            as_basic(&app, Method::GET, "/api/v1/me", "bob@example.com")
                .send()
                .await
                .unwrap(),
        ),
        (
            "jwt",
            as_bearer(&app, Method::GET, "/api/v1/me", access)
                .send()
                .await
                .unwrap(),
        ),
        (
            "api key",
            as_bearer(
                &app,
                Method::GET,
                "/api/v1/me",
                key["key"].as_str().unwrap(),
            )
            .send()
            .await
            .unwrap(),
        ),
    ] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
    }
    let refresh = crate::helpers::token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn admins_change_roles_but_cannot_lock_themselves_out() {
    let app = spawn_app().await;
    let ann = register(&app, "ann@example.com").await;
    let bob = register(&app, "bob@example.com").await;
    make_admin(&app, "ann@example.com").await;

    let promote = as_basic(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/users/{bob}"),
        "ann@example.com",
    )
    .json(&json!({"role": "admin"}))
    .send()
    .await
    .unwrap();
    assert_eq!(promote.json::<Value>().await.unwrap()["role"], "admin");
    let bob_lists = as_basic(&app, Method::GET, "/api/v1/admin/users", "bob@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(bob_lists.status(), StatusCode::OK);

    let demote_self = as_basic(
        &app,
        Method::PATCH,
        &format!("/api/v1/admin/users/{ann}"),
        "ann@example.com",
    )
    .json(&json!({"role": "member"}))
    .send()
    .await
    .unwrap();
    assert_problem(demote_self, StatusCode::UNPROCESSABLE_ENTITY).await;

    let missing = as_basic(
        &app,
        Method::PATCH,
        "/api/v1/admin/users/999999",
        "ann@example.com",
    )
    .json(&json!({"role": "admin"}))
    .send()
    .await
    .unwrap();
    assert_problem(missing, StatusCode::NOT_FOUND).await;
}
