use sea_orm::{ConnectionTrait, Database};

/// Which database the suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// PostgreSQL when `CAPSTONE_TEST_DATABASE_URL` is set, SQLite otherwise.
    pub fn current() -> Self {
        match admin_url() {
            Some(_) => Backend::Postgres,
            None => Backend::Sqlite,
        }
    }
}

fn admin_url() -> Option<String> {
    std::env::var("CAPSTONE_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// The Redis server the suite shares (`CAPSTONE_TEST_REDIS_URL`), if any.
pub fn redis_url() -> Option<String> {
    std::env::var("CAPSTONE_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// A database that exists for one test only, and the test's own corner of Redis.
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    /// [`redis_url`], for the servers of this test.
    pub redis_url: Option<String>,
    /// A prefix of this test's own for its Redis keys and channels, so that tests running
    /// at once on one Redis never see each other's counters or broadcasts.
    pub redis_prefix: String,
    cleanup: Cleanup,
}

enum Cleanup {
    /// The SQLite file lives in this folder, removed on drop.
    Dir(#[allow(dead_code)] tempfile::TempDir),
    /// Dropped on the server at `admin_url` when the test ends.
    PostgresDatabase { admin_url: String, name: String },
}

impl TestDatabase {
    pub async fn fresh() -> Self {
        let redis_url = redis_url();
        let redis_prefix = format!("capstone_test_{}", uuid::Uuid::new_v4().simple());
        match admin_url() {
            None => {
                let dir = tempfile::tempdir().expect("temporary folder");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self {
                    url,
                    backend: Backend::Sqlite,
                    redis_url,
                    redis_prefix,
                    cleanup: Cleanup::Dir(dir),
                }
            }
            Some(admin_url) => {
                let name = format!("capstone_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach CAPSTONE_TEST_DATABASE_URL: {e}"));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                Self {
                    url: replace_database(&admin_url, &name),
                    backend: Backend::Postgres,
                    redis_url,
                    redis_prefix,
                    cleanup: Cleanup::PostgresDatabase { admin_url, name },
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::PostgresDatabase { admin_url, name } = &self.cleanup else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop cannot await, and may run inside the test's runtime: use a runtime of our
        // own on a thread of our own, and wait for it so nothing is left behind.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = Database::connect(&admin_url).await.ok()?;
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                admin.close().await.ok()
            })
        })
        .join();
    }
}

/// `postgres://u@h:5432/test?x=y` with `name` -> `postgres://u@h:5432/name?x=y`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_and_path = &base[scheme_end..];
    let authority = host_and_path.split('/').next().unwrap_or(host_and_path);
    let mut out = format!("{}{}/{}", &base[..scheme_end], authority, name);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://h/test?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h", "x"), "postgres://h/x");
    }
}
