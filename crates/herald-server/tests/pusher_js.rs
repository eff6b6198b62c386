//! The Pusher door with the real JavaScript packages: `pusher-js` 8 (the
//! client), `pusher` 5 (the server SDK: triggers, REST, auth endpoint,
//! webhook validation) and Laravel Echo's pusher connector, in Node
//! against the built `herald` binary (`tests/pusher-js/*.test.mjs`).
//! Needs `node`: fails under `CI=true` without it (skipped loudly elsewhere). The browser test
//! (`tests/pusher-js/browser.test.mjs`) runs from `scripts/test.sh`.

mod common;

#[test]
fn pusher_js_and_the_pusher_sdk_work_against_herald() {
    common::run_node_test("pusher-js", "pusher.test.mjs");
}

#[test]
fn laravel_echo_with_the_pusher_connector_works_against_herald() {
    common::run_node_test("pusher-js", "echo.test.mjs");
}
