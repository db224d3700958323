//! The tasks app over HTTP: projects shared with roles, tasks with each kind of due,
//! recurrence across daylight-saving changes, reminders fired once by the job queue.

mod due_and_search;
mod files;
mod lists;
mod projects;
mod recurrence;
mod reminders;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, as_basic};

/// `method path` as `email` with a JSON body; asserts `status`, returns the body (or null).
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    email: &str,
    body: Option<Value>,
    status: StatusCode,
) -> Value {
    let mut request = as_basic(app, method.clone(), path, email);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{method} {path} as {email}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Makes a project as `email`; returns its id.
pub async fn project(app: &TestApp, email: &str, name: &str) -> i64 {
    let body = serde_json::json!({ "name": name });
    call(
        app,
        Method::POST,
        "/api/v1/projects",
        email,
        Some(body),
        StatusCode::CREATED,
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

/// Makes a task in `project` as `email`; returns it.
pub async fn task(app: &TestApp, email: &str, project: i64, body: Value) -> Value {
    let path = format!("/api/v1/projects/{project}/tasks");
    call(
        app,
        Method::POST,
        &path,
        email,
        Some(body),
        StatusCode::CREATED,
    )
    .await
}
