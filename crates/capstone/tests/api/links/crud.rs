//! Links through the API, one at a time: created (a clear 422 for every bad field, or the
//! link already made with `find_if_exists`), listed, searched, filtered by tag, slug or
//! date and sorted, only by their owner; and tags, counted, renamed and deleted on every
//! link at once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{assert_problem, problem_fields};

use super::{ANN, LINKS, app_with_ann, bulk, create, follow, wait_for_clicks};
use crate::helpers::{as_basic, get_json, register};

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
