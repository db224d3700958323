//! The real binary, as an operator runs it: JSON logs, and SIGTERM during a request.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

use serde_json::Value;
use testkit::TestDatabase;

use crate::process::{sigterm, start_binary, start_binary_with, wait_exit};

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_cleanly() {
    let db = TestDatabase::fresh().await;
    let mut server = start_binary(&db);

    let body = br#"{"email":"slow@example.com","password":"correct horse battery staple","display_name":"Slow"}"#;
    let (head, tail) = body.split_at(20);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nx-request-id: slow-request-1\r\n\r\n",
        server.addr,
        body.len()
    )
    .unwrap();
    stream.write_all(head).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));

    sigterm(&server.child);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );

    stream.write_all(tail).unwrap();
    let mut response = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let status = wait_exit(&mut server.child, Duration::from_secs(15));
    assert!(status.success(), "exit status {status}");
    assert!(
        TcpStream::connect(&server.addr).is_err(),
        "still accepting connections"
    );

    // The access log line of that request, in JSON, with what an operator needs.
    let logs: Vec<Value> = server
        .lines
        .try_iter()
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect();
    let access = logs
        .iter()
        .find(|l| field(l, "request_id") == "slow-request-1" && l["message"] == "request")
        .unwrap_or_else(|| panic!("no access log line for the request in {logs:#?}"));
    assert_eq!(access["status"], 201);
    assert_eq!(field(access, "method"), "POST");
    assert_eq!(field(access, "route"), "/api/v1/auth/register");
    assert!(access["latency_ms"].as_f64().unwrap() >= 200.0);
    // Every line logged during the request carries its id.
    let registered = logs
        .iter()
        .find(|l| l["message"] == "account registered")
        .expect("the handler's own log line");
    assert_eq!(field(registered, "request_id"), "slow-request-1");
    // Secrets never reach the log.
    assert!(!logs.iter().any(|l| l.to_string().contains("correct horse")));
}

/// A field of a JSON log line: the event's own, or its request span's.
fn field<'a>(line: &'a Value, name: &str) -> &'a Value {
    match &line[name] {
        Value::Null => &line["span"][name],
        value => value,
    }
}

/// Registers Ann on the server at `addr` and creates her link `/{slug}`; returns the
/// server's base URL and a client for it.
async fn ann_with_link(addr: &str, slug: &str) -> (String, reqwest::Client) {
    let test_client = testkit::TestClient::new(addr.parse().unwrap());
    let (base, client) = (test_client.base.clone(), test_client.http.clone());
    let register = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&serde_json::json!({"email": "ann@example.com", "password": "correct horse battery staple", "display_name": "Ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), 201);
    let created = client
        .post(format!("{base}/api/v1/links"))
        .basic_auth("ann@example.com", Some("correct horse battery staple"))
        .json(&serde_json::json!({"target_url": "https://example.com/", "slug": slug}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    (base, client)
}

#[tokio::test]
async fn a_graceful_stop_loses_no_click() {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Database};

    let db = TestDatabase::fresh().await;
    let mut server = start_binary(&db);
    let (base, client) = ann_with_link(&server.addr, "counted").await;

    // Clicks from 16 concurrent visitors, then SIGTERM straight away: whatever is still
    // queued must be written before the process exits.
    let sent = 800;
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let (client, base) = (client.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..sent / 16 {
                let response = client
                    .get(format!("{base}/counted"))
                    .header("user-agent", format!("Mozilla/5.0 visitor-{worker}"))
                    .send()
                    .await
                    .unwrap();
                ok += usize::from(response.status() == 302);
            }
            ok
        }));
    }
    let mut redirected = 0;
    for task in tasks {
        redirected += task.await.unwrap();
    }
    assert_eq!(redirected, sent);
    sigterm(&server.child);
    let status = wait_exit(&mut server.child, Duration::from_secs(30));
    assert!(status.success());

    let conn = Database::connect(&db.url).await.unwrap();
    let row = conn
        .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM clicks",
        ))
        .await
        .unwrap()
        .unwrap();
    let stored: i64 = row.try_get("", "n").unwrap();
    assert_eq!(stored, sent as i64, "clicks sent {sent}, stored {stored}");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_stop_that_cannot_store_the_queued_clicks_exits_with_failure() {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Database};

    let db = TestDatabase::fresh().await;
    let mut server = start_binary_with(&db, &[("CAPSTONE_SHUTDOWN_TIMEOUT_SECS", "1")]);
    let (base, client) = ann_with_link(&server.addr, "doomed").await;

    // The clicks table is gone: the writer keeps the click and retries, and the stop
    // gives up after its timeout.
    let conn = Database::connect(db.url.as_str()).await.unwrap();
    conn.execute_unprepared("DROP TABLE clicks").await.unwrap();
    conn.close().await.unwrap();
    let response = client.get(format!("{base}/doomed")).send().await.unwrap();
    assert_eq!(response.status(), 302);

    sigterm(&server.child);
    let status = wait_exit(&mut server.child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(1), "exit status {status}");
    let logs: Vec<Value> = server
        .lines
        .try_iter()
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect();
    assert!(
        logs.iter()
            .any(|l| l["level"] == "ERROR" && l.to_string().contains("queued clicks")),
        "no error line says what was lost: {logs:#?}"
    );
}
