//! Reading and validating client frames (RFC 6455 section 5) and
//! decompressing permessage-deflate messages (RFC 7692).

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{WsError, is_valid_close_code};
use crate::frame::{MAX_CONTROL_PAYLOAD, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT};
use crate::handshake::DeflateParams;
use crate::inflate::Inflater;
use crate::mask::apply_mask;

/// Free space requested from the read buffer before a read starts at this
/// size and adapts: it doubles while reads fill it (a busy publisher) up to
/// [`MAX_READ_CHUNK`] and halves back while reads are small, so an idle
/// connection, which always has a read pending, holds about this much.
const MIN_READ_CHUNK: usize = 512;
/// Largest free space requested before one read.
const MAX_READ_CHUNK: usize = 16 * 1024;

/// Limits applied to incoming frames and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderConfig {
    /// Largest message, checked both on the bytes received (the sum of
    /// the frame payloads) and on the decompressed size.
    pub max_message_size: usize,
    /// Largest single frame payload. The read buffer may grow to this
    /// size (plus a 14-byte header) while a frame is being received.
    pub max_frame_size: usize,
}

impl Default for ReaderConfig {
    /// 1 MiB messages and frames.
    fn default() -> Self {
        Self { max_message_size: 1 << 20, max_frame_size: 1 << 20 }
    }
}

/// A complete message received from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message; the bytes were checked to be valid UTF-8.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping; the caller should answer with [`crate::frame::pong`].
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame with its status code and reason, if it had one. The
    /// caller should answer with a close frame and end the connection;
    /// the reader returns `Ok(None)` from then on.
    Close(Option<(u16, String)>),
}

/// Frame header fields the reader needs.
#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    mask: [u8; 4],
    header_len: usize,
    payload_len: usize,
}

/// A fragmented or compressed data message being assembled.
struct Partial {
    opcode: u8,
    compressed: bool,
    /// Payload bytes received so far, as sent on the wire.
    wire_len: usize,
    /// Reassembled (and, if compressed, decompressed) data.
    data: Vec<u8>,
}

/// Reads client messages from a byte stream.
///
/// Frames are parsed in place in a [`BytesMut`] read buffer. An
/// uncompressed single-frame message is returned without copying: the
/// unmasked payload is split off the read buffer. Fragmented messages are
/// copied once into an assembly buffer; compressed messages are inflated
/// incrementally with a size cap.
///
/// Because single-frame payloads share the read buffer's allocation
/// (up to 16 KiB), a caller that keeps a small message for long should
/// copy it (`Bytes::copy_from_slice`) rather than pin that allocation.
pub struct WsReader<R> {
    io: R,
    buf: BytesMut,
    cfg: ReaderConfig,
    deflate: Option<DeflateParams>,
    /// Created on the first compressed message.
    inflater: Option<Inflater>,
    partial: Option<Partial>,
    /// A close frame, an error or EOF was seen; nothing more is read.
    done: bool,
    /// Free space to request before the next read (adaptive).
    chunk: usize,
}

impl<R> std::fmt::Debug for WsReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsReader")
            .field("buffered", &self.buf.len())
            .field("cfg", &self.cfg)
            .field("deflate", &self.deflate)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<R: AsyncRead + Unpin> WsReader<R> {
    /// A reader over `io`. `deflate` is the permessage-deflate agreement
    /// from the handshake; without it, any frame with RSV1 set is a
    /// protocol error.
    pub fn new(io: R, cfg: ReaderConfig, deflate: Option<DeflateParams>) -> Self {
        Self::with_buffered(io, cfg, deflate, BytesMut::new())
    }

    /// Like [`WsReader::new`], for when bytes following the HTTP request
    /// were already read from `io` while parsing the handshake.
    pub fn with_buffered(io: R, cfg: ReaderConfig, deflate: Option<DeflateParams>, buffered: BytesMut) -> Self {
        Self { io, buf: buffered, cfg, deflate, inflater: None, partial: None, done: false, chunk: MIN_READ_CHUNK }
    }

    /// The next message, or `Ok(None)` once the client has closed the
    /// stream cleanly (between messages) or after a close frame.
    ///
    /// Cancel-safe: dropping the future loses no data, so it can be used
    /// in `tokio::select!`. After an error the connection must be closed
    /// (send [`WsError::close_frame`] if any); later calls return
    /// `Ok(None)`.
    pub async fn next(&mut self) -> Result<Option<Message>, WsError> {
        let result = self.next_inner().await;
        if result.is_err() {
            self.done = true;
        }
        result
    }

    async fn next_inner(&mut self) -> Result<Option<Message>, WsError> {
        while !self.done {
            let need = match self.parse_header()? {
                Some(h) if self.buf.len() >= h.header_len + h.payload_len => {
                    self.buf.advance(h.header_len);
                    let mut payload = self.buf.split_to(h.payload_len);
                    apply_mask(&mut payload, h.mask);
                    match self.on_frame(h, payload)? {
                        Some(msg) => return Ok(Some(msg)),
                        None => continue,
                    }
                }
                Some(h) => h.header_len + h.payload_len - self.buf.len(),
                None => 1,
            };
            let want = need.max(self.chunk);
            if self.buf.is_empty() && self.buf.capacity() > 2 * want {
                // Let go of a large buffer left by a burst before waiting idle.
                self.buf = BytesMut::new();
            }
            self.buf.reserve(want);
            let spare = self.buf.capacity() - self.buf.len();
            match self.io.read_buf(&mut self.buf).await? {
                0 => {
                    if !self.buf.is_empty() || self.partial.is_some() {
                        return Err(WsError::UnexpectedEof);
                    }
                    self.done = true;
                }
                n if n >= spare => self.chunk = (self.chunk * 2).min(MAX_READ_CHUNK),
                n if n < self.chunk / 4 => self.chunk = (self.chunk / 2).max(MIN_READ_CHUNK),
                _ => {}
            }
        }
        Ok(None)
    }

    /// Parses and validates the header at the front of the buffer;
    /// `Ok(None)` if it is not complete yet. Every check that can be made
    /// from the header is made here, before the payload is awaited.
    fn parse_header(&self) -> Result<Option<Header>, WsError> {
        let b = &self.buf[..];
        let [b0, b1, ..] = *b else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let rsv1 = b0 & 0x40 != 0;
        let opcode = b0 & 0x0f;
        let is_data = opcode == OP_TEXT || opcode == OP_BINARY;
        if b0 & 0x30 != 0 || (rsv1 && (self.deflate.is_none() || !is_data)) {
            return Err(WsError::ReservedBits);
        }
        let is_control = match opcode {
            OP_CONTINUATION | OP_TEXT | OP_BINARY => false,
            OP_CLOSE | OP_PING | OP_PONG => true,
            other => return Err(WsError::UnknownOpcode(other)),
        };
        if b1 & 0x80 == 0 {
            return Err(WsError::UnmaskedFrame);
        }
        let len7 = b1 & 0x7f;
        if is_control {
            if !fin {
                return Err(WsError::FragmentedControlFrame);
            }
            if usize::from(len7) > MAX_CONTROL_PAYLOAD {
                return Err(WsError::ControlFrameTooLong(u64::from(len7)));
            }
        } else if opcode == OP_CONTINUATION && self.partial.is_none() {
            return Err(WsError::UnexpectedContinuation);
        } else if is_data && self.partial.is_some() {
            return Err(WsError::ExpectedContinuation);
        }

        let (ext_len, len) = match len7 {
            126 => match b.get(2..4) {
                Some(&[hi, lo]) => (2, u64::from(u16::from_be_bytes([hi, lo]))),
                _ => return Ok(None),
            },
            127 => match b.get(2..10) {
                Some(raw) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(raw);
                    let len = u64::from_be_bytes(be);
                    if len >> 63 != 0 {
                        return Err(WsError::InvalidLength);
                    }
                    (8, len)
                }
                None => return Ok(None),
            },
            n => (0, u64::from(n)),
        };
        let max = self.cfg.max_frame_size;
        let payload_len = match usize::try_from(len) {
            Ok(n) if n <= max => n,
            _ => return Err(WsError::FrameTooBig { len, max }),
        };
        if !is_control {
            let so_far = self.partial.as_ref().map_or(0, |p| p.wire_len);
            if so_far.saturating_add(payload_len) > self.cfg.max_message_size {
                return Err(WsError::MessageTooBig { max: self.cfg.max_message_size });
            }
        }
        let header_len = 2 + ext_len + 4;
        let Some(raw_mask) = b.get(2 + ext_len..header_len) else {
            return Ok(None);
        };
        let mut mask = [0u8; 4];
        mask.copy_from_slice(raw_mask);
        Ok(Some(Header { fin, rsv1, opcode, mask, header_len, payload_len }))
    }

    /// Handles one complete, unmasked frame whose header already passed
    /// [`WsReader::parse_header`].
    fn on_frame(&mut self, h: Header, payload: BytesMut) -> Result<Option<Message>, WsError> {
        match h.opcode {
            OP_PING => return Ok(Some(Message::Ping(payload.freeze()))),
            OP_PONG => return Ok(Some(Message::Pong(payload.freeze()))),
            OP_CLOSE => {
                self.done = true;
                return parse_close(&payload).map(|c| Some(Message::Close(c)));
            }
            OP_TEXT | OP_BINARY if h.fin && !h.rsv1 => {
                // Fast path: the payload is the message, no copy.
                return data_message(h.opcode, payload.freeze()).map(Some);
            }
            OP_TEXT | OP_BINARY => {
                self.partial = Some(Partial { opcode: h.opcode, compressed: h.rsv1, wire_len: 0, data: Vec::new() });
            }
            _ => {}
        }
        let limit = self.cfg.max_message_size;
        let Some(partial) = self.partial.as_mut() else {
            return Err(WsError::UnexpectedContinuation);
        };
        partial.wire_len += payload.len();
        if partial.compressed {
            let client_resets = self.deflate.is_none_or(|params| params.client_no_context_takeover);
            let inflater = self.inflater.get_or_insert_with(|| Inflater::new(client_resets));
            inflater.inflate(&payload, &mut partial.data, limit)?;
            if h.fin {
                inflater.finish_message(&mut partial.data, limit)?;
            }
        } else {
            if partial.data.is_empty() && !h.fin {
                partial.data.reserve(payload.len().saturating_mul(2).min(limit));
            }
            partial.data.extend_from_slice(&payload);
        }
        if !h.fin {
            return Ok(None);
        }
        match self.partial.take() {
            Some(p) => data_message(p.opcode, Bytes::from(p.data)).map(Some),
            None => Ok(None),
        }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &R {
        &self.io
    }

    /// The underlying stream, mutably. Reading from it directly corrupts
    /// the frame stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.io
    }

    /// The underlying stream and any bytes read but not yet parsed.
    pub fn into_parts(self) -> (R, BytesMut) {
        (self.io, self.buf)
    }
}

/// Wraps a complete data payload, validating UTF-8 for text.
fn data_message(opcode: u8, data: Bytes) -> Result<Message, WsError> {
    if opcode == OP_TEXT {
        std::str::from_utf8(&data).map_err(|_| WsError::InvalidUtf8)?;
        Ok(Message::Text(data))
    } else {
        Ok(Message::Binary(data))
    }
}

/// Validates a close payload: empty, or a sendable code plus UTF-8 reason.
fn parse_close(payload: &[u8]) -> Result<Option<(u16, String)>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(WsError::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| WsError::InvalidUtf8)?;
            Ok(Some((code, reason.to_owned())))
        }
    }
}
