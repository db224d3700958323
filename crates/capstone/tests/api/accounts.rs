//! The signed-in account, API keys, and what one user may see of another's.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::assert_problem;

use crate::helpers::{
    PASSWORD, as_basic, as_bearer, create_key, register, sign_in_for_tokens, spawn_app,
};

const KEYS: &str = "/api/v1/me/api-keys";

#[tokio::test]
async fn api_keys_are_shown_once_and_work_until_deleted() {
    let app = spawn_app().await;
    let id = register(&app, "ann@example.com").await;
    let created = create_key(
        &app,
        "ann@example.com",
        json!({"name": "deploy", "scope": "write"}),
    )
    .await;
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("cap_"));
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));

    let me: Value = as_bearer(&app, Method::GET, "/api/v1/me", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], id);

    let list: Value = as_basic(&app, Method::GET, KEYS, "ann@example.com")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(
        list["items"][0].get("key").is_none(),
        "the key is never listed"
    );
    assert!(
        list["items"][0]["last_used_at"].is_string(),
        "use is recorded"
    );

    let path = format!("{KEYS}/{}", created["id"]);
    let deleted = as_basic(&app, Method::DELETE, &path, "ann@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let after = as_bearer(&app, Method::GET, "/api/v1/me", key)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_read_only_key_can_read_but_not_write() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    let created = create_key(&app, "ann@example.com", json!({"name": "dashboard"})).await;
    assert_eq!(created["scope"], "read");
    let key = created["key"].as_str().unwrap();
    assert_eq!(
        as_bearer(&app, Method::GET, "/api/v1/me", key)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let write = as_bearer(&app, Method::PATCH, "/api/v1/me", key)
        .json(&json!({"display_name": "X"}))
        .send()
        .await
        .unwrap();
    assert_problem(write, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn keys_cannot_mint_keys_and_expired_keys_stop_working() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    let writer = create_key(
        &app,
        "ann@example.com",
        json!({"name": "ci", "scope": "write"}),
    )
    .await;
    let mint = as_bearer(&app, Method::POST, KEYS, writer["key"].as_str().unwrap())
        .json(&json!({"name": "another"}))
        .send()
        .await
        .unwrap();
    assert_problem(mint, StatusCode::FORBIDDEN).await;

    let past = as_basic(&app, Method::POST, KEYS, "ann@example.com")
        .json(&json!({"name": "old", "expires_at": "2020-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(past, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "expires_at");
}

#[tokio::test]
async fn another_users_key_is_not_found() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    register(&app, "bob@example.com").await;
    let anns = create_key(&app, "ann@example.com", json!({"name": "ann's"})).await;
    let path = format!("{KEYS}/{}", anns["id"]);
    let response = as_basic(&app, Method::DELETE, &path, "bob@example.com")
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND).await;
    // And it still works for Ann.
    assert_eq!(
        as_bearer(
            &app,
            Method::GET,
            "/api/v1/me",
            anns["key"].as_str().unwrap()
        )
        .send()
        .await
        .unwrap()
        .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn key_lists_are_paged_with_a_next_link() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    for n in 0..5 {
        create_key(&app, "ann@example.com", json!({"name": format!("key {n}")})).await;
    }
    let first = as_basic(
        &app,
        Method::GET,
        &format!("{KEYS}?limit=2"),
        "ann@example.com",
    )
    .send()
    .await
    .unwrap();
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    assert!(link.contains("rel=\"next\""), "{link}");
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let mut names: Vec<String> = Vec::new();
    let mut next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    names.extend(
        first["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap().to_owned()),
    );
    loop {
        let page: Value = as_basic(&app, Method::GET, &next, "ann@example.com")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(page["items"].is_array(), "{next}: {page}");
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => next = format!("{KEYS}?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        names,
        ["key 4", "key 3", "key 2", "key 1", "key 0"],
        "newest first, each once"
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_old_one_and_signs_out_elsewhere() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    let tokens = sign_in_for_tokens(&app, "ann@example.com").await;

    let without = as_basic(&app, Method::PATCH, "/api/v1/me", "ann@example.com")
        .json(&json!({"password": "a brand new passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_problem(without, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["field"],
        "current_password"
    );

    let changed = as_basic(&app, Method::PATCH, "/api/v1/me", "ann@example.com")
        .json(&json!({"password": "a brand new passphrase", "current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let old = as_basic(&app, Method::GET, "/api/v1/me", "ann@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let refresh = crate::helpers::token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        refresh.status(),
        StatusCode::BAD_REQUEST,
        "refresh tokens die with the old password"
    );
}

#[tokio::test]
async fn deleting_the_account_deletes_what_it_owns() {
    let app = spawn_app().await;
    register(&app, "ann@example.com").await;
    let key = create_key(
        &app,
        "ann@example.com",
        json!({"name": "k", "scope": "write"}),
    )
    .await;
    let deleted = as_basic(&app, Method::DELETE, "/api/v1/me", "ann@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        as_bearer(
            &app,
            Method::GET,
            "/api/v1/me",
            key["key"].as_str().unwrap()
        )
        .send()
        .await
        .unwrap()
        .status(),
        StatusCode::UNAUTHORIZED
    );
    // The email is free again.
    register(&app, "ann@example.com").await;
}
