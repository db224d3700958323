use std::{ops::Deref, sync::Arc};

use platform::Config;
use serde_json::{Value, json};
use testkit::{TestClient, TestDatabase};

/// A running server on its own fresh database, stopped when dropped.
pub struct TestApp {
    pub client: TestClient,
    /// Kept alive (and dropped after the servers on it) for the length of the test.
    pub _db: Arc<TestDatabase>,
    pub running: Option<capstone::Running>,
}

impl Deref for TestApp {
    type Target = TestClient;
    fn deref(&self) -> &TestClient {
        &self.client
    }
}

impl TestApp {
    /// The server's clock: moving it makes scheduled work (retries, expiries) due.
    pub fn clock(&self) -> &platform::clock::Clock {
        &self.running.as_ref().expect("a running server").clock
    }

    /// Moves the clock once no job is running, so that no lease seems to lapse mid-job.
    pub async fn advance_clock(&self, by: chrono::TimeDelta) {
        let jobs = &self.running.as_ref().expect("a running server").jobs;
        for _ in 0..400 {
            if jobs.in_flight() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.clock().advance(by);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            running.shutdown();
        }
    }
}

/// The configuration every test starts from: port 0, its own database (and Redis prefix).
pub fn test_config(db: &TestDatabase) -> Config {
    Config {
        port: 0,
        database_url: db.url.clone().into(),
        database_max_connections: 4,
        redis_url: db.redis_url.clone().map(Into::into),
        redis_prefix: db.redis_prefix.clone(),
        ..Config::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    start_on(Arc::new(TestDatabase::fresh().await), configure).await
}

/// Another server on `app`'s database and Redis prefix, as in a deployment of several
/// instances; `configure` should be what `app` was started with.
pub async fn another_instance(app: &TestApp, configure: impl FnOnce(&mut Config)) -> TestApp {
    start_on(app._db.clone(), configure).await
}

async fn start_on(db: Arc<TestDatabase>, configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(&db);
    configure(&mut config);
    let running = capstone::start(config).await.expect("server starts");
    TestApp {
        client: TestClient::new(running.addr),
        _db: db,
        running: Some(running),
    }
}

pub fn registration(email: &str) -> Value {
    json!({
        "email": email,
        "password": "correct horse battery staple",
        "display_name": "Ann Example",
    })
}

pub const PASSWORD: &str = "correct horse battery staple";

/// Registers `email` with [`PASSWORD`]; returns the new account's id.
pub async fn register(app: &TestApp, email: &str) -> i64 {
    let response = app
        .post_json("/api/v1/auth/register", &registration(email))
        .await;
    assert_eq!(
        response.status(),
        reqwest::StatusCode::CREATED,
        "registering {email}"
    );
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// A request with HTTP Basic credentials.
pub fn as_basic(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    email: &str,
) -> reqwest::RequestBuilder {
    app.request(method, path).basic_auth(email, Some(PASSWORD))
}

/// `GET path` with `email`'s HTTP Basic credentials, and its JSON body.
pub async fn get_json(app: &TestApp, path: &str, email: &str) -> Value {
    as_basic(app, reqwest::Method::GET, path, email)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A request with a bearer token (JWT or API key).
pub fn as_bearer(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> reqwest::RequestBuilder {
    app.request(method, path).bearer_auth(token)
}

/// `POST /api/v1/auth/token` with a form, as OAuth clients send it.
pub async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.request(reqwest::Method::POST, "/api/v1/auth/token")
        .form(form)
        .send()
        .await
        .unwrap()
}

/// An access and refresh token for `email`.
pub async fn sign_in_for_tokens(app: &TestApp, email: &str) -> Value {
    let response = token_request(
        app,
        &[
            ("grant_type", "password"),
            ("username", email),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    response.json().await.unwrap()
}

/// Runs the real `capstone` binary against this test's database, as an operator would.
pub async fn capstone_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    capstone_cli_with(app, args, &[]).await
}

/// [`capstone_cli`] with more environment variables. The command runs on a blocking
/// thread: the server under test runs on this test's runtime, and must go on answering
/// (and finishing its transactions) while the command waits for it.
pub async fn capstone_cli_with(
    app: &TestApp,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_capstone"));
    command
        .args(args)
        .env("DATABASE_URL", &app._db.url)
        .env("CAPSTONE_CONFIG", "/nonexistent/capstone.toml")
        .env("CAPSTONE_LOG_LEVEL", "warn")
        .envs(env.iter().copied());
    tokio::task::spawn_blocking(move || command.output().expect("run the capstone binary"))
        .await
        .expect("the command's thread")
}

/// Makes `email` an admin with `capstone users set-role`.
pub async fn make_admin(app: &TestApp, email: &str) {
    let output = capstone_cli(app, &["users", "set-role", email, "admin"]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The response's media type, without parameters (`text/plain; charset=utf-8` ->
/// `text/plain`); empty when it has none.
pub fn media_type(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
}

/// Makes an API key for `email` (`body`: name and scope) and returns the answer, which
/// holds the key itself, shown this once.
pub async fn create_key(app: &TestApp, email: &str, body: Value) -> Value {
    const KEYS: &str = "/api/v1/me/api-keys";
    let response = as_basic(app, reqwest::Method::POST, KEYS, email)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(KEYS)
    );
    response.json().await.unwrap()
}
