//! Link enrichment against fake third parties on 127.0.0.1: the Safe-Browsing-style lookup
//! and page titles.

use std::time::{Duration, Instant};

use links::testing::{CheckError, DEFAULT_MAX_TITLE_BYTES, SafetyChecker, Verdict, fetch_title};
use platform::outbound::{self, RetryPolicy};
use reqwest::StatusCode;
use secrecy::SecretString;
use testkit::{FakePage, FakeSafeBrowsing, FakeWebsite, LookupFailure};

/// Quick to give up, so that failure paths do not slow the suite down; a `Retry-After`
/// of a second is still honoured.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(5),
        deadline: Duration::from_secs(20),
    }
}

fn checker(fake: &FakeSafeBrowsing, key: &str) -> SafetyChecker {
    SafetyChecker::new(
        outbound::client().unwrap(),
        fake.endpoint(),
        SecretString::from(key.to_owned()),
    )
    .with_policy(policy())
}

// --- Safety lookups ----------------------------------------------------------------------

#[tokio::test]
async fn an_unlisted_url_is_safe_and_the_request_follows_the_protocol() {
    let fake = FakeSafeBrowsing::start().await;
    let verdict = checker(&fake, fake.api_key())
        .check("https://example.com/page?q=1")
        .await
        .unwrap();
    assert_eq!(verdict, Verdict::Safe);
    assert_eq!(fake.request_count(), 1);
    let body = &fake.request_bodies()[0];
    assert_eq!(body["client"]["clientId"], "capstone");
    assert_eq!(body["client"]["clientVersion"], env!("CARGO_PKG_VERSION"));
    let info = &body["threatInfo"];
    assert_eq!(
        info["threatTypes"],
        serde_json::json!(["MALWARE", "SOCIAL_ENGINEERING", "UNWANTED_SOFTWARE"])
    );
    assert_eq!(info["platformTypes"], serde_json::json!(["ANY_PLATFORM"]));
    assert_eq!(info["threatEntryTypes"], serde_json::json!(["URL"]));
    assert_eq!(
        info["threatEntries"],
        serde_json::json!([{ "url": "https://example.com/page?q=1" }])
    );
}

#[tokio::test]
async fn a_listed_url_is_unsafe_with_its_threat_type() {
    let fake = FakeSafeBrowsing::start().await;
    fake.list(
        "http://malware.testing.google.test/testing/malware/",
        "MALWARE",
    );
    fake.list("http://phish.example/login", "SOCIAL_ENGINEERING");
    let checker = checker(&fake, fake.api_key());
    assert_eq!(
        checker
            .check("http://malware.testing.google.test/testing/malware/")
            .await
            .unwrap(),
        Verdict::Unsafe {
            threat: "MALWARE".into()
        }
    );
    assert_eq!(
        checker.check("http://phish.example/login").await.unwrap(),
        Verdict::Unsafe {
            threat: "SOCIAL_ENGINEERING".into()
        }
    );
    assert_eq!(
        checker.check("http://fine.example/").await.unwrap(),
        Verdict::Safe
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_answered() {
    let fake = FakeSafeBrowsing::start().await;
    fake.list("http://bad.example/", "UNWANTED_SOFTWARE");
    fake.fail_next(1, LookupFailure::rate_limited(1));
    let started = Instant::now();
    let verdict = checker(&fake, fake.api_key())
        .check("http://bad.example/")
        .await
        .unwrap();
    assert_eq!(
        verdict,
        Verdict::Unsafe {
            threat: "UNWANTED_SOFTWARE".into()
        }
    );
    assert_eq!(fake.request_count(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(990),
        "waited only {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_retry_after_as_an_http_date_is_honoured_too() {
    let fake = FakeSafeBrowsing::start().await;
    // Three seconds ahead: HTTP-dates count whole seconds, so the wait is over two.
    let date = httpdate_in(Duration::from_secs(3));
    fake.fail_next(
        1,
        LookupFailure::Unavailable {
            retry_after: Some(date),
        },
    );
    let started = Instant::now();
    let verdict = checker(&fake, fake.api_key())
        .check("http://x.example/")
        .await
        .unwrap();
    assert_eq!(verdict, Verdict::Safe);
    assert_eq!(fake.request_count(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// An HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`) `ahead` from now, built with chrono.
fn httpdate_in(ahead: Duration) -> String {
    let at = chrono::Utc::now() + chrono::Duration::from_std(ahead).unwrap();
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[tokio::test]
async fn a_persistent_503_gives_up_with_when_to_retry() {
    let fake = FakeSafeBrowsing::start().await;
    fake.fail_next(usize::MAX, LookupFailure::unavailable(1));
    let checker = checker(&fake, fake.api_key()).with_policy(RetryPolicy {
        max_attempts: 2,
        ..policy()
    });
    let err = checker.check("http://x.example/").await.unwrap_err();
    assert_eq!(fake.request_count(), 2, "retried up to max_attempts");
    assert!(matches!(err, CheckError::Outbound(_)), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    let shown = err.to_string();
    assert!(shown.contains("503"), "{shown}");
}

#[tokio::test]
async fn without_retry_after_a_give_up_still_says_when_to_retry() {
    let fake = FakeSafeBrowsing::start().await;
    fake.fail_next(usize::MAX, LookupFailure::RateLimited { retry_after: None });
    let err = checker(&fake, fake.api_key())
        .check("http://x.example/")
        .await
        .unwrap_err();
    assert_eq!(fake.request_count(), 3);
    assert!(err.retry_after().is_some(), "{err:?}");
}

#[tokio::test]
async fn a_long_retry_after_is_handed_back_rather_than_waited_for() {
    let fake = FakeSafeBrowsing::start().await;
    fake.fail_next(1, LookupFailure::rate_limited(3600));
    let started = Instant::now();
    let err = checker(&fake, fake.api_key())
        .check("http://x.example/")
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(fake.request_count(), 1);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn a_wrong_api_key_is_refused_once_and_not_retried() {
    let fake = FakeSafeBrowsing::start().await;
    let err = checker(&fake, "not-the-key")
        .check("http://x.example/")
        .await
        .unwrap_err();
    assert_eq!(fake.request_count(), 1, "not retried");
    let CheckError::Rejected { status, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, StatusCode::BAD_REQUEST);
    assert!(message.contains("API key not valid"), "{message}");
    assert_eq!(err.retry_after(), None);

    let err = checker(&fake, "")
        .check("http://x.example/")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CheckError::Rejected { status, .. } if status == StatusCode::FORBIDDEN),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_api_key_shows_in_no_error_or_debug_output() {
    let key = "sekrit-key-123";
    let fake = FakeSafeBrowsing::start().await;
    let checker = checker(&fake, key);
    assert!(!format!("{checker:?}").contains(key));
    // Refused (wrong key), rate limited, and unreachable.
    let refused = checker.check("http://x.example/").await.unwrap_err();
    fake.fail_next(usize::MAX, LookupFailure::unavailable(0));
    let unavailable = checker.check("http://x.example/").await.unwrap_err();
    let unreachable = SafetyChecker::new(
        outbound::client().unwrap(),
        "http://127.0.0.1:9/v4/threatMatches:find",
        SecretString::from(key.to_owned()),
    )
    .with_policy(policy())
    .check("http://x.example/")
    .await
    .unwrap_err();
    assert!(unreachable.retry_after().is_some(), "{unreachable:?}");
    for err in [refused, unavailable, unreachable] {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(key), "{shown}");
    }
}

// --- Page titles -------------------------------------------------------------------------

/// The client the app uses for titles, allowing 127.0.0.1 where the fake website is.
fn page_client() -> reqwest::Client {
    outbound::guarded_client(true).unwrap()
}

#[tokio::test]
async fn fetches_a_page_title() {
    let site = FakeWebsite::start().await;
    site.serve(
        "/post",
        FakePage::titled("  Tom &amp; Jerry &#8212; <em>the</em>\n  story "),
    );
    let title = fetch_title(&page_client(), &site.url("/post"), DEFAULT_MAX_TITLE_BYTES)
        .await
        .unwrap();
    assert_eq!(title.as_deref(), Some("Tom & Jerry — the story"));
    let requests = site.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].header("accept"), Some("text/html"));
    assert!(
        requests[0]
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("capstone/"))
    );
}

#[tokio::test]
async fn a_page_without_a_title_has_none() {
    let site = FakeWebsite::start().await;
    site.serve(
        "/",
        FakePage::html("<html><body>No head at all</body></html>"),
    );
    let title = fetch_title(&page_client(), &site.url("/"), DEFAULT_MAX_TITLE_BYTES)
        .await
        .unwrap();
    assert_eq!(title, None);
}

#[tokio::test]
async fn a_response_that_is_not_html_has_none() {
    let site = FakeWebsite::start().await;
    site.serve(
        "/data.json",
        FakePage::new(
            "application/json",
            r#"{"title": "<title>not html</title>"}"#,
        ),
    );
    site.serve(
        "/notes.txt",
        FakePage::new("text/plain", "<title>plain text</title>"),
    );
    let client = page_client();
    for path in ["/data.json", "/notes.txt"] {
        let title = fetch_title(&client, &site.url(path), DEFAULT_MAX_TITLE_BYTES)
            .await
            .unwrap();
        assert_eq!(title, None, "{path}");
    }
}

#[tokio::test]
async fn an_error_status_is_an_error_not_a_title() {
    let site = FakeWebsite::start().await;
    site.serve("/gone", FakePage::titled("Not Found").with_status(404));
    site.serve(
        "/busy",
        FakePage::titled("Busy")
            .with_status(503)
            .with_header("Retry-After", "30"),
    );
    let client = page_client();
    let err = fetch_title(&client, &site.url("/gone"), DEFAULT_MAX_TITLE_BYTES)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(err.retry_after(), None);
    let err = fetch_title(&client, &site.url("/busy"), DEFAULT_MAX_TITLE_BYTES)
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn an_oversized_page_is_read_only_up_to_the_cap() {
    let site = FakeWebsite::start().await;
    // A page that never ends and never shows a title: only the cap stops the read.
    site.serve(
        "/endless",
        FakePage::html("<!doctype html><html><head><meta charset=utf-8>")
            .endless("<link rel=stylesheet href=/x.css>\n".repeat(100)),
    );
    let started = Instant::now();
    let title = tokio::time::timeout(
        Duration::from_secs(5),
        fetch_title(&page_client(), &site.url("/endless"), 64 * 1024),
    )
    .await
    .expect("stopped at the cap instead of reading forever")
    .unwrap();
    assert_eq!(title, None);
    assert!(started.elapsed() < Duration::from_secs(5));

    // A title within the cap is found, and the read stops there although the page goes on.
    site.serve(
        "/long",
        FakePage::html("<html><head><title>Found early</title></head><body>")
            .endless("<p>more and more</p>\n".repeat(100)),
    );
    let title = tokio::time::timeout(
        Duration::from_secs(5),
        fetch_title(&page_client(), &site.url("/long"), DEFAULT_MAX_TITLE_BYTES),
    )
    .await
    .expect("stopped at </title>")
    .unwrap();
    assert_eq!(title.as_deref(), Some("Found early"));

    // A title past the cap is not seen.
    let mut late = String::from("<html><head>");
    late.push_str(&"<meta name=filler content=filler>\n".repeat(4_000));
    late.push_str("<title>Too far</title></head></html>");
    assert!(late.len() > 64 * 1024);
    site.serve("/late", FakePage::html(late));
    let client = page_client();
    let title = fetch_title(&client, &site.url("/late"), 64 * 1024)
        .await
        .unwrap();
    assert_eq!(title, None);
    let title = fetch_title(&client, &site.url("/late"), DEFAULT_MAX_TITLE_BYTES)
        .await
        .unwrap();
    assert_eq!(title.as_deref(), Some("Too far"));
}

#[tokio::test]
async fn a_guarded_client_will_not_fetch_a_title_from_our_own_network() {
    let site = FakeWebsite::start().await;
    site.serve("/admin", FakePage::titled("Internal admin"));
    let guarded = outbound::guarded_client(false).unwrap();
    let port = site
        .url("/")
        .split(':')
        .nth(2)
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    for url in [site.url("/admin"), format!("http://localhost:{port}/admin")] {
        let err = fetch_title(&guarded, &url, DEFAULT_MAX_TITLE_BYTES)
            .await
            .unwrap_err();
        assert!(err.is_blocked(), "{url}: {err:?}");
        assert_eq!(err.retry_after(), None);
    }
    assert!(site.requests().is_empty(), "nothing reached the site");
}
