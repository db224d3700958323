//! A webhook receiver on 127.0.0.1 that verifies each delivery with the reference Rust
//! library of Standard Webhooks (`standardwebhooks`, not our own signing code), as a
//! receiver in the wild would, and can be told to fail for a while.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::Value;
use tokio::{net::TcpListener, task::JoinHandle};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id`.
    pub id: String,
    /// The body's `type`.
    pub event_type: String,
    pub body: Value,
    /// Whether `standardwebhooks` accepted its signature and timestamp.
    pub verified: bool,
    /// The status the receiver answered.
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    secret: Option<String>,
    received: Vec<Received>,
    /// Answers to give before accepting again: (status, Retry-After).
    failures: VecDeque<(u16, Option<String>)>,
    /// How long to take over each answer, after noting the request.
    hold: Option<Duration>,
}

/// See the module documentation.
pub struct FakeReceiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: JoinHandle<()>,
}

impl Drop for FakeReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeReceiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { addr, inner, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The `whsec_…` secret signatures are checked with.
    pub fn set_secret(&self, secret: &str) {
        self.inner.lock().unwrap().secret = Some(secret.to_owned());
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

    /// Takes `hold` over each answer from now on (noting the request first), as a slow
    /// receiver does: deliveries stay in flight meanwhile.
    pub fn hold(&self, hold: Duration) {
        self.inner.lock().unwrap().hold = Some(hold);
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The deliveries it acknowledged (2xx), each `webhook-id` once, in order: what a
    /// receiver that drops repeats acts on.
    pub fn acknowledged(&self) -> Vec<Received> {
        let mut seen = std::collections::HashSet::new();
        self.received()
            .into_iter()
            .filter(|r| r.status < 300 && seen.insert(r.id.clone()))
            .collect()
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (response, hold) = note(&mut inner.lock().unwrap(), &headers, &body);
    if let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    response
}

fn note(inner: &mut Inner, headers: &HeaderMap, body: &Bytes) -> (Response, Option<Duration>) {
    let verified = inner.secret.as_deref().is_some_and(|secret| {
        standardwebhooks::Webhook::new(secret)
            .and_then(|hook| hook.verify(body, headers))
            .is_ok()
    });
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let failure = inner.failures.pop_front();
    let status = match (&failure, verified) {
        (Some((status, _)), _) => *status,
        (None, true) => 204,
        (None, false) => 401,
    };
    inner.received.push(Received {
        id: headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        event_type: parsed["type"].as_str().unwrap_or_default().to_owned(),
        body: parsed,
        verified,
        status,
    });
    let mut response = StatusCode::from_u16(status).unwrap().into_response();
    if let Some((_, Some(retry_after))) = failure {
        response
            .headers_mut()
            .insert("retry-after", retry_after.parse().unwrap());
    }
    (response, inner.hold)
}
