//! The load generator: closed-loop HTTP/1.1 keep-alive GETs, timed one by one.
//!
//! `connections` tasks each open one keep-alive connection (hyper's low-level client: no
//! pool, no retries, no redirects followed, nothing between us and the socket) and loop:
//! pick a path (as [`Traffic`] says), send, read the whole answer, time it. A connection
//! that fails is counted and reopened. The first `warmup` is not counted (the server's slug
//! cache and the allocator settle); latency is recorded for every request sent and answered
//! inside the measured window, and the rate is those answers over the window's length.
//!
//! Closed loop means a slow answer delays that connection's next request, so latency under
//! overload is understated (coordinated omission); with a fixed connection count and the
//! comparison against the ceiling measured the same way, that is the right trade for a
//! two-core machine. Every answer is counted by status, including the warm-up's: each `302`
//! from Capstone is a click it has promised to store.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use http_body_util::{BodyExt, Empty};
use hyper::{
    Request, StatusCode, Uri,
    body::Bytes,
    client::conn::http1::{self, SendRequest},
    header::{self, HeaderValue},
};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::rng::{Rng, Zipf};

/// What a browser following a short link sends, so that the server parses a realistic user
/// agent for every click it records.
const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const ACCEPT_LANGUAGE: &str = "en-GB,en;q=0.9";

pub struct Config {
    pub port: u16,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// The paths to request, one chosen per request as `traffic` says.
    pub paths: Arc<Vec<Uri>>,
    pub traffic: Traffic,
}

/// Which links the requests ask for. The benchmark measures each in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Traffic {
    /// Every request for the same link, as `wrk -c64 http://host/slug` asks: how the issue
    /// measured the other shorteners, and so the figure to compare with them.
    One,
    /// A few links get most requests, by Zipf's law (see [`Zipf`]), as on a real shortener.
    Popular,
    /// Every link as likely: the most work for the click writer, which then has a counter
    /// and rollup rows to update for nearly every click.
    Uniform,
}

impl Traffic {
    /// In the order measured: the last leaves the largest backlog for the graceful stop.
    pub const ALL: [Self; 3] = [Self::One, Self::Popular, Self::Uniform];

    pub fn describe(self) -> &'static str {
        match self {
            Self::One => "one link (as wrk asks)",
            Self::Popular => "popular links (Zipf)",
            Self::Uniform => "any link (uniform)",
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Answers per second in the measured window.
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Answers in the measured window.
    pub measured: u64,
    /// `302` answers over the whole run, warm-up included.
    pub redirects: u64,
    /// Any other answers over the whole run, by status.
    pub other_statuses: BTreeMap<u16, u64>,
    /// Connections that failed or were refused, and requests that got no answer.
    pub errors: u64,
}

/// One connection's counts and latency samples (microseconds).
#[derive(Default)]
struct Tally {
    samples: Vec<u32>,
    redirects: u64,
    other_statuses: BTreeMap<u16, u64>,
    errors: u64,
}

pub async fn run(config: &Config) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let until = measure_from + config.duration;
    let zipf = Arc::new(Zipf::new(config.paths.len() as u64));
    let tasks: Vec<_> = (0..config.connections)
        .map(|i| {
            // A different, fixed sequence of slugs per connection.
            let picker = Picker {
                paths: config.paths.clone(),
                traffic: config.traffic,
                zipf: zipf.clone(),
                rng: Rng::new(0x5EED_0000 + i as u64),
            };
            tokio::spawn(connection(config.port, picker, measure_from, until))
        })
        .collect();

    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await?;
        all.samples.extend(tally.samples);
        all.redirects += tally.redirects;
        all.errors += tally.errors;
        for (status, n) in tally.other_statuses {
            *all.other_statuses.entry(status).or_default() += n;
        }
    }
    all.samples.sort_unstable();
    let measured = all.samples.len() as u64;
    Ok(Outcome {
        rps: measured as f64 / config.duration.as_secs_f64(),
        p50_ms: percentile_ms(&all.samples, 0.50),
        p99_ms: percentile_ms(&all.samples, 0.99),
        max_ms: percentile_ms(&all.samples, 1.0),
        measured,
        redirects: all.redirects,
        other_statuses: all.other_statuses,
        errors: all.errors,
    })
}

/// One connection's sequence of paths.
struct Picker {
    paths: Arc<Vec<Uri>>,
    traffic: Traffic,
    zipf: Arc<Zipf>,
    rng: Rng,
}

impl Picker {
    fn next(&mut self) -> Uri {
        let index = match self.traffic {
            // The seeded hot link, and the most popular of `Popular` (rank 0 spreads to 0).
            Traffic::One => 0,
            Traffic::Popular => self.zipf.spread(self.zipf.rank(&mut self.rng)),
            Traffic::Uniform => self.rng.below(self.paths.len() as u64),
        };
        self.paths[index as usize].clone()
    }
}

async fn connection(port: u16, mut picker: Picker, measure_from: Instant, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let host = HeaderValue::from_str(&format!("127.0.0.1:{port}")).expect("a valid Host");
    'connect: while Instant::now() < until {
        let mut sender = match connect(port).await {
            Ok(sender) => sender,
            Err(_) => {
                tally.errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        while Instant::now() < until {
            let path = picker.next();
            let request = Request::get(path)
                .header(header::HOST, host.clone())
                .header(header::USER_AGENT, USER_AGENT)
                .header(header::ACCEPT_LANGUAGE, ACCEPT_LANGUAGE)
                .body(Empty::<Bytes>::new())
                .expect("a valid request");
            if sender.ready().await.is_err() {
                tally.errors += 1;
                continue 'connect;
            }
            let sent = Instant::now();
            let Ok(response) = sender.send_request(request).await else {
                tally.errors += 1;
                continue 'connect;
            };
            let status = response.status();
            // Reading the (empty) body to its end is what frees the connection for the next
            // request; it is part of the answer's time.
            if response.into_body().collect().await.is_err() {
                tally.errors += 1;
                continue 'connect;
            }
            let done = Instant::now();
            if status == StatusCode::FOUND {
                tally.redirects += 1;
            } else {
                *tally.other_statuses.entry(status.as_u16()).or_default() += 1;
            }
            if sent >= measure_from && done <= until {
                let micros = done.duration_since(sent).as_micros();
                tally
                    .samples
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
        }
    }
    tally
}

async fn connect(port: u16) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    // The connection future does the actual reading and writing; it ends when `sender` is
    // dropped or the server closes the socket.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The nearest-rank percentile of sorted microsecond samples, in milliseconds.
pub fn percentile_ms(sorted_micros: &[u32], p: f64) -> f64 {
    if sorted_micros.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted_micros.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_micros.len()) - 1;
    f64::from(sorted_micros[index]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::percentile_ms;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&samples, 0.50), 50.0);
        assert_eq!(percentile_ms(&samples, 0.99), 99.0);
        assert_eq!(percentile_ms(&samples, 1.0), 100.0);
        assert_eq!(percentile_ms(&[1500], 0.99), 1.5);
        assert!(percentile_ms(&[], 0.5).is_nan());
    }
}
