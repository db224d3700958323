use std::ops::Deref;

use platform::Config;
use serde_json::{Value, json};
use testkit::{TestClient, TestDatabase};

/// A running server on its own fresh database, stopped when dropped.
pub struct TestApp {
    pub client: TestClient,
    /// Kept alive (and dropped after the server) for the length of the test.
    _db: TestDatabase,
    pub running: Option<capstone::Running>,
}

impl Deref for TestApp {
    type Target = TestClient;
    fn deref(&self) -> &TestClient {
        &self.client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            running.shutdown();
        }
    }
}

/// The configuration every test starts from: port 0, its own database.
pub fn test_config(db: &TestDatabase) -> Config {
    Config {
        port: 0,
        database_url: db.url.clone().into(),
        database_max_connections: 4,
        ..Config::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDatabase::fresh().await;
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
