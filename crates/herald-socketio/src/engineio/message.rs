//! The messages a session exchanges: [`Outgoing`] packets for the client
//! (text with its type digit, or binary) and [`Inbound`] messages from it
//! for the Socket.IO layer.

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
