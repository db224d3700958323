//! Projects: nesting without cycles, sharing with roles, the last owner, someone else's
//! project as 404 everywhere, the trash.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{call, project, task};
use crate::helpers::{register, spawn_app};

const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";
const EVE: &str = "eve@example.com";

#[tokio::test]
async fn a_shared_project_lets_each_member_do_what_their_role_allows() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let bob = register(&app, BOB).await;
    register(&app, EVE).await;
    let home = project(&app, ANN, "Home").await;
    let members = format!("/api/v1/projects/{home}/members");

    let added = call(
        &app,
        Method::POST,
        &members,
        ANN,
        Some(json!({"email": BOB, "role": "viewer"})),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(added["role"], "viewer");
    call(
        &app,
        Method::POST,
        &members,
        ANN,
        Some(json!({"email": BOB, "role": "editor"})),
        StatusCode::CONFLICT,
    )
    .await;
    let nobody = call(
        &app,
        Method::POST,
        &members,
        ANN,
        Some(json!({"email": "no@example.com", "role": "viewer"})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(nobody["errors"][0]["field"], "email");

    // Bob sees the project and its tasks, but a viewer does not write.
    let listed = call(
        &app,
        Method::GET,
        "/api/v1/projects",
        BOB,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"][0]["id"], home);
    assert_eq!(listed["items"][0]["role"], "viewer");
    let path = format!("/api/v1/projects/{home}/tasks");
    call(
        &app,
        Method::POST,
        &path,
        BOB,
        Some(json!({"title": "Paint"})),
        StatusCode::FORBIDDEN,
    )
    .await;
    let paint = task(&app, ANN, home, json!({"title": "Paint"})).await;
    let comments = format!("/api/v1/tasks/{}/comments", paint["id"]);
    call(
        &app,
        Method::POST,
        &comments,
        BOB,
        Some(json!({"body": "Blue?"})),
        StatusCode::FORBIDDEN,
    )
    .await;

    // As a commenter he comments; as an editor he writes.
    let bob_member = format!("{members}/{bob}");
    call(
        &app,
        Method::PATCH,
        &bob_member,
        ANN,
        Some(json!({"role": "commenter"})),
        StatusCode::OK,
    )
    .await;
    call(
        &app,
        Method::POST,
        &comments,
        BOB,
        Some(json!({"body": "Blue?"})),
        StatusCode::CREATED,
    )
    .await;
    call(
        &app,
        Method::PATCH,
        &bob_member,
        ANN,
        Some(json!({"role": "editor"})),
        StatusCode::OK,
    )
    .await;
    task(&app, BOB, home, json!({"title": "Sand"})).await;
    // An editor does not manage members, nor change the project.
    call(
        &app,
        Method::POST,
        &members,
        BOB,
        Some(json!({"email": EVE, "role": "viewer"})),
        StatusCode::FORBIDDEN,
    )
    .await;
    call(
        &app,
        Method::PATCH,
        &format!("/api/v1/projects/{home}"),
        BOB,
        Some(json!({"name": "Mine"})),
        StatusCode::FORBIDDEN,
    )
    .await;

    // Eve, an outsider, finds nothing at all: 404, never 403.
    for path in [
        format!("/api/v1/projects/{home}"),
        format!("/api/v1/projects/{home}/tasks"),
        members.clone(),
        format!("/api/v1/projects/{home}/activity"),
        format!("/api/v1/tasks/{}", paint["id"]),
        comments.clone(),
    ] {
        call(&app, Method::GET, &path, EVE, None, StatusCode::NOT_FOUND).await;
    }
    call(
        &app,
        Method::PATCH,
        &format!("/api/v1/tasks/{}", paint["id"]),
        EVE,
        Some(json!({"title": "x"})),
        StatusCode::NOT_FOUND,
    )
    .await;
    let eve_tasks = call(
        &app,
        Method::GET,
        "/api/v1/tasks",
        EVE,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(eve_tasks["items"], json!([]));

    // The activity shows who did what, comments included, newest first.
    let activity = call(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{home}/activity"),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    let actions: Vec<&str> = activity["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["created", "commented", "created"], "{activity}");
    assert_eq!(activity["items"][1]["text"], "Blue?");
}

#[tokio::test]
async fn the_last_owner_cannot_leave_and_projects_do_not_nest_in_themselves() {
    let app = spawn_app().await;
    let ann = register(&app, ANN).await;
    let bob = register(&app, BOB).await;
    let work = project(&app, ANN, "Work").await;
    let members = format!("/api/v1/projects/{work}/members");
    let refused = call(
        &app,
        Method::DELETE,
        &format!("{members}/{ann}"),
        ANN,
        None,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("last owner"),
        "{refused}"
    );
    call(
        &app,
        Method::PATCH,
        &format!("{members}/{ann}"),
        ANN,
        Some(json!({"role": "admin"})),
        StatusCode::CONFLICT,
    )
    .await;
    // With a second owner, she may go.
    call(
        &app,
        Method::POST,
        &members,
        ANN,
        Some(json!({"email": BOB, "role": "owner"})),
        StatusCode::CREATED,
    )
    .await;
    call(
        &app,
        Method::DELETE,
        &format!("{members}/{ann}"),
        ANN,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    call(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{work}"),
        ANN,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let _ = bob;

    // Nesting: a child under its parent is fine, the parent under its child is a cycle.
    let a = project(&app, BOB, "A").await;
    let b = call(
        &app,
        Method::POST,
        "/api/v1/projects",
        BOB,
        Some(json!({"name": "B", "parent_id": a})),
        StatusCode::CREATED,
    )
    .await;
    let cycle = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/projects/{a}"),
        BOB,
        Some(json!({"parent_id": b["id"]})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(cycle["errors"][0]["field"], "parent_id");
    call(
        &app,
        Method::PATCH,
        &format!("/api/v1/projects/{a}"),
        BOB,
        Some(json!({"parent_id": a})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let bad = call(
        &app,
        Method::POST,
        "/api/v1/projects",
        BOB,
        Some(json!({"name": " ", "colour": "blue"})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["colour", "name"]);
}

#[tokio::test]
async fn a_deleted_task_or_project_waits_in_the_trash_and_comes_back() {
    let app = spawn_app().await;
    register(&app, ANN).await;
    let home = project(&app, ANN, "Home").await;
    let parent = task(&app, ANN, home, json!({"title": "Move house"})).await;
    let child = task(
        &app,
        ANN,
        home,
        json!({"title": "Pack books", "parent_id": parent["id"]}),
    )
    .await;

    call(
        &app,
        Method::DELETE,
        &format!("/api/v1/tasks/{}", parent["id"]),
        ANN,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    // Its subtask went with it.
    call(
        &app,
        Method::GET,
        &format!("/api/v1/tasks/{}", child["id"]),
        ANN,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let trash = call(
        &app,
        Method::GET,
        "/api/v1/trash",
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(trash["tasks"].as_array().unwrap().len(), 2, "{trash}");
    assert_eq!(trash["purged_after_days"], 30);
    let restored = call(
        &app,
        Method::POST,
        &format!("/api/v1/tasks/{}/restore", child["id"]),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(restored["title"], "Pack books");
    // The parent came back with it, so the subtask is not an orphan.
    call(
        &app,
        Method::GET,
        &format!("/api/v1/tasks/{}", parent["id"]),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;

    call(
        &app,
        Method::DELETE,
        &format!("/api/v1/projects/{home}"),
        ANN,
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let listed = call(
        &app,
        Method::GET,
        "/api/v1/projects",
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["items"], json!([]));
    call(
        &app,
        Method::GET,
        &format!("/api/v1/tasks/{}", child["id"]),
        ANN,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let trash = call(
        &app,
        Method::GET,
        "/api/v1/trash",
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(trash["projects"][0]["id"], home);
    call(
        &app,
        Method::POST,
        &format!("/api/v1/projects/{home}/restore"),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    call(
        &app,
        Method::GET,
        &format!("/api/v1/tasks/{}", child["id"]),
        ANN,
        None,
        StatusCode::OK,
    )
    .await;
    // Restoring what is not in the trash finds nothing to restore.
    call(
        &app,
        Method::POST,
        &format!("/api/v1/projects/{home}/restore"),
        ANN,
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
}
