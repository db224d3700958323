//! Redirect rules: a link's target picked by the visit's query, device, language or
//! address, in the order the rules are given; and the visits left uncounted (from the
//! untracked networks, or with the untracked parameter), which do not use up `max_clicks`.

use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::assert_problem;

use super::{ANN, LINKS, app_with_ann, create, wait_for_clicks};
use crate::helpers::{as_basic, register, spawn_app_with};

#[tokio::test]
async fn rules_pick_a_target_by_query_device_and_language() {
    let app = app_with_ann().await;
    create(
        &app,
        json!({
            "target_url": "https://example.com/",
            "slug": "app",
            "rules": [
                {"kind": "query", "value": "campaign=spring%20sale", "target_url": "https://example.com/spring"},
                {"kind": "query", "value": "beta", "target_url": "https://beta.example.com/"},
                {"kind": "device", "value": "ios", "target_url": "https://apps.apple.com/app"},
                {"kind": "device", "value": "android", "target_url": "https://play.google.com/app"},
                {"kind": "language", "value": "fr", "target_url": "https://example.com/fr"}
            ]
        }),
    )
    .await;
    let visit = |path: &'static str, ua: &'static str, lang: &'static str| {
        let client = app.client.clone();
        async move {
            client
                .request(Method::GET, path)
                .header("user-agent", ua)
                .header("accept-language", lang)
                .send()
                .await
                .unwrap()
                .headers()["location"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    let with = |ua, lang| visit("/app", ua, lang);
    let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
    let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36";
    let desktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";
    assert_eq!(with(iphone, "en").await, "https://apps.apple.com/app");
    assert_eq!(
        with(android, "fr").await,
        "https://play.google.com/app",
        "rules apply in order"
    );
    assert_eq!(
        with(desktop, "fr-CH, fr;q=0.9").await,
        "https://example.com/fr"
    );
    assert_eq!(with(desktop, "de").await, "https://example.com/");

    // A query rule matches its parameter decoded, with the value it names or any value.
    assert_eq!(
        visit("/app?campaign=spring+sale", iphone, "fr").await,
        "https://example.com/spring"
    );
    assert_eq!(
        visit("/app?ref=x&beta", desktop, "de").await,
        "https://beta.example.com/"
    );
    assert_eq!(
        visit("/app?campaign=winter", iphone, "de").await,
        "https://apps.apple.com/app"
    );
}

#[tokio::test]
async fn rules_by_address_and_visits_left_uncounted() {
    let app = spawn_app_with(|config| {
        config.client_ip_header = Some("x-forwarded-for".into());
        config.app_table("links").insert(
            "untracked_addresses".into(),
            vec!["198.51.100.0/24", "2001:db8::1"].into(),
        );
        config
            .app_table("links")
            .insert("untracked_param".into(), "nostat".into());
    })
    .await;
    register(&app, ANN).await;
    let link = create(
        &app,
        json!({
            "target_url": "https://example.com/",
            "slug": "office",
            "max_clicks": 2,
            "rules": [
                {"kind": "ip", "value": "10.1.2.3/8", "target_url": "https://intranet.example.com/"},
                {"kind": "ip", "value": "2001:DB8:0:0:0:0:0:7", "target_url": "https://v6.example.com/"}
            ]
        }),
    )
    .await;
    assert_eq!(
        link["rules"][0]["value"], "10.0.0.0/8",
        "stored as the network"
    );
    assert_eq!(link["rules"][1]["value"], "2001:db8::7/128");
    let visit = |path: &'static str, from: &'static str| {
        let request = app
            .client
            .request(Method::GET, path)
            .header("x-forwarded-for", from);
        async move {
            let response = request.send().await.unwrap();
            let location = response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            (response.status(), location.unwrap_or_default())
        }
    };
    let found = |location: &str| (StatusCode::FOUND, location.to_owned());

    // Uncounted: from an untracked network or address, or with ?nostat; and they do not
    // use up max_clicks.
    assert_eq!(
        visit("/office", "198.51.100.20").await,
        found("https://example.com/")
    );
    assert_eq!(
        visit("/office", "2001:db8::1").await,
        found("https://example.com/")
    );
    assert_eq!(
        visit("/office?nostat", "203.0.113.5").await,
        found("https://example.com/")
    );
    // Counted, and the rules pick by address.
    assert_eq!(
        visit("/office", "10.200.0.1").await,
        found("https://intranet.example.com/")
    );
    assert_eq!(
        visit("/office", "2001:db8::7").await,
        found("https://v6.example.com/")
    );
    wait_for_clicks(&app, &link["id"], 2).await;
    assert_eq!(visit("/office", "203.0.113.5").await.0, StatusCode::GONE);

    let response = as_basic(&app, Method::POST, LINKS, ANN)
        .json(&json!({"target_url": "https://example.com/", "rules": [
            {"kind": "ip", "value": "10.0.0.0/33", "target_url": "https://example.com/"}
        ]}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "rules[0].value", "{problem}");
}
