//! The Socket.IO door with the real, unmodified `socket.io-client` 4.8 in
//! Node against the built `herald` binary (`tests/socketio-js/*.test.mjs`):
//! WebSocket only, polling only and the default upgrade; acks, ordering,
//! HTTP API publications, grants, tokens, recovery and bad input.
//! Needs `node`: fails under `CI=true` without it (skipped loudly elsewhere).

mod common;

#[test]
fn socket_io_client_works_against_herald_on_every_transport() {
    common::run_node_test("socketio-js", "socketio.test.mjs");
}

#[test]
fn socket_io_recovers_a_dropped_transport_exactly_once() {
    common::run_node_test("socketio-js", "recovery.test.mjs");
}

/// Two nodes on Redis: the client recovers on the other node (Herald keeps
/// positions in the hub and history, not in a process).
#[test]
fn socket_io_recovers_across_two_nodes_on_redis() {
    let prefix = common::cluster::OwnedPrefix::new("socketio");
    common::run_node_test_with("socketio-js", "recovery.test.mjs", &[("HERALD_TEST_REDIS_PREFIX", prefix.0.clone())]);
}

#[test]
fn socket_io_bad_input_is_refused_without_harm() {
    common::run_node_test("socketio-js", "bad-input.test.mjs");
}
