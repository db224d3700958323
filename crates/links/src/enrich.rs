//! What a new link learns from the outside world: its page's title ([`fetch_title`]) and
//! whether a Safe-Browsing-style lookup API lists it as a threat ([`SafetyChecker`]).
//!
//! Both are meant for background work. Their errors say whether to try again and when
//! ([`OutboundError::retry_after`], [`CheckError::retry_after`]) so that a queue can
//! reschedule rather than drop the work. URLs in errors and logs are shortened to
//! `scheme://host/path` by [`platform::outbound::redacted`]: the lookup API's key travels in
//! the query string.

use std::time::Duration;

use platform::outbound::{self, OutboundError, RetryPolicy};
use reqwest::{StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Page titles
// ---------------------------------------------------------------------------------------

/// How much of a page [`fetch_title`] reads by default: titles sit in `<head>`, near the
/// top, and a page that has not shown one by then is not going to.
pub const DEFAULT_MAX_TITLE_BYTES: usize = 512 * 1024;

/// The longest title kept, in characters; longer ones are cut (on a character boundary).
pub const MAX_TITLE_CHARS: usize = 300;

/// Fetches `url` and returns its `<title>`, cleaned up by [`extract_title`].
///
/// `Ok(None)` when the answer is not `text/html`, or has no (non-empty) title within its
/// first `max_bytes` bytes ([`DEFAULT_MAX_TITLE_BYTES`] is a good value). The body is read
/// a chunk at a time and no further than the end of the title, so a huge or endless page
/// costs at most `max_bytes`. A status other than 2xx is an error: a 404 page's title is
/// not the link's, and a 503 says to try again ([`OutboundError::retry_after`]).
///
/// Pass a [`platform::outbound::guarded_client`]: `url` comes from a user, and must not
/// reach our own network. The client's timeout bounds the whole fetch, body included.
///
/// Only UTF-8 is understood: other encodings (a Latin-1 page, say, declared in
/// `Content-Type` or `<meta charset>`) are read as UTF-8 with invalid bytes replaced by
/// U+FFFD, which spoils accented letters but keeps ASCII titles intact. Nearly all of the
/// web is UTF-8; decoding others would take `encoding_rs` and charset sniffing.
pub async fn fetch_title(
    client: &reqwest::Client,
    url: &str,
    max_bytes: usize,
) -> Result<Option<String>, OutboundError> {
    let mut response = client
        .get(url)
        .header(header::ACCEPT, "text/html")
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(OutboundError::from_response(&response));
    }
    if !is_html(response.headers()) {
        return Ok(None);
    }
    let expected = response.content_length().unwrap_or(0) as usize;
    let mut page = Vec::with_capacity(expected.clamp(8 * 1024, 64 * 1024).min(max_bytes));
    while page.len() < max_bytes {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        // A title is complete only once `</title` arrives: look for it in the new bytes
        // (and the few before them it may straddle), and only then parse the page.
        let fresh = page.len().saturating_sub(CLOSE_TITLE.len() - 1);
        let room = max_bytes - page.len();
        page.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if find_ignore_case(&page[fresh..], CLOSE_TITLE).is_some()
            && let Some(raw) = find_title(&page)
        {
            // The rest of the page is not needed: dropping the response closes it.
            return Ok(clean_title(raw));
        }
    }
    Ok(extract_title(&page))
}

/// Whether the response says it is HTML (`text/html`, parameters such as `charset`
/// aside). A response without a `Content-Type` is not assumed to be.
fn is_html(headers: &header::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/html"))
}

/// The text of the first `<title>` element of `html` (which may be cut short), made fit to
/// show: tags inside it removed, the common entities decoded (`&amp; &lt; &gt; &quot;
/// &#39; &apos; &nbsp;`, and `&#NN;` / `&#xHH;`), control characters and runs of
/// whitespace made single spaces, trimmed, and cut at [`MAX_TITLE_CHARS`] characters.
/// `None` when there is no complete title element, or its text is empty.
///
/// The tag name is matched in any case and may carry attributes. Comments and the content
/// of `<script>`, `<style>`, `<template>`, `<textarea>` and `<svg>` are skipped, so a
/// `<title>` in a script string or an SVG icon's title is not taken for the page's.
pub fn extract_title(html: &[u8]) -> Option<String> {
    find_title(html).and_then(clean_title)
}

const CLOSE_TITLE: &[u8] = b"</title";

/// Elements whose content is not the document's markup (text, or another vocabulary's).
const SKIPPED: [&[u8]; 5] = [b"script", b"style", b"template", b"textarea", b"svg"];

/// The raw bytes between the first `<title ...>` and its `</title>`, or `None` if no
/// title element is complete in `html`.
fn find_title(html: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    while let Some(offset) = html[at..].iter().position(|&b| b == b'<') {
        let tag = &html[at + offset..];
        at += offset + 1;
        if let Some(comment) = tag.strip_prefix(b"<!--") {
            // Inside a comment nothing is markup; an unterminated one hides the rest.
            at += 3 + find(comment, b"-->")? + 3;
        } else if let Some(name) = SKIPPED.into_iter().find(|name| opens(tag, name)) {
            at += name.len() + closing_tag(&tag[1 + name.len()..], name)?;
        } else if opens(tag, b"title") {
            let content = &tag[tag.iter().position(|&b| b == b'>')? + 1..];
            return Some(&content[..closing_tag(content, b"title")?]);
        }
    }
    None
}

/// Whether `tag` starts with the start tag `<name` (any case), followed by the end of the
/// name: `>`, `/` or whitespace (so `<titles>` is not `<title>`).
fn opens(tag: &[u8], name: &[u8]) -> bool {
    tag.len() > name.len() + 1
        && tag[1..=name.len()].eq_ignore_ascii_case(name)
        && ends_name(tag[name.len() + 1])
}

fn ends_name(byte: u8) -> bool {
    matches!(byte, b'>' | b'/') || byte.is_ascii_whitespace()
}

/// Where `</name` (any case, followed by the end of the name) first starts in `text`.
fn closing_tag(text: &[u8], name: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let found = at + find_ignore_case(&text[at..], b"</")?;
        let rest = &text[found + 2..];
        if rest.len() > name.len()
            && rest[..name.len()].eq_ignore_ascii_case(name)
            && ends_name(rest[name.len()])
        {
            return Some(found);
        }
        at = found + 2;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// The title's raw bytes as text fit to show; see [`extract_title`].
fn clean_title(raw: &[u8]) -> Option<String> {
    // Tags go before entities are decoded: `&lt;b&gt;` is text that reads "<b>".
    let text = decode_entities(&strip_tags(&String::from_utf8_lossy(raw)));
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let title: String = words.join(" ").chars().take(MAX_TITLE_CHARS).collect();
    let title = title.trim_end();
    (!title.is_empty()).then(|| title.to_owned())
}

/// Removes what looks like a tag: `<` then a letter or `/`, up to the next `>`. Browsers
/// show a title's content as text, tags and all, but markup in a title is an authoring
/// slip and `Hello <b>world</b>` reads better as "Hello world". A lone `<` (`a < b`) stays.
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let looks_like_tag = after
            .trim_start_matches('/')
            .starts_with(|c: char| c.is_ascii_alphabetic());
        match after.find('>') {
            Some(gt) if looks_like_tag => {
                // A space where the tag was, so that `a<br>b` does not become "ab".
                out.push(' ');
                rest = &after[gt + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the common named entities and all numeric ones; anything else (`&copy;`, a
/// bare `&`) is left as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match decode_entity(rest) {
            Some((decoded, len)) => {
                out.push(decoded);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character `&...;` at the start of `text` stands for, and the entity's length.
fn decode_entity(text: &str) -> Option<(char, usize)> {
    // Entities are short; a `;` further on belongs to something else.
    let end = text.bytes().take(32).position(|b| b == b';')?;
    let name = &text[1..end];
    let decoded = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        _ => {
            let number = name.strip_prefix('#')?;
            let (digits, radix) = match number.strip_prefix(['x', 'X']) {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            // As browsers do: a number that is no character (too large, a surrogate, NUL)
            // is the replacement character.
            u32::from_str_radix(digits, radix)
                .ok()
                .and_then(char::from_u32)
                .filter(|&c| c != '\0')
                .unwrap_or(char::REPLACEMENT_CHARACTER)
        }
    };
    Some((decoded, end + 1))
}

// ---------------------------------------------------------------------------------------
// Safety lookups
// ---------------------------------------------------------------------------------------

/// What the lookup API says of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not listed.
    Safe,
    /// Listed as a threat of this type (`MALWARE`, `SOCIAL_ENGINEERING`,
    /// `UNWANTED_SOFTWARE`).
    Unsafe { threat: String },
}

/// Why a URL could not be checked. A check that fails must not be taken for "safe": the
/// caller keeps the link pending and tries again.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The lookup did not get an answer: rate limited, unavailable or unreachable (after
    /// retries), with [`CheckError::retry_after`] saying when to try again.
    #[error("safety lookup failed: {0}")]
    Outbound(#[from] OutboundError),
    /// The service refused the request itself — a wrong or missing API key (400/403), a
    /// request it cannot read — so trying again will not help until the configuration or
    /// the code is fixed. Not retried.
    #[error("safety lookup refused ({status}): {message}")]
    Rejected { status: StatusCode, message: String },
    /// The answer was not the JSON the protocol promises.
    #[error("safety lookup answered something unreadable: {0}")]
    InvalidResponse(String),
}

impl CheckError {
    /// When to try again, if the failure is likely to pass (`None` otherwise: a requeued
    /// check should then wait long, and someone look at the configuration).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Outbound(err) => err.retry_after(),
            Self::Rejected { .. } | Self::InvalidResponse(_) => None,
        }
    }
}

/// The threat types asked about: what a link shortener must not send people to.
const THREAT_TYPES: [&str; 3] = ["MALWARE", "SOCIAL_ENGINEERING", "UNWANTED_SOFTWARE"];

/// A client for a Safe-Browsing-style lookup API: our protocol, modelled on Google Safe
/// Browsing v4's `threatMatches:find` (the Lookup API, not the hash-prefix Update API).
///
/// `POST {endpoint}?key={api_key}` with
/// `{"client": {"clientId": "capstone", "clientVersion": ...}, "threatInfo": {"threatTypes":
/// [...], "platformTypes": ["ANY_PLATFORM"], "threatEntryTypes": ["URL"], "threatEntries":
/// [{"url": ...}]}}`; the answer `{}` means safe, `{"matches": [{"threatType": ...}]}`
/// unsafe. A lookup is idempotent, so it is retried ([`outbound::send_with_retry`]),
/// honouring `Retry-After` on 429 and 503.
#[derive(Debug, Clone)]
pub struct SafetyChecker {
    client: reqwest::Client,
    endpoint: String,
    /// Goes in the query string, so the URL is never logged whole.
    api_key: SecretString,
    policy: RetryPolicy,
}

impl SafetyChecker {
    /// A checker with the default [`RetryPolicy`]. `client` is the platform's ordinary
    /// client ([`platform::outbound::client`]): the endpoint is the operator's choice, not
    /// a user's.
    pub fn new(
        client: reqwest::Client,
        endpoint: impl Into<String>,
        api_key: SecretString,
    ) -> Self {
        Self {
            client,
            endpoint: endpoint.into(),
            api_key,
            policy: RetryPolicy::default(),
        }
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Asks whether `url` is listed.
    pub async fn check(&self, url: &str) -> Result<Verdict, CheckError> {
        self.check_all(&[url]).await
    }

    /// Asks whether any of `urls` is listed (one request: the API takes a list), for a link
    /// with rules, which can send a visitor to any of its targets.
    pub async fn check_all(&self, urls: &[&str]) -> Result<Verdict, CheckError> {
        let entries: Vec<_> = urls.iter().map(|url| json!({ "url": url })).collect();
        let body = json!({
            "client": {
                "clientId": "capstone",
                "clientVersion": env!("CARGO_PKG_VERSION"),
            },
            "threatInfo": {
                "threatTypes": THREAT_TYPES,
                "platformTypes": ["ANY_PLATFORM"],
                "threatEntryTypes": ["URL"],
                "threatEntries": entries,
            },
        });
        let response = outbound::send_with_retry(
            || {
                self.client
                    .post(&self.endpoint)
                    .query(&[("key", self.api_key.expose_secret())])
                    .json(&body)
            },
            &self.policy,
        )
        .await?;
        let status = response.status();
        // Read through `OutboundError` rather than `Response::json`, whose errors would
        // show the URL with the key.
        let bytes = response.bytes().await.map_err(OutboundError::from)?;
        if !status.is_success() {
            return Err(CheckError::Rejected {
                status,
                message: error_message(&bytes),
            });
        }
        let answer: FindResponse = serde_json::from_slice(&bytes)
            .map_err(|err| CheckError::InvalidResponse(err.to_string()))?;
        Ok(match answer.matches.into_iter().next() {
            Some(found) => Verdict::Unsafe {
                threat: found.threat_type,
            },
            None => Verdict::Safe,
        })
    }
}

#[derive(Deserialize)]
struct FindResponse {
    #[serde(default)]
    matches: Vec<ThreatMatch>,
}

#[derive(Deserialize)]
struct ThreatMatch {
    #[serde(rename = "threatType")]
    threat_type: String,
}

/// Google's `{"error": {"message": ...}}`, or the start of whatever else came back.
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Wrapper {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        message: String,
    }
    let message = match serde_json::from_slice::<Wrapper>(body) {
        Ok(wrapper) => wrapper.error.message,
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    message.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn title(html: &str) -> Option<String> {
        extract_title(html.as_bytes())
    }

    #[test]
    fn finds_the_title_in_a_document() {
        let html = "<!doctype html><html><head><meta charset=utf-8>\
                    <title>Rust Programming Language</title></head><body>x</body></html>";
        assert_eq!(title(html).as_deref(), Some("Rust Programming Language"));
    }

    #[test]
    fn the_tag_may_be_in_any_case_and_carry_attributes() {
        assert_eq!(title("<TITLE>Upper</TITLE>").as_deref(), Some("Upper"));
        assert_eq!(title("<Title>Mixed</tItLe>").as_deref(), Some("Mixed"));
        assert_eq!(
            title("<title lang=\"en\" data-x='1'>With attributes</title >").as_deref(),
            Some("With attributes")
        );
        assert_eq!(
            title("<title\n>Newline in tag</title\t>").as_deref(),
            Some("Newline in tag")
        );
        // Other tags that start the same are not titles.
        assert_eq!(
            title("<titles>no</titles><title-bar>no</title-bar><title>yes</title>").as_deref(),
            Some("yes")
        );
    }

    #[test]
    fn tags_inside_the_title_are_removed() {
        assert_eq!(
            title("<title>Hello <b>bold</b> <i>world</i></title>").as_deref(),
            Some("Hello bold world")
        );
        assert_eq!(
            title("<title>line<br/>break</title>").as_deref(),
            Some("line break")
        );
        // A `<` that starts no tag is text, and so is an escaped tag.
        assert_eq!(title("<title>a < b</title>").as_deref(), Some("a < b"));
        assert_eq!(
            title("<title>Vec&lt;T&gt; in Rust</title>").as_deref(),
            Some("Vec<T> in Rust")
        );
    }

    #[test]
    fn titles_in_comments_scripts_and_svg_are_not_the_page_title() {
        let html = "<head><!-- <title>commented out</title> -->\
                    <script>document.write('<title>from a script</title>')</script>\
                    <STYLE>/* <title>x</title> */</STYLE>\
                    <title>The real one</title></head>";
        assert_eq!(title(html).as_deref(), Some("The real one"));
        let html = "<body><svg viewBox='0 0 1 1'><title>icon</title></svg></body>";
        assert_eq!(title(html), None);
        // The first title wins.
        assert_eq!(
            title("<title>First</title><title>Second</title>").as_deref(),
            Some("First")
        );
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(
            title("<title>Tom &amp; Jerry &lt;3 &quot;quoted&quot; it&#39;s &apos;x&apos;</title>")
                .as_deref(),
            Some("Tom & Jerry <3 \"quoted\" it's 'x'")
        );
        assert_eq!(
            title("<title>&#65;&#x42;&#X43; &#8212; &#x1F600;</title>").as_deref(),
            Some("ABC — 😀")
        );
        // Unknown or malformed entities stay as written; impossible numbers become U+FFFD.
        assert_eq!(
            title("<title>&copy; &amp &#xZZ; &#; AT&T &#0; &#x110000;</title>").as_deref(),
            Some("&copy; &amp &#xZZ; &#; AT&T \u{FFFD} \u{FFFD}")
        );
        // Decoding happens once: `&amp;lt;` is the text "&lt;".
        assert_eq!(title("<title>&amp;lt;</title>").as_deref(), Some("&lt;"));
    }

    #[test]
    fn whitespace_is_collapsed_and_trimmed() {
        assert_eq!(
            title("<title>\n   Lots \t of\r\n  space&nbsp;&nbsp;here &#10; </title>").as_deref(),
            Some("Lots of space here")
        );
        // Control characters (decoded or raw) are spaces too.
        assert_eq!(
            title("<title>a&#7;b\u{1}c</title>").as_deref(),
            Some("a b c")
        );
    }

    #[test]
    fn no_title_or_an_empty_one_is_none() {
        assert_eq!(title("<html><head></head><body>hi</body></html>"), None);
        assert_eq!(title(""), None);
        assert_eq!(title("<title></title>"), None);
        assert_eq!(title("<title>  &nbsp; <b></b> </title>"), None);
        // Not complete (a page cut short): no title rather than half of one.
        assert_eq!(title("<title>Half a tit"), None);
        assert_eq!(title("<title"), None);
        assert_eq!(title("<!-- <title>x</title>"), None);
    }

    #[test]
    fn long_titles_are_cut_on_a_character_boundary() {
        let long = "é".repeat(1000);
        let cut = title(&format!("<title>{long}</title>")).unwrap();
        assert_eq!(cut.chars().count(), MAX_TITLE_CHARS);
        assert!(cut.chars().all(|c| c == 'é'));
        // No space left dangling at the cut.
        let words = "ab ".repeat(200);
        let cut = title(&format!("<title>{words}</title>")).unwrap();
        assert!(cut.chars().count() <= MAX_TITLE_CHARS && !cut.ends_with(' '));
    }

    #[test]
    fn a_huge_body_truncated_before_the_title_ends_has_none() {
        let mut html = String::from("<html><head>");
        html.push_str(&"<meta name=x content=y>".repeat(50_000));
        html.push_str("<title>Far down</title>");
        let cap = DEFAULT_MAX_TITLE_BYTES;
        assert!(html.len() > cap);
        assert_eq!(extract_title(&html.as_bytes()[..cap]), None);
        assert_eq!(title(&html).as_deref(), Some("Far down"));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let html = b"<title>caf\xe9 \xc3\xa9t\xc3\xa9</title>";
        assert_eq!(extract_title(html).as_deref(), Some("caf\u{FFFD} été"));
    }

    #[test]
    fn html_is_recognised_by_its_content_type() {
        let headers = |value: &str| {
            let mut map = header::HeaderMap::new();
            map.insert(header::CONTENT_TYPE, value.parse().unwrap());
            map
        };
        assert!(is_html(&headers("text/html")));
        assert!(is_html(&headers("TEXT/HTML; charset=ISO-8859-1")));
        assert!(!is_html(&headers("application/json")));
        assert!(!is_html(&headers("text/plain")));
        assert!(!is_html(&headers("text/htmlx")));
        assert!(!is_html(&header::HeaderMap::new()));
    }

    #[test]
    fn error_messages_are_read_from_google_errors() {
        let body =
            br#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(error_message(body), "API key not valid.");
        assert_eq!(error_message(b"oops"), "oops");
        assert_eq!(error_message(&[b'x'; 1000]).len(), 200);
    }
}
