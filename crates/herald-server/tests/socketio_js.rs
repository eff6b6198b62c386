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
