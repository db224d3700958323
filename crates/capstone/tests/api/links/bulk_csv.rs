//! Links in bulk: `POST /api/v1/links/bulk` creates what it can and says why the rest
//! failed, takes a full request of long addresses past the usual body limit, and takes a
//! CSV file as well as JSON; the list exports as CSV, and the export imports back the
//! same links.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::assert_problem;

use super::{ANN, LINKS, app_with_ann, bulk, bulk_csv, create, follow};
use crate::helpers::{as_basic, get_json, media_type};

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

/// A full bulk request of long addresses (UTM-laden, 2,000 characters each: about 2 MB,
/// twice the API's usual body limit) is taken whole; a body far past that is a 413 that
/// creates nothing.
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
