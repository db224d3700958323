//! The few Capstone API calls the benchmark makes: an account, a token, and the timed
//! statistics requests.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use chrono::{SecondsFormat, TimeDelta, Utc};

use crate::load::percentile_ms;

pub const EMAIL: &str = "bench@example.com";
pub const PASSWORD: &str = "bench-password-7361-lorem";

/// A client that never follows redirects (the ceiling answers 302 to example.com, and
/// nothing here may leave 127.0.0.1) and gives up on a request after a while.
pub fn client() -> reqwest::Client {
    // reqwest needs a TLS provider whenever a build of the workspace enables its rustls
    // feature (the platform does), even for plain HTTP; this is the one the server uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

pub async fn register(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let response = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&serde_json::json!({
            "email": EMAIL,
            "password": PASSWORD,
            "display_name": "Benchmark",
        }))
        .send()
        .await?;
    let status = response.status();
    ensure!(
        status.is_success(),
        "registering answered {status}: {}",
        response.text().await.unwrap_or_default()
    );
    Ok(())
}

/// How the timed requests authenticate.
pub enum Auth {
    Bearer(String),
    Basic,
}

/// A JWT access token for the account. The stats requests use it rather than HTTP Basic
/// because Basic verifies the password (argon2id, tens of milliseconds by design) on every
/// request, which would be timed as if it were the statistics query. `Basic` if the token
/// endpoint fails, with the reason.
pub async fn auth(client: &reqwest::Client, base: &str) -> (Auth, Option<String>) {
    let token = async {
        let response = client
            .post(format!("{base}/api/v1/auth/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", EMAIL),
                ("password", PASSWORD),
            ])
            .send()
            .await?;
        let status = response.status();
        ensure!(status.is_success(), "the token endpoint answered {status}");
        let body: serde_json::Value = response.json().await?;
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("no access_token in the token response")
    };
    match token.await {
        Ok(token) => (Auth::Bearer(token), None),
        Err(err) => (
            Auth::Basic,
            Some(format!(
                "no bearer token ({err:#}); stats timed with HTTP Basic, which includes an argon2 \
                 verification per request"
            )),
        ),
    }
}

/// What the timed statistics requests gave.
pub enum Stats {
    Timed {
        p50_ms: f64,
        p99_ms: f64,
        /// `total_clicks + bot_clicks` of the answer.
        clicks_seen: Option<i64>,
        /// The first answer, kept for inspection.
        body: String,
    },
    /// Not measured, and why.
    Unavailable(String),
}

/// `GET /api/v1/links/{id}/stats` over the seeded 90 days by day, `times` times in a row on
/// one keep-alive connection, each timed to the end of its body.
pub async fn time_stats(
    client: &reqwest::Client,
    base: &str,
    link_id: i64,
    auth: &Auth,
    times: usize,
) -> anyhow::Result<Stats> {
    let now = Utc::now();
    let from = now - TimeDelta::days(crate::seed::CLICK_DAYS);
    let mut url = url::Url::parse(&format!("{base}/api/v1/links/{link_id}/stats"))?;
    url.query_pairs_mut()
        .append_pair("from", &from.to_rfc3339_opts(SecondsFormat::Secs, true))
        .append_pair("to", &now.to_rfc3339_opts(SecondsFormat::Secs, true))
        .append_pair("interval", "day");

    let mut samples = Vec::with_capacity(times);
    let mut first_body = None;
    for _ in 0..times {
        let request = client.get(url.clone());
        let request = match auth {
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic => request.basic_auth(EMAIL, Some(PASSWORD)),
        };
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        let took = started.elapsed();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(Stats::Unavailable(format!(
                "GET {} answered 404: the stats endpoint is not there yet",
                url.path()
            )));
        }
        if !status.is_success() {
            let snippet: String = body.chars().take(300).collect();
            return Ok(Stats::Unavailable(format!(
                "GET {} answered {status}: {snippet}",
                url.path()
            )));
        }
        samples.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        first_body.get_or_insert(body);
    }
    samples.sort_unstable();
    let body = first_body.unwrap_or_default();
    let clicks_seen = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| Some(v["total_clicks"].as_i64()? + v["bot_clicks"].as_i64()?));
    Ok(Stats::Timed {
        p50_ms: percentile_ms(&samples, 0.50),
        p99_ms: percentile_ms(&samples, 0.99),
        clicks_seen,
        body,
    })
}
