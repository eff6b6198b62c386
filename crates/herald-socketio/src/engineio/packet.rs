//! Engine.IO v4 packets: one type digit, then the data.
//!
//! | type    | digit | data                                   |
//! |---------|-------|----------------------------------------|
//! | open    | `0`   | the handshake JSON (server → client)   |
//! | close   | `1`   | none                                   |
//! | ping    | `2`   | none, or `probe` during an upgrade     |
//! | pong    | `3`   | none, or `probe` during an upgrade     |
//! | message | `4`   | text (a Socket.IO packet)              |
//! | upgrade | `5`   | none                                   |
//! | noop    | `6`   | none                                   |
//!
//! A binary message has no type digit: on WebSocket it is a binary frame as
//! is, in a polling payload it is `b` followed by standard base64.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::EngineError;

/// The data carried by ping and pong packets during an upgrade.
pub const PROBE: &str = "probe";

/// An Engine.IO packet, borrowed from the frame or payload it was read
/// from (binary data from a polling payload is decoded, hence owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `0{json}`: the handshake (server → client only).
    Open(&'a str),
    /// `1`: close the session.
    Close,
    /// `2` or `2probe`.
    Ping(&'a str),
    /// `3` or `3probe`.
    Pong(&'a str),
    /// `4…`: a text message.
    Message(&'a str),
    /// A binary message.
    Binary(Cow<'a, [u8]>),
    /// `5`: the client switched to the new transport.
    Upgrade,
    /// `6`: nothing (ends a pending poll during an upgrade).
    Noop,
}

impl<'a> Packet<'a> {
    /// Decode one packet from a WebSocket text frame or one part of a
    /// polling payload. `b…` (base64 binary) is accepted only where
    /// `base64_binary` is set: in polling payloads.
    pub fn decode_text(text: &'a str, base64_binary: bool) -> Result<Self, EngineError> {
        let mut chars = text.char_indices();
        let Some((_, kind)) = chars.next() else {
            return Err(EngineError::malformed("empty packet"));
        };
        let data = &text[kind.len_utf8()..];
        let no_data = |packet: Packet<'a>| {
            if data.is_empty() {
                Ok(packet)
            } else {
                Err(EngineError::malformed(format!("packet type {kind} carries no data")))
            }
        };
        match kind {
            '0' => Ok(Packet::Open(data)),
            '1' => no_data(Packet::Close),
            '2' => heartbeat_data(data).map(Packet::Ping),
            '3' => heartbeat_data(data).map(Packet::Pong),
            '4' => Ok(Packet::Message(data)),
            '5' => no_data(Packet::Upgrade),
            '6' => no_data(Packet::Noop),
            'b' if base64_binary => BASE64
                .decode(data)
                .map(|bytes| Packet::Binary(Cow::Owned(bytes)))
                .map_err(|_| EngineError::malformed("binary packet is not valid base64")),
            other => Err(EngineError::malformed(format!("unknown packet type {other:?}"))),
        }
    }

    /// A packet from a WebSocket binary frame: always a binary message.
    pub fn decode_binary(bytes: &'a [u8]) -> Self {
        Packet::Binary(Cow::Borrowed(bytes))
    }

    /// Append the packet's text form (`b` + base64 for binary: the polling
    /// form) to `out`.
    pub fn encode_into(&self, out: &mut String) {
        match self {
            Packet::Open(json) => {
                out.push('0');
                out.push_str(json);
            }
            Packet::Close => out.push('1'),
            Packet::Ping(data) => {
                out.push('2');
                out.push_str(data);
            }
            Packet::Pong(data) => {
                out.push('3');
                out.push_str(data);
            }
            Packet::Message(text) => {
                out.push('4');
                out.push_str(text);
            }
            Packet::Binary(bytes) => {
                out.push('b');
                BASE64.encode_string(bytes, out);
            }
            Packet::Upgrade => out.push('5'),
            Packet::Noop => out.push('6'),
        }
    }

    /// The packet's text form (see [`Packet::encode_into`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }
}

/// Ping and pong carry nothing or `probe`.
fn heartbeat_data(data: &str) -> Result<&str, EngineError> {
    if data.is_empty() || data == PROBE {
        Ok(data)
    } else {
        Err(EngineError::malformed("ping and pong carry nothing or \"probe\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        for text in ["0{\"sid\":\"x\"}", "1", "2", "2probe", "3", "3probe", "4hello", "4", "5", "6", "bAQIDBA=="] {
            let packet = Packet::decode_text(text, true).unwrap();
            assert_eq!(packet.encode(), text);
        }
    }

    #[test]
    fn protocol_doc_vectors() {
        // engine.io-protocol README, "Packet encoding".
        assert_eq!(Packet::decode_text("4hello", false).unwrap(), Packet::Message("hello"));
        assert_eq!(Packet::decode_text("bAQIDBA==", true).unwrap(), Packet::Binary(Cow::Owned(vec![1, 2, 3, 4])));
        assert_eq!(Packet::decode_binary(&[1, 2, 3, 4]).encode(), "bAQIDBA==");
        assert_eq!(Packet::Pong(PROBE).encode(), "3probe");
    }

    #[test]
    fn refuses_malformed_packets() {
        for text in ["", "abc", "7", "9x", "1x", "5probe", "6 ", "2ping", "bAQIDBA==", "b!!"] {
            let base64 = text != "bAQIDBA==";
            assert!(Packet::decode_text(text, base64).is_err(), "{text:?}");
        }
    }

    #[test]
    fn unicode_message_data_is_kept() {
        assert_eq!(Packet::decode_text("4€ ü", false).unwrap(), Packet::Message("€ ü"));
        assert!(Packet::decode_text("€", false).is_err());
    }
}
