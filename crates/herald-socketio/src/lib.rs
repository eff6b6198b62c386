//! Socket.IO 4 for Herald, without IO (as `herald-protocol` is for the
//! native protocol). The Socket.IO door in `herald-server` owns the sockets,
//! the HTTP requests and the timers; this crate decides what they mean.
//!
//! - [`engineio`] — Engine.IO v4: packets, polling payloads (`\x1e`, `b` +
//!   base64), the handshake, query validation with Engine.IO's error bodies,
//!   and [`engineio::EngineSession`], the per-session state machine (polling
//!   buffer, pending GET, heartbeat, upgrade to WebSocket, close).
//! - [`socketio`] — Socket.IO v5 packets: decoding with strict validation,
//!   binary attachments (placeholders), and the packets a server sends.
//! - [`events`] — Herald ↔ Socket.IO: hub events as Socket.IO events
//!   (publications, presence, …), client events (`subscribe`, `publish`, …)
//!   as typed requests, ack bodies, the CONNECT auth, and the recovery
//!   token appended to recoverable events.
//!
//! Spec and conventions: `docs/socketio.md`.

pub mod engineio;
pub mod events;
pub mod socketio;

/// Append `s` as a JSON string (quoted and escaped) to `out`.
pub(crate) fn json_str(out: &mut String, s: &str) {
    // A &str always serializes.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}
