//! Tasks as files: an `.ics` export read back by a calendar library, a read-only feed with
//! a revocable token, imports of iCalendar and of Todoist's CSV — all or nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{call, project, task};
use crate::helpers::{as_basic, register, spawn_app};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";

#[tokio::test]
async fn a_project_exports_as_icalendar_and_imports_back_elsewhere() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let home = project(&app, ANN, "Home").await;
    let parent = task(
        &app,
        ANN,
        home,
        json!({
            "title": "Plan the trip; pack, book",
            "labels": ["travel"],
            "due": {"kind": "zoned", "local": "2027-06-01T09:00:00", "zone": "Europe/London"},
            "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=TU"},
            "reminders": [{"relative_to": "due", "offset_minutes": -30}],
        }),
    )
    .await;
    task(&app, ANN, home, json!({"title": "Book flights", "parent_id": parent["id"], "due": {"kind": "date", "date": "2027-05-20"}})).await;

    let response = as_basic(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{home}/export?format=ics"),
        ANN,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let ics = response.text().await.unwrap();
    let unfolded = ics.replace("\r\n ", "");
    for line in [
        "SUMMARY:Plan the trip\\; pack\\, book",
        "DUE;TZID=Europe/London:20270601T090000",
        "RRULE:FREQ=WEEKLY;BYDAY=TU",
        "CATEGORIES:travel",
        "TRIGGER;RELATED=END:-PT30M",
        "DUE;VALUE=DATE:20270520",
    ] {
        assert!(unfolded.contains(line), "{line} in\n{ics}");
    }
    assert!(unfolded.contains(&format!(
        "RELATED-TO;RELTYPE=PARENT:{}",
        parent["uid"].as_str().unwrap()
    )));

    // The file, imported into another project, makes the same tasks, the subtask linked.
    let away = project(&app, ANN, "Away").await;
    let imported = as_basic(
        &app,
        Method::POST,
        &format!("/api/v1/projects/{away}/import"),
        ANN,
    )
    .header("content-type", "text/calendar")
    .body(ics.clone())
    .send()
    .await
    .unwrap();
    assert_eq!(imported.status(), StatusCode::OK);
    assert_eq!(
        imported.json::<serde_json::Value>().await.unwrap()["imported"],
        2
    );
    let tasks = call(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{away}/tasks"),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    let items = tasks["items"].as_array().unwrap();
    let trip = items
        .iter()
        .find(|t| t["title"] == "Plan the trip; pack, book")
        .unwrap();
    assert_eq!(trip["recurrence"]["rrule"], "FREQ=WEEKLY;BYDAY=TU");
    assert_eq!(trip["due"]["zone"], "Europe/London");
    assert_eq!(trip["reminders"][0]["offset_minutes"], -30);
    let flights = items.iter().find(|t| t["title"] == "Book flights").unwrap();
    assert_eq!(flights["parent_id"], trip["id"]);

    // Importing it a second time finds the UIDs taken: nothing is imported.
    let again = as_basic(
        &app,
        Method::POST,
        &format!("/api/v1/projects/{away}/import"),
        ANN,
    )
    .header("content-type", "text/calendar")
    .body(ics)
    .send()
    .await
    .unwrap();
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let tasks = call(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{away}/tasks"),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(tasks["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_todoist_export_imports_and_a_bad_line_is_named() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let inbox = project(&app, ANN, "Inbox").await;
    let csv = "TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE\n\
        task,Renew passport,Form at the post office,4,1,Ann (1),,2027-05-01,en,Europe/London\n\
        task,Fill in the form,,1,2,Ann (1),,,en,Europe/London\n\
        task,Water plants,,1,1,Ann (1),,every monday,en,Europe/London\n\
        task,Call the bank,,2,1,Ann (1),,2027-05-02 14:30,en,Europe/London\n";
    let response = as_basic(
        &app,
        Method::POST,
        &format!("/api/v1/projects/{inbox}/import"),
        ANN,
    )
    .header("content-type", "text/csv")
    .body(csv)
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tasks = call(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{inbox}/tasks?sort=created"),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    let by_title = |title: &str| {
        tasks["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["title"] == title)
            .unwrap()
            .clone()
    };
    let passport = by_title("Renew passport");
    assert_eq!(passport["priority"], 1, "Todoist's 4 is p1");
    assert_eq!(passport["due"]["date"], "2027-05-01");
    assert_eq!(by_title("Fill in the form")["parent_id"], passport["id"]);
    assert!(
        by_title("Water plants")["description"]
            .as_str()
            .unwrap()
            .contains("every monday")
    );
    assert_eq!(
        by_title("Call the bank")["due"]["utc"],
        "2027-05-02T13:30:00Z"
    );

    let bad = "TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT\ntask,Fine,,1,1\ntask,Broken,,9,1\n";
    let refused = as_basic(
        &app,
        Method::POST,
        &format!("/api/v1/projects/{inbox}/import"),
        ANN,
    )
    .header("content-type", "text/csv")
    .body(bad)
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 3:"),
        "{problem}"
    );
    let after = call(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{inbox}/tasks"),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        after["items"].as_array().unwrap().len(),
        4,
        "nothing of the bad file"
    );

    let bad_ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:a\r\nDUE:2027-13-45\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    let refused = as_basic(
        &app,
        Method::POST,
        &format!("/api/v1/projects/{inbox}/import"),
        ANN,
    )
    .header("content-type", "text/calendar")
    .body(bad_ics)
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 5:"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_calendar_feed_serves_its_tasks_until_revoked() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    register(&app, BOB).await;
    let home = project(&app, ANN, "Home").await;
    task(
        &app,
        ANN,
        home,
        json!({"title": "Dentist", "due": {"kind": "date", "date": "2027-02-03"}}),
    )
    .await;
    let bobs = project(&app, BOB, "Bob's").await;
    task(&app, BOB, bobs, json!({"title": "Bob's secret"})).await;

    let feed = call(
        &app,
        Method::POST,
        "/api/v1/calendar-feeds",
        ANN,
        Some(json!({})),
        StatusCode::CREATED,
    )
    .await;
    let url = feed["url"].as_str().unwrap();
    let path = &url[url.find("/ical/").unwrap()..];
    let served = app.get(path).await;
    assert_eq!(served.status(), StatusCode::OK);
    let text = served.text().await.unwrap();
    assert!(text.contains("SUMMARY:Dentist"), "{text}");
    assert!(!text.contains("Bob"), "only the feed owner's tasks");
    // Bob cannot make a feed of Ann's project.
    call(
        &app,
        Method::POST,
        "/api/v1/calendar-feeds",
        BOB,
        Some(json!({"project_id": home})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let listed = call(
        &app,
        Method::GET,
        "/api/v1/calendar-feeds",
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        listed["items"][0].get("url"),
        None,
        "the address is shown once"
    );

    call(
        &app,
        Method::DELETE,
        &format!("/api/v1/calendar-feeds/{}", feed["id"]),
        ANN,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.get(path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/ical/cst_ical_guess.ics").await.status(),
        StatusCode::NOT_FOUND
    );
}
