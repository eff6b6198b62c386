//! The y-websocket door with the real JavaScript clients: `yjs` 13 and
//! `y-websocket` 3 from npm, in Node, against the `herald` binary
//! (`tests/yjs-js/yjs.test.mjs`): convergence after concurrent edits,
//! offline edits merged on reconnect, awareness added and removed, a
//! read-only token refused, size limits, the `/api/docs` HTTP API, and the
//! document after a graceful restart and after a crash. Needs `node`: fails
//! under `CI=true` without it (skipped loudly elsewhere).

mod common;

#[test]
fn yjs_and_y_websocket_packages_collaborate_through_herald() {
    common::run_node_test("yjs-js", "yjs.test.mjs");
}
