//! The Ably door with the real `ably` client library (2.x) in Node against
//! the built `herald` binary (`tests/ably-js/*.test.mjs`), each with
//! MessagePack (the Node default) and JSON (`useBinaryProtocol: false`).
//! Needs `node`: fails under `CI=true` without it (skipped loudly elsewhere).
//! The browser test (`tests/ably-js/browser.test.mjs`) runs from `scripts/test.sh`.

mod common;

#[test]
fn ably_js_realtime_publishes_subscribes_and_is_refused_like_ably() {
    common::run_node_test("ably-js", "realtime.test.mjs");
}

#[test]
fn ably_js_presence_history_rest_and_rewind_work_against_herald() {
    common::run_node_test("ably-js", "presence.test.mjs");
}

#[test]
fn ably_js_token_auth_renewal_and_refusals_work_against_herald() {
    common::run_node_test("ably-js", "tokens.test.mjs");
}

#[test]
fn ably_js_resumes_with_the_missed_messages_or_says_80008() {
    common::run_node_test("ably-js", "resume.test.mjs");
}

/// A Redis key prefix of this test's own, removed when it ends (even by a panic).
struct Prefix(String);

impl Drop for Prefix {
    fn drop(&mut self) {
        common::cluster::delete_prefix(6379, &self.0);
    }
}

#[test]
fn ably_js_resumes_through_another_node_of_a_redis_cluster() {
    let prefix = Prefix(common::cluster::fresh_prefix("ably"));
    common::run_node_test_with("ably-js", "cluster.test.mjs", &[("HERALD_TEST_REDIS_PREFIX", prefix.0.clone())]);
}
