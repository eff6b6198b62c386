//! What a session exchanges with the door: [`Outgoing`] packets for the
//! client (text with its type digit, or binary), [`Inbound`] messages from
//! it for the Socket.IO layer, and the session's answers ([`UpgradeStep`],
//! [`TimerOutcome`], [`CloseReason`]).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;

/// A packet for the client, ready for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A text packet with its type digit (`42[…]`, `2`, `6`…): a WebSocket
    /// text frame, or one part of a polling payload. Always UTF-8.
    Text(Bytes),
    /// A binary message: a WebSocket binary frame, or `b` + base64 on polling.
    Binary(Bytes),
}

impl Outgoing {
    /// A text packet from a string.
    pub fn text(text: impl Into<String>) -> Self {
        Outgoing::Text(Bytes::from(text.into()))
    }

    /// A text packet from bytes, if they are UTF-8.
    pub fn text_bytes(bytes: Bytes) -> Option<Self> {
        std::str::from_utf8(&bytes).is_ok().then_some(Outgoing::Text(bytes))
    }

    /// Its size in a polling payload.
    pub(super) fn polling_len(&self) -> usize {
        match self {
            Outgoing::Text(b) => b.len(),
            Outgoing::Binary(b) => 1 + b.len().div_ceil(3) * 4,
        }
    }

    pub(super) fn append_polling(&self, out: &mut Vec<u8>) {
        match self {
            Outgoing::Text(b) => out.extend_from_slice(b),
            Outgoing::Binary(b) => {
                out.push(b'b');
                let mut s = String::new();
                BASE64.encode_string(b, &mut s);
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
}

/// A message from the client for the Socket.IO layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// A text message (a Socket.IO packet).
    Text(&'a str),
    /// A binary message (a Socket.IO attachment).
    Binary(Cow<'a, [u8]>),
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent `1` (Socket.IO: "transport close").
    ClientClose,
    /// No pong within `pingTimeout`.
    PingTimeout,
    /// A malformed packet or payload.
    ParseError,
    /// A WebSocket message over `maxPayload` (engine.io closes with 1009).
    MessageTooLarge,
    /// Overlapping requests, a ping from the client, an aborted poll.
    TransportError,
    /// More than `max_buffered` bytes waited for a polling client.
    SlowConsumer,
    /// The server closed it (shutdown, kick, token expiry…).
    ServerClose,
}

impl CloseReason {
    /// Whether Socket.IO counts this as a temporary disconnection after
    /// which connection state recovery may restore the session
    /// (`RECOVERABLE_DISCONNECT_REASONS` in socket.io's `socket.ts`).
    pub const fn recoverable(self) -> bool {
        !matches!(self, CloseReason::ParseError | CloseReason::MessageTooLarge)
    }
}

/// What the door does after a frame on the upgrading WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeStep {
    /// Send `3probe` on the new WebSocket and answer the waiting poll now
    /// ([`EngineSession::take_poll_response`] returns `6` if nothing waits).
    SendProbe(&'static str),
    /// The session now runs on the new WebSocket: end the waiting poll
    /// ([`EngineSession::take_poll_response`]) and drain the outbox to it.
    Upgraded,
    /// The upgrade failed: close the new WebSocket; the session stays on polling.
    Failed,
}

/// What a timer tick changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimerOutcome {
    /// A ping was queued: wake the writer or the waiting poll.
    pub pinged: bool,
    /// The upgrade timed out: close the upgrading WebSocket.
    pub upgrade_timed_out: bool,
    /// The session is closed (ping timeout).
    pub closed: bool,
}
