//! The third parties of link enrichment, faked on 127.0.0.1: a Safe-Browsing-style lookup
//! API ([`FakeSafeBrowsing`]) and a website whose pages a test chooses ([`FakeWebsite`]).
//!
//! The lookup API speaks the shape of Google Safe Browsing v4's `threatMatches:find`:
//! `POST /v4/threatMatches:find?key=API_KEY` with
//! `{"client": {...}, "threatInfo": {"threatTypes": [...], "threatEntries": [{"url": ...}]}}`,
//! answered `{}` when no entry is listed and `{"matches": [{"threatType": ..., "threat":
//! {"url": ...}, ...}]}` otherwise. Like Google's, it refuses a missing key (403) or a
//! wrong one (400) with a JSON error, and a test can make it rate-limit (429) or fail (503)
//! for a number of requests, with or without `Retry-After`, to exercise the caller's
//! retries. It counts every request, refused or not.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::{JoinHandle, JoinSet},
};

/// The key the fake accepts.
pub const API_KEY: &str = "fake-safe-browsing-key";

/// The lookup's path, as Google's.
pub const LOOKUP_PATH: &str = "/v4/threatMatches:find";

/// An answer the fake gives instead of a lookup, for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupFailure {
    /// 429, with `Retry-After` set to this value when given (seconds, or an HTTP-date, or
    /// anything else a test wants the client to cope with).
    RateLimited { retry_after: Option<String> },
    /// 503, likewise.
    Unavailable { retry_after: Option<String> },
    /// Any other status, with a Google-style error body and no `Retry-After`.
    Status(u16),
}

impl LookupFailure {
    /// 429 with `Retry-After: <seconds>`.
    pub fn rate_limited(seconds: u64) -> Self {
        Self::RateLimited {
            retry_after: Some(seconds.to_string()),
        }
    }

    /// 503 with `Retry-After: <seconds>`.
    pub fn unavailable(seconds: u64) -> Self {
        Self::Unavailable {
            retry_after: Some(seconds.to_string()),
        }
    }

    fn into_response(self) -> Response {
        let (status, retry_after) = match self {
            Self::RateLimited { retry_after } => (StatusCode::TOO_MANY_REQUESTS, retry_after),
            Self::Unavailable { retry_after } => (StatusCode::SERVICE_UNAVAILABLE, retry_after),
            Self::Status(code) => (
                StatusCode::from_u16(code).expect("a valid status code"),
                None,
            ),
        };
        let mut response = google_error(status, "the fake lookup service says no");
        if let Some(value) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, value.parse().expect("a header value"));
        }
        response
    }
}

#[derive(Default)]
struct Lookups {
    /// URL -> threat type.
    listed: HashMap<String, String>,
    /// Runs of scripted failures: (requests left, failure), oldest first.
    failures: VecDeque<(usize, LookupFailure)>,
    requests: usize,
    bodies: Vec<Value>,
}

type SharedLookups = Arc<Mutex<Lookups>>;

/// The fake lookup API, serving until dropped.
pub struct FakeSafeBrowsing {
    addr: SocketAddr,
    inner: SharedLookups,
    task: JoinHandle<()>,
}

impl Drop for FakeSafeBrowsing {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSafeBrowsing {
    /// Starts on a free port of 127.0.0.1, with no URL listed and no failures scripted.
    pub async fn start() -> Self {
        let inner = SharedLookups::default();
        let app = Router::new()
            .route(LOOKUP_PATH, post(find_threat_matches))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Safe Browsing API");
        let addr = listener.local_addr().expect("its address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, task }
    }

    /// The lookup endpoint, without the key: `http://127.0.0.1:<port>/v4/threatMatches:find`.
    pub fn endpoint(&self) -> String {
        format!("http://{}{LOOKUP_PATH}", self.addr)
    }

    pub fn api_key(&self) -> &'static str {
        API_KEY
    }

    /// Lists `url` as a threat of `threat_type` (`MALWARE`, `SOCIAL_ENGINEERING`, ...).
    pub fn list(&self, url: &str, threat_type: &str) {
        self.lock()
            .listed
            .insert(url.to_owned(), threat_type.to_owned());
    }

    /// Answers the next `count` requests (after those already scripted) with `failure`.
    pub fn fail_next(&self, count: usize, failure: LookupFailure) {
        if count > 0 {
            self.lock().failures.push_back((count, failure));
        }
    }

    /// Requests received, answered or refused.
    pub fn request_count(&self) -> usize {
        self.lock().requests
    }

    /// The JSON body of every request, oldest first (`null` for one that was not JSON).
    pub fn request_bodies(&self) -> Vec<Value> {
        self.lock().bodies.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Lookups> {
        self.inner.lock().expect("fake Safe Browsing state")
    }
}

/// Google's error shape: `{"error": {"code", "message", "status"}}`.
fn google_error(status: StatusCode, message: &str) -> Response {
    let name = match status {
        StatusCode::BAD_REQUEST => "INVALID_ARGUMENT",
        StatusCode::FORBIDDEN => "PERMISSION_DENIED",
        StatusCode::TOO_MANY_REQUESTS => "RESOURCE_EXHAUSTED",
        StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
        _ => "UNKNOWN",
    };
    let body = json!({ "error": { "code": status.as_u16(), "message": message, "status": name } });
    (status, Json(body)).into_response()
}

async fn find_threat_matches(
    State(inner): State<SharedLookups>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut inner = inner.lock().expect("fake Safe Browsing state");
    inner.requests += 1;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    inner.bodies.push(body.clone());

    // A rate limiter or a load balancer answers before the service looks at the request.
    if let Some((left, failure)) = inner.failures.front_mut() {
        let failure = failure.clone();
        *left -= 1;
        if *left == 0 {
            inner.failures.pop_front();
        }
        return failure.into_response();
    }
    match query.get("key").map(String::as_str) {
        None | Some("") => {
            return google_error(
                StatusCode::FORBIDDEN,
                "The request is missing a valid API key.",
            );
        }
        Some(key) if key != API_KEY => {
            return google_error(
                StatusCode::BAD_REQUEST,
                "API key not valid. Please pass a valid API key.",
            );
        }
        Some(_) => {}
    }

    let client_id = body["client"]["clientId"].as_str().unwrap_or_default();
    let info = &body["threatInfo"];
    let (Some(threat_types), Some(entries)) = (
        info["threatTypes"].as_array(),
        info["threatEntries"].as_array(),
    ) else {
        return google_error(
            StatusCode::BAD_REQUEST,
            "threatInfo.threatTypes and threatInfo.threatEntries are required",
        );
    };
    if client_id.is_empty() || threat_types.is_empty() || entries.is_empty() {
        return google_error(
            StatusCode::BAD_REQUEST,
            "client.clientId, threatTypes and threatEntries must not be empty",
        );
    }
    let matches: Vec<Value> = entries
        .iter()
        .filter_map(|entry| entry["url"].as_str())
        .filter_map(|url| {
            let threat = inner.listed.get(url)?;
            // Only the threat types asked about are reported, as Google does.
            threat_types.iter().any(|t| t == threat.as_str()).then(|| {
                json!({
                    "threatType": threat,
                    "platformType": "ANY_PLATFORM",
                    "threatEntryType": "URL",
                    "threat": { "url": url },
                    "cacheDuration": "300s",
                })
            })
        })
        .collect();
    if matches.is_empty() {
        Json(json!({})).into_response()
    } else {
        Json(json!({ "matches": matches })).into_response()
    }
}

// ---------------------------------------------------------------------------------------
// A fake website
// ---------------------------------------------------------------------------------------

/// A page of a [`FakeWebsite`]: a status, headers and a body, which may go on forever.
#[derive(Debug, Clone)]
pub struct FakePage {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    endless: Option<Vec<u8>>,
}

impl FakePage {
    /// 200 with this `Content-Type` and body.
    pub fn new(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            endless: None,
        }
    }

    /// 200 `text/html; charset=utf-8` with this markup.
    pub fn html(markup: impl Into<String>) -> Self {
        Self::new("text/html; charset=utf-8", markup.into())
    }

    /// A small HTML document whose `<title>` holds `title` as it is (escape it as the test
    /// needs).
    pub fn titled(title: &str) -> Self {
        Self::html(format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{title}</title>\n</head>\n<body><h1>Hello</h1><p>A page.</p></body>\n</html>\n"
        ))
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// After the body, sends `filler` again and again until the client hangs up: a page
    /// with no end, for testing that a client stops reading.
    pub fn endless(mut self, filler: impl Into<Vec<u8>>) -> Self {
        let filler = filler.into();
        assert!(!filler.is_empty(), "an endless page needs some filler");
        self.endless = Some(filler);
        self
    }
}

/// What a [`FakeWebsite`] was asked.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Default)]
struct Site {
    pages: Mutex<HashMap<String, FakePage>>,
    seen: Mutex<Vec<SeenRequest>>,
}

/// A website on 127.0.0.1 serving the pages a test gives it (404 for any other path), one
/// request per connection. It is a few lines of HTTP/1.1 over TCP rather than axum so that
/// a page can be endless or malformed at will. Serves until dropped.
pub struct FakeWebsite {
    addr: SocketAddr,
    site: Arc<Site>,
    task: JoinHandle<()>,
}

impl Drop for FakeWebsite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeWebsite {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake website");
        let addr = listener.local_addr().expect("its address");
        let site = Arc::new(Site::default());
        let task = tokio::spawn(serve_site(listener, site.clone()));
        Self { addr, site, task }
    }

    /// The absolute URL of `path` (`url("/post")`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves `page` at `path` (a path and query, as requested) from now on.
    pub fn serve(&self, path: &str, page: FakePage) {
        self.site
            .pages
            .lock()
            .expect("fake website pages")
            .insert(path.to_owned(), page);
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.site.seen.lock().expect("fake website log").clone()
    }
}

async fn serve_site(listener: TcpListener, site: Arc<Site>) {
    // Connections end with the server: the set aborts them when this task is aborted.
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        connections.spawn(answer(stream, site.clone()));
        while connections.try_join_next().is_some() {}
    }
}

async fn answer(mut stream: TcpStream, site: Arc<Site>) {
    let Some(request) = read_head(&mut stream).await else {
        return;
    };
    let page = site
        .pages
        .lock()
        .expect("fake website pages")
        .get(&request.path)
        .cloned()
        .unwrap_or_else(|| FakePage::new("text/plain", "not found").with_status(404));
    site.seen.lock().expect("fake website log").push(request);

    let reason = StatusCode::from_u16(page.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Whatever");
    let mut head = format!("HTTP/1.1 {} {reason}\r\nConnection: close\r\n", page.status);
    for (name, value) in &page.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if page.endless.is_none() {
        // An endless page has no length: its body ends when the connection does.
        head.push_str(&format!("Content-Length: {}\r\n", page.body.len()));
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).await.is_err()
        || stream.write_all(&page.body).await.is_err()
    {
        return;
    }
    if let Some(filler) = &page.endless {
        // Until the client hangs up (the write fails) or the server is dropped.
        while stream.write_all(filler).await.is_ok() {}
        return;
    }
    let _ = stream.shutdown().await;
}

/// Reads the request line and headers (up to 64 KiB); the fake serves GETs, so a body is
/// not read.
async fn read_head(stream: &mut TcpStream) -> Option<SeenRequest> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers = lines
        .take_while(|line| !line.is_empty())
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    Some(SeenRequest {
        method,
        path,
        headers,
    })
}
