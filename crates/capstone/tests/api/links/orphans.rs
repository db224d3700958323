//! Orphan visits: visits that reach no link (a missing or expired slug, the root, an
//! unknown path outside the API), kept for administrators only, listed, filtered,
//! counted and deleted; and left untracked when configured.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{assert_problem, problem_fields};

use super::{ANN, FIREFOX, app_with_ann, create, follow, orphan_visits, wait_for_clicks};
use crate::helpers::{as_basic, get_json, media_type, register, spawn_app_with};

#[tokio::test]
async fn visits_that_reach_no_link_are_orphan_visits_for_administrators() {
    let app = spawn_app_with(|config| {
        config
            .app_table("links")
            .insert("domains".into(), vec!["go.example"].into());
    })
    .await;
    register(&app, ANN).await;
    crate::helpers::make_admin(&app, ANN).await;
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
    crate::helpers::make_admin(&app, ANN).await;
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
    crate::helpers::make_admin(&app, ANN).await;
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
