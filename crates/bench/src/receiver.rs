//! The webhook side of `jobs-queue`: a receiver on 127.0.0.1 that counts what arrives, and
//! the ceiling the deliveries are judged against — a bare loop sending the same requests
//! with the same HTTP client.
//!
//! The receiver answers every request `204` at once and does what a careful receiver does:
//! drops a repeated `webhook-id` (Standard Webhooks keeps the id across retries for that).
//! It also reads the event's `data.seq`, which the benchmark numbers its events by, so that
//! it can tell the two failures apart: an event never received (missing), and an event
//! received under two different ids — a duplicate the receiver's dedupe cannot catch.
//! Signatures are not verified here: the platform's tests verify them with the reference
//! library, and here they would only add the same HMAC to both sides of the comparison.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Context, ensure};
use chrono::Utc;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Response, StatusCode, body::Bytes, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use platform::webhooks::signature::Secret;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The event type the benchmark emits.
pub const EVENT: &str = "bench.event";
/// The timeout the platform's delivery client has (`webhooks::deliver`, private there).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// The data of event `seq`: about the size of a real event (a link, say).
pub fn event_data(seq: u64) -> Value {
    json!({
        "seq": seq,
        "link": {
            "id": seq + 1,
            "slug": format!("b{seq:06}"),
            "target": format!("https://example.com/articles/{seq}"),
            "created_at": "2026-12-03T12:00:00Z",
        },
    })
}

/// A running receiver; it stops with the runtime.
pub struct Receiver {
    pub url: String,
    tally: Arc<Mutex<Tally>>,
}

/// What arrived since the last [`Receiver::take`].
#[derive(Default)]
struct Tally {
    requests: u64,
    /// `webhook-id` → the `seq` it carried, and when it first came.
    ids: HashMap<String, (u64, SystemTime)>,
    first: Option<Instant>,
    last: Option<Instant>,
}

/// What the receiver saw of `expected` events numbered `0..expected`.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub requests: u64,
    pub distinct_ids: u64,
    /// Requests whose `webhook-id` had come before: what the dedupe dropped.
    pub raw_repeats: u64,
    /// Events never received under any id.
    pub missing: u64,
    /// Events received under more than one id: duplicates that survive the dedupe.
    pub duplicated: u64,
    /// From the first request to the last.
    pub window_s: f64,
}

impl Received {
    /// Requests per second over the receiver's window.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.window_s.max(1e-9)
    }
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let tally = Arc::new(Mutex::new(Tally::default()));
        let shared = tally.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let tally = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| receive(tally.clone(), request));
                    // A sender that goes away mid-request is counted by what did arrive.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { url, tally })
    }

    /// What arrived since the last call, judged against events `0..expected`; starts afresh.
    pub fn take(&self, expected: u64) -> Received {
        self.take_arrivals(0..expected).0
    }

    /// Distinct events received since the last [`Receiver::take`] (a live count).
    pub fn distinct(&self) -> u64 {
        self.tally.lock().expect("tally lock").ids.len() as u64
    }

    /// What arrived since the last call, judged against the events numbered `expected`,
    /// with when each event first came (under any id); starts afresh.
    pub fn take_arrivals(
        &self,
        expected: impl IntoIterator<Item = u64>,
    ) -> (Received, HashMap<u64, SystemTime>) {
        let tally = std::mem::take(&mut *self.tally.lock().expect("tally lock"));
        let mut ids_per_seq: HashMap<u64, u32> = HashMap::new();
        let mut first: HashMap<u64, SystemTime> = HashMap::new();
        for &(seq, at) in tally.ids.values() {
            *ids_per_seq.entry(seq).or_default() += 1;
            first
                .entry(seq)
                .and_modify(|t| *t = (*t).min(at))
                .or_insert(at);
        }
        let received = Received {
            requests: tally.requests,
            distinct_ids: tally.ids.len() as u64,
            raw_repeats: tally.requests - tally.ids.len() as u64,
            missing: expected
                .into_iter()
                .filter(|seq| !first.contains_key(seq))
                .count() as u64,
            duplicated: ids_per_seq.values().filter(|&&n| n > 1).count() as u64,
            window_s: match (tally.first, tally.last) {
                (Some(first), Some(last)) => (last - first).as_secs_f64(),
                _ => 0.0,
            },
        };
        (received, first)
    }
}

async fn receive(
    tally: Arc<Mutex<Tally>>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let id = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // The whole body is read, as any receiver must before it answers.
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    // The benchmark's own events are numbered by `seq`; the tasks app's reminders by theirs.
    let seq = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|event| {
            let data = &event["data"];
            data["seq"]
                .as_u64()
                .or_else(|| data["reminder_id"].as_u64())
        });
    let now = Instant::now();
    let arrived = SystemTime::now();
    {
        let mut tally = tally.lock().expect("tally lock");
        tally.requests += 1;
        tally.first.get_or_insert(now);
        tally.last = Some(now);
        if let (Some(id), Some(seq)) = (id, seq) {
            tally.ids.entry(id).or_insert((seq, arrived));
        }
    }
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// The ceiling: `requests` signed POSTs of events like the benchmark's to `url`, from
/// `concurrency` tasks, with the client the platform's deliveries use — the guarded
/// builder (private addresses allowed, as the workers are configured), their timeout and
/// no redirects — and their headers and signature. No database, no queue: the fastest the
/// same requests go on this machine. Fails if any is not answered 2xx.
pub async fn bare_loop(url: &str, requests: u64, concurrency: usize) -> anyhow::Result<()> {
    let client = platform::outbound::guarded_builder(true)
        .timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let secret = Secret::generate();
    let next = Arc::new(AtomicU64::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, secret, next, url) =
            (client.clone(), secret.clone(), next.clone(), url.to_owned());
        senders.spawn(async move {
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= requests {
                    return anyhow::Ok(());
                }
                // As `Webhooks::emit` makes them: the envelope, a `msg_` + UUID-sized id.
                let body = json!({
                    "type": EVENT,
                    "timestamp": Utc::now(),
                    "data": event_data(seq),
                })
                .to_string();
                let id = format!("msg_{seq:032x}");
                let timestamp = Utc::now().timestamp();
                let response = client
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(reqwest::header::USER_AGENT, "Capstone-Webhooks/bench")
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", secret.sign(&id, timestamp, &body))
                    .body(body)
                    .send()
                    .await
                    .context("the bare loop's request failed")?;
                ensure!(
                    response.status().is_success(),
                    "the receiver answered {} to the bare loop",
                    response.status()
                );
            }
        });
    }
    while let Some(sent) = senders.join_next().await {
        sent??;
    }
    Ok(())
}
