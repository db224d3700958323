//! The links app as a user meets it: creating links every way the API allows, following
//! them, and the errors for everything that is wrong.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{assert_problem, problem_fields};

use crate::helpers::{
    TestApp, as_basic, as_bearer, create_key, get_json, media_type, register, spawn_app,
    spawn_app_with,
};

const LINKS: &str = "/api/v1/links";
/// A browser's user agent: without one, a visit counts as a bot's.
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";
const ANN: &str = "ann@example.com";

async fn create(app: &TestApp, body: Value) -> Value {
    let response = as_basic(app, Method::POST, LINKS, ANN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{body}");
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/api/v1/links/")
    );
    response.json().await.unwrap()
}

async fn app_with_ann() -> TestApp {
    let app = spawn_app().await;
    register(&app, ANN).await;
    app
}

async fn follow(app: &TestApp, path: &str) -> reqwest::Response {
    app.get(path).await
}

/// `follow`, on the domain `host`.
async fn follow_on(app: &TestApp, host: &str, path: &str) -> reqwest::Response {
    let request = app.request(Method::GET, path).header("host", host);
    request.send().await.unwrap()
}

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

/// A link deleted while its clicks wait in the queue: its clicks go with it, and the
/// clicks written in the same batch are still counted (they once failed with it, forever).
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
async fn clicks_on_a_link_deleted_before_they_are_written_do_not_hold_up_the_others() {
    // A long gathering window, so that the link is deleted while its click is queued.
    let app = crate::helpers::spawn_app_with(|config| {
        config
            .app_table("links")
            .insert("click_flush_ms".into(), 1500.into());
    })
    .await;
    register(&app, ANN).await;
    let doomed = create(
        &app,
        json!({"target_url": "https://example.com/doomed", "slug": "doomed"}),
    )
    .await;
    let kept = create(
        &app,
        json!({"target_url": "https://example.com/kept", "slug": "kept"}),
    )
    .await;
    assert_eq!(follow(&app, "/doomed").await.status(), StatusCode::FOUND);
    assert_eq!(follow(&app, "/kept").await.status(), StatusCode::FOUND);
    let deleted = as_basic(
        &app,
        Method::DELETE,
        &format!("{LINKS}/{}", doomed["id"]),
        ANN,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    wait_for_clicks(&app, &kept["id"], 1).await;
    let clicks: Value = get_json(&app, &format!("{LINKS}/{}/clicks", kept["id"]), ANN).await;
    assert_eq!(
        clicks["items"].as_array().unwrap().len(),
        1,
        "the other link's click is written"
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
async fn bad_urls_slugs_dates_and_rules_each_get_a_clear_422() {
    let app = app_with_ann().await;
    let cases = [
        (json!({"target_url": "javascript:alert(1)"}), "target_url"),
        (json!({"target_url": "data:text/html,hi"}), "target_url"),
        (
            json!({"target_url": "https://user:pw@example.com/"}),
            "target_url",
        ),
        (json!({"target_url": "not a url"}), "target_url"),
        (
            json!({"target_url": format!("https://example.com/{}", "a".repeat(3000))}),
            "target_url",
        ),
        (
            json!({"target_url": "https://example.com/", "slug": "api"}),
            "slug",
        ),
        (
            json!({"target_url": "https://example.com/", "slug": "no spaces"}),
            "slug",
        ),
        (
            json!({"target_url": "https://example.com/", "redirect_status": 303}),
            "redirect_status",
        ),
        (
            json!({"target_url": "https://example.com/", "valid_from": "2030-01-02T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"}),
            "valid_until",
        ),
        (
            json!({"target_url": "https://example.com/", "max_clicks": 0}),
            "max_clicks",
        ),
        (
            json!({"target_url": "https://example.com/", "rules": [{"kind": "country", "value": "France", "target_url": "https://fr.example/"}]}),
            "rules[0].value",
        ),
        (
            json!({"target_url": "https://example.com/", "rules": [{"kind": "device", "value": "ios", "target_url": "ftp://x"}]}),
            "rules[0].target_url",
        ),
        (
            json!({"target_url": "https://example.com/", "rules": [{"kind": "query", "value": "=x", "target_url": "https://x.example/"}]}),
            "rules[0].value",
        ),
        (
            json!({"target_url": "https://example.com/", "rules": [{"kind": "query", "value": "a=1&b=2", "target_url": "https://x.example/"}]}),
            "rules[0].value",
        ),
    ];
    for (body, field) in cases {
        let response = as_basic(&app, Method::POST, LINKS, ANN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            problem_fields(&problem).contains(&field),
            "{body}: expected an error on {field}, got {problem}"
        );
    }
    // Nothing was created by any of them.
    let list: Value = get_json(&app, LINKS, ANN).await;
    assert!(list["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn another_users_links_answer_404_and_anonymous_calls_401() {
    let app = app_with_ann().await;
    register(&app, "bob@example.com").await;
    let link = create(&app, json!({"target_url": "https://example.com/"})).await;
    let path = format!("{LINKS}/{}", link["id"]);
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let response = as_basic(&app, method.clone(), &path, "bob@example.com")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::NOT_FOUND).await;
    }
    assert_problem(app.get(LINKS).await, StatusCode::UNAUTHORIZED).await;
    let bobs: Value = as_basic(&app, Method::GET, LINKS, "bob@example.com")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(bobs["items"].as_array().unwrap().is_empty());
}

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

#[tokio::test]
async fn lists_search_filter_by_tags_and_sort() {
    let app = app_with_ann().await;
    create(&app, json!({"target_url": "https://a.example/", "slug": "alpha", "title": "Spring sale", "tags": ["promo", "2026"]})).await;
    create(
        &app,
        json!({"target_url": "https://b.example/", "slug": "beta", "tags": ["promo"]}),
    )
    .await;
    create(&app, json!({"target_url": "https://c.example/", "slug": "gamma", "title": "100% off", "tags": ["Docs"]})).await;
    create(
        &app,
        json!({"target_url": "https://d.example/", "slug": "alphabet"}),
    )
    .await;
    let slugs = |query: &'static str| {
        let app_client = app.client.clone();
        async move {
            let page: Value = app_client
                .request(Method::GET, &format!("{LINKS}{query}"))
                .basic_auth(ANN, Some(crate::helpers::PASSWORD))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut slugs: Vec<String> = page["items"]
                .as_array()
                .unwrap_or_else(|| panic!("{page}"))
                .iter()
                .map(|l| l["slug"].as_str().unwrap().to_owned())
                .collect();
            slugs.sort();
            slugs
        }
    };
    assert_eq!(slugs("?q=SALE").await, ["alpha"]);
    // `%` is searched for literally, not as a wildcard.
    assert_eq!(slugs("?q=%25").await, ["gamma"]);
    assert_eq!(slugs("?q=b.example").await, ["beta"]);
    // By its exact slug (`?q=` would also find `alphabet`), case-sensitive as the redirect.
    assert_eq!(slugs("?slug=alpha").await, ["alpha"]);
    assert_eq!(slugs("?slug=Alpha").await, Vec::<String>::new());
    assert_eq!(slugs("?tag=promo").await, ["alpha", "beta"]);
    assert_eq!(slugs("?tag=promo&tag=2026&tag_mode=all").await, ["alpha"]);
    assert_eq!(slugs("?tag=2026&tag=docs").await, ["alpha", "gamma"]);
    assert_eq!(
        slugs("?created_after=2999-01-01T00:00:00Z").await,
        Vec::<String>::new()
    );

    let tags: Value = get_json(&app, "/api/v1/tags", ANN).await;
    assert_eq!(
        tags["items"],
        json!([
            {"name": "2026", "link_count": 1, "click_count": 0},
            {"name": "docs", "link_count": 1, "click_count": 0},
            {"name": "promo", "link_count": 2, "click_count": 0},
        ])
    );
}

/// Tags as Shlink's users manage them: clicks per tag, renamed on every link at once (not
/// onto another tag), deleted off every link (the links stay), and only one's own.
#[tokio::test]
async fn tags_count_clicks_and_are_renamed_and_deleted_on_every_link() {
    const TAGS: &str = "/api/v1/tags";
    let app = app_with_ann().await;
    register(&app, "bob@example.com").await;
    let alpha = create(
        &app,
        json!({"target_url": "https://a.example/", "slug": "alpha", "tags": ["promo", "2026"]}),
    )
    .await;
    let beta = create(
        &app,
        json!({"target_url": "https://b.example/", "slug": "beta", "tags": ["promo"]}),
    )
    .await;
    for slug in ["/alpha", "/alpha", "/beta"] {
        assert_eq!(follow(&app, slug).await.status(), StatusCode::FOUND);
    }
    wait_for_clicks(&app, &alpha["id"], 2).await;
    wait_for_clicks(&app, &beta["id"], 1).await;
    let tags: Value = get_json(&app, TAGS, ANN).await;
    assert_eq!(
        tags["items"],
        json!([
            {"name": "2026", "link_count": 1, "click_count": 2},
            {"name": "promo", "link_count": 2, "click_count": 3},
        ])
    );

    let send = |method: Method, path: String, user: &'static str, body: Option<Value>| {
        let request = as_basic(&app, method, &path, user);
        async move {
            match body {
                Some(body) => request.json(&body),
                None => request,
            }
            .send()
            .await
            .unwrap()
        }
    };
    let rename = |from: &str, to: &str, user: &'static str| {
        send(
            Method::PATCH,
            format!("{TAGS}/{from}"),
            user,
            Some(json!({"name": to})),
        )
    };
    // Names are matched as stored: trimmed and lower-cased.
    let renamed = rename("Promo", " Sale ", ANN).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(
        renamed.json::<Value>().await.unwrap(),
        json!({"name": "sale", "link_count": 2, "click_count": 3})
    );
    let tagged: Value = get_json(&app, &format!("{LINKS}?tag=sale"), ANN).await;
    assert_eq!(tagged["items"].as_array().unwrap().len(), 2);
    let link: Value = get_json(&app, &format!("{LINKS}/{}", beta["id"]), ANN).await;
    assert_eq!(link["tags"], json!(["sale"]));

    let taken = assert_problem(rename("sale", "2026", ANN).await, StatusCode::CONFLICT).await;
    assert_eq!(taken["errors"][0]["field"], "name", "{taken}");
    let blank = assert_problem(
        rename("sale", "  ", ANN).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(blank["errors"][0]["field"], "name", "{blank}");
    assert_problem(rename("promo", "old", ANN).await, StatusCode::NOT_FOUND).await;
    // Bob has no tag `sale`, whatever Ann has.
    assert_problem(
        rename("sale", "mine", "bob@example.com").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let bobs_delete = send(
        Method::DELETE,
        format!("{TAGS}/sale"),
        "bob@example.com",
        None,
    );
    assert_problem(bobs_delete.await, StatusCode::NOT_FOUND).await;

    let deleted = send(Method::DELETE, format!("{TAGS}/sale"), ANN, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let link: Value = get_json(&app, &format!("{LINKS}/{}", alpha["id"]), ANN).await;
    assert_eq!(
        link["tags"],
        json!(["2026"]),
        "the link stays, without the tag"
    );
    let tags: Value = get_json(&app, TAGS, ANN).await;
    assert_eq!(
        tags["items"],
        json!([{"name": "2026", "link_count": 1, "click_count": 2}])
    );
    let again = send(Method::DELETE, format!("{TAGS}/sale"), ANN, None).await;
    assert_problem(again, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn bulk_creates_what_it_can_and_says_why_the_rest_failed() {
    let app = app_with_ann().await;
    create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "taken"}),
    )
    .await;
    let mut items: Vec<Value> = (0..50)
        .map(|i| json!({"target_url": format!("https://example.com/{i}")}))
        .collect();
    items[3] = json!({"target_url": "javascript:alert(1)"});
    items[7] = json!({"target_url": "https://example.com/", "slug": "taken"});
    let response = bulk(&app, &items).await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["created"], 48);
    assert_eq!(report["failed"], 2);
    assert_eq!(report["results"][3]["status"], "failed");
    assert_eq!(
        report["results"][3]["errors"][0]["field"],
        "items[3].target_url"
    );
    assert_eq!(report["results"][7]["errors"][0]["field"], "items[7].slug");
    let slug = report["results"][0]["link"]["slug"].as_str().unwrap();
    assert_eq!(
        follow(&app, &format!("/{slug}")).await.headers()["location"],
        "https://example.com/0"
    );

    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({"target_url": "https://example.com/"}))
        .collect();
    assert_problem(
        bulk(&app, &too_many).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

/// A full bulk request of long addresses (UTM-laden, 2,000 characters each: about 2 MB,
/// twice the API's usual body limit) is taken whole; a body far past that is a 413 that
/// creates nothing.
#[tokio::test]
async fn find_if_exists_answers_with_the_link_already_made() {
    let app = app_with_ann().await;
    let first = create(
        &app,
        json!({"target_url": "https://example.com/sale", "tags": ["promo"]}),
    )
    .await;
    let again = |body: Value| {
        let request = as_basic(&app, Method::POST, LINKS, ANN).json(&body);
        async move { request.send().await.unwrap() }
    };

    // The same target, written differently: found, 200, nothing made.
    let found =
        again(json!({"target_url": "HTTPS://EXAMPLE.com:443/sale", "find_if_exists": true})).await;
    assert_eq!(found.status(), StatusCode::OK);
    let found: Value = found.json().await.unwrap();
    assert_eq!(found["id"], first["id"]);
    assert_eq!(found["tags"], json!(["promo"]), "left as it was");
    // Without the flag, or for another target, or another slug: a new link.
    for body in [
        json!({"target_url": "https://example.com/sale"}),
        json!({"target_url": "https://example.com/other", "find_if_exists": true}),
        json!({"target_url": "https://example.com/sale", "slug": "sale-2", "find_if_exists": true}),
    ] {
        assert_eq!(
            again(body.clone()).await.status(),
            StatusCode::CREATED,
            "{body}"
        );
    }
    // With a slug, the link must have that slug too.
    let by_slug = again(
        json!({"target_url": "https://example.com/sale", "slug": "sale-2", "find_if_exists": true}),
    )
    .await;
    assert_eq!(by_slug.status(), StatusCode::OK);
    assert_eq!(by_slug.json::<Value>().await.unwrap()["slug"], "sale-2");
    // A slug taken by a link to another target is still a conflict.
    let taken = again(json!({"target_url": "https://example.com/elsewhere", "slug": "sale-2", "find_if_exists": true})).await;
    assert_problem(taken, StatusCode::CONFLICT).await;
    // Another user's link to the same target is not found: Bob gets his own.
    register(&app, "bob@example.com").await;
    let bobs = as_basic(&app, Method::POST, LINKS, "bob@example.com")
        .json(&json!({"target_url": "https://example.com/sale", "find_if_exists": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(bobs.status(), StatusCode::CREATED);

    // In bulk, per item.
    let items = [
        json!({"target_url": "https://example.com/sale", "find_if_exists": true}),
        json!({"target_url": "https://example.com/new", "find_if_exists": true}),
        json!({"target_url": "ftp://example.com/", "find_if_exists": true}),
    ];
    let report: Value = bulk(&app, &items).await.json().await.unwrap();
    assert_eq!(
        [&report["created"], &report["existing"], &report["failed"]],
        [1, 1, 1],
        "{report}"
    );
    assert_eq!(report["results"][0]["status"], "existing");
    assert_eq!(report["results"][0]["link"]["id"], first["id"]);
    assert_eq!(report["results"][1]["status"], "created");
    let list: Value = get_json(&app, &format!("{LINKS}?q=example.com/sale"), ANN).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        3,
        "the first, the one made without the flag, and sale-2: {list}"
    );
}

#[tokio::test]
async fn links_export_as_csv_and_import_back_the_same() {
    let app = app_with_ann().await;
    create(
        &app,
        json!({"target_url": "https://example.com/a", "slug": "csv-a", "tags": ["promo", "2027"],
               "title": "-10% on \"everything\", today", "max_clicks": 5, "redirect_status": 301,
               "forward_query": true, "valid_until": "2030-01-01T00:00:00Z"}),
    )
    .await;
    create(
        &app,
        json!({"target_url": "https://example.com/b", "slug": "csv-b"}),
    )
    .await;
    let export = |query: &'static str| {
        let request = as_basic(
            &app,
            Method::GET,
            &format!("{LINKS}?format=csv{query}"),
            ANN,
        );
        async move { request.send().await.unwrap() }
    };

    let response = export("").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(media_type(&response), "text/csv");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two links:\n{csv}");
    assert!(lines[0].starts_with("id,slug,domain,short_url,target_url,title,tags,"));
    // Newest first, as the list; a title that would run as a formula is defused.
    assert!(lines[1].contains(",csv-b,"), "{csv}");
    assert!(lines[2].contains(",2030-01-01T00:00:00Z,5,0,"), "{csv}");
    assert!(
        lines[2].contains(r#","'-10% on ""everything"", today",2027|promo,301,true,"#),
        "{csv}"
    );
    let promo = export("&tag=promo").await.text().await.unwrap();
    assert_eq!(promo.lines().count(), 2, "{promo}");
    assert_problem(
        export("&format=xml").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // Deleted, then imported from the export: the same links again.
    let listed: Value = get_json(&app, LINKS, ANN).await;
    for link in listed["items"].as_array().unwrap() {
        let deleted = as_basic(
            &app,
            Method::DELETE,
            &format!("{LINKS}/{}", link["id"]),
            ANN,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    }
    let import = |body: String| bulk_csv(&app, body);
    let report: Value = import(csv.clone()).await.json().await.unwrap();
    assert_eq!(report["created"], 2, "{report}");
    let again: Value = get_json(&app, LINKS, ANN).await;
    let a = again["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|link| link["slug"] == "csv-a")
        .expect("csv-a is back");
    assert_eq!(a["title"], "-10% on \"everything\", today");
    assert_eq!(a["tags"], json!(["2027", "promo"]));
    assert_eq!(
        [&a["max_clicks"], &a["redirect_status"], &a["forward_query"]],
        [&json!(5), &json!(301), &json!(true)]
    );
    assert_eq!(a["valid_until"], "2030-01-01T00:00:00Z");

    // Any CSV with a target_url column will do; bad cells fail their row only.
    let report: Value = import(
        "Title,target_url,max_clicks,forward_query\n\
         Spring,https://example.com/spring,,\n\
         Ten,https://example.com/ten,ten,yes\n"
            .into(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!([&report["created"], &report["failed"]], [1, 1], "{report}");
    assert_eq!(report["results"][0]["link"]["title"], "Spring");
    let fields: Vec<&str> = report["results"][1]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["items[1].max_clicks", "items[1].forward_query"]);
    let xml = as_basic(&app, Method::POST, "/api/v1/links/bulk", ANN)
        .header("content-type", "application/xml")
        .body("<links/>")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(xml, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("text/csv"),
        "{problem}"
    );
    let refused = import("url,slug\nhttps://example.com/,x\n".into()).await;
    let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "items", "{problem}");
}

#[tokio::test]
async fn a_full_bulk_of_long_addresses_is_not_refused_for_its_size() {
    let app = app_with_ann().await;
    let items = |length: usize| -> Vec<Value> {
        (0..1000)
            .map(|i| {
                let path = format!("https://example.com/{i}?utm_content=");
                let padding = "x".repeat(length - path.len());
                json!({"target_url": format!("{path}{padding}")})
            })
            .collect()
    };
    let oversized = bulk(&app, &items(5_000)).await;
    assert_problem(oversized, StatusCode::PAYLOAD_TOO_LARGE).await;
    let list: Value = get_json(&app, LINKS, ANN).await;
    assert!(list["items"].as_array().unwrap().is_empty());

    let response = bulk(&app, &items(2_000)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (report["created"].as_i64(), report["failed"].as_i64()),
        (Some(1000), Some(0))
    );
    let last = &report["results"][999]["link"];
    assert_eq!(last["target_url"].as_str().map(str::len), Some(2_000));
}

/// `POST /api/v1/links/bulk` with `items`, as Ann.
async fn bulk(app: &TestApp, items: &[Value]) -> reqwest::Response {
    as_basic(app, Method::POST, "/api/v1/links/bulk", ANN)
        .json(&json!({ "items": items }))
        .send()
        .await
        .unwrap()
}

/// A CSV import through the bulk route.
async fn bulk_csv(app: &TestApp, body: String) -> reqwest::Response {
    as_basic(app, Method::POST, "/api/v1/links/bulk", ANN)
        .header("content-type", "text/csv; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Waits until the link has `expected` clicks written.
async fn wait_for_clicks(app: &TestApp, id: &Value, expected: i64) {
    for _ in 0..100 {
        let link: Value = get_json(app, &format!("{LINKS}/{id}"), ANN).await;
        if link["click_count"].as_i64() == Some(expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("link {id} never reached {expected} clicks");
}

#[tokio::test]
async fn stats_break_clicks_down_and_leave_bots_out() {
    let app = app_with_ann().await;
    let link = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "stats"}),
    )
    .await;
    let visit = |ua: &'static str, referer: Option<&'static str>, lang: &'static str| {
        let client = app.client.clone();
        async move {
            let mut request = client
                .request(Method::GET, "/stats?utm_source=newsletter")
                .header("user-agent", ua)
                .header("accept-language", lang);
            if let Some(referer) = referer {
                request = request.header("referer", referer);
            }
            assert_eq!(request.send().await.unwrap().status(), StatusCode::FOUND);
        }
    };
    let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
    visit(
        FIREFOX,
        Some("https://www.google.com/search?q=x"),
        "fr-FR,fr;q=0.9",
    )
    .await;
    visit(FIREFOX, Some("https://www.google.com/"), "fr").await;
    visit(iphone, None, "en-GB").await;
    visit(
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        None,
        "en",
    )
    .await;
    wait_for_clicks(&app, &link["id"], 4).await;

    let path = format!("{LINKS}/{}/stats?interval=hour", link["id"]);
    let stats: Value = get_json(&app, &path, ANN).await;
    assert_eq!(stats["total_clicks"], 3, "{stats}");
    assert_eq!(stats["bot_clicks"], 1);
    // Both Firefox visits come from one address with one browser: one visitor.
    assert_eq!(stats["unique_visitors"], 2);
    assert_eq!(
        stats["top"]["referrer"][0],
        json!({"value": "google.com", "clicks": 2})
    );
    assert_eq!(
        stats["top"]["referrer"][1],
        json!({"value": "(direct)", "clicks": 1})
    );
    assert_eq!(
        stats["top"]["browser"][0],
        json!({"value": "firefox", "clicks": 2})
    );
    assert_eq!(
        stats["top"]["language"][0],
        json!({"value": "fr", "clicks": 2})
    );
    assert_eq!(stats["top"]["os"][1], json!({"value": "ios", "clicks": 1}));
    let series = stats["series"].as_array().unwrap();
    assert!(
        series.len() >= 24 * 30,
        "empty hours are filled: {}",
        series.len()
    );
    assert_eq!(
        series
            .iter()
            .map(|b| b["clicks"].as_i64().unwrap())
            .sum::<i64>(),
        3
    );

    let with_bots: Value = get_json(&app, &format!("{path}&bots=true"), ANN).await;
    assert_eq!(with_bots["total_clicks"], 4);

    let days: Value = get_json(
        &app,
        &format!("{LINKS}/{}/stats?interval=day&tz=Asia/Tokyo", link["id"]),
        ANN,
    )
    .await;
    assert!(
        days["series"][0]["start"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00+09:00"),
        "{}",
        days["series"][0]
    );

    for bad in [
        "?tz=Mars/Olympus",
        "?interval=minute",
        "?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z",
        "?interval=hour&from=2000-01-01T00:00:00Z",
    ] {
        let response = as_basic(
            &app,
            Method::GET,
            &format!("{LINKS}/{}/stats{bad}", link["id"]),
            ANN,
        )
        .send()
        .await
        .unwrap();
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }

    // Raw clicks: the address is not there, the UTM source is.
    let clicks: Value =
        get_json(&app, &format!("{LINKS}/{}/clicks?limit=2", link["id"]), ANN).await;
    assert_eq!(clicks["items"].as_array().unwrap().len(), 2);
    assert!(clicks["next_cursor"].is_string());
    assert_eq!(clicks["items"][0]["utm_source"], "newsletter");
    assert!(
        !clicks.to_string().contains("127.0.0.1"),
        "no raw address is stored"
    );

    let csv = as_basic(
        &app,
        Method::GET,
        &format!("{LINKS}/{}/clicks?format=csv", link["id"]),
        ANN,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(media_type(&csv), "text/csv");
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 5, "a header and four clicks:\n{csv}");
    assert!(csv.starts_with("id,clicked_at,"));
}

#[tokio::test]
async fn deleting_a_links_clicks_forgets_them_and_their_statistics() {
    let app = app_with_ann().await;
    let link = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "twice", "max_clicks": 2, "tags": ["t"]}),
    )
    .await;
    let other = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "kept"}),
    )
    .await;
    let visit = |slug: &'static str| {
        let request = app
            .client
            .request(Method::GET, slug)
            .header("user-agent", FIREFOX);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(visit("/twice").await, StatusCode::FOUND);
    assert_eq!(visit("/twice").await, StatusCode::FOUND);
    assert_eq!(visit("/twice").await, StatusCode::GONE);
    assert_eq!(visit("/kept").await, StatusCode::FOUND);
    wait_for_clicks(&app, &link["id"], 2).await;
    wait_for_clicks(&app, &other["id"], 1).await;

    let clicks = format!("{LINKS}/{}/clicks", link["id"]);
    // Not by another user, nor with a read-only key.
    register(&app, "bob@example.com").await;
    let bobs = as_basic(&app, Method::DELETE, &clicks, "bob@example.com");
    assert_problem(bobs.send().await.unwrap(), StatusCode::NOT_FOUND).await;
    let key = create_key(&app, ANN, json!({"name": "dashboard", "scope": "read"})).await;
    let read_only = as_bearer(&app, Method::DELETE, &clicks, key["key"].as_str().unwrap());
    assert_problem(read_only.send().await.unwrap(), StatusCode::FORBIDDEN).await;

    let deleted = as_basic(&app, Method::DELETE, &clicks, ANN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let stats: Value = get_json(&app, &format!("{LINKS}/{}/stats", link["id"]), ANN).await;
    assert_eq!(stats["total_clicks"], 0, "{stats}");
    assert_eq!(stats["unique_visitors"], 0);
    assert_eq!(stats["top"]["browser"], json!([]));
    let raw: Value = get_json(&app, &clicks, ANN).await;
    assert_eq!(raw["items"], json!([]));
    let tag: Value = get_json(&app, "/api/v1/tags/t/stats", ANN).await;
    assert_eq!(tag["total_clicks"], 0);
    let account: Value = get_json(&app, "/api/v1/stats", ANN).await;
    assert_eq!(account["total_clicks"], 1, "the other link's click stays");

    // The count starts again, max_clicks with it.
    assert_eq!(visit("/twice").await, StatusCode::FOUND);
    wait_for_clicks(&app, &link["id"], 1).await;
    let stats: Value = get_json(&app, &format!("{LINKS}/{}/stats", link["id"]), ANN).await;
    assert_eq!(stats["total_clicks"], 1);
}

#[tokio::test]
async fn a_links_clicks_stream_live_until_the_server_stops() {
    let mut app = app_with_ann().await;
    let watched = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "watched"}),
    )
    .await;
    let other = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "other"}),
    )
    .await;
    let live = format!("{LINKS}/{}/clicks/live", watched["id"]);
    let bobs = as_basic(&app, Method::GET, &live, "bob@example.com");
    register(&app, "bob@example.com").await;
    assert_problem(bobs.send().await.unwrap(), StatusCode::NOT_FOUND).await;

    let mut stream = as_basic(&app, Method::GET, &live, ANN)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(media_type(&stream), "text/event-stream");
    for slug in ["/watched", "/other", "/watched"] {
        let visit = app
            .client
            .request(Method::GET, slug)
            .header("user-agent", FIREFOX);
        assert_eq!(visit.send().await.unwrap().status(), StatusCode::FOUND);
    }

    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while text.matches("event: click").count() < 2 {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("both clicks within 10 s")
            .unwrap()
            .expect("the stream goes on");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let clicks: Vec<Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    assert_eq!(clicks.len(), 2, "{text}");
    assert_eq!(clicks[0]["browser"], "firefox");
    assert_eq!(clicks[0]["is_bot"], false);
    assert!(clicks[0]["clicked_at"].is_string());
    // The other link's click was stored too, and is not in this stream.
    wait_for_clicks(&app, &other["id"], 1).await;
    let more = tokio::time::timeout(Duration::from_millis(500), stream.chunk()).await;
    assert!(more.is_err(), "nothing else arrives: {more:?}");

    // A graceful stop ends the stream rather than waiting for it.
    let running = app.running.take().unwrap();
    running.shutdown();
    tokio::time::timeout(Duration::from_secs(10), running.stopped())
        .await
        .expect("the server stops without waiting for the stream")
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await;
    assert!(matches!(end, Ok(Ok(None)) | Ok(Err(_))), "{end:?}");
}

#[tokio::test]
async fn links_are_ranked_by_clicks_with_a_minimum() {
    let app = app_with_ann().await;
    let a = create(
        &app,
        json!({"target_url": "https://a.example/", "slug": "rank-a"}),
    )
    .await;
    let b = create(
        &app,
        json!({"target_url": "https://b.example/", "slug": "rank-b"}),
    )
    .await;
    create(
        &app,
        json!({"target_url": "https://c.example/", "slug": "rank-c"}),
    )
    .await;
    // A browser: clicks without a user agent are counted as bots, which rankings leave out.
    let visit = |slug: &'static str| {
        let client = app.client.clone();
        async move {
            client
                .request(Method::GET, slug)
                .header("user-agent", FIREFOX)
                .send()
                .await
                .unwrap();
        }
    };
    for _ in 0..3 {
        visit("/rank-b").await;
    }
    visit("/rank-a").await;
    wait_for_clicks(&app, &b["id"], 3).await;
    wait_for_clicks(&app, &a["id"], 1).await;

    let ranking: Value = get_json(&app, "/api/v1/stats/links", ANN).await;
    let slugs: Vec<&str> = ranking["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["rank-b", "rank-a"], "unclicked links are left out");
    assert_eq!(ranking["items"][0]["clicks"], 3);
    let popular: Value = get_json(&app, "/api/v1/stats/links?min_clicks=2", ANN).await;
    assert_eq!(popular["items"].as_array().unwrap().len(), 1);

    // Page by page, one link each: the never-clicked link (which has no counter yet) last.
    let mut order = Vec::new();
    let mut page = format!("{LINKS}?sort=clicks&limit=1");
    loop {
        let body: Value = get_json(&app, &page, ANN).await;
        for link in body["items"].as_array().unwrap() {
            order.push((
                link["slug"].as_str().unwrap().to_owned(),
                link["click_count"].as_i64().unwrap(),
            ));
        }
        let Some(cursor) = body["next_cursor"].as_str() else {
            break;
        };
        page = format!("{LINKS}?sort=clicks&limit=1&cursor={cursor}");
    }
    let expected = [("rank-b", 3), ("rank-a", 1), ("rank-c", 0)];
    assert_eq!(order, expected.map(|(slug, n)| (slug.to_owned(), n)));
}

#[tokio::test]
async fn a_tags_and_the_accounts_statistics_add_up_their_links_only() {
    let app = app_with_ann().await;
    let bob = "bob@example.com";
    register(&app, bob).await;
    let promo_a = create(
        &app,
        json!({"target_url": "https://a.example/", "slug": "sum-a", "tags": ["promo"]}),
    )
    .await;
    let promo_b = create(
        &app,
        json!({"target_url": "https://b.example/", "slug": "sum-b", "tags": ["promo", "spring"]}),
    )
    .await;
    let untagged = create(
        &app,
        json!({"target_url": "https://c.example/", "slug": "sum-c"}),
    )
    .await;
    let response = as_basic(&app, Method::POST, LINKS, bob)
        .json(&json!({"target_url": "https://d.example/", "slug": "bobs", "tags": ["promo"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let bobs: Value = response.json().await.unwrap();

    for slug in ["/sum-a", "/sum-a", "/sum-b", "/sum-c", "/bobs", "/bobs"] {
        let response = app
            .client
            .request(Method::GET, slug)
            .header("user-agent", FIREFOX)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
    }
    wait_for_clicks(&app, &promo_a["id"], 2).await;
    wait_for_clicks(&app, &promo_b["id"], 1).await;
    wait_for_clicks(&app, &untagged["id"], 1).await;
    let bobs_link: Value = get_json(&app, &format!("{LINKS}/{}", bobs["id"]), bob).await;
    assert_eq!(bobs_link["click_count"], 2);

    let promo: Value = get_json(&app, "/api/v1/tags/promo/stats?interval=hour", ANN).await;
    assert_eq!(promo["tag"], "promo");
    assert!(promo.get("link_id").is_none(), "{promo}");
    assert_eq!(
        promo["total_clicks"], 3,
        "Bob's promo clicks are his: {promo}"
    );
    assert_eq!(
        promo["top"]["browser"][0],
        json!({"value": "firefox", "clicks": 3})
    );
    let series_sum = |stats: &Value| -> i64 {
        stats["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["clicks"].as_i64().unwrap())
            .sum()
    };
    assert_eq!(series_sum(&promo), 3);
    // One address and one browser: one visitor per link.
    assert_eq!(promo["unique_visitors"], 2);
    let spring: Value = get_json(&app, "/api/v1/tags/Spring/stats", ANN).await;
    assert_eq!(
        spring["total_clicks"], 1,
        "tag names are not case-sensitive"
    );

    let account: Value = get_json(&app, "/api/v1/stats?interval=day", ANN).await;
    assert_eq!(account["total_clicks"], 4, "{account}");
    assert_eq!(series_sum(&account), 4);
    assert!(account.get("tag").is_none() && account.get("link_id").is_none());
    let bobs_account: Value = get_json(&app, "/api/v1/stats", bob).await;
    assert_eq!(bobs_account["total_clicks"], 2);

    for (path, who, status) in [
        ("/api/v1/tags/nope/stats", ANN, StatusCode::NOT_FOUND),
        ("/api/v1/tags/spring/stats", bob, StatusCode::NOT_FOUND),
        (
            "/api/v1/tags/promo/stats?tz=Mars/Olympus",
            ANN,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/api/v1/stats?top=0", ANN, StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let response = as_basic(&app, Method::GET, path, who).send().await.unwrap();
        assert_problem(response, status).await;
    }
    let anonymous = app.get("/api/v1/stats").await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
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

#[tokio::test]
async fn compacted_days_answer_the_same_statistics_and_count_late_clicks_once() {
    let app = app_with_ann().await;
    let link = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "days"}),
    )
    .await;
    let visit = |referer: Option<&'static str>| {
        let mut request = app
            .client
            .request(Method::GET, "/days")
            .header("user-agent", FIREFOX);
        if let Some(referer) = referer {
            request = request.header("referer", referer);
        }
        async move { assert_eq!(request.send().await.unwrap().status(), StatusCode::FOUND) }
    };
    visit(Some("https://www.google.com/")).await;
    visit(Some("https://www.google.com/")).await;
    wait_for_clicks(&app, &link["id"], 2).await;

    let today = chrono::Utc::now().date_naive();
    let stats = |from: String, to: String| {
        let request = as_basic(
            &app,
            Method::GET,
            &format!("{LINKS}/{}/stats?from={from}&to={to}", link["id"]),
            ANN,
        );
        async {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    // Whole UTC days, today included; and a range that ends in the middle of today.
    let days = || {
        stats(
            format!("{}T00:00:00Z", today - chrono::TimeDelta::days(2)),
            format!("{}T00:00:00Z", today + chrono::TimeDelta::days(1)),
        )
    };
    let hours = || {
        stats(
            format!("{}T00:00:00Z", today - chrono::TimeDelta::days(2)),
            (chrono::Utc::now() + chrono::TimeDelta::minutes(1))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
    };
    let before = days().await;
    assert_eq!(before["total_clicks"], 2, "{before}");

    // Compact today as if it were over: its hourly rollups become daily ones.
    let db = platform::db::connect(&crate::helpers::test_config(&app._db))
        .await
        .unwrap();
    assert_eq!(
        links::testing::compact_through(&db, today).await.unwrap(),
        1
    );
    assert_eq!(
        links::testing::compact_through(&db, today).await.unwrap(),
        0,
        "a day is compacted once"
    );
    let after = days().await;
    assert_eq!(after["top"], before["top"], "{after}");
    assert_eq!(after["total_clicks"], 2);
    // By day in UTC, the series now reads today from `click_days`: the same buckets.
    assert_eq!(after["series"], before["series"], "{after}");
    assert_eq!(after["unique_visitors"], before["unique_visitors"]);
    let today_bucket = |stats: &Value| {
        let series = stats["series"].as_array().unwrap();
        assert_eq!(series.len(), 3, "{stats}");
        series[2].clone()
    };
    assert_eq!(today_bucket(&after)["clicks"], 2, "{after}");

    // A click for a day already compacted (as a backlog written late would be) counts in
    // the daily and the hourly rollups, once in each statistics.
    visit(None).await;
    wait_for_clicks(&app, &link["id"], 3).await;
    for late in [days().await, hours().await] {
        assert_eq!(late["total_clicks"], 3, "{late}");
        assert_eq!(today_bucket(&late)["clicks"], 3, "{late}");
        assert_eq!(
            late["top"]["referrer"],
            json!([
                {"value": "google.com", "clicks": 2},
                {"value": "(direct)", "clicks": 1},
            ]),
            "{late}"
        );
        assert_eq!(
            late["top"]["browser"],
            json!([{"value": "firefox", "clicks": 3}])
        );
    }
}

/// A visitor is remembered only while their day's clicks can count them: past days'
/// visitors are forgotten (the compactor does it daily), today's kept.
#[tokio::test]
async fn past_days_visitors_are_forgotten_and_todays_kept() {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

    let app = app_with_ann().await;
    let link = create(&app, json!({"target_url": "https://example.com/"})).await;
    let visit = || {
        app.request(Method::GET, &format!("/{}", link["slug"].as_str().unwrap()))
            .header("user-agent", FIREFOX)
            .send()
    };
    assert_eq!(visit().await.unwrap().status(), StatusCode::FOUND);
    wait_for_clicks(&app, &link["id"], 1).await;

    // Two visitors of past days, as the writer left them then.
    let db = platform::db::connect(&crate::helpers::test_config(&app._db))
        .await
        .unwrap();
    let today = chrono::Utc::now().date_naive();
    let id = link["id"].as_i64().unwrap();
    for (ago, hash) in [(2, "a"), (30, "b")] {
        let day = today - chrono::TimeDelta::days(ago);
        let hash = hash.repeat(32);
        db.execute_unprepared(&format!(
            "INSERT INTO link_visitors (link_id, day, visitor_hash) VALUES ({id}, '{day}', '{hash}')"
        ))
        .await
        .unwrap();
    }
    let visitors = || async {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM link_visitors",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    assert_eq!(visitors().await, 3);

    let yesterday = today - chrono::TimeDelta::days(1);
    let forget = || links::testing::forget_visitors_before(&db, yesterday);
    assert_eq!(forget().await.unwrap(), 2);
    assert_eq!(forget().await.unwrap(), 0, "forgotten once");
    assert_eq!(visitors().await, 1, "today's visitor is kept");

    // The statistics do not change: they count from the rollups.
    let stats: Value = get_json(&app, &format!("{LINKS}/{id}/stats"), ANN).await;
    assert_eq!(stats["unique_visitors"], 1, "{stats}");
    assert_eq!(stats["total_clicks"], 1);
}

/// Past `links.click_retention_days`, raw clicks and orphan visits are deleted; the
/// statistics, counted from the rollups, stay.
#[tokio::test]
async fn raw_clicks_past_their_retention_go_and_the_statistics_stay() {
    let app = app_with_ann().await;
    crate::helpers::make_admin(&app, ANN);
    let link = create(&app, json!({"target_url": "https://example.com/"})).await;
    let visit = |path: String| {
        app.request(Method::GET, &path)
            .header("user-agent", FIREFOX)
            .send()
    };
    let slug = format!("/{}", link["slug"].as_str().unwrap());
    for _ in 0..3 {
        assert_eq!(
            visit(slug.clone()).await.unwrap().status(),
            StatusCode::FOUND
        );
    }
    visit("/not-a-link".into()).await.unwrap();
    wait_for_clicks(&app, &link["id"], 3).await;
    orphan_visits(&app, "", 1).await;
    let clicks = format!("{LINKS}/{}/clicks", link["id"]);
    let stats = format!("{LINKS}/{}/stats", link["id"]);
    let page: Value = get_json(&app, &clicks, ANN).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let before: Value = get_json(&app, &stats, ANN).await;

    // What the daily clean-up deletes with a retention that ends now: everything so far.
    let db = platform::db::connect(&crate::helpers::test_config(&app._db))
        .await
        .unwrap();
    let now = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    let delete = |table, column| links::testing::delete_raw_before(&db, table, column, now);
    assert_eq!(delete("clicks", "clicked_at").await.unwrap(), 3);
    assert_eq!(delete("orphan_visits", "visited_at").await.unwrap(), 1);
    assert_eq!(delete("clicks", "clicked_at").await.unwrap(), 0);

    let page: Value = get_json(&app, &clicks, ANN).await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(orphan_visits(&app, "", 0).await, Vec::<Value>::new());
    let after: Value = get_json(&app, &stats, ANN).await;
    assert_eq!(after["total_clicks"], 3, "{after}");
    assert_eq!(after["top"], before["top"]);
    assert_eq!(after["series"], before["series"]);

    // A time before the clicks deletes none of them.
    visit(slug).await.unwrap();
    wait_for_clicks(&app, &link["id"], 4).await;
    let earlier = now - chrono::TimeDelta::days(1);
    let kept = links::testing::delete_raw_before(&db, "clicks", "clicked_at", earlier);
    assert_eq!(kept.await.unwrap(), 0);
    let page: Value = get_json(&app, &clicks, ANN).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

/// On PostgreSQL, a batch that gives thousands of links their first click counter leaves
/// the planner's statistics of the counters current (`ANALYZE`): with those of a
/// near-empty table, the next batches' `UPDATE … WHERE link_id = ANY(…)` compared every
/// counter with every id. SQLite finds each counter by its key whatever its statistics.
#[tokio::test]
async fn a_batch_of_many_first_clicks_leaves_the_counters_statistics_current() {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
    const LINKS_CLICKED: usize = 2_500;
    let app = crate::helpers::spawn_app_with(|config| {
        // One gathering window for every click below, so that they make one batch.
        config
            .app_table("links")
            .insert("click_flush_ms".into(), 8000.into());
    })
    .await;
    if !app._db.url.starts_with("postgres") {
        return;
    }
    register(&app, ANN).await;
    let db = platform::db::connect(&crate::helpers::test_config(&app._db))
        .await
        .unwrap();
    // Only the writer may analyse the table here, not autovacuum.
    db.execute_unprepared("ALTER TABLE link_click_counts SET (autovacuum_enabled = false)")
        .await
        .unwrap();
    let reltuples = || async {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT reltuples::int8 AS n FROM pg_class WHERE relname = 'link_click_counts'",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    assert!(reltuples().await < 1, "not analysed yet");

    let mut slugs = Vec::new();
    for chunk in 0..LINKS_CLICKED.div_ceil(1000) {
        let items: Vec<Value> = (chunk * 1000..LINKS_CLICKED.min((chunk + 1) * 1000))
            .map(|i| json!({"target_url": "https://example.com/", "slug": format!("first-{i}")}))
            .collect();
        let response = bulk(&app, &items).await;
        assert_eq!(response.status(), StatusCode::OK);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["failed"], 0, "{report}");
        slugs.extend(
            items
                .iter()
                .map(|item| item["slug"].as_str().unwrap().to_owned()),
        );
    }
    let mut clicks = tokio::task::JoinSet::new();
    for chunk in slugs.chunks(LINKS_CLICKED / 16) {
        let (client, chunk) = (app.client.clone(), chunk.to_vec());
        clicks.spawn(async move {
            for slug in chunk {
                let response = client.get(&format!("/{slug}")).await;
                assert_eq!(response.status(), StatusCode::FOUND);
            }
        });
    }
    clicks.join_all().await;

    // Written, then analysed: pg_class counts the rows ANALYZE saw.
    for _ in 0..200 {
        if reltuples().await >= LINKS_CLICKED as i64 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the counters were never analysed: {} rows",
        reltuples().await
    );
}

/// A domain's statistics count the caller's links on it, and only those, as Shlink's
/// domain visits.
#[tokio::test]
async fn a_domains_statistics_count_the_callers_links_on_it() {
    let app = spawn_app_with(|config| {
        config.public_url = Some("https://s.example".into());
        config
            .app_table("links")
            .insert("domains".into(), vec!["go.example"].into());
    })
    .await;
    register(&app, ANN).await;
    register(&app, "bob@example.com").await;
    let on_go = create(
        &app,
        json!({"target_url": "https://example.com/a", "slug": "aaa", "domain": "go.example"}),
    )
    .await;
    let home = create(
        &app,
        json!({"target_url": "https://example.com/b", "slug": "bbb"}),
    )
    .await;
    let bobs = as_basic(&app, Method::POST, LINKS, "bob@example.com")
        .json(
            &json!({"target_url": "https://example.com/c", "slug": "ccc", "domain": "go.example"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(bobs.status(), StatusCode::CREATED);
    let visit = |host: &'static str, path: &'static str| {
        app.request(Method::GET, path)
            .header("host", host)
            .header("user-agent", FIREFOX)
            .send()
    };
    for (host, path) in [
        ("go.example", "/aaa"),
        ("go.example", "/aaa"),
        ("s.example", "/bbb"),
        ("go.example", "/ccc"),
    ] {
        assert_eq!(visit(host, path).await.unwrap().status(), StatusCode::FOUND);
    }
    wait_for_clicks(&app, &on_go["id"], 2).await;
    wait_for_clicks(&app, &home["id"], 1).await;

    let go: Value = get_json(&app, "/api/v1/domains/GO.example/stats", ANN).await;
    assert_eq!(go["domain"], "go.example");
    assert_eq!(go["total_clicks"], 2, "{go}");
    assert_eq!(
        go["top"]["browser"],
        json!([{"value": "firefox", "clicks": 2}])
    );
    let default: Value = get_json(&app, "/api/v1/domains/s.example/stats", ANN).await;
    assert_eq!(default["domain"], "s.example");
    assert_eq!(default["total_clicks"], 1, "{default}");
    let unknown = as_basic(&app, Method::GET, "/api/v1/domains/nope.example/stats", ANN)
        .send()
        .await
        .unwrap();
    assert_problem(unknown, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn links_live_on_several_domains_with_a_slug_each() {
    let app = spawn_app_with(|config| {
        config.public_url = Some("https://s.example".into());
        config.app_table("links").insert(
            "domains".into(),
            vec!["go.example".to_owned(), "l.example".to_owned()].into(),
        );
    })
    .await;
    register(&app, ANN).await;
    let post = |body: Value| {
        let request = as_basic(&app, Method::POST, LINKS, ANN).json(&body);
        async move { request.send().await.unwrap() }
    };

    // One slug, two domains, two targets.
    let home = create(
        &app,
        json!({"target_url": "https://example.com/home", "slug": "promo"}),
    )
    .await;
    assert_eq!(home["domain"], Value::Null);
    assert_eq!(home["short_url"], "https://s.example/promo");
    let go = create(
        &app,
        json!({"target_url": "https://example.com/go", "slug": "promo", "domain": "GO.example"}),
    )
    .await;
    assert_eq!(go["domain"], "go.example");
    assert_eq!(go["short_url"], "https://go.example/promo");
    let again = post(
        json!({"target_url": "https://example.com/x", "slug": "promo", "domain": "go.example"}),
    )
    .await;
    assert_eq!(
        problem_fields(&assert_problem(again, StatusCode::CONFLICT).await),
        ["slug"]
    );
    let unknown =
        post(json!({"target_url": "https://example.com/x", "domain": "evil.example"})).await;
    let problem = assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&problem), ["domain"]);
    assert!(
        problem
            .to_string()
            .contains("s.example, go.example, l.example"),
        "{problem}"
    );

    // A visit goes by the Host it came in on; a slug the domain lacks is the default's.
    let goes_to = |host: &'static str, path: &'static str| {
        let visit = follow_on(&app, host, path);
        async move {
            let response = visit.await;
            match response.status() {
                StatusCode::FOUND => response.headers()["location"].to_str().unwrap().to_owned(),
                status => status.to_string(),
            }
        }
    };
    create(&app, json!({"target_url": "https://example.com/only", "slug": "only-go", "domain": "go.example"})).await;
    for (host, path, expected) in [
        ("go.example:443", "/promo", "https://example.com/go"),
        ("s.example", "/promo", "https://example.com/home"),
        ("l.example", "/promo", "https://example.com/home"),
        ("other.example", "/promo", "https://example.com/home"),
        ("go.example", "/only-go", "https://example.com/only"),
        ("s.example", "/only-go", "404 Not Found"),
        ("l.example", "/only-go", "404 Not Found"),
    ] {
        assert_eq!(goes_to(host, path).await, expected, "{host}{path}");
    }

    // Moved to the default domain, where `promo` is taken: 409. To l.example: its visits
    // go there at once, and go.example's fall back to the default's link.
    let patch = |id: &Value, body: Value| {
        let request = as_basic(&app, Method::PATCH, &format!("{LINKS}/{id}"), ANN).json(&body);
        async move { request.send().await.unwrap() }
    };
    assert_problem(
        patch(&go["id"], json!({"domain": null})).await,
        StatusCode::CONFLICT,
    )
    .await;
    let moved: Value = patch(&go["id"], json!({"domain": "l.example"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moved["short_url"], "https://l.example/promo");
    assert_eq!(
        goes_to("l.example", "/promo").await,
        "https://example.com/go"
    );
    assert_eq!(
        goes_to("go.example", "/promo").await,
        "https://example.com/home"
    );
    // A change to the default's link reaches the domains that fall back to it.
    patch(
        &home["id"],
        json!({"target_url": "https://example.com/home-2"}),
    )
    .await;
    assert_eq!(
        goes_to("go.example", "/promo").await,
        "https://example.com/home-2"
    );

    // Lists filter by domain; the domains list counts your links on each.
    let listed: Value = get_json(&app, &format!("{LINKS}?domain=l.example"), ANN).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], go["id"]);
    let listed: Value = get_json(&app, &format!("{LINKS}?domain=s.example"), ANN).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let bad = as_basic(
        &app,
        Method::GET,
        &format!("{LINKS}?domain=nope.example"),
        ANN,
    )
    .send()
    .await
    .unwrap();
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    let domains: Value = get_json(&app, "/api/v1/domains", ANN).await;
    assert_eq!(
        domains["items"],
        json!([
            {"host": "s.example", "is_default": true, "link_count": 1},
            {"host": "go.example", "is_default": false, "link_count": 1},
            {"host": "l.example", "is_default": false, "link_count": 1},
        ])
    );

    // find_if_exists looks on the link's domain only; CSV imports take a domain column.
    let found = post(json!({"target_url": "https://example.com/go", "domain": "l.example", "find_if_exists": true})).await;
    assert_eq!(found.status(), StatusCode::OK);
    assert_eq!(found.json::<Value>().await.unwrap()["id"], go["id"]);
    let elsewhere =
        post(json!({"target_url": "https://example.com/go", "find_if_exists": true})).await;
    assert_eq!(elsewhere.status(), StatusCode::CREATED);
    let imported: Value = bulk_csv(
        &app,
        "target_url,slug,domain\nhttps://example.com/csv,promo,go.example\n".into(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        imported["results"][0]["link"]["short_url"], "https://go.example/promo",
        "{imported}"
    );
}

#[tokio::test]
async fn each_domain_can_send_its_own_visitors_home() {
    use std::collections::BTreeMap;
    let app = spawn_app_with(|config| {
        config.public_url = Some("https://s.example".into());
        let set = |config: &mut platform::Config, name: &str, value: figment::value::Value| {
            config.app_table("links").insert(name.into(), value);
        };
        set(config, "domains", vec!["go.example", "l.example"].into());
        set(config, "root_redirect", "https://home.example/".into());
        let go_home = |path: &str| {
            BTreeMap::from([(
                "GO.example".to_owned(),
                format!("https://go-home.example{path}"),
            )])
        };
        set(config, "domain_root_redirects", go_home("").into());
        set(config, "domain_invalid_redirects", go_home("/lost").into());
    })
    .await;
    for (host, path, expected) in [
        ("go.example", "/", "https://go-home.example/"),
        ("l.example", "/", "https://home.example/"),
        ("s.example", "/", "https://home.example/"),
        ("go.example", "/nope", "https://go-home.example/lost"),
    ] {
        let response = follow_on(&app, host, path).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{host}{path}");
        assert_eq!(response.headers()["location"], expected, "{host}{path}");
    }
    // No invalid redirect but go.example's: elsewhere, the 404 page.
    let lost = follow_on(&app, "l.example", "/nope").await;
    assert_eq!(lost.status(), StatusCode::NOT_FOUND);
}

/// The orphan visits an administrator sees, newest first, once `expected` of them (by
/// `query`) are written.
async fn orphan_visits(app: &TestApp, query: &str, expected: usize) -> Vec<Value> {
    let path = format!("/api/v1/orphan-visits{query}");
    for _ in 0..100 {
        let page: Value = get_json(app, &path, ANN).await;
        let items = page["items"].as_array().unwrap().clone();
        if items.len() >= expected {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page: Value = get_json(app, &path, ANN).await;
    panic!("fewer than {expected} orphan visits at {path}: {page}");
}

#[tokio::test]
async fn visits_that_reach_no_link_are_orphan_visits_for_administrators() {
    let app = spawn_app_with(|config| {
        config
            .app_table("links")
            .insert("domains".into(), vec!["go.example"].into());
    })
    .await;
    register(&app, ANN).await;
    crate::helpers::make_admin(&app, ANN);
    register(&app, "bob@example.com").await;
    create(&app, json!({"target_url": "https://example.com/", "slug": "ended", "valid_until": "2001-01-01T00:00:00Z"})).await;
    let live = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "live"}),
    )
    .await;

    let visit = |method: Method, path: &'static str, ua: &'static str| {
        app.request(method, path)
            .header("user-agent", ua)
            .header("referer", "https://www.forum.example/thread/1")
            .send()
    };
    let not_found = visit(Method::GET, "/no-such-slug", FIREFOX).await.unwrap();
    assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        visit(Method::GET, "/ended", FIREFOX)
            .await
            .unwrap()
            .status(),
        StatusCode::GONE
    );
    // A link checker (HEAD) is not a visit.
    assert_eq!(
        visit(Method::HEAD, "/checked", FIREFOX)
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let bot = "Googlebot/2.1 (+http://www.google.com/bot.html)";
    assert_eq!(
        visit(Method::GET, "/wp-login", bot).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        visit(Method::GET, "/", FIREFOX).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let other_domain = app
        .request(Method::GET, "/lost")
        .header("host", "go.example")
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(other_domain.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        visit(Method::GET, "/live", FIREFOX).await.unwrap().status(),
        StatusCode::FOUND
    );
    wait_for_clicks(&app, &live["id"], 1).await;

    // Newest first; bots left out unless asked for.
    let visits = orphan_visits(&app, "", 4).await;
    let seen: Vec<_> = visits
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap(),
                v["domain"].clone(),
                v["slug"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("invalid_short_url", json!("go.example"), json!("lost")),
            ("base_url", Value::Null, Value::Null),
            ("invalid_short_url", Value::Null, json!("ended")),
            ("invalid_short_url", Value::Null, json!("no-such-slug")),
        ]
    );
    let first = &visits[3];
    assert_eq!(first["browser"], "firefox", "{first}");
    assert_eq!(first["referrer_host"], "forum.example");
    assert_eq!(first["is_bot"], false);
    assert!(first.get("ip").is_none() && first.get("visitor").is_none());

    let with_bots = orphan_visits(&app, "?bots=true", 5).await;
    assert_eq!(with_bots.len(), 5);
    assert_eq!(with_bots[2]["slug"], "wp-login");
    assert_eq!(with_bots[2]["is_bot"], true);
    let roots = orphan_visits(&app, "?kind=base_url", 1).await;
    assert_eq!(roots.len(), 1);
    let paged = orphan_visits(&app, "?limit=2", 2).await;
    assert_eq!(paged.len(), 2);

    let unknown_kind = as_basic(&app, Method::GET, "/api/v1/orphan-visits?kind=lost", ANN)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(unknown_kind, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&problem), ["kind"]);
    // Orphan visits belong to no account: members may not read them.
    let bob = as_basic(
        &app,
        Method::GET,
        "/api/v1/orphan-visits",
        "bob@example.com",
    )
    .send()
    .await
    .unwrap();
    assert_problem(bob, StatusCode::FORBIDDEN).await;
    assert_eq!(
        app.get("/api/v1/orphan-visits").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A path longer than any slug is kept as far as the column goes, and does not stop the
    // writer (PostgreSQL would refuse the whole batch). No link can have it, so it is not
    // a broken short link but an unknown path.
    let long = format!("/{}", "x".repeat(300));
    let response = app
        .request(Method::GET, &long)
        .header("user-agent", FIREFOX)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let newest = &orphan_visits(&app, "", 5).await[0];
    assert_eq!(newest["slug"].as_str().unwrap().len(), 255, "{newest}");
    assert_eq!(newest["kind"], "regular_404");

    // Counted: which broken links are followed most, and from where.
    visit(Method::GET, "/no-such-slug", FIREFOX).await.unwrap();
    orphan_visits(&app, "", 6).await;
    let stats: Value = get_json(&app, "/api/v1/orphan-visits/stats", ANN).await;
    assert_eq!(stats["total"], 6, "{stats}");
    assert_eq!(stats["invalid_short_url"], 4);
    assert_eq!(stats["base_url"], 1);
    assert_eq!(stats["regular_404"], 1);
    assert_eq!(
        stats["top_slugs"][0],
        json!({"value": "no-such-slug", "visits": 2})
    );
    assert_eq!(stats["top_slugs"].as_array().unwrap().len(), 4);
    assert_eq!(
        stats["top_referrers"],
        json!([{"value": "forum.example", "visits": 4}, {"value": "(direct)", "visits": 2}])
    );
    let with_bots: Value = get_json(&app, "/api/v1/orphan-visits/stats?bots=true&top=1", ANN).await;
    assert_eq!(with_bots["total"], 7);
    assert_eq!(
        with_bots["top_referrers"],
        json!([{"value": "forum.example", "visits": 5}])
    );
    let bad = as_basic(
        &app,
        Method::GET,
        "/api/v1/orphan-visits/stats?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z&top=0",
        ANN,
    )
    .send()
    .await
    .unwrap();
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem_fields(&problem), ["from", "top"]);

    // Deleted by an administrator: those before a time, then the rest.
    let delete = |query: String, email: &'static str| {
        as_basic(
            &app,
            Method::DELETE,
            &format!("/api/v1/orphan-visits{query}"),
            email,
        )
        .send()
    };
    let refused = delete(String::new(), "bob@example.com").await.unwrap();
    assert_problem(refused, StatusCode::FORBIDDEN).await;
    let all = orphan_visits(&app, "?bots=true", 7).await;
    assert_eq!(all.len(), 7);
    let before = all[1]["visited_at"].as_str().unwrap();
    let older = delete(format!("?to={before}"), ANN).await.unwrap();
    assert_eq!(older.status(), StatusCode::OK);
    assert_eq!(older.json::<Value>().await.unwrap(), json!({"deleted": 5}));
    let left = orphan_visits(&app, "?bots=true", 0).await;
    assert_eq!(left, all[..2]);
    let rest = delete(String::new(), ANN).await.unwrap();
    assert_eq!(rest.json::<Value>().await.unwrap(), json!({"deleted": 2}));
    assert_eq!(
        orphan_visits(&app, "?bots=true", 0).await,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn orphan_visits_can_be_left_untracked() {
    let app = spawn_app_with(|config| {
        config
            .app_table("links")
            .insert("track_orphan_visits".into(), false.into());
    })
    .await;
    register(&app, ANN).await;
    crate::helpers::make_admin(&app, ANN);
    let live = create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "live"}),
    )
    .await;
    assert_eq!(
        follow(&app, "/no-such-slug").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(follow(&app, "/").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        follow(&app, "/wp-admin/setup.php").await.status(),
        StatusCode::NOT_FOUND
    );
    // Queued after the three above: once it is written, they would have been too.
    assert_eq!(follow(&app, "/live").await.status(), StatusCode::FOUND);
    wait_for_clicks(&app, &live["id"], 1).await;
    let page: Value = get_json(&app, "/api/v1/orphan-visits", ANN).await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn unknown_paths_outside_the_api_are_orphan_visits_too() {
    let app = app_with_ann().await;
    crate::helpers::make_admin(&app, ANN);
    create(
        &app,
        json!({"target_url": "https://example.com/", "slug": "live"}),
    )
    .await;
    // As a browser asks (one with no user agent would count as a bot, left out below).
    let browser = |method: Method, path: &'static str| {
        app.request(method, path)
            .header("user-agent", FIREFOX)
            .header("accept", "text/html")
            .send()
    };
    // A scanner's probe, and a short link with something stuck to it: a browser gets the
    // same 404 page as before, and the visit is kept.
    let probe = browser(Method::GET, "/wp-admin/setup.php").await.unwrap();
    assert_eq!(probe.status(), StatusCode::NOT_FOUND);
    assert!(media_type(&probe).starts_with("text/html"));
    let more = browser(Method::GET, "/live/more").await.unwrap();
    assert_eq!(more.status(), StatusCode::NOT_FOUND);
    // Not visits: an API call that went wrong (still a problem document), another method,
    // a link checker.
    let api = app.get("/api/v1/no-such-thing").await;
    assert_problem(api, StatusCode::NOT_FOUND).await;
    assert_eq!(
        browser(Method::GET, "/api/v1/no-such-thing")
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    for method in [Method::POST, Method::HEAD] {
        let response = browser(method, "/a/b").await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    // One segment that no link can have (a slug has no `.`): an unknown path too, where
    // one that could be a slug is a broken short link.
    let icon = browser(Method::GET, "/favicon.ico").await.unwrap();
    assert_eq!(icon.status(), StatusCode::NOT_FOUND);
    let gone = browser(Method::GET, "/gone-slug").await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    let visits = orphan_visits(&app, "", 4).await;
    let seen: Vec<_> = visits
        .iter()
        .map(|v| (v["kind"].as_str().unwrap(), v["slug"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("invalid_short_url", "gone-slug"),
            ("regular_404", "favicon.ico"),
            ("regular_404", "live/more"),
            ("regular_404", "wp-admin/setup.php"),
        ]
    );
    let probes = orphan_visits(&app, "?kind=regular_404", 3).await;
    assert_eq!(probes.len(), 3);
    let stats: Value = get_json(&app, "/api/v1/orphan-visits/stats", ANN).await;
    assert_eq!(
        (
            &stats["total"],
            &stats["regular_404"],
            &stats["invalid_short_url"]
        ),
        (&json!(4), &json!(3), &json!(1)),
        "{stats}"
    );
}
