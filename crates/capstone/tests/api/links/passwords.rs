//! Password links: the form a visitor gets before the redirect, the right password's
//! `303`, and wrong guesses limited per link and address and per address (`429` with
//! `Retry-After`).

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{ANN, app_with_ann, create, follow};
use crate::helpers::{media_type, register, spawn_app_with};

#[tokio::test]
async fn password_links_ask_first() {
    let app = app_with_ann().await;
    let link = create(&app, json!({"target_url": "https://secret.example/", "slug": "secret", "password": "open sesame"})).await;
    assert_eq!(link["has_password"], true);
    assert!(link.get("password").is_none());

    let form = follow(&app, "/secret").await;
    assert_eq!(form.status(), StatusCode::OK);
    assert!(form.text().await.unwrap().contains("type=\"password\""));

    let wrong = app
        .request(Method::POST, "/secret")
        .form(&[("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = app
        .request(Method::POST, "/secret")
        .form(&[("password", "open sesame")])
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()["location"], "https://secret.example/");
}

#[tokio::test]
async fn guessing_a_link_password_is_stopped_per_link_and_per_address() {
    let app = spawn_app_with(|config| {
        config.login_failures_per_account = 3;
        config.login_failures_per_ip = 6;
    })
    .await;
    register(&app, ANN).await;
    for slug in ["vault-a", "vault-b"] {
        create(&app, json!({"target_url": "https://secret.example/", "slug": slug, "password": "open sesame"})).await;
    }
    let try_password = |slug: &'static str, password: &'static str| {
        let request = app
            .request(Method::POST, &format!("/{slug}"))
            .form(&[("password", password)]);
        async move { request.send().await.unwrap() }
    };
    let statuses = async |tries: &[(&'static str, &'static str)]| {
        let mut statuses = Vec::new();
        for (slug, password) in tries {
            statuses.push(try_password(slug, password).await.status().as_u16());
        }
        statuses
    };

    // The right password forgets the wrong ones before it on that link.
    let tries = [
        ("vault-a", "nope"),
        ("vault-a", "nope"),
        ("vault-a", "open sesame"),
    ];
    assert_eq!(statuses(&tries).await, [401, 401, 303]);
    let tries = [
        ("vault-a", "nope"),
        ("vault-a", "nope"),
        ("vault-a", "nope"),
    ];
    assert_eq!(statuses(&tries).await, [401, 401, 401]);

    // Three wrong in a row: even the right password waits now.
    let blocked = try_password("vault-a", "open sesame").await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(media_type(&blocked), "text/html");
    assert!(
        blocked
            .text()
            .await
            .unwrap()
            .contains("Too many wrong passwords")
    );

    // Another link from the same address: its own count, until the address's (six wrong
    // passwords over every link) is used up.
    assert_eq!(statuses(&[("vault-b", "nope")]).await, [401]);
    assert_eq!(statuses(&[("vault-b", "open sesame")]).await, [429]);
    // Following the link still shows the form: only guessing is refused.
    assert_eq!(follow(&app, "/vault-b").await.status(), StatusCode::OK);
}
