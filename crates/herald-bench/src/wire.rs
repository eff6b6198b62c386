//! The load generator's side of the wire: a lean WebSocket client
//! connection (handshake, masked text frames, in-place frame parsing) and
//! the dialects the targets speak: Herald's native JSON frames, Socket.IO 4
//! (Engine.IO v4 over a WebSocket-only transport) and Pusher protocol 7.
//!
//! Every subscriber is one of these, so it costs one socket, one read
//! buffer and no task of its own (see [`crate::subscribers`]).

use std::io;
use std::net::{IpAddr, SocketAddr};

use bytes::{Buf, Bytes, BytesMut};
use herald_ws::client::encode_frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The channel every single-channel scenario uses.
pub const CHANNEL: &str = "bench";

/// The name of channel `i` of a many-channel run (`bench`, `bench-1`, …).
pub fn channel_name(i: usize) -> String {
    if i == 0 { CHANNEL.to_string() } else { format!("{CHANNEL}-{i}") }
}

/// Which protocol a target speaks over its WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Dialect {
    /// Herald's native protocol subset: `connect`, `subscribe`, `publish`,
    /// `publication` pushes, `ping`/`pong`. Spoken by herald, raw and ws.
    Native,
    /// Socket.IO 4: `40` to join the default namespace, events
    /// `subscribe` (acknowledged), `publish`, and `publication` pushes.
    SocketIo,
    /// Pusher Channels protocol 7 as pusher-js 8 speaks it, on a public
    /// channel: `pusher:subscribe`, `pusher:ping`/`pusher:pong`, events whose
    /// `data` is a JSON-encoded string. Publishing goes through Pusher's
    /// signed HTTP API ([`crate::pusher_api`]), not the socket.
    Pusher,
    /// Herald's Socket.IO door (`docs/socketio.md`): `40`, then the event
    /// `subscribe` with `{channel}` (acknowledged), `publish` with
    /// `{channel, data}` (no ack asked, as for the Node peer), and
    /// publications arriving as `42["message", data, meta]`.
    HeraldSocketIo,
    /// Supabase Realtime through Herald's Supabase door ([`crate::phoenix`]):
    /// subscribers and the publisher join `realtime:{channel}`, the publisher
    /// sends client broadcasts.
    Supabase,
    /// Ably through Herald's Ably door, JSON format ([`crate::ably`]).
    Ably,
}

impl Dialect {
    /// The HTTP path of the WebSocket endpoint.
    pub fn path(self) -> &'static str {
        match self {
            Dialect::Native => "/ws",
            Dialect::SocketIo | Dialect::HeraldSocketIo => "/socket.io/?EIO=4&transport=websocket",
            Dialect::Supabase => crate::phoenix::PATH,
            Dialect::Ably => crate::ably::PATH,
            // The key is `pusher_api::APP_KEY` (a test checks they agree).
            Dialect::Pusher => "/app/herald-bench-key?protocol=7&client=js&version=8.4.0&flash=false",
        }
    }
}

/// What one received text frame meant.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A publication carrying the generator's stamps (send time, scheduled time).
    Publication { sent_ns: u64, sched_ns: u64 },
    /// Anything else (replies, pings already answered).
    Other,
}

/// One client connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    seed: u32,
    /// Stamps parsed by the last [`Conn::read_batch`].
    pub stamps: Vec<(u64, u64)>,
    /// The channel number this connection subscribed to (see [`channel_name`]).
    pub channel: usize,
}

/// Opens a TCP connection from `source` (any port) and performs the
/// WebSocket handshake on `path`.
pub async fn open(server: SocketAddr, source: IpAddr, path: &str) -> io::Result<Conn> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let mut stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    let mut buf = BytesMut::with_capacity(4096);
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 || stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::other("connection closed during the WebSocket handshake"));
        }
    };
    if !buf.starts_with(b"HTTP/1.1 101") {
        let head = String::from_utf8_lossy(&buf[..end.min(200)]).into_owned();
        return Err(io::Error::other(format!("handshake refused: {head}")));
    }
    buf.advance(end);
    let seed = 0x9e37_79b9 ^ source_port_hint(&stream);
    Ok(Conn { stream, buf, seed, stamps: Vec::new(), channel: 0 })
}

fn source_port_hint(s: &TcpStream) -> u32 {
    s.local_addr().map_or(1, |a| u32::from(a.port()) | 1)
}

/// Parses one frame header at the front of `buf`: (fin, opcode, header
/// length, payload length), or `None` when more bytes are needed.
fn parse_header(buf: &[u8]) -> io::Result<Option<(bool, u8, usize, usize)>> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b1 & 0x80 != 0 {
        return Err(io::Error::other("server frame is masked"));
    }
    let (hl, len) = match b1 & 0x7f {
        126 if buf.len() >= 4 => (4, usize::from(u16::from_be_bytes([buf[2], buf[3]]))),
        127 if buf.len() >= 10 => {
            let mut be = [0u8; 8];
            be.copy_from_slice(&buf[2..10]);
            (10, usize::try_from(u64::from_be_bytes(be)).map_err(io::Error::other)?)
        }
        126 | 127 => return Ok(None),
        n => (2, usize::from(n)),
    };
    if buf.len() < hl + len {
        return Ok(None);
    }
    Ok(Some((b0 & 0x80 != 0, b0 & 0x0f, hl, len)))
}

/// Finds `"key":` in `hay` and parses the unsigned integer after it.
pub fn find_u64(hay: &[u8], key: &[u8]) -> Option<u64> {
    let at = hay.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = hay[at..].iter().take_while(|b| b.is_ascii_digit());
    let mut n: u64 = 0;
    let mut any = false;
    for d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        any = true;
    }
    any.then_some(n)
}

impl Conn {
    fn next_mask(&mut self) -> [u8; 4] {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 17;
        self.seed ^= self.seed << 5;
        self.seed.to_ne_bytes()
    }

    /// Sends one masked frame.
    pub async fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mask = self.next_mask();
        let frame = encode_frame(true, false, opcode, Some(mask), payload);
        self.stream.write_all(&frame).await
    }

    /// Sends one masked text frame.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(0x1, text.as_bytes()).await
    }

    /// Reads more bytes into the buffer; cancel-safe. `Ok(0)` on EOF.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < 2048 {
            self.buf.reserve(8192);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    /// Takes the next complete frame from the buffer: (opcode, payload).
    pub fn take_frame(&mut self) -> io::Result<Option<(u8, Bytes)>> {
        let Some((fin, opcode, hl, len)) = parse_header(&self.buf)? else {
            return Ok(None);
        };
        if !fin {
            return Err(io::Error::other("fragmented server messages are not expected by the generator"));
        }
        self.buf.advance(hl);
        Ok(Some((opcode, self.buf.split_to(len).freeze())))
    }

    /// Reads until a text frame satisfies `pred`, answering pings on the
    /// way. Used during set-up, not on the measured path.
    pub async fn wait_for(&mut self, dialect: Dialect, pred: impl Fn(&[u8]) -> bool) -> io::Result<Bytes> {
        loop {
            while let Some((op, payload)) = self.take_frame()? {
                if op == 0x1 && pred(&payload) {
                    return Ok(payload);
                }
                self.answer(dialect, op, &payload).await?;
            }
            if self.read_more().await? == 0 {
                return Err(io::Error::other("connection closed during set-up"));
            }
        }
    }

    /// Answers keep-alives: WebSocket pings, native `ping` pushes,
    /// Engine.IO pings. Returns an error on a close frame.
    async fn answer(&mut self, dialect: Dialect, op: u8, payload: &[u8]) -> io::Result<Incoming> {
        match op {
            0x9 => self.send(0xA, payload).await?,
            0x8 => return Err(io::Error::other(format!("server closed: {:?}", close_code(payload)))),
            0x1 => match dialect {
                Dialect::Native => {
                    if let Some(stamps) = publication(payload) {
                        return Ok(stamps);
                    }
                    if payload.starts_with(b"{\"push\":\"ping\"") {
                        self.send_text("{\"op\":\"pong\"}").await?;
                    }
                }
                Dialect::SocketIo | Dialect::HeraldSocketIo => {
                    let event: &[u8] =
                        if dialect == Dialect::SocketIo { b"42[\"publication\"" } else { b"42[\"message\"" };
                    if payload.starts_with(event) {
                        if let Some(stamps) = publication(payload) {
                            return Ok(stamps);
                        }
                    } else if payload == b"2" {
                        self.send_text("3").await?;
                    }
                }
                Dialect::Ably => {
                    if crate::ably::is_message(payload)
                        && let Some(stamps) = pusher_publication(payload)
                    {
                        return Ok(stamps);
                    }
                }
                Dialect::Supabase => {
                    if crate::phoenix::is_broadcast(payload)
                        && let Some(stamps) = publication(payload)
                    {
                        return Ok(stamps);
                    }
                }
                Dialect::Pusher => {
                    if let Some(stamps) = pusher_publication(payload) {
                        return Ok(stamps);
                    }
                    if contains(payload, b"\"event\":\"pusher:ping\"") {
                        self.send_text("{\"event\":\"pusher:pong\",\"data\":{}}").await?;
                    }
                }
            },
            _ => {}
        }
        Ok(Incoming::Other)
    }

    /// Waits for bytes, then handles every complete frame: keep-alives are
    /// answered and publication stamps are left in [`Conn::stamps`].
    /// Returns an error when the connection ends.
    pub async fn read_batch(&mut self, dialect: Dialect) -> io::Result<()> {
        self.stamps.clear();
        if self.read_more().await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        while let Some((op, payload)) = self.take_frame()? {
            if let Incoming::Publication { sent_ns, sched_ns } = self.answer(dialect, op, &payload).await? {
                self.stamps.push((sent_ns, sched_ns));
            }
        }
        Ok(())
    }

    /// Native set-up of a subscriber: `connect`, then `subscribe` (pipelined),
    /// waiting for the subscribe reply.
    pub async fn native_subscribe(&mut self, channel: &str) -> io::Result<()> {
        self.send_text("{\"id\":1,\"op\":\"connect\",\"client\":\"herald-bench\"}").await?;
        self.send_text(&format!("{{\"id\":2,\"op\":\"subscribe\",\"channel\":\"{channel}\"}}")).await?;
        let reply = self.wait_for(Dialect::Native, |p| p.starts_with(b"{\"id\":2")).await?;
        if reply.windows(8).any(|w| w == b"\"error\":") {
            return Err(io::Error::other(format!("subscribe refused: {}", String::from_utf8_lossy(&reply))));
        }
        Ok(())
    }

    /// Socket.IO set-up of a subscriber: wait for the Engine.IO open packet,
    /// join the default namespace, then emit `subscribe` with an ack.
    pub async fn socketio_join(&mut self, dialect: Dialect, subscribe: Option<&str>) -> io::Result<()> {
        self.wait_for(dialect, |p| p.starts_with(b"0{")).await?;
        self.send_text("40").await?;
        self.wait_for(dialect, |p| p.starts_with(b"40")).await?;
        if let Some(channel) = subscribe {
            let args = if dialect == Dialect::SocketIo {
                format!("\"{channel}\"")
            } else {
                format!("{{\"channel\":\"{channel}\"}}")
            };
            self.send_text(&format!("420[\"subscribe\",{args}]")).await?;
            let ack = self.wait_for(dialect, |p| p.starts_with(b"430")).await?;
            if contains(&ack, b"\"ok\":false") {
                return Err(io::Error::other(format!("subscribe refused: {}", String::from_utf8_lossy(&ack))));
            }
        }
        Ok(())
    }

    /// Pusher set-up: wait for `pusher:connection_established`, then, with a
    /// channel, send `pusher:subscribe` and wait for
    /// `pusher_internal:subscription_succeeded`. A `pusher:error` fails it.
    pub async fn pusher_join(&mut self, subscribe: Option<&str>) -> io::Result<()> {
        let pusher_error = |p: &[u8]| contains(p, b"\"event\":\"pusher:error\"");
        let refused =
            |what: &str, p: &[u8]| io::Error::other(format!("{what} refused: {}", String::from_utf8_lossy(p)));
        let established = self
            .wait_for(Dialect::Pusher, |p| {
                contains(p, b"\"event\":\"pusher:connection_established\"") || pusher_error(p)
            })
            .await?;
        if pusher_error(&established) {
            return Err(refused("connection", &established));
        }
        if let Some(channel) = subscribe {
            self.send_text(&format!("{{\"event\":\"pusher:subscribe\",\"data\":{{\"channel\":\"{channel}\"}}}}"))
                .await?;
            let reply = self
                .wait_for(Dialect::Pusher, |p| {
                    contains(p, b"\"event\":\"pusher_internal:subscription_succeeded\"") || pusher_error(p)
                })
                .await?;
            if pusher_error(&reply) {
                return Err(refused("subscribe", &reply));
            }
        }
        Ok(())
    }

    /// Sets up a subscriber of `channel` in `dialect`.
    pub async fn subscribe(&mut self, dialect: Dialect, channel: &str) -> io::Result<()> {
        match dialect {
            Dialect::Native => self.native_subscribe(channel).await,
            Dialect::SocketIo | Dialect::HeraldSocketIo => self.socketio_join(dialect, Some(channel)).await,
            Dialect::Supabase => self.phoenix_join(channel, 0).await,
            Dialect::Ably => self.ably_join(Some(channel)).await,
            Dialect::Pusher => self.pusher_join(Some(channel)).await,
        }
    }

    /// Sets up a publisher in `dialect` (connected, not subscribed).
    pub async fn publisher_setup(&mut self, dialect: Dialect) -> io::Result<()> {
        match dialect {
            Dialect::Native => {
                self.send_text("{\"id\":1,\"op\":\"connect\",\"client\":\"herald-bench-publisher\"}").await?;
                self.wait_for(Dialect::Native, |p| p.starts_with(b"{\"id\":1")).await.map(drop)
            }
            Dialect::SocketIo | Dialect::HeraldSocketIo => self.socketio_join(dialect, None).await,
            // Joins the topics it publishes to in `Publisher::run`, once it knows them.
            Dialect::Supabase => Ok(()),
            Dialect::Ably => self.ably_join(None).await,
            Dialect::Pusher => self.pusher_join(None).await,
        }
    }

    /// Handles frames buffered on the publisher's connection: answers
    /// keep-alives, and returns (replies, error replies) seen.
    pub async fn publisher_drain(&mut self, dialect: Dialect) -> io::Result<(u64, u64)> {
        let (mut replies, mut errors) = (0, 0);
        while let Some((op, payload)) = self.take_frame()? {
            self.answer(dialect, op, &payload).await?;
            if op == 0x1 && payload.starts_with(b"{\"id\":") {
                replies += 1;
                if payload.windows(8).any(|w| w == b"\"error\":") {
                    errors += 1;
                }
            }
        }
        Ok((replies, errors))
    }
}

/// The stamps of a publication frame, if it is one.
fn publication(payload: &[u8]) -> Option<Incoming> {
    let sent_ns = find_u64(payload, b"\"ts\":")?;
    let sched_ns = find_u64(payload, b"\"sch\":")?;
    Some(Incoming::Publication { sent_ns, sched_ns })
}

/// The stamps of a Pusher event frame (or an Ably MESSAGE), if it is one of the generator's.
/// The server sends `data` as a JSON-encoded string, so the stamps' keys
/// arrive escaped (`\"ts\":`); a server that relays the object as is is
/// read too.
fn pusher_publication(payload: &[u8]) -> Option<Incoming> {
    let stamp = |key: &[u8], escaped: &[u8]| find_u64(payload, escaped).or_else(|| find_u64(payload, key));
    let sent_ns = stamp(b"\"ts\":", b"\\\"ts\\\":")?;
    let sched_ns = stamp(b"\"sch\":", b"\\\"sch\\\":")?;
    Some(Incoming::Publication { sent_ns, sched_ns })
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn close_code(payload: &[u8]) -> Option<u16> {
    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))
}

/// Builds a publish frame's text carrying the stamps, padded so that the
/// `data` object is about `size` bytes. Publishes to `channel`. For Pusher
/// it is the body of a trigger request (`POST /apps/{id}/events`), event
/// `bench` with the object JSON-encoded into the `data` string.
pub fn publish_text(dialect: Dialect, channel: &str, id: u64, sent_ns: u64, sched_ns: u64, pad: &str) -> String {
    match dialect {
        Dialect::Native => format!(
            "{{\"id\":{id},\"op\":\"publish\",\"channel\":\"{channel}\",\
             \"data\":{{\"ts\":{sent_ns},\"sch\":{sched_ns},\"pad\":\"{pad}\"}}}}"
        ),
        Dialect::SocketIo | Dialect::HeraldSocketIo => format!(
            "42[\"publish\",{{\"channel\":\"{channel}\",\"data\":{{\"ts\":{sent_ns},\"sch\":{sched_ns},\"pad\":\"{pad}\"}}}}]"
        ),
        Dialect::Supabase => crate::phoenix::broadcast_text(channel, id, sent_ns, sched_ns, pad),
        Dialect::Ably => crate::ably::message_text(channel, id, sent_ns, sched_ns, pad),
        Dialect::Pusher => format!(
            "{{\"name\":\"bench\",\"channel\":\"{channel}\",\
             \"data\":\"{{\\\"ts\\\":{sent_ns},\\\"sch\\\":{sched_ns},\\\"pad\\\":\\\"{pad}\\\"}}\"}}"
        ),
    }
}

/// Padding that makes the `data` object about `size` bytes (the stamps
/// and keys take about 50).
pub fn padding(size: usize) -> String {
    "x".repeat(size.saturating_sub(50))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_stamps() {
        let p = br#"{"push":"publication","channel":"bench","offset":3,"time":1,"data":{"ts":123,"sch":45,"pad":""}}"#;
        assert_eq!(publication(p), Some(Incoming::Publication { sent_ns: 123, sched_ns: 45 }));
        assert_eq!(find_u64(b"{\"a\":x}", b"\"a\":"), None);
    }

    #[test]
    fn publish_text_is_json_and_sized() {
        let t = publish_text(Dialect::Native, CHANNEL, 7, 1_000_000_000_000, 999_999_999_999, &padding(100));
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        let data = serde_json::to_string(&v["data"]).unwrap();
        assert!((95..=110).contains(&data.len()), "{}", data.len());
        let s = publish_text(Dialect::SocketIo, CHANNEL, 7, 1, 2, "");
        let v: serde_json::Value = serde_json::from_str(&s[2..]).unwrap();
        assert_eq!(v[0], "publish");
    }

    #[test]
    fn pusher_trigger_body_carries_stamps_in_a_json_string() {
        let body = publish_text(Dialect::Pusher, CHANNEL, 7, 1_000_000_000_000, 999_999_999_999, &padding(100));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["name"], "bench");
        assert_eq!(v["channel"], CHANNEL);
        let data = v["data"].as_str().unwrap();
        assert!((95..=110).contains(&data.len()), "{}", data.len());
        let inner: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!((inner["ts"].as_u64(), inner["sch"].as_u64()), (Some(1_000_000_000_000), Some(999_999_999_999)));
    }

    #[test]
    fn pusher_events_and_pings() {
        // As a Pusher server sends an event: `data` is a JSON-encoded string.
        let frame = serde_json::json!({
            "event": "bench",
            "channel": CHANNEL,
            "data": "{\"ts\":123,\"sch\":45,\"pad\":\"xx\"}",
        })
        .to_string();
        let expected = Some(Incoming::Publication { sent_ns: 123, sched_ns: 45 });
        assert_eq!(pusher_publication(frame.as_bytes()), expected);
        // A server that relays the object unencoded.
        let raw = br#"{"event":"bench","channel":"bench","data":{"ts":123,"sch":45,"pad":""}}"#;
        assert_eq!(pusher_publication(raw), expected);
        let ping = br#"{"event":"pusher:ping","data":"{}"}"#;
        assert_eq!(pusher_publication(ping), None);
        assert!(contains(ping, b"\"event\":\"pusher:ping\""));
        assert!(Dialect::Pusher.path().starts_with(&format!("/app/{}?protocol=7&", crate::pusher_api::APP_KEY)));
    }

    #[test]
    fn header_parsing() {
        assert_eq!(parse_header(&[0x81, 3, b'a', b'b', b'c']).unwrap(), Some((true, 1, 2, 3)));
        assert_eq!(parse_header(&[0x81, 3, b'a']).unwrap(), None);
        assert_eq!(parse_header(&[0x81, 126, 0]).unwrap(), None);
        assert!(parse_header(&[0x81, 0x83]).is_err());
    }
}
