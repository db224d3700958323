//! Configuration: defaults, then an optional TOML file, then the environment.
//!
//! Every setting has a default that works on a fresh machine (SQLite under `data/`, port
//! 8080 on loopback), so `cargo run --release` needs nothing. Settings are read with figment
//! so that a bad value is reported with the name of the setting and where it came from, and
//! then checked by [`Config::validate`] before anything starts. What a service parses (the
//! signing keys, the OAuth providers, the mail sender and relay, the client-address header)
//! is parsed once, by that service as it starts, naming the setting when it cannot be;
//! `capstone check-config` runs the same parsers ([`crate::state::check_settings`]). So
//! this module knows no service above it.

use std::{net::IpAddr, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The whole configuration of one Capstone process.
///
/// Not `deny_unknown_fields` (serde cannot with a flattened field): a name that is neither a
/// setting nor a table is refused by [`Config::validate`], and a table no app claims by the
/// server, which knows its apps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address to listen on.
    pub host: IpAddr,
    pub port: u16,
    /// The URL clients reach this server at; used to build absolute links (`Location`,
    /// `Link: rel="next"`). Defaults to `http://{host}:{port}`.
    pub public_url: Option<String>,
    /// `sqlite://path?mode=rwc` or `postgres://user:pass@host/db`. Holds a password.
    #[serde(serialize_with = "serialize_url_redacted")]
    pub database_url: SecretString,
    /// Connections in the pool (SQLite: readers share one file; PostgreSQL: per instance).
    pub database_max_connections: u32,
    /// Optional shared store (`redis://` or `rediss://`): rate-limit counters shared by
    /// all instances, and cache invalidations broadcast between them. Holds a password.
    #[serde(serialize_with = "serialize_url_redacted_opt")]
    pub redis_url: Option<SecretString>,
    /// The start of every Redis key and channel this deployment uses, so that several
    /// deployments can share one Redis server.
    pub redis_prefix: String,
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `info,sqlx=warn`; `RUST_LOG` wins when set.
    pub log_level: String,
    /// Requests taking longer are answered 503.
    pub request_timeout_secs: u64,
    /// How long a client may take to send a request's head (request line and headers), on
    /// a new connection or between requests on a kept-alive one; past it the connection is
    /// closed. The body is bounded by `request_timeout_secs`.
    pub header_read_timeout_secs: u64,
    /// Largest request body accepted, in bytes; larger ones are answered 413.
    pub body_limit_bytes: usize,
    /// Lets every URL a user chooses for the server to call (webhooks, link titles, and
    /// later push servers) reach private and loopback addresses: for tests, and for
    /// receivers on the same network. Off, the SSRF guard refuses them.
    pub allow_private_outbound: bool,
    /// Background jobs this instance runs at once (see `jobs`).
    pub job_concurrency: usize,
    /// How long an instance's claim on a job holds before another instance may take it,
    /// should the first die: how late a job of a crashed instance is run.
    pub job_lease_secs: u64,
    /// How long a graceful shutdown waits for in-flight requests and background work.
    pub shutdown_timeout_secs: u64,
    /// Origins allowed to call the API from a browser. Empty (the default) means CORS is
    /// closed: no `Access-Control-Allow-*` headers are sent. In the environment, a
    /// comma-separated list.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub cors_allowed_origins: Vec<String>,
    /// Keys that sign access tokens (HS256), as `kid:secret` pairs separated by commas; the
    /// first signs, all verify, so a key can be rotated without signing anyone out. Each
    /// secret must be at least 32 bytes. When unset, a random key is made at start (tokens
    /// then do not survive a restart and are not valid across instances).
    #[serde(serialize_with = "serialize_masked_opt")]
    pub jwt_keys: Option<SecretString>,
    /// Lifetime of an access token (JWT).
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token (and of its family).
    pub refresh_token_ttl_days: u64,
    /// Lifetime of a browser session.
    pub session_ttl_hours: u64,
    /// Failed sign-ins allowed in a `login_window_secs` window. Past
    /// `login_failures_per_account` for one account from one address, that address gets 429
    /// for it; past as many for the account from anywhere, only addresses it has signed in
    /// from before may still try. Past `login_failures_per_ip` from one address, over every
    /// account, that address gets 429.
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_window_secs: u64,
    /// Accounts that one client address may open in an hour (`POST /auth/register`).
    pub registrations_per_ip: u32,
    /// A header set by the trusted reverse proxy in front of us carrying the client's
    /// address (`x-forwarded-for`, `x-real-ip`, `cf-connecting-ip`). Unset: the peer address.
    pub client_ip_header: Option<String>,
    /// Each app's own table, by the app's name (`[links]` in TOML, `CAPSTONE_LINKS__SLUG_LENGTH`
    /// in the environment): the app reads and checks it ([`Config::app_settings`]).
    #[serde(flatten)]
    pub apps: AppTables,
    /// Social login with GitHub (OAuth 2.0 authorization code with PKCE). Enabled only when
    /// both the client id and the secret are set (`CAPSTONE_OAUTH_GITHUB_CLIENT_ID`,
    /// `CAPSTONE_OAUTH_GITHUB_CLIENT_SECRET`); otherwise its routes answer 404. Register
    /// `{public_url}/api/v1/auth/oauth/github/callback` as the OAuth app's callback URL.
    /// Settings are flat (`oauth_<provider>_<name>`) so that each has one obvious variable.
    pub oauth_github_client_id: Option<String>,
    #[serde(serialize_with = "serialize_masked_opt")]
    pub oauth_github_client_secret: Option<SecretString>,
    /// GitHub's endpoints. The defaults are github.com's; change them for GitHub Enterprise,
    /// or to point tests at a fake provider.
    pub oauth_github_authorize_url: String,
    pub oauth_github_token_url: String,
    /// The profile (`id`, `login`, `name`) and the addresses with their verified flags.
    pub oauth_github_user_url: String,
    pub oauth_github_emails_url: String,
    /// Social login with Google (OpenID Connect scopes, authorization code with PKCE), on
    /// the same terms as GitHub: `CAPSTONE_OAUTH_GOOGLE_CLIENT_ID` and `..._SECRET`, callback
    /// `{public_url}/api/v1/auth/oauth/google/callback`.
    pub oauth_google_client_id: Option<String>,
    #[serde(serialize_with = "serialize_masked_opt")]
    pub oauth_google_client_secret: Option<SecretString>,
    /// Google's endpoints; the defaults are the real ones.
    pub oauth_google_authorize_url: String,
    pub oauth_google_token_url: String,
    pub oauth_google_userinfo_url: String,
    /// Where the browser is sent, signed in, after a social login: a path on this server
    /// (`/`, `/app`) or an absolute http(s) URL (a front end served elsewhere).
    pub oauth_redirect_after_login: String,
    /// Where mail (verification and password-reset links) goes, as lettre's SMTP URL:
    /// `smtps://user:pass@host:465` (TLS), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), or `smtp://host:25` (no TLS: a relay on this host, or a test sink).
    /// Unset: each message is written to the log instead, which suits development only.
    /// Holds a password.
    #[serde(serialize_with = "serialize_url_redacted_opt")]
    pub smtp_url: Option<SecretString>,
    /// The sender of every message, as `Name <address>` or a bare address.
    pub mail_from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty on a terminal, JSON otherwise.
    Auto,
    Pretty,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            public_url: None,
            database_url: SecretString::from("sqlite://data/capstone.db?mode=rwc"),
            database_max_connections: 16,
            redis_url: None,
            redis_prefix: "capstone".into(),
            log_format: LogFormat::Auto,
            log_level: "info".into(),
            request_timeout_secs: 30,
            header_read_timeout_secs: 10,
            body_limit_bytes: 1024 * 1024,
            allow_private_outbound: false,
            job_concurrency: 16,
            job_lease_secs: 60,
            shutdown_timeout_secs: 30,
            cors_allowed_origins: Vec::new(),
            jwt_keys: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            session_ttl_hours: 14 * 24,
            login_failures_per_account: 10,
            login_failures_per_ip: 50,
            login_window_secs: 15 * 60,
            registrations_per_ip: 20,
            client_ip_header: None,
            apps: AppTables::default(),
            oauth_github_client_id: None,
            oauth_github_client_secret: None,
            oauth_github_authorize_url: "https://github.com/login/oauth/authorize".into(),
            oauth_github_token_url: "https://github.com/login/oauth/access_token".into(),
            oauth_github_user_url: "https://api.github.com/user".into(),
            oauth_github_emails_url: "https://api.github.com/user/emails".into(),
            oauth_google_client_id: None,
            oauth_google_client_secret: None,
            oauth_google_authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            oauth_google_token_url: "https://oauth2.googleapis.com/token".into(),
            oauth_google_userinfo_url: "https://openidconnect.googleapis.com/v1/userinfo".into(),
            oauth_redirect_after_login: "/".into(),
            smtp_url: None,
            mail_from: "Capstone <no-reply@localhost>".into(),
        }
    }
}

/// A setting that could not be read or does not make sense, with the setting's name.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Read(Box<figment::Error>),
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
    #[error("unknown setting `{0}`")]
    Unknown(String),
    #[error("invalid [{app}] settings: {error}")]
    App {
        app: &'static str,
        error: Box<figment::Error>,
    },
}

impl Config {
    /// Reads defaults, then `file` (TOML, if it exists), then `CAPSTONE_*` variables, then
    /// the conventional `DATABASE_URL`, `REDIS_URL` and `PORT`, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file))
    }

    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file(file));
        }
        figment
            .merge(
                Env::prefixed("CAPSTONE_")
                    .filter(|key| {
                        // Variables for the CLI and the test and CI scripts, not settings.
                        let key = key.as_str().to_ascii_lowercase();
                        !(key == "config" || key.starts_with("test_") || key.starts_with("ci_"))
                    })
                    // `CAPSTONE_LINKS__SLUG_LENGTH` -> `links.slug_length`.
                    .split("__"),
            )
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL", "PORT"]))
    }

    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Read(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(name) = self.apps.0.iter().find_map(|(name, value)| {
            (!matches!(value, figment::value::Value::Dict(..))).then_some(name)
        }) {
            // A table may be an app's; anything else that is not a field is a typo.
            return Err(ConfigError::Unknown(name.clone()));
        }
        let invalid = |setting, reason: &str| {
            Err(ConfigError::Invalid {
                setting,
                reason: reason.to_owned(),
            })
        };
        let db = self.database_url.expose_secret();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return invalid(
                "database_url",
                "must start with sqlite: or postgres:// (e.g. sqlite://data/capstone.db?mode=rwc)",
            );
        }
        if let Some(redis) = &self.redis_url
            && !(redis.expose_secret().starts_with("redis://")
                || redis.expose_secret().starts_with("rediss://"))
        {
            return invalid("redis_url", "must start with redis:// or rediss://");
        }
        if self.redis_prefix.is_empty()
            || !self
                .redis_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
        {
            return invalid(
                "redis_prefix",
                "must be letters, digits, '_', '-', '.' or ':' (e.g. capstone)",
            );
        }
        if self.database_max_connections < 2 {
            // Start-up migration holds one connection (a lock) while it uses another.
            return invalid("database_max_connections", "must be at least 2");
        }
        if self.request_timeout_secs == 0 {
            return invalid("request_timeout_secs", "must be at least 1");
        }
        if self.header_read_timeout_secs == 0 {
            return invalid("header_read_timeout_secs", "must be at least 1");
        }
        if self.job_concurrency == 0 {
            return invalid("job_concurrency", "must be at least 1");
        }
        if self.job_lease_secs < 3 {
            return invalid("job_lease_secs", "must be at least 3");
        }
        if self.body_limit_bytes < 1024 {
            return invalid("body_limit_bytes", "must be at least 1024");
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid("public_url", "must be an absolute http:// or https:// URL");
        }
        for origin in &self.cors_allowed_origins {
            if origin != "*" && origin.parse::<axum::http::HeaderValue>().is_err() {
                return invalid(
                    "cors_allowed_origins",
                    "each entry must be an origin such as https://app.example.com",
                );
            }
        }
        if self.access_token_ttl_secs == 0
            || self.refresh_token_ttl_days == 0
            || self.session_ttl_hours == 0
        {
            return invalid(
                "access_token_ttl_secs",
                "token and session lifetimes must be positive",
            );
        }
        Ok(())
    }

    /// The URL clients use to reach us, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}:{}", self.host, self.port),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn queue_settings(&self) -> crate::jobs::QueueSettings {
        crate::jobs::QueueSettings {
            concurrency: self.job_concurrency,
            lease: Duration::from_secs(self.job_lease_secs),
            ..Default::default()
        }
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// The settings of app `name` from its table, with the app's defaults for what is not
    /// given (`T` fills them with `#[serde(default)]`).
    pub fn app_settings<T: serde::de::DeserializeOwned>(
        &self,
        name: &'static str,
    ) -> Result<T, ConfigError> {
        let table = self
            .apps
            .0
            .get(name)
            .cloned()
            .unwrap_or_else(|| figment::value::Value::from(figment::value::Dict::new()));
        Figment::from(Serialized::defaults(table))
            .extract()
            .map_err(|error| ConfigError::App {
                app: name,
                error: Box::new(error),
            })
    }

    /// App `name`'s table, to set its settings in code (tests do).
    pub fn app_table(&mut self, name: &str) -> &mut figment::value::Dict {
        let value = self
            .apps
            .0
            .entry(name.to_owned())
            .or_insert_with(|| figment::value::Dict::new().into());
        if !matches!(value, figment::value::Value::Dict(..)) {
            *value = figment::value::Dict::new().into();
        }
        match value {
            figment::value::Value::Dict(_, table) => table,
            _ => unreachable!("made a table above"),
        }
    }

    /// The names of the app tables given.
    pub fn app_tables(&self) -> impl Iterator<Item = &str> {
        self.apps.0.keys().map(String::as_str)
    }

    /// The database URL with any password replaced, safe to log.
    pub fn database_url_redacted(&self) -> String {
        redact_url(self.database_url.expose_secret())
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

/// Accepts a TOML array or, as environment variables need, `a,b,c`.
fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Items {
        List(Vec<String>),
        Csv(String),
    }
    Ok(match Items::deserialize(d)? {
        Items::List(items) => items,
        Items::Csv(csv) => csv
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

// Secrets are never serialised as they are: the configuration is serialised only for the
// defaults (which hold no secrets) and to be shown by `capstone check-config`.

fn serialize_url_redacted<S: serde::Serializer>(
    url: &SecretString,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url.expose_secret()))
}

/// Written with the password masked.
fn serialize_url_redacted_opt<S: serde::Serializer>(
    url: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => s.serialize_some(&redact_url(url.expose_secret())),
        None => s.serialize_none(),
    }
}

/// `***` for a secret that is set.
/// Whether an app's setting holds a secret, by its name: `safety_api_key`,
/// `webhook_secret`, `smtp_password`, `bot_token`. An app's table is free-form here, so its
/// secrets are known by name rather than by type.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["key", "secret", "password", "token", "credential"]
        .iter()
        .any(|word| name.contains(word))
}

/// The apps' tables, as given. Serialised (for `capstone check-config`) with every
/// secret-shaped setting masked (see [`is_secret_name`]).
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct AppTables(std::collections::BTreeMap<String, figment::value::Value>);

impl Serialize for AppTables {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (app, table) in &self.0 {
            match table {
                figment::value::Value::Dict(_, table) => {
                    map.serialize_entry(app, &MaskedTable(table))?;
                }
                other => map.serialize_entry(app, other)?,
            }
        }
        map.end()
    }
}

impl std::fmt::Debug for AppTables {
    /// As serialised: masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&shown)
    }
}

struct MaskedTable<'a>(&'a figment::value::Dict);

impl Serialize for MaskedTable<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            if is_secret_name(name) {
                map.serialize_entry(name, "***")?;
            } else {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

fn serialize_masked_opt<S: serde::Serializer>(
    secret: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_some("***"),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
// figment's Jail returns its own (large) error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_need_nothing() {
        Jail::expect_with(|_| {
            let config = Config::load(None).unwrap();
            assert_eq!(config.port, 8080);
            assert_eq!(config.public_url(), "http://127.0.0.1:8080");
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_file_and_bad_values_name_the_setting() {
        Jail::expect_with(|jail| {
            jail.create_file("capstone.toml", "port = 9000\nlog_level = \"debug\"")?;
            jail.set_env("PORT", "9100");
            jail.set_env("CAPSTONE_TEST_DATABASE_URL", "postgres://ignored");
            jail.set_env(
                "CAPSTONE_CORS_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            );
            let config = Config::load(Some(Path::new("capstone.toml"))).unwrap();
            assert_eq!(config.port, 9100);
            assert_eq!(
                config.cors_allowed_origins,
                ["https://a.example", "https://b.example"]
            );
            assert_eq!(config.log_level, "debug");

            jail.set_env("CAPSTONE_REQUEST_TIMEOUT_SECS", "soon");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("REQUEST_TIMEOUT_SECS"), "{err}");
            jail.set_env("CAPSTONE_REQUEST_TIMEOUT_SECS", "5");

            jail.set_env("DATABASE_URL", "mysql://x");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("database_url"), "{err}");
            jail.set_env("DATABASE_URL", "sqlite://x.db");

            jail.set_env("CAPSTONE_REDIS_PREFIX", "two words");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("redis_prefix"), "{err}");
            jail.set_env("CAPSTONE_REDIS_PREFIX", "staging:links");
            assert_eq!(Config::load(None).unwrap().redis_prefix, "staging:links");

            jail.set_env("CAPSTONE_REQUST_TIMEOUT_SECS", "5");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(
                err.to_lowercase().contains("requst_timeout_secs"),
                "a typo is named: {err}"
            );
            Ok(())
        });
    }

    #[test]
    fn an_app_reads_its_own_table_from_the_file_and_the_environment() {
        #[derive(Debug, Deserialize)]
        #[serde(default)]
        struct Shortener {
            slug_length: u32,
            domain: String,
        }
        impl Default for Shortener {
            fn default() -> Self {
                Self {
                    slug_length: 6,
                    domain: "default".into(),
                }
            }
        }
        Jail::expect_with(|jail| {
            jail.create_file("capstone.toml", "[shortener]\ndomain = \"s.example\"")?;
            jail.set_env("CAPSTONE_SHORTENER__SLUG_LENGTH", "9");
            let config = Config::load(Some(Path::new("capstone.toml"))).unwrap();
            let shortener: Shortener = config.app_settings("shortener").unwrap();
            assert_eq!(
                (shortener.slug_length, shortener.domain.as_str()),
                (9, "s.example")
            );
            // An app with no table gets its defaults.
            let absent: Shortener = config.app_settings("absent").unwrap();
            assert_eq!(absent.slug_length, 6);

            jail.set_env("CAPSTONE_SHORTENER__SLUG_LENGTH", "long");
            let config = Config::load(None).unwrap();
            let err = config.app_settings::<Shortener>("shortener").unwrap_err();
            assert!(err.to_string().contains("[shortener]"), "{err}");
            assert!(err.to_string().contains("slug_length"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/capstone"),
            "postgres://app:***@db:5432/capstone"
        );
        let mut config = Config {
            database_url: SecretString::from("postgres://app:hunter2@db/x"),
            redis_url: Some(SecretString::from("redis://:hunter2@cache:6379")),
            jwt_keys: Some(SecretString::from("k1:hunter2hunter2hunter2hunter2hunter2")),
            smtp_url: Some(SecretString::from("smtp://mail:hunter2@smtp:587")),
            ..Config::default()
        };
        config
            .app_table("links")
            .insert("safety_api_key".into(), "hunter2".into());
        assert!(!format!("{config:?}").contains("hunter2"));
        // What `capstone check-config` prints.
        let shown = serde_json::to_string(&config).unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
