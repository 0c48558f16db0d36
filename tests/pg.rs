//! PostgreSQL for the tests: a fresh database per test on the server named
//! by `STAGEFLOW_TEST_PG` (default `postgres://postgres@127.0.0.1:5432/test`,
//! the machine's trust-auth server). PostgreSQL is required: a test that
//! cannot reach it fails, it is never skipped.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The server the tests use, as an admin URL.
pub fn admin_url() -> String {
    std::env::var("STAGEFLOW_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether `Server::start` and the other backend-neutral tests run on
/// PostgreSQL (`STAGEFLOW_TEST_BACKEND=postgres`) instead of a SQLite file.
pub fn selected() -> bool {
    std::env::var("STAGEFLOW_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// A new, empty database; dropped (with its connections) when this is.
pub struct FreshDb {
    /// Its URL.
    pub url: String,
    name: String,
}

impl FreshDb {
    /// Creates it (PostgreSQL must be reachable: the test fails otherwise).
    pub async fn create() -> FreshDb {
        let admin = admin_url();
        let name = format!("sf_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for this test and is not reachable at {admin}: {e} \
                 (start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`)"
            )
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        FreshDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        let admin = admin_url();
        let name = self.name.clone();
        // Drop runs inside the tests' runtime: a thread of its own does the IO.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin).await.ok()?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        });
        let _ = dropped.join();
    }
}
