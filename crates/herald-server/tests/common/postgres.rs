//! PostgreSQL for the tests: the server's URL and a schema of a test's own.

/// `HERALD_TEST_POSTGRES_URL`, or the local server (trust auth, database `test`).
pub fn url() -> String {
    std::env::var("HERALD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of this test's own (`herald_test_{tag}_…`), dropped when the
/// test ends, even by a panic.
pub struct Schema(pub String);

impl Schema {
    pub fn new(tag: &str) -> Schema {
        Schema(format!("herald_test_{tag}_{}_{:x}", std::process::id(), rand::random::<u32>()))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0);
        // Drop may run inside the test's runtime: use a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let pool = sqlx::PgPool::connect(&url()).await.ok()?;
                let done = sqlx::query(&sql).execute(&pool).await.ok();
                pool.close().await;
                done
            })
        })
        .join();
    }
}
