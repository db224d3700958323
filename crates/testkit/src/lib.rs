//! Test support: a fresh database for each test, an HTTP client for the app under test, and
//! a fake SMTP server ([`MailSink`]) that keeps the mail the app sends.
//! [`FakeOAuthProvider`] stands in for GitHub and Google in social-login tests.
//! [`FakeSafeBrowsing`] and [`FakeWebsite`] stand in for the lookup API and the web pages
//! that link enrichment calls. [`TcpProxy`] cuts a database off for outage tests.
//! [`FakeNtfy`] is an ntfy server that keeps what the push channel publishes.
//!
//! Tests run on SQLite (a file in a temporary folder) unless `CAPSTONE_TEST_DATABASE_URL`
//! names a PostgreSQL server, in which case each test gets its own freshly created
//! database on it, dropped when the test ends. With `CAPSTONE_TEST_REDIS_URL` the servers
//! use that Redis too, each test under a key prefix of its own. Either way tests never
//! share state, so they run in parallel.

mod client;
mod database;
pub mod mail;
pub mod ntfy;
pub mod oauth;
pub mod proxy;
pub mod safe_browsing;
pub mod webhooks;

pub use client::{TestClient, assert_problem, problem_fields};
pub use database::{Backend, TestDatabase, redis_url};
pub use mail::{MailSink, Message};
pub use ntfy::{FakeNtfy, Published};
pub use oauth::{Consent, FakeOAuthProvider, FakeUser};
pub use proxy::TcpProxy;
pub use safe_browsing::{FakePage, FakeSafeBrowsing, FakeWebsite, LookupFailure};
pub use webhooks::{FakeReceiver, Received};
