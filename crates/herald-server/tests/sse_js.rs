//! The SSE door with a real JavaScript client: the npm `eventsource`
//! package (v4) in Node receives live events on two channels, then recovers
//! by itself after the server is killed and restarted
//! (`tests/node/eventsource.test.mjs`). Needs `node`: fails under
//! `CI=true` without it (skipped loudly elsewhere).
//! The browser test (`tests/node/browser.test.mjs`) runs from `scripts/test.sh`.

mod common;

#[test]
fn eventsource_package_receives_live_and_recovers_after_a_restart() {
    common::run_node_test("node", "eventsource.test.mjs");
}
