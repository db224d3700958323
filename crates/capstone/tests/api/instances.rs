//! Three real server processes on one database (and Redis, when the suite has one), as a
//! deployment of several instances runs: one of them is killed with SIGKILL while it is
//! delivering webhooks, and what it held is delivered by the others once its lease lapses.
//! Nothing else runs twice, and a daily job is one row for all three.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use reqwest::{Method, StatusCode};
use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use testkit::{FakeReceiver, TestClient, TestDatabase};

use crate::{
    helpers::{PASSWORD, registration},
    process::{Server, start_binary_with},
};

const ANN: &str = "ann@example.com";
const LINKS: usize = 30;

fn client(server: &Server) -> TestClient {
    TestClient::new(server.addr.parse().unwrap())
}

/// `(message id, attempts, state, locked by)` of every webhook delivery job.
async fn deliveries(db: &DatabaseConnection) -> Vec<(String, i32, String, Option<String>)> {
    let sql = "SELECT payload, attempts, state, locked_by FROM jobs \
               WHERE kind = 'platform.webhook_delivery'";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            let payload: String = row.try_get("", "payload").unwrap();
            let payload: Value = serde_json::from_str(&payload).unwrap();
            (
                payload["message_id"].as_str().unwrap().to_owned(),
                row.try_get("", "attempts").unwrap(),
                row.try_get("", "state").unwrap(),
                row.try_get("", "locked_by").unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_killed_instances_jobs_are_run_by_the_others_and_nothing_twice() {
    let db = TestDatabase::fresh().await;
    let env = [
        ("CAPSTONE_ALLOW_PRIVATE_OUTBOUND", "true"),
        // The shortest lease allowed, so that the test waits seconds, not a minute.
        ("CAPSTONE_JOB_LEASE_SECS", "3"),
        ("CAPSTONE_LOG_LEVEL", "warn"),
    ];
    // The first migrates; the others start on the migrated database.
    let first = start_binary_with(&db, &env);
    let mut servers = [
        first,
        start_binary_with(&db, &env),
        start_binary_with(&db, &env),
    ];
    let clients: Vec<TestClient> = servers.iter().map(client).collect();

    let registered = clients[0]
        .post_json("/api/v1/auth/register", &registration(ANN))
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let receiver = FakeReceiver::start().await;
    let hook = clients[1]
        .request(Method::POST, "/api/v1/webhooks")
        .basic_auth(ANN, Some(PASSWORD))
        .json(&json!({"url": receiver.url(), "events": ["link.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), StatusCode::CREATED);
    let hook: Value = hook.json().await.unwrap();
    receiver.set_secret(hook["secret"].as_str().unwrap());
    // Deliveries stay in flight for a while: the instance killed is killed mid-job.
    receiver.hold(Duration::from_secs(3));

    // Links made through every instance: each wakes its own workers.
    for n in 0..LINKS {
        let made = clients[n % 3]
            .request(Method::POST, "/api/v1/links")
            .basic_auth(ANN, Some(PASSWORD))
            .json(&json!({"target_url": format!("https://example.com/{n}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), StatusCode::CREATED);
    }

    // Kill the second instance once it is delivering, and read at once what it held: rows
    // it had claimed, still `running` under its name until their lease lapses.
    let conn = Database::connect(&db.url).await.unwrap();
    let killed = format!("-{}-", servers[1].child.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !deliveries(&conn).await.iter().any(|(_, _, state, by)| {
        state == "running" && by.as_deref().is_some_and(|by| by.contains(&killed))
    }) {
        assert!(
            Instant::now() < deadline,
            "the second instance ran no delivery"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    servers[1].child.kill().unwrap();
    servers[1].child.wait().unwrap();
    let held: HashSet<String> = deliveries(&conn)
        .await
        .into_iter()
        .filter(|(_, _, state, by)| {
            state == "running" && by.as_deref().is_some_and(|by| by.contains(&killed))
        })
        .map(|(id, ..)| id)
        .collect();
    assert!(!held.is_empty());

    // Every event is delivered, by the two left.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = deliveries(&conn).await;
        if all.len() == LINKS && all.iter().all(|(_, _, state, _)| state == "done") {
            break;
        }
        assert!(Instant::now() < deadline, "not all delivered: {all:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(receiver.acknowledged().len(), LINKS);
    assert!(receiver.received().iter().all(|r| r.verified));

    // Run again: only what the killed instance held, and that once more.
    let mut times: HashMap<String, usize> = HashMap::new();
    for received in receiver.received() {
        *times.entry(received.id).or_default() += 1;
    }
    for (id, attempts, _, _) in deliveries(&conn).await {
        let (expected_attempts, most_times) = if held.contains(&id) { (2, 2) } else { (1, 1) };
        assert_eq!(attempts, expected_attempts, "{id}");
        assert!(
            times[&id] <= most_times,
            "{id} delivered {} times",
            times[&id]
        );
    }

    // Three schedulers, one row for today's daily clean-up, run once.
    let daily = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT attempts FROM jobs WHERE kind = 'links.clean_up'",
        ))
        .await
        .unwrap();
    assert_eq!(daily.len(), 1);
    conn.close().await.unwrap();
}
