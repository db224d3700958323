//! The click log: clicks written in batches (a link deleted while its clicks wait does
//! not hold up the others; a batch of many first clicks leaves the counters' planner
//! statistics current on PostgreSQL), streamed live, deleted with their statistics by
//! the link's owner, and forgotten with time: past days' visitors, and raw clicks past
//! their retention while the statistics stay.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::assert_problem;

use super::{
    ANN, FIREFOX, LINKS, app_with_ann, bulk, create, follow, orphan_visits, wait_for_clicks,
};
use crate::helpers::{as_basic, as_bearer, create_key, get_json, media_type, register};

/// A link deleted while its clicks wait in the queue: its clicks go with it, and the
/// clicks written in the same batch are still counted (they once failed with it, forever).
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
    crate::helpers::make_admin(&app, ANN).await;
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
