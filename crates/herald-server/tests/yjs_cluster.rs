//! Collaborative documents across a Redis cluster, with the real `yjs` 13 +
//! `y-websocket` 3 packages (`tests/yjs-js/cluster.test.mjs`): two herald
//! nodes on one Redis key prefix and one PostgreSQL schema, a provider on
//! each: concurrent edits converge, awareness crosses nodes and is removed
//! when a connection or a whole node dies, a late joiner on the other node
//! gets the full document, and the document is identical after both nodes
//! restart. Skipped only when `node` is missing.

mod common;

fn postgres_url() -> String {
    std::env::var("HERALD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema and a Redis key prefix of this test's own, removed when it ends (even by a panic).
struct Isolation {
    schema: String,
    prefix: String,
}

impl Drop for Isolation {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let pool = sqlx::PgPool::connect(&postgres_url()).await.ok()?;
                let done = sqlx::query(&sql).execute(&pool).await.ok();
                pool.close().await;
                done
            })
        })
        .join();
        common::cluster::delete_prefix(6379, &self.prefix);
    }
}

#[test]
fn yjs_documents_converge_across_two_nodes_on_redis_and_postgres() {
    let iso = Isolation {
        schema: format!("herald_test_yjs_cluster_{}_{:x}", std::process::id(), rand::random::<u32>()),
        prefix: common::cluster::fresh_prefix("yjs"),
    };
    common::run_node_test_with(
        "yjs-js",
        "cluster.test.mjs",
        &[
            ("HERALD_TEST_POSTGRES_URL", postgres_url()),
            ("HERALD_TEST_SCHEMA", iso.schema.clone()),
            ("HERALD_TEST_REDIS_PREFIX", iso.prefix.clone()),
        ],
    );
}
