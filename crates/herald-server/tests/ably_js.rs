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
