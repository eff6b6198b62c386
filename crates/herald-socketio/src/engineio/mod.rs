//! Engine.IO v4 (`EIO=4`), the transport layer under Socket.IO: packets,
//! polling payloads, the handshake, request queries and the per-session
//! state machine. Spec: <https://github.com/socketio/engine.io-protocol>;
//! behaviour checked against the reference server (`engine.io` 6.6).

mod error;
pub mod handshake;
mod message;
pub mod packet;
pub mod payload;
pub mod query;
pub mod session;

use base64::Engine as _;
use rand::RngCore as _;

pub use error::EngineError;
pub use handshake::EngineConfig;
pub use packet::Packet;
pub use query::{EngineQuery, Method, parse_query};
pub use session::{CloseReason, EngineSession, Inbound, Outgoing, TimerOutcome, UpgradeStep};

/// The two transports of Engine.IO v4 (WebTransport is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// HTTP long-polling: GET to receive, POST to send.
    Polling,
    /// One WebSocket, one packet per frame.
    Websocket,
}

impl Transport {
    /// The name in the `transport` query parameter.
    pub const fn name(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
        }
    }
}

/// A new session id: 16 random bytes as URL-safe base64 (22 characters).
/// It authorizes the session's polling requests, so it is unguessable.
pub fn generate_sid() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_valid_in_queries_and_distinct() {
        let (a, b) = (generate_sid(), generate_sid());
        assert_ne!(a, b);
        let q = parse_query(&format!("EIO=4&transport=polling&sid={a}"), Method::Get, false).unwrap();
        assert_eq!(q.sid, Some(a));
    }
}
