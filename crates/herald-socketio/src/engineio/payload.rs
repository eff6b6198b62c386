//! HTTP long-polling payloads: packets joined by the record separator
//! `\x1e`, binary packets as `b` + base64 (Engine.IO v4 always uses base64
//! on polling, whatever the client supports).
//!
//! JSON never holds a raw `\x1e` (control characters are escaped inside
//! strings and are not whitespace), so a Socket.IO packet cannot contain
//! the separator as long as its namespace cannot (see
//! `socketio::packet::MAX_NAMESPACE_LEN` and the namespace rule).

use super::EngineError;
use super::packet::Packet;

/// The record separator between packets of a polling payload.
pub const SEPARATOR: char = '\x1e';

/// Decode a polling POST body. `max_payload` is the handshake's
/// `maxPayload`: a longer body is refused (HTTP 413) before any packet is
/// read. An empty body, an empty packet or a malformed one is refused as a
/// whole (the session must then be closed: Engine.IO's "parse error").
pub fn decode(body: &str, max_payload: usize) -> Result<Vec<Packet<'_>>, EngineError> {
    if body.len() > max_payload {
        return Err(EngineError::PayloadTooLarge { len: body.len(), max: max_payload });
    }
    body.split(SEPARATOR).map(|part| Packet::decode_text(part, true)).collect()
}

/// Encode packets as one polling response body.
pub fn encode<'p, 'a: 'p>(packets: impl IntoIterator<Item = &'p Packet<'a>>) -> String {
    let mut out = String::new();
    for (i, packet) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        packet.encode_into(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    #[test]
    fn protocol_doc_vectors() {
        // engine.io-protocol README: `4hello\x1e2\x1e4world` and `4hello\x1ebAQIDBA==`.
        let packets = decode("4hello\x1e2\x1e4world", 1000).unwrap();
        assert_eq!(packets, vec![Packet::Message("hello"), Packet::Ping(""), Packet::Message("world")]);
        assert_eq!(encode(&packets), "4hello\x1e2\x1e4world");
        let packets = decode("4hello\x1ebAQIDBA==", 1000).unwrap();
        assert_eq!(packets, vec![Packet::Message("hello"), Packet::Binary(Cow::Owned(vec![1, 2, 3, 4]))]);
        assert_eq!(encode(&packets), "4hello\x1ebAQIDBA==");
        // socket.io-protocol README, sample session, request n°5.
        let packets = decode("42[\"hello\"]\x1e42[\"world\"]", 1000).unwrap();
        assert_eq!(packets, vec![Packet::Message("2[\"hello\"]"), Packet::Message("2[\"world\"]")]);
    }

    #[test]
    fn max_payload_counts_bytes() {
        assert!(decode("4€", 4).is_ok());
        assert_eq!(decode("4€", 3).unwrap_err(), EngineError::PayloadTooLarge { len: 4, max: 3 });
    }

    #[test]
    fn one_bad_packet_refuses_the_payload() {
        for body in ["", "4a\x1e", "\x1e4a", "4a\x1ex", "abc"] {
            assert!(decode(body, 1000).is_err(), "{body:?}");
        }
    }
}
