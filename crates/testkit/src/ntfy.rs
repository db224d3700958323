//! An ntfy server on 127.0.0.1 that keeps what is published to it, in either of ntfy's forms
//! (<https://docs.ntfy.sh/publish/>): JSON to the root (`POST /` with `{"topic", "message",
//! "title", "priority", "tags", "click"}`) or the message as the body of `POST /{topic}` with
//! `Title`, `Priority`, `Tags` and `Click` headers. Like a server with access control, it can
//! be told the one token it accepts (401 otherwise), and like ntfy.sh it can be told to
//! answer 429 for a while.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};

/// One publish request the server got, read as ntfy reads it.
#[derive(Debug, Clone)]
pub struct Published {
    /// The request's path: `/` for the JSON form, `/{topic}` for the other.
    pub path: String,
    pub headers: HeaderMap,
    /// The body as sent (JSON for the JSON form).
    pub body: String,
    pub topic: String,
    pub message: String,
    pub title: Option<String>,
    /// ntfy's default, 3, when none was given.
    pub priority: u8,
    pub tags: Vec<String>,
    pub click: Option<String>,
    /// The status the server answered.
    pub status: u16,
}

impl Published {
    /// The `Authorization` header, if any.
    pub fn authorization(&self) -> Option<&str> {
        self.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Inner {
    published: Vec<Published>,
    /// The one token accepted, when access is controlled.
    token: Option<String>,
    /// Answers to give before accepting again: (status, Retry-After).
    failures: VecDeque<(u16, Option<String>)>,
}

/// See the module documentation.
pub struct FakeNtfy {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: JoinHandle<()>,
}

impl Drop for FakeNtfy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeNtfy {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/", post(publish_json))
            .route("/{topic}", post(publish_body))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { addr, inner, task }
    }

    /// The URL of `topic` on this server.
    pub fn topic_url(&self, topic: &str) -> String {
        format!("http://{}/{topic}", self.addr)
    }

    /// Accepts only requests with `Authorization: Bearer {token}` from now on.
    pub fn require_token(&self, token: &str) {
        self.inner.lock().unwrap().token = Some(token.to_owned());
    }

    /// Answers the next `times` requests with `status` (and `Retry-After`, when given).
    pub fn fail(&self, times: usize, status: u16, retry_after: Option<&str>) {
        let mut inner = self.inner.lock().unwrap();
        for _ in 0..times {
            inner
                .failures
                .push_back((status, retry_after.map(str::to_owned)));
        }
    }

    /// Every request so far, in order.
    pub fn published(&self) -> Vec<Published> {
        self.inner.lock().unwrap().published.clone()
    }

    /// The messages it accepted (2xx), in order.
    pub fn accepted(&self) -> Vec<Published> {
        self.published()
            .into_iter()
            .filter(|p| p.status < 300)
            .collect()
    }

    /// Waits up to ten seconds for `n` requests in all; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Published> {
        for _ in 0..400 {
            if self.published().len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        self.published()
    }
}

/// The JSON form: everything in the body, the topic included.
async fn publish_json(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    let Ok(json) = serde_json::from_str::<Value>(&text) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid request: body must be JSON",
        );
    };
    let string = |key: &str| json[key].as_str().map(str::to_owned);
    let published = Published {
        path: "/".into(),
        topic: string("topic").unwrap_or_default(),
        message: string("message").unwrap_or_else(|| "triggered".into()),
        title: string("title"),
        priority: json["priority"].as_u64().map_or(3, |p| p as u8),
        tags: json["tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        click: string("click"),
        headers,
        body: text,
        status: 0,
    };
    answer(&mut inner.lock().unwrap(), published)
}

/// The other form: the message as the body, the rest in headers.
async fn publish_body(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let published = Published {
        path: format!("/{topic}"),
        topic,
        message: if text.is_empty() {
            "triggered".into()
        } else {
            text.clone()
        },
        title: header("title"),
        priority: header("priority").and_then(|p| p.parse().ok()).unwrap_or(3),
        tags: header("tags")
            .map(|t| t.split(',').map(|t| t.trim().to_owned()).collect())
            .unwrap_or_default(),
        click: header("click"),
        headers,
        body: text,
        status: 0,
    };
    answer(&mut inner.lock().unwrap(), published)
}

/// Notes the request with the status it gets: a failure it was told to give, 401 for a
/// wrong token, 400 for a bad topic or priority, else 200 with the message as ntfy echoes it.
fn answer(inner: &mut Inner, mut published: Published) -> Response {
    let valid_topic = (1..=64).contains(&published.topic.len())
        && published
            .topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let authorised = inner
        .token
        .as_ref()
        .is_none_or(|token| published.authorization() == Some(format!("Bearer {token}").as_str()));
    let failure = inner.failures.pop_front();
    let (status, retry_after) = match failure {
        Some((status, retry_after)) => (status, retry_after),
        None if !authorised => (401, None),
        None if !valid_topic || !(1..=5).contains(&published.priority) => (400, None),
        None => (200, None),
    };
    published.status = status;
    let echo = json!({
        "id": format!("m{}", inner.published.len()),
        "event": "message",
        "topic": published.topic,
        "message": published.message,
    });
    inner.published.push(published);
    let status = StatusCode::from_u16(status).unwrap();
    let mut response = if status.is_success() {
        axum::Json(echo).into_response()
    } else {
        error(status, "failed as told")
    };
    if let Some(retry_after) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", retry_after.parse().unwrap());
    }
    response
}

/// An error as ntfy gives it.
fn error(status: StatusCode, text: &str) -> Response {
    let body =
        json!({"code": status.as_u16() as u32 * 100 + 1, "http": status.as_u16(), "error": text});
    (status, axum::Json(body)).into_response()
}
