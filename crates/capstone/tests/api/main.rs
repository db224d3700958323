//! Integration tests: the real server on an ephemeral port, over HTTP, on SQLite or (with
//! `CAPSTONE_TEST_DATABASE_URL`) PostgreSQL. One test binary, many modules, to link once.

mod accounts;
mod admin;
mod auth_methods;
mod background_jobs;
mod command_line;
mod email_flows;
mod errors;
mod helpers;
mod idempotency;
mod instances;
mod link_enrichment;
mod links;
mod migrations;
mod notifications;
mod ntfy;
mod oauth;
mod observability;
mod paths;
mod platform_routes;
mod probes;
mod process;
mod register;
mod shared_state;
mod shutdown;
mod tasks;
mod webhooks;
