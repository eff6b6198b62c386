//! Socket.IO v5 (socket.io 3 and 4): packets on top of Engine.IO messages.
//! Spec: <https://github.com/socketio/socket.io-protocol>; behaviour
//! checked against the reference parser (`socket.io-parser` 4.2).

pub mod binary;
pub mod packet;
pub mod server;

pub use binary::{Assembler, BinaryPacket, reconstruct};
pub use packet::{MAIN_NAMESPACE, Packet, PacketKind, RESERVED_EVENTS};

/// Default most binary attachments one packet may announce (socket.io-parser's `maxAttachments`).
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// Why a Socket.IO packet is refused. Any of these ends the Engine.IO
/// session (the reference server closes the connection on a parse error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The first character is not a packet type 0–6.
    #[error("unknown packet type")]
    UnknownType,
    /// A binary packet without a valid `<count>-` prefix, or a placeholder
    /// that names no attachment.
    #[error("illegal attachments")]
    IllegalAttachments,
    /// More attachments announced than the limit.
    #[error("too many attachments: {count} (at most {max})")]
    TooManyAttachments {
        /// Announced.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A namespace outside `/` + visible ASCII without `,`, or too long.
    #[error("invalid namespace")]
    BadNamespace,
    /// An ack id that is not an integer up to 2^53 − 1.
    #[error("invalid ack id")]
    BadAckId,
    /// The payload is not JSON.
    #[error("the payload is not valid JSON")]
    InvalidJson,
    /// The payload does not fit the packet type.
    #[error("invalid {kind:?} packet: {why}")]
    InvalidPayload {
        /// The packet type.
        kind: PacketKind,
        /// What is wrong.
        why: String,
    },
    /// A text packet while attachments were expected, or an attachment
    /// while none were.
    #[error("unexpected {0}")]
    UnexpectedFrame(&'static str),
}

impl PacketError {
    fn invalid(kind: PacketKind, why: impl Into<String>) -> Self {
        PacketError::InvalidPayload { kind, why: why.into() }
    }
}
