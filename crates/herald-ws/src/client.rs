//! Client-role helpers for tests and benchmarks. **Not for production
//! use**: no handshake, few checks, allocations everywhere.
//!
//! [`TestClient`] sends masked (optionally compressed and fragmented)
//! client frames and reads server frames, so the server reader and writer
//! can be exercised over a real socket or `tokio::io::duplex`.

use std::io;

use bytes::{Buf, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::frame::{DEFLATE_TRAILER, OP_CONTINUATION, encode_header};
use crate::mask::apply_mask;

/// Builds one client frame. With `mask` the payload is masked as RFC 6455
/// requires of clients; without it the frame is (invalidly) unmasked.
pub fn encode_frame(fin: bool, rsv1: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 14];
    let n = encode_header(&mut header, fin, rsv1, opcode, mask, payload.len());
    let mut out = Vec::with_capacity(n + payload.len());
    out.extend_from_slice(&header[..n]);
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[n..], key);
    }
    out
}

/// Compresses a whole message as a permessage-deflate client with no
/// context takeover: raw deflate, sync flush, trailer removed.
pub fn deflate(payload: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        let done = c.total_in() as usize;
        if c.compress_vec(&payload[done..], &mut out, FlushCompress::Sync).is_err() {
            break;
        }
        if c.total_in() as usize == payload.len() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&DEFLATE_TRAILER) {
        out.truncate(out.len() - DEFLATE_TRAILER.len());
    }
    out
}

/// Decompresses a permessage-deflate message payload (the trailer is
/// appended here), without any size limit.
pub fn inflate(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut input = data.to_vec();
    input.extend_from_slice(&DEFLATE_TRAILER);
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity(data.len() * 4 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let done = d.total_in() as usize;
        d.decompress_vec(&input[done..], &mut out, FlushDecompress::Sync).map_err(io::Error::other)?;
        if d.total_in() as usize == input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
    }
}

/// One frame received from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFrame {
    /// FIN bit.
    pub fin: bool,
    /// RSV1 bit (compressed message).
    pub rsv1: bool,
    /// Opcode.
    pub opcode: u8,
    /// Payload as sent (server frames are unmasked).
    pub payload: Vec<u8>,
}

/// Parses one server frame from the front of `buf`: the frame and the
/// number of bytes it used, or `None` if more bytes are needed.
pub fn parse_server_frame(buf: &[u8]) -> io::Result<Option<(ServerFrame, usize)>> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b1 & 0x80 != 0 {
        return Err(io::Error::other("server frame is masked"));
    }
    let (ext, len) = match b1 & 0x7f {
        126 if buf.len() >= 4 => (2, usize::from(u16::from_be_bytes([buf[2], buf[3]]))),
        127 if buf.len() >= 10 => {
            let mut be = [0u8; 8];
            be.copy_from_slice(&buf[2..10]);
            let len = u64::from_be_bytes(be);
            (8, usize::try_from(len).map_err(io::Error::other)?)
        }
        126 | 127 => return Ok(None),
        n => (0, usize::from(n)),
    };
    let start = 2 + ext;
    let Some(payload) = buf.get(start..start + len) else {
        return Ok(None);
    };
    let frame = ServerFrame { fin: b0 & 0x80 != 0, rsv1: b0 & 0x40 != 0, opcode: b0 & 0x0f, payload: payload.to_vec() };
    Ok(Some((frame, start + len)))
}

/// A minimal WebSocket client over an already-upgraded stream.
#[derive(Debug)]
pub struct TestClient<S> {
    io: S,
    buf: BytesMut,
    seed: u32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> TestClient<S> {
    /// A client over `io` (no handshake is performed).
    pub fn new(io: S) -> Self {
        Self { io, buf: BytesMut::new(), seed: 0x9e37_79b9 }
    }

    /// A fresh pseudo-random masking key.
    fn next_mask(&mut self) -> [u8; 4] {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 17;
        self.seed ^= self.seed << 5;
        self.seed.to_ne_bytes()
    }

    /// Writes raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// Sends one masked frame.
    pub async fn send_frame(&mut self, fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mask = self.next_mask();
        let frame = encode_frame(fin, rsv1, opcode, Some(mask), payload);
        self.send_raw(&frame).await
    }

    /// Sends a data message, optionally compressed, split into frames of
    /// the given payload sizes (the last frame takes the remainder).
    pub async fn send_message(
        &mut self,
        opcode: u8,
        payload: &[u8],
        compress: bool,
        splits: &[usize],
    ) -> io::Result<()> {
        let body = if compress { deflate(payload) } else { payload.to_vec() };
        let mut rest = &body[..];
        let mut first = true;
        for &size in splits {
            if size >= rest.len() {
                break;
            }
            let op = if first { opcode } else { OP_CONTINUATION };
            self.send_frame(false, compress && first, op, &rest[..size]).await?;
            rest = &rest[size..];
            first = false;
        }
        let op = if first { opcode } else { OP_CONTINUATION };
        self.send_frame(true, compress && first, op, rest).await
    }

    /// Reads one server frame; `None` on EOF.
    pub async fn read_frame(&mut self) -> io::Result<Option<ServerFrame>> {
        loop {
            if let Some((frame, used)) = parse_server_frame(&self.buf)? {
                self.buf.advance(used);
                return Ok(Some(frame));
            }
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// Reads one message (reassembled and decompressed) as opcode and
    /// payload; control frames are returned as they come. `None` on EOF.
    pub async fn read_message(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        let Some(first) = self.read_frame().await? else {
            return Ok(None);
        };
        let (opcode, compressed, mut data, mut fin) = (first.opcode, first.rsv1, first.payload, first.fin);
        while !fin {
            let Some(next) = self.read_frame().await? else {
                return Err(io::ErrorKind::UnexpectedEof.into());
            };
            data.extend_from_slice(&next.payload);
            fin = next.fin;
        }
        if compressed {
            data = inflate(&data)?;
        }
        Ok(Some((opcode, data)))
    }

    /// The underlying stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }
}
