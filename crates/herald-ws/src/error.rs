//! Errors raised while reading client frames.

use std::io;

use bytes::Bytes;

/// Close code 1000: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code 1002: the peer violated the protocol.
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Close code 1006: the connection dropped; never sent in a close frame.
pub const CLOSE_ABNORMAL: u16 = 1006;
/// Close code 1007: a payload was inconsistent with its type (bad UTF-8,
/// corrupt compressed data).
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// Close code 1009: a frame or message exceeded the configured limits.
pub const CLOSE_TOO_BIG: u16 = 1009;

/// A failure while reading from a client. Every variant except
/// [`WsError::Io`] and [`WsError::UnexpectedEof`] is a protocol violation
/// after which the server should send a close frame with
/// [`WsError::close_code`] and drop the connection.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// Reading from the transport failed.
    #[error("reading from the connection failed: {0}")]
    Io(#[from] io::Error),
    /// The transport ended in the middle of a frame or fragmented message.
    #[error("the connection ended in the middle of a frame or a fragmented message")]
    UnexpectedEof,
    /// A client frame arrived without the mask bit.
    #[error("the client sent an unmasked frame; client frames must be masked")]
    UnmaskedFrame,
    /// RSV2/RSV3 set, or RSV1 set where permessage-deflate does not allow it.
    #[error(
        "the client set reserved bits (RSV1 is only allowed on the first frame of a \
         data message when permessage-deflate was negotiated)"
    )]
    ReservedBits,
    /// An opcode RFC 6455 does not define.
    #[error("the client used opcode {0:#x}, which is reserved")]
    UnknownOpcode(u8),
    /// A 64-bit payload length with the most significant bit set.
    #[error("the client sent a 64-bit frame length with its most significant bit set")]
    InvalidLength,
    /// A close, ping or pong frame longer than 125 bytes.
    #[error("the client sent a control frame of {0} bytes; the limit is 125")]
    ControlFrameTooLong(u64),
    /// A close, ping or pong frame without the FIN bit.
    #[error("the client fragmented a control frame, which is not allowed")]
    FragmentedControlFrame,
    /// A continuation frame with no fragmented message in progress.
    #[error("the client sent a continuation frame without starting a message")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished.
    #[error("the client started a new message before finishing its fragmented one")]
    ExpectedContinuation,
    /// A frame longer than [`crate::ReaderConfig::max_frame_size`].
    #[error("the client sent a frame of {len} bytes; the limit is {max}")]
    FrameTooBig {
        /// Declared payload length.
        len: u64,
        /// Configured limit.
        max: usize,
    },
    /// A message (compressed or decompressed) longer than
    /// [`crate::ReaderConfig::max_message_size`].
    #[error("the client sent a message larger than the limit of {max} bytes")]
    MessageTooBig {
        /// Configured limit.
        max: usize,
    },
    /// A text message, or a close reason, that is not UTF-8.
    #[error("the client sent text that is not valid UTF-8")]
    InvalidUtf8,
    /// A compressed message that does not inflate.
    #[error("the client sent compressed data that could not be decompressed")]
    InvalidCompressedData,
    /// A close frame with a 1-byte payload.
    #[error("the client sent a close frame with a 1-byte payload")]
    InvalidClosePayload,
    /// A close code that may not be sent on the wire.
    #[error("the client sent close code {0}, which may not be used")]
    InvalidCloseCode(u16),
}

impl WsError {
    /// The status code for the close frame the server should send in
    /// response: 1002 for protocol errors, 1007 for invalid payload data,
    /// 1009 for exceeded limits. [`WsError::Io`] and
    /// [`WsError::UnexpectedEof`] return 1006, which means the connection
    /// is gone and no close frame should be sent (see
    /// [`WsError::close_frame`]).
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::Io(_) | WsError::UnexpectedEof => CLOSE_ABNORMAL,
            WsError::UnmaskedFrame
            | WsError::ReservedBits
            | WsError::UnknownOpcode(_)
            | WsError::InvalidLength
            | WsError::ControlFrameTooLong(_)
            | WsError::FragmentedControlFrame
            | WsError::UnexpectedContinuation
            | WsError::ExpectedContinuation
            | WsError::InvalidClosePayload
            | WsError::InvalidCloseCode(_) => CLOSE_PROTOCOL_ERROR,
            WsError::InvalidUtf8 | WsError::InvalidCompressedData => CLOSE_INVALID_PAYLOAD,
            WsError::FrameTooBig { .. } | WsError::MessageTooBig { .. } => CLOSE_TOO_BIG,
        }
    }

    /// The close frame to send before dropping the connection, or `None`
    /// when the transport is already unusable.
    pub fn close_frame(&self) -> Option<Bytes> {
        match self.close_code() {
            CLOSE_ABNORMAL => None,
            code => Some(crate::frame::close(code, "")),
        }
    }
}

/// Whether `code` may appear in a close frame (RFC 6455 section 7.4 and
/// the IANA registry): 1000–1003, 1007–1014 and 3000–4999.
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_code_validity() {
        for ok in [1000, 1001, 1002, 1003, 1007, 1008, 1011, 1014, 3000, 4999] {
            assert!(is_valid_close_code(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535] {
            assert!(!is_valid_close_code(bad), "{bad}");
        }
    }

    #[test]
    fn close_frames() {
        assert!(WsError::UnexpectedEof.close_frame().is_none());
        let f = WsError::InvalidUtf8.close_frame();
        assert_eq!(f.as_deref(), Some(&[0x88, 2, 0x03, 0xef][..]));
    }
}
