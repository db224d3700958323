//! Statistics: a link's clicks broken down by referrer, browser, language and OS, over
//! hours or days in a time zone, bots left out unless asked for; links ranked by clicks;
//! a tag's and an account's statistics; and compacted days, which answer the same
//! statistics and count a late click once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::assert_problem;

use super::{ANN, FIREFOX, LINKS, app_with_ann, create, wait_for_clicks};
use crate::helpers::{as_basic, get_json, media_type, register};

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
