//! Socket.IO v5 packets as the default parser writes them:
//!
//! ```text
//! <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//! ```
//!
//! `type` is one digit (0 CONNECT … 6 BINARY_ACK), the namespace is
//! written only when it is not `/`. Each packet travels as the data of an
//! Engine.IO message (`4` + packet). Decoding is strict: whatever the
//! reference decoder (`socket.io-parser` 4.2) refuses is refused here too,
//! and a little more (ack ids on packets that have none, payloads the
//! protocol calls mandatory, namespaces outside a safe alphabet).

use serde_json::value::RawValue;

use super::PacketError;

/// Events a client may not send: the reference parser refuses them, and a
/// server must never send them as event names (the client would drop the
/// connection with a parse error).
pub const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

/// Longest namespace accepted, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 128;

/// Largest ack id accepted: JavaScript's largest safe integer.
pub const MAX_ACK_ID: u64 = (1 << 53) - 1;

/// The main namespace.
pub const MAIN_NAMESPACE: &str = "/";

/// The seven packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// `0`: connect to a namespace (client: auth object; server: `{sid, pid?}`).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event `[name, ...args]`.
    Event,
    /// `3`: the answer to an event with an ack id: `[...args]`.
    Ack,
    /// `4`: the namespace connection was refused: `{message, data?}`.
    ConnectError,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an ack with binary attachments.
    BinaryAck,
}

impl PacketKind {
    /// The type digit.
    pub const fn digit(self) -> char {
        match self {
            PacketKind::Connect => '0',
            PacketKind::Disconnect => '1',
            PacketKind::Event => '2',
            PacketKind::Ack => '3',
            PacketKind::ConnectError => '4',
            PacketKind::BinaryEvent => '5',
            PacketKind::BinaryAck => '6',
        }
    }

    fn from_digit(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => PacketKind::Connect,
            b'1' => PacketKind::Disconnect,
            b'2' => PacketKind::Event,
            b'3' => PacketKind::Ack,
            b'4' => PacketKind::ConnectError,
            b'5' => PacketKind::BinaryEvent,
            b'6' => PacketKind::BinaryAck,
            _ => return None,
        })
    }

    /// Whether binary attachments follow (types 5 and 6).
    pub const fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }

    /// Whether the packet may carry an ack id.
    const fn takes_ack_id(self) -> bool {
        matches!(self, PacketKind::Event | PacketKind::Ack | PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }
}

/// A Socket.IO packet, borrowed from the text it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The type.
    pub kind: PacketKind,
    /// Binary attachments that follow (types 5 and 6; else 0).
    pub attachments: usize,
    /// The namespace (`/` when absent).
    pub namespace: &'a str,
    /// The ack id.
    pub id: Option<u64>,
    /// The JSON payload, as it was written.
    pub data: Option<&'a str>,
}

/// Whether `ns` is a namespace this crate reads and writes: `/` then up to
/// [`MAX_NAMESPACE_LEN`] bytes of visible ASCII other than `,`.
pub fn valid_namespace(ns: &str) -> bool {
    ns.starts_with('/') && ns.len() <= MAX_NAMESPACE_LEN && ns.bytes().all(|b| b.is_ascii_graphic() && b != b',')
}

impl<'a> Packet<'a> {
    /// A packet on `namespace` without payload, ack id or attachments.
    pub fn new(kind: PacketKind, namespace: &'a str) -> Self {
        Packet { kind, attachments: 0, namespace, id: None, data: None }
    }

    /// Decode one packet (the data of an Engine.IO text message). Binary
    /// packets announcing more than `max_attachments` are refused.
    pub fn decode(text: &'a str, max_attachments: usize) -> Result<Self, PacketError> {
        let bytes = text.as_bytes();
        let kind = bytes.first().and_then(|b| PacketKind::from_digit(*b)).ok_or(PacketError::UnknownType)?;
        let mut i = 1;
        let mut attachments = 0;
        if kind.is_binary() {
            let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 || bytes.get(i + digits) != Some(&b'-') {
                return Err(PacketError::IllegalAttachments);
            }
            attachments = text[i..i + digits].parse::<usize>().map_err(|_| PacketError::IllegalAttachments)?;
            if attachments > max_attachments {
                return Err(PacketError::TooManyAttachments { count: attachments, max: max_attachments });
            }
            i += digits + 1;
        }
        let mut namespace = MAIN_NAMESPACE;
        if bytes.get(i) == Some(&b'/') {
            let end = text[i..].find(',').map_or(text.len(), |n| i + n);
            namespace = &text[i..end];
            if !valid_namespace(namespace) {
                return Err(PacketError::BadNamespace);
            }
            i = if end < text.len() { end + 1 } else { end };
        }
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let id = if digits > 0 {
            let id = text[i..i + digits].parse::<u64>().ok().filter(|id| *id <= MAX_ACK_ID);
            i += digits;
            Some(id.ok_or(PacketError::BadAckId)?)
        } else {
            None
        };
        let data = (i < text.len()).then(|| &text[i..]);
        let packet = Packet { kind, attachments, namespace, id, data };
        packet.validate()?;
        Ok(packet)
    }

    fn validate(&self) -> Result<(), PacketError> {
        if self.id.is_some() && !self.kind.takes_ack_id() {
            return Err(PacketError::invalid(self.kind, "this packet type has no ack id"));
        }
        let value = match self.data {
            None => None,
            Some(text) => Some(serde_json::from_str::<serde_json::Value>(text).map_err(|_| PacketError::InvalidJson)?),
        };
        use serde_json::Value;
        match (self.kind, &value) {
            (PacketKind::Connect, None | Some(Value::Object(_))) => Ok(()),
            (PacketKind::Connect, _) => Err(PacketError::invalid(self.kind, "the payload must be an object")),
            (PacketKind::Disconnect, None) => Ok(()),
            (PacketKind::Disconnect, _) => Err(PacketError::invalid(self.kind, "DISCONNECT has no payload")),
            (PacketKind::ConnectError, Some(Value::Object(_) | Value::String(_))) => Ok(()),
            (PacketKind::ConnectError, _) => {
                Err(PacketError::invalid(self.kind, "the payload must be an object or a string"))
            }
            (PacketKind::Event | PacketKind::BinaryEvent, Some(Value::Array(args))) => match args.first() {
                Some(Value::Number(_)) => Ok(()),
                Some(Value::String(name)) if !RESERVED_EVENTS.contains(&name.as_str()) => Ok(()),
                Some(Value::String(name)) => {
                    Err(PacketError::invalid(self.kind, format!("{name:?} is a reserved event name")))
                }
                _ => Err(PacketError::invalid(self.kind, "the payload must start with the event name")),
            },
            (PacketKind::Event | PacketKind::BinaryEvent, _) => {
                Err(PacketError::invalid(self.kind, "the payload must be an array [name, ...args]"))
            }
            (PacketKind::Ack | PacketKind::BinaryAck, Some(Value::Array(_))) if self.id.is_some() => Ok(()),
            (PacketKind::Ack | PacketKind::BinaryAck, _) => {
                Err(PacketError::invalid(self.kind, "an ack needs an id and an array payload"))
            }
        }
    }

    /// The event name and arguments of an EVENT or BINARY_EVENT packet
    /// (arguments as raw JSON, placeholders left in place).
    pub fn event(&self) -> Result<(String, Vec<&'a RawValue>), PacketError> {
        if !matches!(self.kind, PacketKind::Event | PacketKind::BinaryEvent) {
            return Err(PacketError::invalid(self.kind, "not an event"));
        }
        let text = self.data.ok_or_else(|| PacketError::invalid(self.kind, "no payload"))?;
        let mut items: Vec<&'a RawValue> = serde_json::from_str(text).map_err(|_| PacketError::InvalidJson)?;
        if items.is_empty() {
            return Err(PacketError::invalid(self.kind, "no event name"));
        }
        let name: String = serde_json::from_str(items.remove(0).get())
            .map_err(|_| PacketError::invalid(self.kind, "the event name must be a string"))?;
        Ok((name, items))
    }

    /// Append the packet's text to `out`.
    pub fn encode_into(&self, out: &mut String) {
        out.push(self.kind.digit());
        if self.kind.is_binary() {
            out.push_str(&self.attachments.to_string());
            out.push('-');
        }
        if self.namespace != MAIN_NAMESPACE {
            out.push_str(self.namespace);
            out.push(',');
        }
        if let Some(id) = self.id {
            out.push_str(&id.to_string());
        }
        if let Some(data) = self.data {
            out.push_str(data);
        }
    }

    /// The packet's text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }

    /// The packet as an Engine.IO message text (`4` + packet).
    pub fn encode_message(&self) -> String {
        let mut out = String::from("4");
        self.encode_into(&mut out);
        out
    }
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;
