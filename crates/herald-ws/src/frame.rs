//! Building complete server frames (RFC 6455 section 5.2) as shareable
//! [`Bytes`].
//!
//! Server frames are never masked. Each builder makes exactly one
//! allocation, sized for header plus payload, so the resulting frame can be
//! cloned cheaply into any number of connection queues.

use bytes::{BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, FlushCompress};

use crate::handshake::DeflateConfig;

/// Opcode of a continuation frame.
pub const OP_CONTINUATION: u8 = 0x0;
/// Opcode of a text frame.
pub const OP_TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Opcode of a ping frame.
pub const OP_PING: u8 = 0x9;
/// Opcode of a pong frame.
pub const OP_PONG: u8 = 0xA;

/// Largest payload of a control frame (close, ping, pong).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// Largest close reason: a control payload minus the 2-byte status code.
pub const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;
/// Trailer that a sync flush appends and RFC 7692 section 7.2.1 removes.
pub(crate) const DEFLATE_TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Encodes a frame header into `out` and returns its length (2 to 14
/// bytes). `mask` is only given by the client role.
pub(crate) fn encode_header(
    out: &mut [u8; 14],
    fin: bool,
    rsv1: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: usize,
) -> usize {
    out[0] = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | (opcode & 0x0f);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut n = if len < 126 {
        out[1] = mask_bit | len as u8;
        2
    } else if let Ok(short) = u16::try_from(len) {
        out[1] = mask_bit | 126;
        out[2..4].copy_from_slice(&short.to_be_bytes());
        4
    } else {
        out[1] = mask_bit | 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    if let Some(key) = mask {
        out[n..n + 4].copy_from_slice(&key);
        n += 4;
    }
    n
}

/// Builds one final, unmasked frame with a single allocation.
fn build(opcode: u8, rsv1: bool, payload: &[u8]) -> Bytes {
    let mut header = [0u8; 14];
    let n = encode_header(&mut header, true, rsv1, opcode, None, payload.len());
    let mut out = BytesMut::with_capacity(n + payload.len());
    out.put_slice(&header[..n]);
    out.put_slice(payload);
    out.freeze()
}

/// An uncompressed text frame. The caller guarantees `payload` is UTF-8
/// (it takes bytes so that already-serialised buffers need no conversion).
pub fn text(payload: &[u8]) -> Bytes {
    build(OP_TEXT, false, payload)
}

/// An uncompressed binary frame.
pub fn binary(payload: &[u8]) -> Bytes {
    build(OP_BINARY, false, payload)
}

/// A ping frame. Payloads longer than 125 bytes are truncated to 125.
pub fn ping(payload: &[u8]) -> Bytes {
    build(OP_PING, false, &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)])
}

/// A pong frame, normally echoing a ping's payload. Payloads longer than
/// 125 bytes are truncated to 125.
pub fn pong(payload: &[u8]) -> Bytes {
    build(OP_PONG, false, &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)])
}

/// A close frame with a status code and a reason truncated to 123 bytes on
/// a character boundary. The caller chooses a code that may be sent
/// (for example 1000, 1001, 1002, 1007, 1008, 1009, 1011 or 3000–4999).
pub fn close(code: u16, reason: &str) -> Bytes {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
    payload[..2].copy_from_slice(&code.to_be_bytes());
    payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
    build(OP_CLOSE, false, &payload[..2 + end])
}

/// Scratch capacity kept between messages; larger buffers are released.
const SCRATCH_KEEP: usize = 256 * 1024;

/// Builds permessage-deflate frames for the server side.
///
/// Holds one raw-deflate compressor and a scratch buffer, both reused for
/// every message. The compressor is reset before each message
/// (`server_no_context_takeover`), so a given payload always yields the
/// same bytes and one frame can be sent to every subscriber that
/// negotiated compression. Intended to live in the publishing path (one
/// per publisher task or thread), not one per connection.
pub struct FrameEncoder {
    compress: Compress,
    scratch: Vec<u8>,
    threshold: usize,
}

impl std::fmt::Debug for FrameEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEncoder").field("threshold", &self.threshold).finish_non_exhaustive()
    }
}

impl FrameEncoder {
    /// Creates an encoder with `cfg.level` (clamped to 9) and
    /// `cfg.threshold`. `cfg.enabled` is not consulted: whether a
    /// connection gets compressed frames is decided per connection.
    pub fn new(cfg: &DeflateConfig) -> Self {
        Self {
            compress: Compress::new(Compression::new(cfg.level.min(9)), false),
            scratch: Vec::new(),
            threshold: cfg.threshold,
        }
    }

    /// A text frame compressed with permessage-deflate (RSV1 set).
    ///
    /// Falls back to an uncompressed frame when the payload is below the
    /// threshold or compression would not make it smaller.
    pub fn text_deflated(&mut self, payload: &[u8]) -> Bytes {
        self.deflated(OP_TEXT, payload)
    }

    /// A binary frame compressed with permessage-deflate (RSV1 set), with
    /// the same fallback rules as [`FrameEncoder::text_deflated`].
    pub fn binary_deflated(&mut self, payload: &[u8]) -> Bytes {
        self.deflated(OP_BINARY, payload)
    }

    fn deflated(&mut self, opcode: u8, payload: &[u8]) -> Bytes {
        if payload.len() < self.threshold || payload.is_empty() {
            return build(opcode, false, payload);
        }
        let frame = match self.compress_message(payload) {
            Some(n) if n < payload.len() => build(opcode, true, &self.scratch[..n]),
            _ => build(opcode, false, payload),
        };
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch = Vec::new();
        }
        frame
    }

    /// Compresses one whole message into `scratch` with a sync flush and
    /// returns the length without the 00 00 ff ff trailer.
    fn compress_message(&mut self, payload: &[u8]) -> Option<usize> {
        self.compress.reset();
        self.scratch.clear();
        self.scratch.reserve(payload.len() / 2 + 64);
        let mut consumed = 0;
        loop {
            if self.scratch.len() == self.scratch.capacity() {
                self.scratch.reserve(self.scratch.capacity().max(1024));
            }
            let before = self.compress.total_in();
            self.compress.compress_vec(&payload[consumed..], &mut self.scratch, FlushCompress::Sync).ok()?;
            consumed += (self.compress.total_in() - before) as usize;
            if consumed == payload.len() && self.scratch.len() < self.scratch.capacity() {
                break;
            }
        }
        let out = &self.scratch[..];
        Some(match out.strip_suffix(&DEFLATE_TRAILER) {
            Some(stripped) => stripped.len(),
            None => out.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_length_forms() {
        let mut h = [0u8; 14];
        assert_eq!(encode_header(&mut h, true, false, OP_TEXT, None, 125), 2);
        assert_eq!(&h[..2], &[0x81, 125]);
        assert_eq!(encode_header(&mut h, true, true, OP_TEXT, None, 126), 4);
        assert_eq!(&h[..4], &[0xc1, 126, 0, 126]);
        assert_eq!(encode_header(&mut h, false, false, OP_BINARY, None, 65536), 10);
        assert_eq!(&h[..10], &[0x02, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
        let n = encode_header(&mut h, true, false, OP_PING, Some([1, 2, 3, 4]), 3);
        assert_eq!(&h[..n], &[0x89, 0x83, 1, 2, 3, 4]);
    }

    #[test]
    fn rfc_unmasked_hello() {
        assert_eq!(&text(b"Hello")[..], &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    }

    #[test]
    fn close_reason_truncates_on_char_boundary() {
        let reason = "é".repeat(100); // 200 bytes, 2 bytes per char
        let f = close(1000, &reason);
        assert_eq!(f[1] as usize, 2 + 122);
        assert_eq!(&f[2..4], &1000u16.to_be_bytes());
        assert!(std::str::from_utf8(&f[4..]).is_ok());
        assert_eq!(close(1001, "bye").len(), 2 + 2 + 3);
    }

    #[test]
    fn control_payloads_are_capped() {
        assert_eq!(ping(&[7u8; 300]).len(), 2 + 125);
        assert_eq!(pong(b"abc")[..], [0x8a, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn deflated_frames_are_deterministic_and_fall_back() {
        let mut enc = FrameEncoder::new(&DeflateConfig { enabled: true, threshold: 16, level: 6 });
        let payload = "hello hello hello hello hello hello".repeat(50);
        let a = enc.text_deflated(payload.as_bytes());
        let b = enc.text_deflated(payload.as_bytes());
        assert_eq!(a, b);
        assert_eq!(a[0], 0xc1, "FIN + RSV1 + text");
        assert!(a.len() < payload.len());
        let small = enc.text_deflated(b"tiny");
        assert_eq!(small, text(b"tiny"));
        assert_eq!(enc.binary_deflated(&[]), binary(&[]));
    }
}
