//! Collaborative documents across a Redis cluster, with the real `yjs` 13 +
//! `y-websocket` 3 packages (`tests/yjs-js/cluster.test.mjs`): two herald
//! nodes on one Redis key prefix and one PostgreSQL schema, a provider on
//! each: concurrent edits converge, awareness crosses nodes and is removed
//! when a connection or a whole node dies, a late joiner on the other node
//! gets the full document, and the document is identical after both nodes
//! restart. Needs `node`: fails under `CI=true` without it (skipped loudly
//! elsewhere).

mod common;

use common::postgres::{Schema, url as postgres_url};

#[test]
fn yjs_documents_converge_across_two_nodes_on_redis_and_postgres() {
    let (schema, prefix) = (Schema::new("yjs_cluster"), common::cluster::OwnedPrefix::new("yjs"));
    common::run_node_test_with(
        "yjs-js",
        "cluster.test.mjs",
        &[
            ("HERALD_TEST_POSTGRES_URL", postgres_url()),
            ("HERALD_TEST_SCHEMA", schema.0.clone()),
            ("HERALD_TEST_REDIS_PREFIX", prefix.0.clone()),
        ],
    );
}
