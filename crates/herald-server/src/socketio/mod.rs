//! The Socket.IO door at `/socket.io/` (`docs/socketio.md`): unmodified
//! `socket.io-client` 4 on Herald's hub. `herald-socketio` decides what
//! every packet means (no IO); this module owns the sockets, the HTTP
//! requests and the timers:
//!
//! - `entry.rs` — the one route: Engine.IO's query checks, then a new
//!   WebSocket, an upgrade, a polling handshake, a poll or a POST.
//! - `websocket.rs` — the WebSocket transport on the door runtime (a new
//!   session, or the upgrade of a polling one).
//! - `polling.rs` — the polling transport: handshake, GET, POST.
//! - `sessions.rs` — polling sessions by sid, each with its Engine.IO state
//!   and the pump that moves the hub connection's queue into it.
//! - `events.rs` — Socket.IO packets → hub calls and acks (both transports).
//! - `connect.rs` — Socket.IO CONNECT: the token, the hub connection,
//!   connection state recovery.
//! - `framing.rs` — the recovery token appended per connection, in queue order.
//! - `relay.rs` — with a broker: polling requests for another node's session
//!   travel to that node and back (no sticky sessions).

mod connect;
mod entry;
mod events;
mod framing;
mod polling;
pub mod relay;
mod sessions;
mod websocket;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Response, StatusCode, header};
use axum::routing::any;
use bytes::Bytes;
use herald_core::DisconnectReason;
use herald_socketio::engineio::EngineError;
use herald_socketio::events::SocketIoEncoder;
use herald_socketio::socketio::{MAIN_NAMESPACE, server};
use herald_ws::frame;

use crate::app::App;
use crate::door::Closing;

/// The `door` label of the Socket.IO door's metrics.
pub const DOOR: &str = "socketio";

/// The door's shared state: its encoder and the polling sessions.
pub struct SocketIoDoor {
    /// The hub's encoder for every Socket.IO connection.
    pub encoder: Arc<SocketIoEncoder>,
    /// Polling sessions by sid.
    pub sessions: sessions::Sessions,
    /// With a broker: forwarding to the node that holds a session.
    pub relay: std::sync::OnceLock<Arc<relay::Relay>>,
}

impl SocketIoDoor {
    /// An empty door.
    pub fn new() -> Arc<Self> {
        Arc::new(SocketIoDoor {
            encoder: Arc::new(SocketIoEncoder),
            sessions: sessions::Sessions::default(),
            relay: std::sync::OnceLock::new(),
        })
    }

    /// A new session id; with a broker it names this node (`{node}-{random}`).
    pub fn new_sid(&self) -> String {
        let sid = herald_socketio::engineio::generate_sid();
        match self.relay.get() {
            Some(relay) => format!("{}-{sid}", relay.node_id()),
            None => sid,
        }
    }
}

/// `/socket.io/` (with and without the trailing slash), when enabled.
pub fn router(app: &App) -> Router<Arc<App>> {
    if !app.config.socketio.enabled {
        return Router::new();
    }
    Router::new().route("/socket.io/", any(entry::entry)).route("/socket.io", any(entry::entry))
}

/// Engine.IO's refusal: its status and `{"code","message"}` body.
pub fn engine_error(e: &EngineError) -> Response<Body> {
    tracing::debug!(error = %e, "engine.io request refused");
    let mut resp = Response::new(Body::from(e.body()));
    *resp.status_mut() = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    resp
}

/// The Engine.IO text packets that end a session the server closes: a
/// Socket.IO DISCONNECT when the client must not reconnect by itself
/// ("io server disconnect"); otherwise nothing, so the transport's close
/// reads as "transport close" and the client reconnects (and recovers).
pub fn closing_packets(reason: DisconnectReason) -> Vec<Bytes> {
    if reason.reconnect() { Vec::new() } else { vec![Bytes::from(server::disconnect(MAIN_NAMESPACE))] }
}

/// The Socket.IO door's close table on WebSocket.
pub struct SocketIoClosing;

impl Closing for SocketIoClosing {
    fn frames(&self, reason: DisconnectReason) -> Vec<Bytes> {
        let mut frames: Vec<Bytes> = closing_packets(reason).iter().map(|p| frame::text(p)).collect();
        frames.push(frame::close(reason.code(), reason.message()));
        frames
    }
}
