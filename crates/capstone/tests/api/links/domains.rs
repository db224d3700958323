//! Several domains: a slug per domain, visits routed by their `Host` (falling back to the
//! default domain's link), links moved between domains, listed and imported by domain;
//! each domain's own root and invalid redirects; and a domain's statistics, counting
//! only the caller's links on it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{assert_problem, problem_fields};

use super::{ANN, FIREFOX, LINKS, bulk_csv, create, follow_on, wait_for_clicks};
use crate::helpers::{as_basic, get_json, register, spawn_app_with};

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
