//! The SSE door with a real JavaScript client: the npm `eventsource`
//! package (v4) in Node receives live events on two channels, then recovers
//! by itself after the server is killed and restarted
//! (`tests/node/eventsource.test.mjs`). Skipped only when `node` is missing.
//! The browser test (`tests/node/browser.test.mjs`) runs from `scripts/test.sh`.

mod common;

#[test]
fn eventsource_package_receives_live_and_recovers_after_a_restart() {
    common::node::run("node", "eventsource", "eventsource.test.mjs");
}
