//! Push by [ntfy](https://docs.ntfy.sh/publish/): the `platform.notification_ntfy` job.
//!
//! A user gives a topic URL (`https://ntfy.sh/my-topic`, or a topic on their own server) and,
//! for a protected topic, an access token. Each notification the user's preferences send to
//! ntfy is one job, queued in the transaction of the change, which publishes it with ntfy's
//! JSON form: `POST {server}/` with `{"topic", "message", "title", "priority", "tags",
//! "click"}` and `Authorization: Bearer <token>`. The JSON form rather than the headers one
//! (`POST {server}/{topic}` with `Title:`, `Tags:`, …): header values are bytes, not text,
//! so a title with an accent or an emoji would need an encoding ntfy may or may not undo, and
//! a title with a line break would not be a header at all; in JSON every string is UTF-8.
//!
//! The job carries the message only: it reads the URL and the token when it sends, so that
//! no token waits in the `jobs` table (whose payloads administrators see), and a push queued
//! before the user removed their settings goes nowhere. It calls out through the SSRF-guarded
//! client ([`crate::outbound::guarded_builder`]), follows no redirect (the bearer token is for
//! the server the user named), and gives up an attempt after [`TIMEOUT`]. A 2xx is done; a
//! 408, a 429 (ntfy's rate limit) or a 5xx, or no answer, is tried again after the server's
//! `Retry-After` or else the queue's backoff ([`RETRIES`]); any other answer is final.

use std::time::{Duration, SystemTime};

use reqwest::{StatusCode, Url, header};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};

use super::entity::preferences;
use crate::{
    db::Db,
    jobs::{Job, JobError, Retries},
    outbound,
};

/// How long one publish may take, connecting included: ntfy answers at once or not at all.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// About an hour of tries (ceilings 5 s, 10 s, … 30 min, with full jitter): enough for a
/// self-hosted server to restart, not so long that a push arrives when it no longer
/// matters (the inbox keeps the notification either way).
pub const RETRIES: Retries = Retries {
    max_attempts: 12,
    base_delay: Duration::from_secs(5),
    max_delay: Duration::from_secs(30 * 60),
};

/// ntfy keeps a message up to 4096 bytes by default and turns a longer one into an
/// attachment (or refuses it); ours are cut a little below, at a character boundary.
const MAX_MESSAGE_BYTES: usize = 4000;
const MAX_TITLE_BYTES: usize = 250;
/// ntfy's own limit on a topic name: `^[-_A-Za-z0-9]{1,64}$`.
const MAX_TOPIC_CHARS: usize = 64;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_TOKEN_CHARS: usize = 256;

/// One notification pushed to one user's ntfy topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Push {
    pub user_id: i64,
    pub title: String,
    pub message: String,
    /// An absolute URL the notification opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click: Option<String>,
    /// 1 (min) to 5 (max); 3 is ntfy's default.
    pub priority: u8,
    pub tags: Vec<String>,
}

impl Job for Push {
    const KIND: &'static str = "platform.notification_ntfy";

    fn retries() -> Retries {
        RETRIES
    }
}

impl Push {
    /// The push for a message, cut to what ntfy keeps. An empty body becomes the message
    /// (ntfy would show "triggered") and the title is then not repeated.
    pub fn new(
        user_id: i64,
        title: &str,
        body: &str,
        click: Option<String>,
        priority: u8,
        tag: &str,
    ) -> Self {
        let (title, message) = if body.trim().is_empty() {
            (String::new(), title)
        } else {
            (cut(title, MAX_TITLE_BYTES), body)
        };
        Self {
            user_id,
            title,
            message: cut(message, MAX_MESSAGE_BYTES),
            click,
            priority: priority.clamp(1, 5),
            tags: vec![tag.to_owned()],
        }
    }
}

/// `text` cut to at most `max` bytes, at a character boundary, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// ntfy's JSON publishing body.
#[derive(Debug, Serialize)]
struct Publish<'a> {
    topic: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    title: &'a str,
    priority: u8,
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    click: Option<&'a str>,
}

/// Checks a topic URL a user gives: what [`outbound::check_destination`] asks of any URL
/// the server calls (http or https, a host, no credentials, public addresses unless
/// `allow_private`), no query or fragment, and a last path segment that is an ntfy topic
/// name. Returns it normalised.
pub async fn check_url(raw: &str, allow_private: bool) -> Result<String, String> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(format!("must be at most {MAX_URL_CHARS} characters"));
    }
    // The shape first, so that a malformed URL costs no name lookup.
    if let Ok(url) = Url::parse(raw.trim()) {
        if url.query().is_some() || url.fragment().is_some() {
            return Err(
                "must not have a query or a fragment (give an access token as `token`)".into(),
            );
        }
        topic_of(&url)?;
    }
    Ok(outbound::check_destination(raw, allow_private)
        .await?
        .into())
}

/// The topic, the URL's last path segment.
fn topic_of(url: &Url) -> Result<&str, String> {
    let topic = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or_default();
    let valid = !topic.is_empty()
        && topic.chars().count() <= MAX_TOPIC_CHARS
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(topic)
    } else {
        Err(format!(
            "must end with a topic: 1 to {MAX_TOPIC_CHARS} letters, digits, - or _, \
             such as https://ntfy.sh/my-topic"
        ))
    }
}

/// Checks an access token: sent as a header, so printable ASCII without spaces.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
        return Err(format!("must be 1 to {MAX_TOKEN_CHARS} characters"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces, such as tk_…".into());
    }
    Ok(())
}

/// Where the JSON form is published and the topic: `https://ntfy.sh/my-topic` is
/// `https://ntfy.sh/` and `my-topic`; a server under a path keeps it.
fn endpoint(topic_url: &str) -> Result<(Url, String), String> {
    let mut url = Url::parse(topic_url).map_err(|e| format!("the stored URL is invalid ({e})"))?;
    let topic = topic_of(&url)?.to_owned();
    url.path_segments_mut()
        .map_err(|()| "the stored URL has no path".to_owned())?
        .pop()
        .push("");
    Ok((url, topic))
}

/// The client pushes go through.
pub(super) fn client(allow_private: bool) -> reqwest::Result<reqwest::Client> {
    outbound::guarded_builder(allow_private)
        .timeout(TIMEOUT)
        // The token is for the server the user named: a redirect is an answer, not a hop.
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// The job: one attempt to publish `push` to its user's topic.
pub(super) async fn send(db: Db, client: reqwest::Client, push: Push) -> Result<(), JobError> {
    let Some(settings) = preferences::Entity::find_by_id(push.user_id)
        .one(&db)
        .await?
    else {
        return Ok(()); // the account, and its settings, are gone
    };
    let Some(topic_url) = settings.ntfy_url else {
        return Ok(()); // removed since the push was queued
    };
    let (url, topic) = endpoint(&topic_url).map_err(JobError::permanent)?;
    // Errors name the server only: the topic is the password of an open topic.
    let server = outbound::redacted(&url);
    let body = Publish {
        topic: &topic,
        message: &push.message,
        title: &push.title,
        priority: push.priority,
        tags: &push.tags,
        click: push.click.as_deref(),
    };
    let mut request = client.post(url).json(&body);
    if let Some(token) = &settings.ntfy_token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(response) => judge(&server, &response),
        Err(err) => {
            let cause = match outbound::blocked(&err) {
                Some(blocked) => blocked.to_string(),
                None if err.is_timeout() => format!("no answer within {}s", TIMEOUT.as_secs()),
                None => "could not be reached".to_owned(),
            };
            metrics::counter!("ntfy_pushes_total", "outcome" => "retried").increment(1);
            // A refused address is retried too: what a name resolves to can change.
            Err(JobError::retry(format!("ntfy server {server}: {cause}")))
        }
    }
}

/// Done, retried (after the server's `Retry-After` if it gave one, else the queue's
/// backoff), or final.
fn judge(server: &str, response: &reqwest::Response) -> Result<(), JobError> {
    let status = response.status();
    if status.is_success() {
        metrics::counter!("ntfy_pushes_total", "outcome" => "sent").increment(1);
        return Ok(());
    }
    let error = format!("ntfy server {server} answered {status}");
    if may_pass(status) {
        let asked = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| outbound::parse_retry_after(v, SystemTime::now()));
        metrics::counter!("ntfy_pushes_total", "outcome" => "retried").increment(1);
        Err(JobError::retry(error).retry_after(asked))
    } else {
        metrics::counter!("ntfy_pushes_total", "outcome" => "failed").increment(1);
        Err(JobError::permanent(error))
    }
}

/// Whether trying again may work: a timeout, a rate limit, a server error. Not another 4xx
/// (a wrong token, a topic refused) nor a redirect (the URL is not the one to use).
fn may_pass(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn topic_urls_are_checked() {
        for ok in [
            "https://ntfy.sh/my-topic",
            "http://ntfy.example.com/alerts_2",
            "https://example.com/ntfy/my-topic",
        ] {
            assert_eq!(check_url(ok, true).await.as_deref(), Ok(ok));
        }
        for (bad, says) in [
            ("ntfy.sh/my-topic", "valid URL"),
            ("ftp://ntfy.sh/my-topic", "http"),
            ("https://ntfy.sh/", "topic"),
            ("https://ntfy.sh", "topic"),
            ("https://ntfy.sh/my-topic/", "topic"),
            ("https://ntfy.sh/my topic", "topic"),
            ("https://ntfy.sh/caf%C3%A9", "topic"),
            ("https://ntfy.sh/my-topic?auth=x", "query"),
            ("https://ntfy.sh/my-topic#x", "fragment"),
            ("https://ann:pw@ntfy.sh/my-topic", "password"),
        ] {
            let err = check_url(bad, true).await.expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
        let long = format!("https://ntfy.sh/{}", "a".repeat(65));
        assert!(check_url(&long, true).await.is_err());
        // The SSRF guard, unless private addresses are allowed.
        assert!(
            check_url("http://127.0.0.1:8080/topic", false)
                .await
                .is_err()
        );
        assert!(check_url("http://10.0.0.1/topic", false).await.is_err());
        assert!(check_url("http://127.0.0.1:8080/topic", true).await.is_ok());
    }

    #[test]
    fn tokens_are_printable_ascii() {
        assert!(check_token("tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2").is_ok());
        for bad in ["", "tk_ a", "tk_\r\nX-Evil: 1", "tk_é", &"a".repeat(257)] {
            assert!(check_token(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_json_form_goes_to_the_server_root_with_the_topic_in_the_body() {
        let (url, topic) = endpoint("https://ntfy.sh/my-topic").unwrap();
        assert_eq!(
            (url.as_str(), topic.as_str()),
            ("https://ntfy.sh/", "my-topic")
        );
        let (url, topic) = endpoint("https://example.com:8443/ntfy/alerts").unwrap();
        assert_eq!(url.as_str(), "https://example.com:8443/ntfy/");
        assert_eq!(topic, "alerts");
    }

    #[test]
    fn a_push_is_cut_to_what_ntfy_keeps() {
        let push = Push::new(1, "Title ✓", &"é".repeat(3000), None, 9, "task.reminder");
        assert!(push.message.len() <= MAX_MESSAGE_BYTES);
        assert!(push.message.ends_with('…'));
        assert_eq!(push.title, "Title ✓");
        assert_eq!(push.priority, 5);
        assert_eq!(push.tags, ["task.reminder"]);
        // No body: the title is the message.
        let push = Push::new(1, "Reminder: call mum", " ", None, 3, "task.reminder");
        assert_eq!(
            (push.title.as_str(), push.message.as_str()),
            ("", "Reminder: call mum")
        );
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcdef", 5), "ab…");
    }

    #[test]
    fn only_what_may_pass_is_retried() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(may_pass(StatusCode::from_u16(status).unwrap()), "{status}");
        }
        for status in [301, 307, 400, 401, 403, 404, 413] {
            assert!(!may_pass(StatusCode::from_u16(status).unwrap()), "{status}");
        }
    }
}
