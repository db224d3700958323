//! Outbound HTTP: how the platform calls third parties (OAuth providers, lookup APIs) and
//! fetches pages on users' behalf.
//!
//! One [`reqwest::Client`] is built at start and shared through [`crate::AppState`]: it
//! holds the connection pool, so calls to the same host reuse connections. Every call is
//! bounded — connecting, and the whole exchange — so that a slow or dead third party costs
//! a request a few seconds and an answer of 502/503, not a worker held until the client
//! gives up. The bounds are below the server's own request timeout on purpose: the handler
//! then answers with a problem that names the third party, rather than the generic 503.
//!
//! TLS is rustls with the `ring` provider, the one sqlx already uses, so the binary carries
//! one TLS stack (no aws-lc, no OpenSSL); certificates are checked against the operating
//! system's roots.
//!
//! Two more pieces sit on top of the client:
//!
//! - [`send_with_retry`], for idempotent calls to rate-limited APIs: it retries 429, 502,
//!   503, 504 and failures to connect, honouring `Retry-After` (seconds or HTTP-date) and
//!   otherwise backing off exponentially with full jitter, within a number of attempts and
//!   a deadline ([`RetryPolicy`]). When it gives up on something transient, the error says
//!   when to try again ([`OutboundError::retry_after`]), so a queue can reschedule the work
//!   instead of dropping it. (reqwest-retry exists, but ignores `Retry-After`.)
//! - [`guarded_client`], for URLs that users choose (fetching a page's title): it refuses
//!   to reach loopback, private, link-local and other non-public addresses ([`non_public`]),
//!   so that a link cannot be used to probe our internal network or a cloud metadata
//!   endpoint (server-side request forgery).

use std::{
    error::Error as StdError,
    fmt,
    future::Future,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, SystemTime},
};

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use reqwest::{
    StatusCode, Url,
    dns::{Addrs, Name, Resolve, Resolving},
    redirect,
};
use tokio::time::Instant;

use crate::error::AppError;

/// Time allowed to open a connection (TCP and TLS handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for a whole call: connecting, sending, and reading the full response.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed before giving up; APIs rarely redirect, and a loop must end.
pub const MAX_REDIRECTS: usize = 5;
/// Sent on every call. GitHub's API refuses requests without a `User-Agent`, and a named
/// client lets a provider's operators tell us apart (and reach us) if we misbehave.
pub const USER_AGENT: &str = concat!("capstone/", env!("CARGO_PKG_VERSION"));

/// Makes `ring` the process's rustls provider, if no provider was chosen yet. reqwest is
/// built without a provider of its own (its default would pull in aws-lc), so this must run
/// before any client is built; [`builder`] does it. Calling it again is harmless.
pub fn install_crypto_provider() {
    // `Err` means a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client builder with the platform's bounds and identity, for a caller that needs to
/// change something (a shorter timeout, say) before building.
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
}

/// The platform's shared client.
pub fn client() -> reqwest::Result<reqwest::Client> {
    builder().build()
}

/// What a handler answers when a call to `service` failed: 503 with `Retry-After` when the
/// service could not be reached in time (likely to pass), 502 when it answered with
/// something unusable. The cause is logged here; the client learns only which service
/// failed, never the URL or the error text (which may carry tokens).
pub fn failure(service: &str, err: &reqwest::Error) -> AppError {
    let cause = describe(err);
    if err.is_timeout() || err.is_connect() {
        tracing::warn!(service, error = cause, "third-party service unreachable");
        AppError::Unavailable {
            detail: format!("{service} did not answer in time; try again shortly.").into(),
            retry_after: Duration::from_secs(5),
        }
    } else {
        tracing::warn!(service, error = cause, "third-party service failed");
        AppError::BadGateway(format!(
            "{service} gave an unexpected answer; try again later."
        ))
    }
}

/// The error's text and its sources, with the URL shortened to where it went: a query
/// string can carry secrets.
fn describe(err: &reqwest::Error) -> String {
    let mut message = err.to_string();
    if let Some(url) = err.url() {
        message = message.replace(url.as_str(), &redacted(url));
    }
    let mut source = err.source();
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// `scheme://host[:port]/path`, without the query (where secrets go, such as an API key)
/// or credentials: the form of a URL that may be logged or put in an error.
pub fn redacted(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

// ---------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------

/// How [`send_with_retry`] retries. The defaults suit a call made while a user waits a
/// little or from a background worker; a handler that must answer quickly wants a shorter
/// `deadline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 0 counts as 1.
    pub max_attempts: u32,
    /// The ceiling of the first backoff; it doubles with each retry up to `max_delay`.
    pub base_delay: Duration,
    /// The longest single wait, backoff or `Retry-After`. A service that asks for longer
    /// is not waited for: the call gives up at once and reports the service's delay in
    /// [`OutboundError::retry_after`]. Retrying sooner than asked would most likely be
    /// refused again and count against our quota, and holding a worker for minutes helps
    /// no one; a queue can come back at the right time.
    pub max_delay: Duration,
    /// The whole call, attempts and waits, ends by then: an attempt still waiting for an
    /// answer is cut off, and no wait is started that would end after it.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The longest backoff before retry number `retry + 1` (`retry` counts from 0):
    /// `base_delay * 2^retry`, capped at `max_delay`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        // 2^31 times any useful base is far beyond any useful cap; saturating keeps a
        // large `retry` from overflowing.
        let factor = 1u32 << retry.min(31);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// A backoff with "full jitter": uniformly random between zero and the ceiling. Many
    /// clients failing together then come back spread out rather than all at once, which
    /// is what lets an overloaded service recover (AWS Architecture Blog, "Exponential
    /// Backoff and Jitter", 2015).
    pub fn backoff(&self, retry: u32) -> Duration {
        self.backoff_ceiling(retry).mul_f64(unit_random())
    }
}

/// Uniform in `[0, 1)`, from the operating system's generator (no PRNG to seed and share).
fn unit_random() -> f64 {
    // The top 53 bits fill an f64's mantissa exactly. Should the OS generator fail (it
    // does not, in practice), half the ceiling is still a fine backoff.
    getrandom::u64().map_or(0.5, |bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
}

/// The longest delay a `Retry-After` is taken to ask for: a service asking for more is
/// treated as asking for a day, so that a caller adding it to "now" cannot overflow and a
/// queue does come back to the work eventually.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The least delay reported by [`OutboundError::retry_after`]: `Retry-After` counts in
/// whole seconds, and "retry in 0 s" would have a queue spin.
const MIN_RETRY_HINT: Duration = Duration::from_secs(1);

/// Reads a `Retry-After` value (RFC 9110 §10.2.3): delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, or the obsolete RFC 850 and asctime forms), as the
/// delay from `now`. A date in the past means "now" (zero). Anything else — negative or
/// fractional numbers, other date formats — is `None`, as if the header were absent.
/// Delays are capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits too many for a u64 still mean "a very long time", not garbage.
        value.parse().map_or(MAX_RETRY_AFTER, Duration::from_secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// The response's `Retry-After`, read against the clock now.
fn retry_after_header(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    parse_retry_after(value.to_str().ok()?, SystemTime::now())
}

/// Statuses worth another try: rate limited (429), and a gateway or service that is
/// overloaded or restarting (502, 503, 504).
pub fn is_transient(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// Failures worth another try: the connection could not be made or broke, or time ran
/// out. Not a refusal by the SSRF guard, a malformed request, or a redirect gone wrong:
/// those fail the same way every time.
fn is_transient_error(err: &reqwest::Error) -> bool {
    blocked(err).is_none() && (err.is_connect() || err.is_timeout() || err.is_request())
}

/// Why an outbound call failed, with the URL shortened by [`redacted`] (never the query,
/// which may hold an API key) and the cause as text.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The service answered with a status the call cannot use. For a transient one (429,
    /// 502, 503, 504) — after retries, when [`send_with_retry`] made the call —
    /// `retry_after` says when to try again: the service's `Retry-After`, or else the next
    /// backoff. For any other it is `None`: asking again will not help.
    #[error("{url} answered {status}{}", after(*attempts))]
    Status {
        url: String,
        status: StatusCode,
        attempts: u32,
        retry_after: Option<Duration>,
    },
    /// No answer: the connection was refused or cut, or time (the client's timeout or the
    /// policy's deadline) ran out. Likely to pass: `retry_after` is the next backoff.
    #[error("{url} could not be reached{}: {cause}", after(*attempts))]
    Unreachable {
        url: String,
        attempts: u32,
        cause: String,
        retry_after: Duration,
    },
    /// The SSRF guard refused the target (see [`guarded_client`]). Never retried.
    #[error("{url}: {blocked}")]
    Blocked { url: String, blocked: Blocked },
    /// Anything else: a malformed URL or request, too many redirects, an unreadable body.
    /// Never retried.
    #[error("request to {url} failed: {cause}")]
    Request { url: String, cause: String },
}

/// `" (after 3 attempts)"`, or nothing for a single attempt.
fn after(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// When a call that failed on a transient error, but not through [`send_with_retry`],
/// should be tried again.
const UNREACHABLE_RETRY: Duration = Duration::from_secs(5);

impl OutboundError {
    /// When to try again, if trying again may help: `Some` for a transient status or an
    /// unreachable service (at least a second), `None` for a failure that would only
    /// repeat itself.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            Self::Unreachable { retry_after, .. } => Some(*retry_after),
            Self::Blocked { .. } | Self::Request { .. } => None,
        }
    }

    /// The status the service answered, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the SSRF guard refused the target.
    pub fn is_blocked(&self) -> bool {
        matches!(self, Self::Blocked { .. })
    }

    /// The error for a response whose status the caller cannot use (made once, not
    /// retried): transient statuses carry their `Retry-After` (or a few seconds).
    pub fn from_response(response: &reqwest::Response) -> Self {
        let status = response.status();
        Self::Status {
            url: redacted(response.url()),
            status,
            attempts: 1,
            retry_after: is_transient(status).then(|| {
                retry_after_header(response)
                    .unwrap_or(UNREACHABLE_RETRY)
                    .max(MIN_RETRY_HINT)
            }),
        }
    }

    fn from_reqwest(err: reqwest::Error, attempts: u32, retry_after: Duration) -> Self {
        let url = err.url().map(redacted).unwrap_or_default();
        if let Some(blocked) = blocked(&err) {
            return Self::Blocked {
                url,
                blocked: blocked.clone(),
            };
        }
        let transient = is_transient_error(&err);
        // The text without the URL (query and all); `url` above is the shortened form.
        let cause = describe(&err.without_url());
        if transient {
            Self::Unreachable {
                url,
                attempts,
                cause,
                retry_after: retry_after.max(MIN_RETRY_HINT),
            }
        } else {
            Self::Request { url, cause }
        }
    }

    /// What a handler answers for this error, when the call was made for the request at
    /// hand: 503 with `Retry-After` when trying again later may work, 502 otherwise. The
    /// cause is logged; the client learns only which service failed. A [`Self::Blocked`]
    /// for a URL the user gave is the user's mistake (422 on that field): check for it
    /// first.
    pub fn into_app_error(self, service: &str) -> AppError {
        let cause = self.to_string();
        match self.retry_after() {
            Some(retry_after) => {
                tracing::warn!(service, error = cause, "third-party service unavailable");
                AppError::Unavailable {
                    detail: format!("{service} is unavailable; try again shortly.").into(),
                    retry_after,
                }
            }
            None => {
                tracing::warn!(service, error = cause, "third-party service failed");
                AppError::BadGateway(format!(
                    "{service} gave an unexpected answer; try again later."
                ))
            }
        }
    }
}

impl From<reqwest::Error> for OutboundError {
    /// For a call made once: a transient failure suggests retrying in a few seconds.
    fn from(err: reqwest::Error) -> Self {
        Self::from_reqwest(err, 1, UNREACHABLE_RETRY)
    }
}

/// Sends the request that `request` builds, again if need be, for idempotent calls only
/// (a GET, a lookup): a retried POST that did arrive the first time would act twice.
///
/// `request` is called once per attempt (a request with a body cannot be sent twice), so
/// it is usually a closure such as `|| client.post(url).json(&body)`. An answer whose
/// status is not transient (see [`is_transient`]) — success or not — is returned as it is,
/// for the caller to judge. A transient status, or a failure to connect or to get an
/// answer in time, is retried after the service's `Retry-After` or else a jittered
/// exponential backoff, until `policy.max_attempts` attempts were made, or the next wait
/// would pass `policy.deadline` or exceed `policy.max_delay`. Then the last failure is
/// returned, and its [`OutboundError::retry_after`] says when the caller should try again.
pub async fn send_with_retry(
    request: impl Fn() -> reqwest::RequestBuilder,
    policy: &RetryPolicy,
) -> Result<reqwest::Response, OutboundError> {
    // A deadline too far to represent is no deadline: a year stands in for it.
    let plus = |from: Instant, wait: Duration| {
        from.checked_add(wait)
            .unwrap_or_else(|| from + Duration::from_secs(365 * 24 * 60 * 60))
    };
    let deadline = plus(Instant::now(), policy.deadline);
    let max_attempts = policy.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (client, built) = request().build_split();
        let request = built.map_err(OutboundError::from)?;
        let url = redacted(request.url());
        // What to say if this attempt is the last, and how long to wait otherwise. The
        // hint for a queue is the next backoff's ceiling rather than a jittered value:
        // the queue adds its own spread, and "0 s" is no use to it.
        let hint = policy.backoff_ceiling(attempt);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let (failure, wait) = match tokio::time::timeout(remaining, client.execute(request)).await {
            Ok(Ok(response)) if !is_transient(response.status()) => return Ok(response),
            Ok(Ok(response)) => {
                let asked = retry_after_header(&response);
                let failure = OutboundError::Status {
                    url: url.clone(),
                    status: response.status(),
                    attempts: attempt,
                    retry_after: Some(asked.unwrap_or(hint).max(MIN_RETRY_HINT)),
                };
                (
                    failure,
                    asked.unwrap_or_else(|| policy.backoff(attempt - 1)),
                )
            }
            Ok(Err(err)) if is_transient_error(&err) => (
                OutboundError::from_reqwest(err, attempt, hint),
                policy.backoff(attempt - 1),
            ),
            Ok(Err(err)) => return Err(OutboundError::from_reqwest(err, attempt, hint)),
            Err(_elapsed) => {
                return Err(OutboundError::Unreachable {
                    url,
                    attempts: attempt,
                    cause: format!("no answer within the deadline of {:?}", policy.deadline),
                    retry_after: hint.max(MIN_RETRY_HINT),
                });
            }
        };
        if attempt >= max_attempts
            || wait > policy.max_delay
            || plus(Instant::now(), wait) >= deadline
        {
            return Err(failure);
        }
        tracing::debug!(
            url,
            attempt,
            wait_ms = wait.as_millis() as u64,
            error = %failure,
            "retrying outbound call"
        );
        tokio::time::sleep(wait).await;
    }
}

// ---------------------------------------------------------------------------------------
// SSRF guard
// ---------------------------------------------------------------------------------------

/// Redirects a [`guarded_client`] follows: a page that moved, then `http` to `https` and a
/// trailing slash, is plenty; every hop is a URL an attacker may choose.
pub const GUARDED_MAX_REDIRECTS: usize = 3;

/// The kind of address that is not on the public internet, and so is off limits to a
/// [`guarded_client`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonPublic {
    /// `0.0.0.0/8`, `::` — "this host", which Linux connects to as loopback.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`; and NAT64's local-use `64:ff9b:1::/48`.
    Private,
    /// `169.254/16` (cloud metadata at `169.254.169.254` among them), `fe80::/10`.
    LinkLocal,
    /// RFC 6598 carrier-grade NAT, `100.64/10`: often a provider's internal network.
    SharedAddressSpace,
    /// `fc00::/7`, IPv6's private networks.
    UniqueLocal,
    /// `fec0::/10`, deprecated but still routed inside some networks.
    SiteLocal,
    /// `224/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18/15`, `2001:2::/48`.
    Benchmarking,
    /// Everything else set aside: `240/4`, `192.0.0/24`, `192.88.99/24`, Teredo
    /// `2001::/32`, and IPv6 outside global unicast `2000::/3`.
    Reserved,
}

impl fmt::Display for NonPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private-network",
            Self::LinkLocal => "link-local",
            Self::SharedAddressSpace => "shared (carrier-grade NAT)",
            Self::UniqueLocal => "unique-local",
            Self::SiteLocal => "site-local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Reserved => "reserved",
        })
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one. IPv6 forms that
/// carry an IPv4 address — mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4
/// `2002:AABB:CCDD::` — are judged by that address, since that is where they lead.
pub fn non_public(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(ip) => non_public_v4(ip),
        IpAddr::V6(ip) => non_public_v6(ip),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<NonPublic> {
    use NonPublic::*;
    let [a, b, c, d] = ip.octets();
    Some(match (a, b, c, d) {
        (0, ..) => Unspecified,
        (127, ..) => Loopback,
        (10, ..) | (172, 16..=31, ..) | (192, 168, ..) => Private,
        (169, 254, ..) => LinkLocal,
        (100, 64..=127, ..) => SharedAddressSpace,
        (192, 0, 2, _) | (198, 51, 100, _) | (203, 0, 113, _) => Documentation,
        (198, 18..=19, ..) => Benchmarking,
        // IETF protocol assignments; the deprecated 6to4 relay anycast.
        (192, 0, 0, _) | (192, 88, 99, _) => Reserved,
        (224..=239, ..) => Multicast,
        (255, 255, 255, 255) => Broadcast,
        (240..=255, ..) => Reserved,
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<NonPublic> {
    use NonPublic::*;
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // NAT64's well-known prefix reaches the IPv4 address in its last 32 bits.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return non_public_v4(embedded(hi, lo)),
        // 6to4 tunnels to the IPv4 address in bits 16..48.
        [0x2002, hi, lo, ..] => return non_public_v4(embedded(hi, lo)),
        _ => {}
    }
    Some(match s {
        [0x64, 0xff9b, 1, ..] => Private,
        [0x2001, 0x0db8, ..] => Documentation,
        [0x3fff, x, ..] if x < 0x1000 => Documentation,
        [0x2001, 0, ..] => Reserved,
        [0x2001, 2, 0, ..] => Benchmarking,
        // Global unicast is 2000::/3; everything above is for public use.
        [x, ..] if x & 0xe000 == 0x2000 => return None,
        [x, ..] if x & 0xfe00 == 0xfc00 => UniqueLocal,
        [x, ..] if x & 0xffc0 == 0xfe80 => LinkLocal,
        [x, ..] if x & 0xffc0 == 0xfec0 => SiteLocal,
        [x, ..] if x & 0xff00 == 0xff00 => Multicast,
        // `::/8` (IPv4-compatible and -translated forms among it) and the rest unassigned.
        _ => Reserved,
    })
}

/// The SSRF guard's refusal: `host` (a name, or an address written in the URL) led to a
/// non-public address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub host: String,
    pub address: IpAddr,
    pub kind: NonPublic,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused to connect to {}", self.host)?;
        if self.host.trim_matches(['[', ']']) != self.address.to_string() {
            write!(f, " ({})", self.address)?;
        }
        write!(
            f,
            ": {} addresses are not allowed, only public ones",
            self.kind
        )
    }
}

impl StdError for Blocked {}

impl Blocked {
    fn check(host: &str, address: IpAddr) -> Result<(), Self> {
        match non_public(address) {
            Some(kind) => Err(Self {
                host: host.to_owned(),
                address,
                kind,
            }),
            None => Ok(()),
        }
    }
}

/// The guard's refusal inside a reqwest error, if that is why it failed.
pub fn blocked(err: &reqwest::Error) -> Option<&Blocked> {
    let mut source = err.source();
    while let Some(inner) = source {
        if let Some(blocked) = inner.downcast_ref::<Blocked>() {
            return Some(blocked);
        }
        source = inner.source();
    }
    None
}

/// A client for URLs that users choose; see [`guarded_builder`].
pub fn guarded_client(allow_private: bool) -> reqwest::Result<reqwest::Client> {
    guarded_builder(allow_private).build()
}

/// [`builder`], made safe for URLs that users choose: unless `allow_private`, it never
/// connects to a non-public address ([`non_public`]), and fails with a [`Blocked`] error
/// (find it with [`blocked`] or [`OutboundError::is_blocked`]) instead. It also follows at
/// most [`GUARDED_MAX_REDIRECTS`] redirects, and ignores proxy settings from the
/// environment: through a proxy, the address connected to would be the proxy's, and the
/// guard would check nothing.
///
/// The guard checks where the connection really goes, which a check of the URL's text
/// cannot (a name may resolve to `127.0.0.1`, or to a public address at check time and a
/// private one at connect time):
///
/// - names are resolved by our resolver, which drops non-public addresses before reqwest
///   sees them, so a connection is only ever opened to an address that was checked;
/// - an address written in the URL is not resolved, so every new connection's peer address
///   is checked once connected, before any byte of the request is sent (for `https`, after
///   the TLS handshake);
/// - each redirect is checked before it is followed: its name goes through the resolver
///   again, and an address in `Location` is refused outright.
///
/// `allow_private` lets everything through (the redirect cap stays): for tests against
/// servers on `127.0.0.1`, and for operators whose targets are on their own network.
/// A caller must not replace the builder's resolver, redirect policy or proxy settings.
pub fn guarded_builder(allow_private: bool) -> reqwest::ClientBuilder {
    let limit = redirect::Policy::limited(GUARDED_MAX_REDIRECTS);
    let redirects = redirect::Policy::custom(move |attempt| {
        if !allow_private && let Err(blocked) = check_literal(attempt.url()) {
            return attempt.error(blocked);
        }
        limit.redirect(attempt)
    });
    let builder = builder()
        .no_proxy()
        .redirect(redirects)
        .dns_resolver(GuardedResolver { allow_private });
    if allow_private {
        builder
    } else {
        builder.connector_layer(PeerCheckLayer)
    }
}

/// [`check_literal`] for a URL as text, before a guarded client is given it: what it refuses
/// is refused without a connection (the guarded client refuses it only once connected). A
/// URL that does not parse is left to the client, which will not send it either.
pub fn refuse_literal(url: &str) -> Result<(), Blocked> {
    match Url::parse(url) {
        Ok(url) => check_literal(&url),
        Err(_) => Ok(()),
    }
}

/// Checks a URL a user gives for the server to call later (a webhook, a push server)
/// before it is stored: an absolute http(s) URL without credentials and, unless
/// `allow_private`, whose host is or resolves to public addresses only. The guarded client
/// checks again at every call, since what a name resolves to can change.
pub async fn check_destination(raw: &str, allow_private: bool) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()).map(str::to_owned) else {
        return Err("must have a host".into());
    };
    if allow_private {
        return Ok(url);
    }
    check_literal(&url).map_err(|blocked| blocked.to_string())?;
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::lookup_host((host.trim_matches(['[', ']']), port)),
    )
    .await;
    let addresses: Vec<SocketAddr> = match lookup {
        Ok(Ok(found)) => found.collect(),
        _ => return Err(format!("{host} does not resolve")),
    };
    match addresses
        .iter()
        .find_map(|a| Blocked::check(&host, a.ip()).err())
    {
        Some(blocked) if addresses.iter().all(|a| non_public(a.ip()).is_some()) => {
            Err(blocked.to_string())
        }
        _ => Ok(url),
    }
}

/// Refuses a URL whose host is a non-public address written out (`http://10.0.0.1/`,
/// `http://[::1]/`; the URL parser has already turned `http://2130706433/` and
/// `http://0x7f.1/` into `127.0.0.1`). Names are left to the resolver.
fn check_literal(url: &Url) -> Result<(), Blocked> {
    // The parser has classified the host: `[...]` is IPv6, and a host that reads as an
    // IPv4 address is one (it cannot be a name).
    let host = url.host_str().unwrap_or_default();
    match host.trim_start_matches('[').trim_end_matches(']').parse() {
        Ok(address) => Blocked::check(host, address),
        Err(_) => Ok(()),
    }
}

/// Resolves with the system resolver (tokio's `lookup_host`, as reqwest's default does)
/// and keeps only public addresses, unless private ones are allowed. A name with public
/// and non-public addresses keeps the public ones; one with none left is refused.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts in the URL's port (or the scheme's).
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if allow_private {
                return Ok(Box::new(addrs.into_iter()) as Addrs);
            }
            let mut refused = None;
            let public: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|addr| match Blocked::check(&host, addr.ip()) {
                    Ok(()) => true,
                    Err(blocked) => {
                        refused.get_or_insert(blocked);
                        false
                    }
                })
                .collect();
            match refused {
                Some(blocked) if public.is_empty() => Err(blocked.into()),
                _ => Ok(Box::new(public.into_iter()) as Addrs),
            }
        })
    }
}

type BoxError = Box<dyn StdError + Send + Sync>;

/// A layer around reqwest's connector that checks the address each new connection
/// reached; see [`guarded_builder`] for why it is needed besides the resolver.
#[derive(Debug, Clone, Copy)]
struct PeerCheckLayer;

impl<S> tower::Layer<S> for PeerCheckLayer {
    type Service = PeerCheck<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PeerCheck { inner }
    }
}

#[derive(Debug, Clone)]
struct PeerCheck<S> {
    inner: S,
}

// Generic over the request because reqwest's connector request type cannot be named.
impl<S, R> tower::Service<R> for PeerCheck<S>
where
    S: tower::Service<R, Error = BoxError>,
    S::Response: Connection + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connecting = self.inner.call(request);
        Box::pin(async move {
            let connection = connecting.await?;
            let mut extras = axum::http::Extensions::new();
            connection.connected().get_extras(&mut extras);
            // Every TCP connection reports its peer; without one the guard cannot vouch
            // for the connection, so it refuses it (failing closed).
            let Some(info) = extras.get::<HttpInfo>() else {
                return Err("refused a connection whose peer address is unknown".into());
            };
            let peer = info.remote_addr().ip();
            Blocked::check(&peer.to_string(), peer)?;
            Ok(connection)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use axum::{
        Router,
        http::{HeaderMap, StatusCode as AxumStatus, header},
        response::IntoResponse,
        routing::get,
    };

    use super::*;

    #[test]
    fn builds_a_client_with_tls_and_no_aws_lc() {
        // Building is where reqwest sets up TLS: without an installed provider it panics.
        client().expect("a client");
        guarded_client(false).expect("a guarded client");
        assert!(USER_AGENT.starts_with("capstone/"));
    }

    #[tokio::test]
    async fn an_unreachable_service_is_503_and_names_only_the_service() {
        // Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
        let err = client()
            .unwrap()
            .get("http://127.0.0.1:9/token?client_secret=hunter2")
            .send()
            .await
            .unwrap_err();
        let failure = failure("GitHub", &err);
        assert_eq!(failure.status(), 503);
        let shown = failure.to_string();
        assert!(
            shown.contains("GitHub") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(!describe(&err).contains("hunter2"), "{}", describe(&err));
        let outbound = OutboundError::from(err);
        assert!(outbound.retry_after().is_some(), "{outbound:?}");
        assert!(!format!("{outbound} {outbound:?}").contains("hunter2"));
    }

    // --- Retry-After and backoff -----------------------------------------------------

    #[test]
    fn retry_after_in_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        // Longer than anyone should wait, or than fits: a day.
        assert_eq!(parse_retry_after("9999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("99999999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn retry_after_as_an_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        // The preferred form, and the two obsolete ones a recipient must accept.
        for later in [
            "Wed, 21 Oct 2015 07:28:30 GMT",
            "Wednesday, 21-Oct-15 07:28:30 GMT",
            "Wed Oct 21 07:28:30 2015",
        ] {
            assert_eq!(
                parse_retry_after(later, now),
                Some(Duration::from_secs(30)),
                "{later}"
            );
        }
        // A date in the past means now.
        assert_eq!(
            parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        // Far ahead: capped.
        assert_eq!(
            parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        // A real future date against the real clock.
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(90));
        let delay = parse_retry_after(&soon, SystemTime::now()).unwrap();
        assert!(
            (Duration::from_secs(88)..=Duration::from_secs(90)).contains(&delay),
            "{delay:?}"
        );
    }

    #[test]
    fn retry_after_garbage_is_ignored() {
        let now = SystemTime::now();
        for garbage in [
            "",
            "   ",
            "-1",
            "1.5",
            "+5",
            "soon",
            "5s",
            "0x10",
            "2015-10-21T07:28:00Z",
            "Wed, 21 Oct 2015 07:28:00",
            "Wed, 32 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            deadline: Duration::from_secs(60),
        };
        let ceilings: Vec<u128> = (0..7)
            .map(|n| policy.backoff_ceiling(n).as_millis())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000]);
        // No overflow however many retries.
        assert_eq!(policy.backoff_ceiling(u32::MAX), Duration::from_secs(2));
        let huge = RetryPolicy {
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
            ..policy
        };
        assert_eq!(huge.backoff_ceiling(40), Duration::MAX);
    }

    #[test]
    fn backoff_is_jittered_within_its_ceiling() {
        let policy = RetryPolicy::default();
        for retry in 0..8 {
            let ceiling = policy.backoff_ceiling(retry);
            let samples: Vec<Duration> = (0..200).map(|_| policy.backoff(retry)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "retry {retry}");
            // Full jitter: spread over the whole range, not bunched at the top.
            let below_half = samples.iter().filter(|d| **d < ceiling / 2).count();
            assert!((40..=160).contains(&below_half), "{below_half} of 200");
        }
    }

    // --- Retries against fake servers on 127.0.0.1 -------------------------------------

    /// Serves `app` on a free port of 127.0.0.1 until the test ends.
    async fn serve(app: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    /// A server answering `/` with what `answer` makes of the request's number (from 1),
    /// and a count of the requests.
    async fn scripted<F, R>(answer: F) -> (String, Arc<AtomicUsize>)
    where
        F: Fn(usize) -> R + Clone + Send + Sync + 'static,
        R: IntoResponse,
    {
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let app = Router::new().route(
            "/",
            get(move || {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let response = answer(n).into_response();
                async move { response }
            }),
        );
        (format!("http://{}/", serve(app).await), count)
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(5),
            deadline: Duration::from_secs(20),
        }
    }

    #[tokio::test]
    async fn a_429_is_retried_after_its_retry_after() {
        let (url, count) = scripted(|n| {
            if n == 1 {
                (
                    AxumStatus::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "1")],
                    "slow down",
                )
                    .into_response()
            } else {
                "ok".into_response()
            }
        })
        .await;
        let client = client().unwrap();
        let started = std::time::Instant::now();
        let response = send_with_retry(|| client.get(&url), &quick())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "ok");
        assert_eq!(count.load(Ordering::SeqCst), 2);
        assert!(
            started.elapsed() >= Duration::from_millis(990),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_persistent_503_gives_up_after_max_attempts_with_its_retry_after() {
        let (url, count) = scripted(|_| {
            (
                AxumStatus::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                "down",
            )
        })
        .await;
        let client = client().unwrap();
        let policy = RetryPolicy {
            max_attempts: 2,
            ..quick()
        };
        let started = std::time::Instant::now();
        let err = send_with_retry(|| client.get(&url), &policy)
            .await
            .unwrap_err();
        assert_eq!(count.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= Duration::from_millis(990));
        assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        let shown = err.to_string();
        assert!(
            shown.contains("503") && shown.contains("2 attempts"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn without_retry_after_the_backoff_is_used_and_reported() {
        let (url, count) = scripted(|_| AxumStatus::BAD_GATEWAY).await;
        let client = client().unwrap();
        let err = send_with_retry(|| client.get(&url), &quick())
            .await
            .unwrap_err();
        assert_eq!(count.load(Ordering::SeqCst), 3);
        assert_eq!(err.status(), Some(StatusCode::BAD_GATEWAY));
        // The next backoff's ceiling (80 ms here), but never under a second.
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    }

    #[tokio::test]
    async fn a_retry_after_beyond_max_delay_is_handed_to_the_caller_at_once() {
        let (url, count) = scripted(|_| {
            (
                AxumStatus::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "120")],
                "",
            )
        })
        .await;
        let client = client().unwrap();
        let started = std::time::Instant::now();
        let err = send_with_retry(|| client.get(&url), &quick())
            .await
            .unwrap_err();
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    }

    #[tokio::test]
    async fn other_answers_are_returned_as_they_are() {
        let (url, count) = scripted(|_| (AxumStatus::NOT_FOUND, "nope")).await;
        let client = client().unwrap();
        let response = send_with_retry(|| client.get(&url), &quick())
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        let err = OutboundError::from_response(&response);
        assert_eq!(err.retry_after(), None);
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_then_reported_as_unreachable() {
        let client = client().unwrap();
        let err = send_with_retry(|| client.get("http://127.0.0.1:9/?key=hunter2"), &quick())
            .await
            .unwrap_err();
        let OutboundError::Unreachable { attempts, url, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*attempts, 3);
        assert_eq!(url, "http://127.0.0.1:9/");
        assert!(err.retry_after().is_some());
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    }

    #[tokio::test]
    async fn the_deadline_cuts_a_slow_answer_short() {
        let app = Router::new().route(
            "/",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
        let url = format!("http://{}/", serve(app).await);
        let client = client().unwrap();
        let policy = RetryPolicy {
            deadline: Duration::from_millis(300),
            ..quick()
        };
        let started = std::time::Instant::now();
        let err = send_with_retry(|| client.get(&url), &policy)
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(matches!(err, OutboundError::Unreachable { .. }), "{err:?}");
        assert!(err.to_string().contains("deadline"), "{err}");
    }

    // --- SSRF guard --------------------------------------------------------------------

    fn kind(ip: &str) -> Option<NonPublic> {
        non_public(ip.parse().unwrap())
    }

    #[test]
    fn classifies_ipv4() {
        use NonPublic::*;
        let cases = [
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("10.255.255.255", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("169.254.169.254", Some(LinkLocal)),
            ("169.254.0.1", Some(LinkLocal)),
            ("100.64.0.1", Some(SharedAddressSpace)),
            ("100.127.255.255", Some(SharedAddressSpace)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("255.255.255.255", Some(Broadcast)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.0.8", Some(Reserved)),
            ("192.0.2.1", Some(Documentation)),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.9", Some(Documentation)),
            ("198.18.0.1", Some(Benchmarking)),
            // Public, including the neighbours of the ranges above.
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("93.184.216.34", None),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("169.253.255.255", None),
            ("192.167.255.255", None),
            ("11.0.0.1", None),
            ("126.255.255.255", None),
            ("128.0.0.1", None),
            ("223.255.255.255", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(kind(ip), expected, "{ip}");
        }
    }

    #[test]
    fn classifies_ipv6() {
        use NonPublic::*;
        let cases = [
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("fc00::1", Some(UniqueLocal)),
            ("fd12:3456:789a::1", Some(UniqueLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(SiteLocal)),
            ("ff02::1", Some(Multicast)),
            ("ff05::2", Some(Multicast)),
            ("2001:db8::1", Some(Documentation)),
            ("3fff::1", Some(Documentation)),
            ("2001::1", Some(Reserved)),
            ("2001:2::1", Some(Benchmarking)),
            ("100::1", Some(Reserved)),
            ("::2", Some(Reserved)),
            ("64:ff9b:1::1", Some(Private)),
            // IPv4 inside IPv6: judged by the IPv4 address.
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::ffff:100.64.0.1", Some(SharedAddressSpace)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::127.0.0.1", Some(Reserved)),
            ("::ffff:0:127.0.0.1", Some(Reserved)),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(LinkLocal)),
            ("2002:7f00:1::", Some(Loopback)),
            ("2002:c0a8:101::1", Some(Private)),
            // Public.
            ("2606:4700:4700::1111", None),
            ("2001:4860:4860::8888", None),
            ("2a00:1450:4001::1", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
            ("2002:808:808::1", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(kind(ip), expected, "{ip}");
        }
    }

    #[tokio::test]
    async fn a_literal_private_address_is_refused_without_a_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        assert!(refuse_literal(&url).is_err());
        assert!(refuse_literal("https://example.com/").is_ok());
        // Nothing knocked.
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err());
    }

    #[test]
    fn literal_addresses_in_urls_are_checked() {
        let check = |url: &str| check_literal(&Url::parse(url).unwrap());
        assert!(check("https://example.com/").is_ok());
        assert!(check("http://8.8.8.8/").is_ok());
        assert!(check("http://[2606:4700::1111]/").is_ok());
        let err = check("http://169.254.169.254/latest/meta-data/").unwrap_err();
        assert_eq!(err.kind, NonPublic::LinkLocal);
        assert_eq!(
            err.to_string(),
            "refused to connect to 169.254.169.254: link-local addresses are not allowed, \
             only public ones"
        );
        assert_eq!(
            check("http://[::ffff:7f00:1]:8080/").unwrap_err().kind,
            NonPublic::Loopback
        );
        // The URL parser reads the other spellings of an IPv4 address as addresses too.
        for sneaky in [
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
        ] {
            assert_eq!(
                check(sneaky).unwrap_err().kind,
                NonPublic::Loopback,
                "{sneaky}"
            );
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_private_addresses() {
        let resolve = |allow_private: bool, host: &str| {
            GuardedResolver { allow_private }.resolve(host.parse().unwrap())
        };
        let err = resolve(false, "localhost").await.err().expect("refused");
        let blocked = err.downcast_ref::<Blocked>().expect("a Blocked");
        assert_eq!(blocked.kind, NonPublic::Loopback);
        assert_eq!(blocked.host, "localhost");
        let addrs: Vec<SocketAddr> = resolve(true, "localhost").await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        assert!(!addrs.is_empty());
    }

    #[tokio::test]
    async fn a_guarded_client_refuses_loopback_and_an_allowing_one_does_not() {
        let (url, count) = scripted(|_| "secret internal page").await;
        let port = Url::parse(&url).unwrap().port().unwrap();
        let guarded = guarded_client(false).unwrap();
        for target in [
            url.clone(),
            format!("http://localhost:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            format!("http://2130706433:{port}/"),
        ] {
            let err = guarded.get(&target).send().await.unwrap_err();
            let refusal = blocked(&err).unwrap_or_else(|| panic!("{target}: {err:?}"));
            assert_eq!(refusal.kind, NonPublic::Loopback, "{target}");
            let err = OutboundError::from(err);
            assert!(err.is_blocked(), "{err:?}");
            assert_eq!(err.retry_after(), None);
            let shown = err.to_string();
            assert!(
                shown.contains("refused to connect") && shown.contains("loopback"),
                "{shown}"
            );
            // Not retried either.
            let err = send_with_retry(|| guarded.get(&target), &quick())
                .await
                .unwrap_err();
            assert!(err.is_blocked(), "{err:?}");
        }
        assert_eq!(
            count.load(Ordering::SeqCst),
            0,
            "no request reached the server"
        );

        let allowing = guarded_client(true).unwrap();
        for target in [url.clone(), format!("http://localhost:{port}/")] {
            let response = allowing.get(&target).send().await.unwrap();
            assert_eq!(response.text().await.unwrap(), "secret internal page");
        }
    }

    #[tokio::test]
    async fn a_guarded_client_checks_the_peer_even_when_dns_is_bypassed() {
        let (url, count) = scripted(|_| "internal").await;
        let addr: SocketAddr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        // A DNS override skips the resolver, as a rebinding trick might: the connection's
        // peer address is still checked.
        let guarded = guarded_builder(false)
            .resolve("public.example", addr)
            .build()
            .unwrap();
        let err = guarded
            .get(format!("http://public.example:{}/", addr.port()))
            .send()
            .await
            .unwrap_err();
        assert_eq!(blocked(&err).map(|b| b.kind), Some(NonPublic::Loopback));
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_guarded_client_follows_at_most_three_redirects() {
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let app = Router::new().route(
            "/hop/{n}",
            get(
                move |axum::extract::Path(n): axum::extract::Path<u32>, _: HeaderMap| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        (
                            AxumStatus::FOUND,
                            [(header::LOCATION, format!("/hop/{}", n + 1))],
                        )
                    }
                },
            ),
        );
        let addr = serve(app).await;
        let client = guarded_client(true).unwrap();
        let err = client
            .get(format!("http://{addr}/hop/0"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_redirect(), "{err:?}");
        // The first request and three redirects.
        assert_eq!(count.load(Ordering::SeqCst), 1 + GUARDED_MAX_REDIRECTS);
        let err = OutboundError::from(err);
        assert!(matches!(err, OutboundError::Request { .. }), "{err:?}");
    }
}
