//! CalDAV `sync-collection` (RFC 6578) of a large calendar: the full sync a client makes
//! the first time (empty token), and the incremental one it makes after each change.
//!
//! Requests are what DAVx5 and Apple's clients send: `REPORT` with `Depth: 1` asking for
//! `getetag` only (they fetch the changed objects with a `calendar-multiget` after), with HTTP
//! Basic as the calendar's owner and an API key as the password. A full sync with
//! `calendar-data` (every VTODO in the answer, as some clients ask) is timed once too.
//!
//! Answers are checked: the full sync must list each of the calendar's tasks once and
//! nothing else; each incremental sync, after one task was changed through the API, must
//! list exactly that task and a new token. A wrong answer fails the run.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use serde::Serialize;

use crate::{load::percentile_ms, rng::Rng};

/// The calendar to sync.
pub struct Calendar<'a> {
    pub owner_id: i64,
    pub email: &'a str,
    /// A write-scoped API key of the owner, used as the Basic password.
    pub key: &'a str,
    pub project: i64,
    /// Its tasks: (id, CalDAV name).
    pub tasks: &'a [(i64, String)],
}

#[derive(Debug, Clone, Serialize)]
pub struct Sync {
    pub calendar_tasks: usize,
    /// Hrefs in the full sync's answer (checked to be every task's).
    pub full_hrefs: usize,
    /// The first full sync, on a server that has not read the calendar yet.
    pub full_ms: f64,
    pub full_samples: usize,
    pub full_p50_ms: f64,
    pub full_with_data_ms: f64,
    pub full_with_data_bytes: usize,
    pub incremental_samples: usize,
    pub incremental_p50_ms: f64,
    pub incremental_p99_ms: f64,
    /// The `PATCH /api/v1/tasks/{id}` before each incremental sync (not a target).
    pub change_p50_ms: f64,
}

/// Full syncs timed after the first.
const FULL_REPEATS: usize = 5;

pub async fn measure(
    client: &reqwest::Client,
    base: &str,
    calendar: Calendar<'_>,
    syncs: usize,
) -> anyhow::Result<Sync> {
    let collection = format!("/dav/calendars/{}/{}/", calendar.owner_id, calendar.project);
    let expected: HashSet<String> = calendar
        .tasks
        .iter()
        .map(|(_, name)| href(&collection, name))
        .collect();

    let (full, answer) = report(client, base, &calendar, &collection, "", false).await?;
    check_full(&answer, &expected)?;
    let mut token = answer.token.clone();
    let mut full_us = Vec::new();
    for _ in 0..FULL_REPEATS {
        let (took, answer) = report(client, base, &calendar, &collection, "", false).await?;
        check_full(&answer, &expected)?;
        full_us.push(micros(took));
    }
    full_us.sort_unstable();
    let (full_with_data, answer) = report(client, base, &calendar, &collection, "", true).await?;
    check_full(&answer, &expected)?;
    ensure!(
        answer.body_len > calendar.tasks.len() * 100,
        "the full sync with calendar-data answered only {} bytes",
        answer.body_len
    );
    let full_with_data_bytes = answer.body_len;

    let mut rng = Rng::new(0x00DA_5EED);
    let mut sync_us = Vec::with_capacity(syncs);
    let mut change_us = Vec::with_capacity(syncs);
    for i in 0..syncs {
        let (id, name) = &calendar.tasks[rng.below(calendar.tasks.len() as u64) as usize];
        let started = Instant::now();
        let response = client
            .patch(format!("{base}/api/v1/tasks/{id}"))
            .bearer_auth(calendar.key)
            .json(&serde_json::json!({"title": format!("Changed for sync {i}")}))
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        change_us.push(micros(started.elapsed()));
        ensure!(
            status.is_success(),
            "PATCH /api/v1/tasks/{id} answered {status}: {body}"
        );

        let (took, answer) = report(client, base, &calendar, &collection, &token, false).await?;
        let want = href(&collection, name);
        ensure!(
            answer.hrefs == [want.clone()],
            "the incremental sync after changing {want} listed {:?}",
            answer.hrefs
        );
        ensure!(
            answer.token != token,
            "the incremental sync kept the token {token} after a change"
        );
        token = answer.token;
        sync_us.push(micros(took));
    }
    sync_us.sort_unstable();
    change_us.sort_unstable();
    Ok(Sync {
        calendar_tasks: calendar.tasks.len(),
        full_hrefs: expected.len(),
        full_ms: full.as_secs_f64() * 1000.0,
        full_samples: FULL_REPEATS,
        full_p50_ms: percentile_ms(&full_us, 0.50),
        full_with_data_ms: full_with_data.as_secs_f64() * 1000.0,
        full_with_data_bytes,
        incremental_samples: syncs,
        incremental_p50_ms: percentile_ms(&sync_us, 0.50),
        incremental_p99_ms: percentile_ms(&sync_us, 0.99),
        change_p50_ms: percentile_ms(&change_us, 0.50),
    })
}

/// A task's href as the server writes it: the collection and the name, percent-encoded
/// (`@` in the seeded UIDs becomes `%40`).
fn href(collection: &str, name: &str) -> String {
    format!("{collection}{}", name.replace('@', "%40"))
}

fn check_full(answer: &Answer, expected: &HashSet<String>) -> anyhow::Result<()> {
    let listed: HashSet<&String> = answer.hrefs.iter().collect();
    ensure!(
        answer.hrefs.len() == expected.len()
            && listed.len() == expected.len()
            && expected.iter().all(|h| listed.contains(h)),
        "the full sync listed {} hrefs ({} distinct), not the calendar's {} tasks (first: {:?})",
        answer.hrefs.len(),
        listed.len(),
        expected.len(),
        answer.hrefs.first()
    );
    Ok(())
}

/// What a sync answered.
struct Answer {
    hrefs: Vec<String>,
    token: String,
    body_len: usize,
}

/// One `sync-collection` REPORT from `token`, timed to the end of its body.
async fn report(
    client: &reqwest::Client,
    base: &str,
    calendar: &Calendar<'_>,
    collection: &str,
    token: &str,
    with_data: bool,
) -> anyhow::Result<(Duration, Answer)> {
    let data = if with_data {
        r#"<C:calendar-data/>"#
    } else {
        ""
    };
    let token_element = if token.is_empty() {
        "<D:sync-token/>".to_owned()
    } else {
        format!("<D:sync-token>{token}</D:sync-token>")
    };
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">{token_element}<D:sync-level>1</D:sync-level><D:prop><D:getetag/>{data}</D:prop></D:sync-collection>"#
    );
    let method = reqwest::Method::from_bytes(b"REPORT").expect("a method name");
    let started = Instant::now();
    let response = client
        .request(method, format!("{base}{collection}"))
        .basic_auth(calendar.email, Some(calendar.key))
        .header("Depth", "1")
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    let took = started.elapsed();
    ensure!(
        status.as_u16() == 207,
        "REPORT sync-collection answered {status}: {}",
        text.chars().take(500).collect::<String>()
    );
    let hrefs = text
        .split("<D:response>")
        .skip(1)
        .map(|response| between(response, "<D:href>", "</D:href>").map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .context("a response without an href in the sync's answer")?;
    let token = between(&text, "<D:sync-token>", "</D:sync-token>")
        .context("no sync-token in the sync's answer")?
        .to_owned();
    Ok((
        took,
        Answer {
            hrefs,
            token,
            body_len: text.len(),
        },
    ))
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some(text[start..end].trim())
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}
