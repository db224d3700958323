//! Following a short link: the redirect with its status, the target normalised, clicks
//! counted (a HEAD not), custom slugs case-sensitive with the query forwarded, links that
//! have expired, are used up or not yet valid, the root and unknown slugs sent home when
//! configured; and the pages around a link: the tracking pixel, the `+` preview, the QR
//! codes, and the `robots.txt` that keeps crawlers off the short links.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{assert_problem, problem_fields};

use super::{ANN, LINKS, app_with_ann, create, follow, wait_for_clicks};
use crate::helpers::{as_basic, get_json, media_type, register, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_link_redirects_with_its_status_and_counts_clicks() {
    let app = app_with_ann().await;
    let link = create(
        &app,
        json!({"target_url": "https://Example.com/a path?x=1"}),
    )
    .await;
    assert_eq!(
        link["target_url"], "https://example.com/a%20path?x=1",
        "normalised"
    );
    let slug = link["slug"].as_str().unwrap();
    assert_eq!(slug.len(), 7);
    assert_eq!(link["short_url"], format!("{}/{slug}", app.base));

    let response = follow(&app, &format!("/{slug}")).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()["location"],
        "https://example.com/a%20path?x=1"
    );

    let head = app
        .request(Method::HEAD, &format!("/{slug}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::FOUND);

    follow(&app, &format!("/{slug}")).await;
    // Clicks are written in batches; give the writer its flush interval.
    let mut count = 0;
    for _ in 0..50 {
        let current: Value = get_json(&app, &format!("{LINKS}/{}", link["id"]), ANN).await;
        count = current["click_count"].as_i64().unwrap();
        if count == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count, 2, "two GETs counted, the HEAD not");
}

#[tokio::test]
async fn a_tracking_pixel_counts_views_without_redirecting() {
    let app = app_with_ann().await;
    let link = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "mail-1", "max_clicks": 2}),
    )
    .await;
    let secret = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "mail-2", "password": "open sesame"}),
    )
    .await;
    let checked = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "mail-3"}),
    )
    .await;

    // A HEAD is a link checker, not a view.
    let head = app
        .request(Method::HEAD, "/mail-3/track")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    for path in [
        "/mail-3/track",
        "/mail-2/track",
        "/mail-1/track",
        "/mail-1/track",
        "/mail-1/track",
        "/nope/track",
    ] {
        let response = follow(&app, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(media_type(&response), "image/gif", "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert!(
            response.bytes().await.unwrap().starts_with(b"GIF89a"),
            "{path}"
        );
    }
    // Counted up to `max_clicks`, which the third view found used up.
    wait_for_clicks(&app, &link["id"], 2).await;
    assert_eq!(follow(&app, "/mail-1").await.status(), StatusCode::GONE);
    // Viewed before the first link, so written before its clicks.
    for (other, expected, why) in [
        (&secret, 0, "a password link is not counted"),
        (&checked, 1, "the HEAD is not counted"),
    ] {
        let other: Value = get_json(&app, &format!("{LINKS}/{}", other["id"]), ANN).await;
        assert_eq!(other["click_count"], expected, "{why}");
    }
}

/// Crawlers are asked to leave every short link alone: a crawl would be indexed as a page
/// and counted as a click.
#[tokio::test]
async fn robots_txt_keeps_crawlers_off_the_short_links() {
    let app = spawn_app().await;
    let response = follow(&app, "/robots.txt").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(media_type(&response), "text/plain");
    let body = response.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines, ["User-agent: *", "Disallow: /"]);
}

#[tokio::test]
async fn a_plus_after_the_slug_shows_where_the_link_goes_without_going() {
    let app = app_with_ann().await;
    let link = create(
        &app,
        json!({"target_url": "https://example.com/sale?a=1&b=2", "slug": "peek",
               "rules": [{"kind": "device", "value": "ios", "target_url": "https://apps.apple.com/"}]}),
    )
    .await;
    create(&app, json!({"target_url": "https://secret.example/", "slug": "locked", "password": "open sesame"})).await;

    let preview = follow(&app, "/peek+").await;
    assert_eq!(preview.status(), StatusCode::OK);
    assert_eq!(media_type(&preview), "text/html");
    let html = preview.text().await.unwrap();
    assert!(
        html.contains(r#"<a href="https://example.com/sale?a=1&amp;b=2""#),
        "{html}"
    );
    assert!(html.contains("Some visitors are sent elsewhere"), "{html}");
    // Looking is not a visit.
    assert_eq!(follow(&app, "/peek").await.status(), StatusCode::FOUND);
    wait_for_clicks(&app, &link["id"], 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let link: Value = get_json(&app, &format!("{LINKS}/{}", link["id"]), ANN).await;
    assert_eq!(link["click_count"], 1);

    let locked = follow(&app, "/locked+").await.text().await.unwrap();
    assert!(!locked.contains("secret.example"), "{locked}");
    assert_eq!(
        follow(&app, "/nothing+").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn custom_slugs_statuses_and_query_forwarding() {
    let app = app_with_ann().await;
    create(
        &app,
        json!({"target_url": "https://example.com/p#top", "slug": "Promo-2026", "redirect_status": 301, "forward_query": true}),
    )
    .await;
    let response = follow(&app, "/Promo-2026?utm_source=news&ref=1").await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        response.headers()["location"],
        "https://example.com/p?utm_source=news&ref=1#top"
    );
    // A trailing slash, as some tools add to a pasted address, finds the same link.
    let slashed = follow(&app, "/Promo-2026/?ref=2").await;
    assert_eq!(slashed.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        slashed.headers()["location"],
        "https://example.com/p?ref=2#top"
    );
    // Slugs are case-sensitive, and a path below a slug is not a link.
    for path in ["/promo-2026", "/Promo-2026/more"] {
        let response = follow(&app, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }

    let taken = as_basic(&app, Method::POST, LINKS, ANN)
        .json(&json!({"target_url": "https://example.com/", "slug": "Promo-2026"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_problem(taken, StatusCode::CONFLICT).await["errors"][0]["field"],
        "slug"
    );
}

#[tokio::test]
async fn expired_exhausted_and_future_links() {
    let app = app_with_ann().await;
    create(&app, json!({"target_url": "https://example.com/", "slug": "was-valid", "valid_until": "2020-01-01T00:00:00Z"})).await;
    assert_eq!(follow(&app, "/was-valid").await.status(), StatusCode::GONE);
    create(&app, json!({"target_url": "https://example.com/", "slug": "not-yet", "valid_from": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(
        follow(&app, "/not-yet").await.status(),
        StatusCode::NOT_FOUND
    );
    create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "twice", "max_clicks": 2}),
    )
    .await;
    assert_eq!(follow(&app, "/twice").await.status(), StatusCode::FOUND);
    assert_eq!(follow(&app, "/twice").await.status(), StatusCode::FOUND);
    assert_eq!(follow(&app, "/twice").await.status(), StatusCode::GONE);
}

#[tokio::test]
async fn the_root_and_slugs_that_lead_nowhere_can_send_visitors_home() {
    let app = spawn_app_with(|config| {
        config
            .app_table("links")
            .insert("root_redirect".into(), "https://Home.example".into());
        config.app_table("links").insert(
            "invalid_redirect".into(),
            "https://home.example/lost".into(),
        );
    })
    .await;
    register(&app, ANN).await;
    let once = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "once", "max_clicks": 1}),
    )
    .await;
    create(&app, json!({"target_url": "https://example.com/", "slug": "ended", "valid_until": "2001-01-01T00:00:00Z"})).await;
    assert_eq!(follow(&app, "/once").await.status(), StatusCode::FOUND);
    wait_for_clicks(&app, &once["id"], 1).await;

    for (path, home) in [
        ("/", "https://home.example/"),
        ("/no-such-slug", "https://home.example/lost"),
        ("/ended", "https://home.example/lost"),
        ("/once", "https://home.example/lost"),
    ] {
        let response = follow(&app, path).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{path}");
        assert_eq!(response.headers()["location"], home, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    // Nothing went to the link that was used up.
    let once: Value = get_json(&app, &format!("{LINKS}/{}", once["id"]), ANN).await;
    assert_eq!(once["click_count"], 1);
    // The API's own 404s are left alone.
    let api = as_basic(&app, Method::GET, &format!("{LINKS}/999"), ANN)
        .send()
        .await
        .unwrap();
    assert_problem(api, StatusCode::NOT_FOUND).await;

    // Without the settings, the root is a 404 and a missing slug a 404 page.
    let plain = app_with_ann().await;
    assert_eq!(follow(&plain, "/").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        follow(&plain, "/no-such-slug").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn qr_codes_in_svg_and_png() {
    let app = app_with_ann().await;
    let link = create(&app, json!({"target_url": "https://example.com/"})).await;
    let svg = as_basic(
        &app,
        Method::GET,
        &format!("{LINKS}/{}/qr", link["id"]),
        ANN,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"));
    let png = as_basic(
        &app,
        Method::GET,
        &format!("{LINKS}/{}/qr?format=png&size=200", link["id"]),
        ANN,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));

    // Shlink's options: error correction and colours, `#` encoded or left out.
    let qr = |query: &str| {
        as_basic(
            &app,
            Method::GET,
            &format!("{LINKS}/{}/qr?{query}", link["id"]),
            ANN,
        )
        .send()
    };
    let styled = qr("error_correction=H&color=%231A237E&background=fff8e1")
        .await
        .unwrap();
    assert_eq!(styled.status(), StatusCode::OK);
    let styled = styled.text().await.unwrap();
    assert!(styled.contains(r##"fill="#1a237e""##), "{styled:.300}");
    assert!(styled.contains(r##"fill="#fff8e1""##), "{styled:.300}");

    for (query, fields) in [
        ("format=gif", &["format"][..]),
        ("size=20", &["size"]),
        (
            "error_correction=X&color=red&background=12345",
            &["error_correction", "color", "background"],
        ),
        // Yellow on white: a camera cannot tell the modules apart.
        ("color=ffeb3b", &["color"]),
    ] {
        let problem =
            assert_problem(qr(query).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem_fields(&problem), fields, "{query}: {problem}");
    }
}
