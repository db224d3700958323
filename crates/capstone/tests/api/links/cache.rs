//! The redirect's slug cache: an update or delete through this instance reaches the
//! redirect at once, a change made elsewhere once the cached entry's time to live is
//! over.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ANN, LINKS, app_with_ann, create, follow};
use crate::helpers::{as_basic, media_type, register};

/// A change made through another instance (here: straight in the database, which this
/// instance's cache never hears of) reaches the redirect once the cached entry's time to
/// live is over, and not before.
#[tokio::test]
async fn a_change_made_elsewhere_reaches_the_redirect_after_the_cache_ttl() {
    use sea_orm_migration::sea_orm::ConnectionTrait;

    let app = crate::helpers::spawn_app_with(|config| {
        config
            .app_table("links")
            .insert("cache_ttl_secs".into(), 1.into());
    })
    .await;
    register(&app, ANN).await;
    create(
        &app,
        json!({"target_url": "https://first.example/", "slug": "elsewhere"}),
    )
    .await;
    let location = |response: reqwest::Response| response.headers()["location"].clone();
    assert_eq!(
        location(follow(&app, "/elsewhere").await),
        "https://first.example/"
    );

    let db = platform::db::connect(&crate::helpers::test_config(&app._db))
        .await
        .unwrap();
    db.execute_unprepared(
        "UPDATE links SET target_url = 'https://second.example/' WHERE slug = 'elsewhere'",
    )
    .await
    .unwrap();
    assert_eq!(
        location(follow(&app, "/elsewhere").await),
        "https://first.example/",
        "cached"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        location(follow(&app, "/elsewhere").await),
        "https://second.example/",
        "reloaded after the TTL"
    );
}

#[tokio::test]
async fn updates_and_deletes_reach_the_redirect_at_once() {
    let app = app_with_ann().await;
    let link = create(
        &app,
        json!({"target_url": "https://old.example/", "slug": "moving"}),
    )
    .await;
    assert_eq!(
        follow(&app, "/moving").await.headers()["location"],
        "https://old.example/"
    );
    let path = format!("{LINKS}/{}", link["id"]);

    let updated = as_basic(&app, Method::PATCH, &path, ANN)
        .json(&json!({"target_url": "https://new.example/", "title": "New", "tags": ["a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["title"], "New");
    assert_eq!(updated["tags"], json!(["a"]));
    assert_eq!(
        follow(&app, "/moving").await.headers()["location"],
        "https://new.example/"
    );

    let renamed = as_basic(&app, Method::PATCH, &path, ANN)
        .json(&json!({"slug": "moved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(
        follow(&app, "/moving").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(follow(&app, "/moved").await.status(), StatusCode::FOUND);

    let deleted = as_basic(&app, Method::DELETE, &path, ANN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = follow(&app, "/moved").await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // A page for a browser, a problem for any other client.
    assert_eq!(media_type(&gone), "application/problem+json");
    let in_a_browser = app
        .request(Method::GET, "/moved")
        .header("accept", "text/html,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(in_a_browser.status(), StatusCode::NOT_FOUND);
    assert_eq!(media_type(&in_a_browser), "text/html");
}
