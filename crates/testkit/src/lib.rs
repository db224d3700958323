//! Test support: a fresh database for each test, and an HTTP client for the app under test.
//!
//! Tests run on SQLite (a file in a temporary folder) unless `CAPSTONE_TEST_DATABASE_URL`
//! names a PostgreSQL server, in which case each test gets its own freshly created
//! database on it, dropped when the test ends. Either way tests never share state, so they
//! run in parallel.

mod client;
mod database;

pub use client::{TestClient, assert_problem};
pub use database::{Backend, TestDatabase};
