//! `raw-server`: the practical ceiling. A broadcaster on the same
//! WebSocket stack as Herald (`herald-ws`: handshake negotiation, `WsReader`,
//! `WsWriter` with vectored batch writes, `frame::text` built once per
//! message and shared as `Bytes`), with a bounded queue per connection and
//! no features at all: no history, offsets only as a counter, no presence,
//! no auth, no pings.
//!
//! It speaks just enough of the native protocol for the load generator:
//! `connect` and `subscribe` get a reply, `publish` is broadcast as a
//! `publication` push to every subscriber of the channel and answered.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use herald_ws::handshake::{DeflateConfig, negotiate};
use herald_ws::{Message, ReaderConfig, WsReader, WsWriter, frame};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Frames queued per connection before it is cut as a slow consumer.
const QUEUE_FRAMES: usize = 4096;
/// Frames written per vectored batch.
const BATCH: usize = 256;

/// Subscribers by channel: connection id → queue.
type Registry = Mutex<HashMap<String, HashMap<u64, mpsc::Sender<Bytes>>>>;

struct State {
    channels: Registry,
    next_id: AtomicU64,
    offset: AtomicU64,
}

#[derive(Deserialize)]
struct Request<'a> {
    id: Option<u64>,
    op: &'a str,
    #[serde(borrow)]
    channel: Option<&'a str>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// Serves until the process is killed; prints `listening on ADDR` when ready.
pub async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let state =
        Arc::new(State { channels: Mutex::new(HashMap::new()), next_id: AtomicU64::new(1), offset: AtomicU64::new(0) });
    loop {
        let (stream, _) = listener.accept().await?;
        let state = state.clone();
        tokio::spawn(async move {
            let _ = connection(state, stream).await;
        });
    }
}

async fn read_head(stream: &mut TcpStream) -> io::Result<(HeaderMap, BytesMut)> {
    let mut buf = BytesMut::with_capacity(1024);
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 || stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::other("incomplete request head"));
        }
    };
    let head = buf.split_to(end);
    let text = std::str::from_utf8(&head).map_err(io::Error::other)?;
    let mut headers = HeaderMap::new();
    for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or_else(|| io::Error::other("malformed header"))?;
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(io::Error::other)?,
            HeaderValue::from_str(value.trim()).map_err(io::Error::other)?,
        );
    }
    Ok((headers, buf))
}

async fn connection(state: Arc<State>, mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (headers, leftover) = read_head(&mut stream).await?;
    let negotiated =
        negotiate(&headers, &DeflateConfig { enabled: false, ..Default::default() }).map_err(io::Error::other)?;
    let mut resp = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for (name, value) in &negotiated.response_headers() {
        resp.push_str(&format!("{name}: {}\r\n", value.to_str().map_err(io::Error::other)?));
    }
    resp.push_str("\r\n");
    stream.write_all(resp.as_bytes()).await?;

    let (rd, wr) = stream.into_split();
    let mut reader = WsReader::with_buffered(rd, ReaderConfig::default(), None, leftover);
    let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE_FRAMES);
    let writer = tokio::spawn(async move {
        let mut writer = WsWriter::new(wr);
        let mut batch = Vec::with_capacity(BATCH);
        while rx.recv_many(&mut batch, BATCH).await > 0 {
            if writer.write_frames(&batch).await.is_err() {
                break;
            }
            batch.clear();
        }
    });
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let mut subscribed: Vec<String> = Vec::new();
    while let Ok(Some(msg)) = reader.next().await {
        let text = match msg {
            Message::Text(t) => t,
            Message::Ping(p) => {
                let _ = tx.try_send(frame::pong(&p));
                continue;
            }
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(req) = serde_json::from_slice::<Request>(&text) else { continue };
        let reply = match (req.op, req.channel) {
            ("connect", _) => format!("{{\"id\":{},\"result\":{{\"client\":\"raw-{id}\"}}}}", req.id.unwrap_or(0)),
            ("subscribe", Some(ch)) => {
                state.channels.lock().expect("registry").entry(ch.to_string()).or_default().insert(id, tx.clone());
                subscribed.push(ch.to_string());
                let ch = serde_json::to_string(ch).unwrap_or_default();
                format!(
                    "{{\"id\":{},\"result\":{{\"channel\":{ch},\"epoch\":\"raw\",\"offset\":0}}}}",
                    req.id.unwrap_or(0)
                )
            }
            ("publish", Some(ch)) => {
                let offset = broadcast(&state, ch, req.data.map_or("null", |d| d.get()));
                format!("{{\"id\":{},\"result\":{{\"epoch\":\"raw\",\"offset\":{offset}}}}}", req.id.unwrap_or(0))
            }
            ("pong", _) => continue,
            _ => format!("{{\"id\":{},\"error\":{{\"code\":104,\"message\":\"unknown op\"}}}}", req.id.unwrap_or(0)),
        };
        if tx.try_send(frame::text(reply.as_bytes())).is_err() {
            break;
        }
    }
    {
        let mut channels = state.channels.lock().expect("registry");
        for ch in subscribed {
            if let Some(subs) = channels.get_mut(&ch) {
                subs.remove(&id);
            }
        }
    }
    drop(tx);
    let _ = writer.await;
    Ok(())
}

/// Builds the publication frame once and queues the same `Bytes` to every
/// subscriber; a full queue cuts that subscriber. Returns the offset.
fn broadcast(state: &State, channel: &str, data: &str) -> u64 {
    let offset = state.offset.fetch_add(1, Ordering::Relaxed) + 1;
    let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let ch = serde_json::to_string(channel).unwrap_or_default();
    let text =
        format!("{{\"push\":\"publication\",\"channel\":{ch},\"offset\":{offset},\"time\":{time},\"data\":{data}}}");
    let frame = frame::text(text.as_bytes());
    let mut channels = state.channels.lock().expect("registry");
    if let Some(subs) = channels.get_mut(channel) {
        subs.retain(|_, tx| tx.try_send(frame.clone()).is_ok());
    }
    offset
}
