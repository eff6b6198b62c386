//! The Supabase Realtime door with the real `@supabase/realtime-js` 2.x in
//! Node against the built `herald` binary (`tests/supabase-js/*.test.mjs`):
//! broadcast, presence, the Phoenix protocol's edges, REST broadcast,
//! tokens, private channels, reconnects, and `postgres_changes` on a real
//! PostgreSQL change feed (a throwaway logical-replication cluster).
//! Needs `node`: fails under `CI=true` without it (skipped loudly elsewhere).
//! The browser test (`tests/supabase-js/browser.test.mjs`) runs from `scripts/test.sh`.

mod common;

#[test]
fn realtime_js_broadcast_presence_and_protocol_edges() {
    common::run_node_test("supabase-js", "realtime.test.mjs");
}

#[test]
fn realtime_js_postgres_changes_on_the_change_feed() {
    let Some(pg) = common::logical_pg::cluster() else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let url = rt.block_on(pg.database("supabase"));
    common::run_node_test_with("supabase-js", "changes.test.mjs", &[("HERALD_TEST_PG_URL", url)]);
}

#[test]
fn realtime_js_with_tokens_private_channels_expiry_and_rest_broadcast() {
    common::run_node_test("supabase-js", "tokens.test.mjs");
}
