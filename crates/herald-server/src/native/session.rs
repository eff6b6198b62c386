//! One native-protocol connection: the `connect` handshake, then a read loop
//! that dispatches requests to the hub, a write loop that drains the
//! connection's outbound queue in batches, and application-level pings.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use herald_core::{
    Caller, Connection, ConnectionInit, DisconnectReason, ErrorCode, HeraldError, HistoryQuery, Identity, Payload,
    WireEncoder,
};
use herald_protocol::encode;
use herald_protocol::request::{Op, parse_request};
use herald_ws::frame;
use herald_ws::handshake::DeflateParams;
use herald_ws::reader::{Message, ReaderConfig, WsReader};
use herald_ws::writer::WsWriter;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use super::encoder::NativeEncoder;
use crate::app::App;

#[derive(Serialize)]
struct ConnectResult<'a> {
    client: &'a str,
    version: &'static str,
    ping_interval_ms: u64,
    pong_timeout_ms: u64,
}

/// Run a connection on an upgraded socket until it ends.
pub async fn run<S>(app: Arc<App>, io: S, deflate: Option<DeflateParams>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let cc = &app.config.connection;
    let (rd, wr) = tokio::io::split(io);
    let reader_cfg = ReaderConfig { max_message_size: cc.max_message_size, max_frame_size: cc.max_message_size };
    let mut reader = WsReader::new(rd, reader_cfg, deflate);
    let mut writer = WsWriter::new(wr);
    let encoder = if deflate.is_some() { app.native_deflate.clone() } else { app.native_plain.clone() };
    let write_timeout = Duration::from_secs(cc.write_timeout_secs.max(1));

    let (connect_id, identity) = match await_connect(&app, &mut reader, &mut writer, &encoder).await {
        Ok(c) => c,
        Err(Some(reason)) => {
            let frames = closing_frames(&encoder, reason);
            let _ = tokio::time::timeout(write_timeout, writer.write_frames(&frames)).await;
            return;
        }
        Err(None) => return,
    };

    let wire: Arc<dyn WireEncoder> = encoder.clone();
    let conn = app.hub.connect(ConnectionInit { identity, encoder: wire, queue: cc.queue });
    let span = tracing::info_span!("conn", id = %conn.id());
    let result = ConnectResult {
        client: conn.id(),
        version: env!("CARGO_PKG_VERSION"),
        ping_interval_ms: cc.ping_interval_secs * 1000,
        pong_timeout_ms: cc.pong_timeout_secs * 1000,
    };
    let _ = conn.outbound.push_frame(encoder.frame(&encode::reply(connect_id, &result)));
    tracing::debug!(parent: &span, "connected");

    let client_closed = Arc::new(AtomicBool::new(false));
    let mut writer_task = tokio::spawn(
        write_loop(conn.clone(), writer, encoder.clone(), write_timeout, client_closed.clone())
            .instrument(span.clone()),
    );
    let (end, writer_done) =
        read_loop(&app, &conn, &encoder, &mut reader, &mut writer_task).instrument(span.clone()).await;
    app.hub.disconnect(&conn);
    match end {
        Some(reason) => conn.outbound.close(reason, false),
        None => {
            client_closed.store(true, Ordering::Release);
            conn.outbound.close(DisconnectReason::Disconnected, false);
        }
    }
    if !writer_done && tokio::time::timeout(write_timeout, &mut writer_task).await.is_err() {
        writer_task.abort();
    }
    tracing::debug!(parent: &span, reason = ?end, "closed");
}

/// Wait for `connect`, answering other frames with errors. Returns the
/// request id and the authenticated identity, or the reason to close
/// (`None`: the peer left).
async fn await_connect<R, W>(
    app: &App,
    reader: &mut WsReader<R>,
    writer: &mut WsWriter<W>,
    encoder: &NativeEncoder,
) -> Result<(u64, Identity), Option<DisconnectReason>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let deadline = Instant::now() + Duration::from_secs(app.config.connection.connect_timeout_secs.max(1));
    loop {
        let msg = match tokio::time::timeout_at(deadline.into(), reader.next()).await {
            Err(_) => return Err(Some(DisconnectReason::ConnectTimeout)),
            Ok(Err(e)) => return Err(ws_error_reason(&e)),
            Ok(Ok(None)) => return Err(None),
            Ok(Ok(Some(m))) => m,
        };
        let reply = match msg {
            Message::Text(text) => {
                let text = std::str::from_utf8(&text).unwrap_or("");
                match parse_request(text) {
                    Ok(req) => match req.op {
                        Op::Connect { token, .. } => {
                            let id = req.id.ok_or(Some(DisconnectReason::ProtocolViolation))?;
                            match app.auth.authenticate(token.as_deref()) {
                                Ok(identity) => return Ok((id, identity)),
                                Err(e) => {
                                    let frames = [encoder.frame(&encode::reply_error(Some(id), &e))];
                                    let _ = writer.write_frames(&frames).await;
                                    return Err(Some(DisconnectReason::Unauthorized));
                                }
                            }
                        }
                        _ => encode::reply_error(
                            req.id,
                            &HeraldError::new(ErrorCode::NotConnected, "send \"connect\" first"),
                        ),
                    },
                    Err((id, e)) => encode::reply_error(id, &e),
                }
            }
            Message::Binary(_) => encode::reply_error(None, &binary_error()),
            Message::Ping(p) => {
                let _ = writer.write_frames(&[frame::pong(&p)]).await;
                continue;
            }
            Message::Pong(_) => continue,
            Message::Close(_) => return Err(None),
        };
        if writer.write_frames(&[encoder.frame(&reply)]).await.is_err() {
            return Err(None);
        }
    }
}

fn binary_error() -> HeraldError {
    HeraldError::new(ErrorCode::BinaryNotSupported, "binary frames are not part of the native protocol; send JSON text")
}

fn ws_error_reason(e: &herald_ws::WsError) -> Option<DisconnectReason> {
    e.close_frame()?;
    match e.close_code() {
        1009 => Some(DisconnectReason::MessageTooLarge),
        _ => Some(DisconnectReason::ProtocolViolation),
    }
}

/// The frames that end a connection: a `disconnect` push, then the close frame.
fn closing_frames(encoder: &NativeEncoder, reason: DisconnectReason) -> [Bytes; 2] {
    [encoder.frame(&encode::disconnect(reason)), frame::close(reason.code(), reason.message())]
}

async fn read_loop<R: AsyncRead + Unpin>(
    app: &App,
    conn: &Arc<Connection>,
    encoder: &NativeEncoder,
    reader: &mut WsReader<R>,
    writer_task: &mut tokio::task::JoinHandle<()>,
) -> (Option<DisconnectReason>, bool) {
    let cc = &app.config.connection;
    let ping_every = Duration::from_secs(cc.ping_interval_secs.max(1));
    let dead_after = ping_every + Duration::from_secs(cc.pong_timeout_secs.max(1));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let mut last_seen = Instant::now();
    loop {
        tokio::select! {
            msg = reader.next() => {
                let msg = match msg {
                    Ok(Some(m)) => m,
                    Ok(None) => return (None, false),
                    Err(e) => return (ws_error_reason(&e), false),
                };
                last_seen = Instant::now();
                metrics::counter!("herald_messages_received_total").increment(1);
                match msg {
                    Message::Text(text) => {
                        let text = std::str::from_utf8(&text).unwrap_or("");
                        handle_text(app, conn, encoder, text).await;
                    }
                    Message::Binary(_) => push(conn, encoder, &encode::reply_error(None, &binary_error())),
                    Message::Ping(p) => { let _ = conn.outbound.push_frame(frame::pong(&p)); }
                    Message::Pong(_) => {}
                    Message::Close(_) => return (None, false),
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > dead_after {
                    return (Some(DisconnectReason::PingTimeout), false);
                }
                push(conn, encoder, encode::PING.as_bytes());
            }
            _ = &mut *writer_task => return (conn.outbound.closed(), true),
        }
    }
}

fn push(conn: &Connection, encoder: &NativeEncoder, json: &[u8]) {
    let _ = conn.outbound.push_frame(encoder.frame(json));
}

async fn handle_text(app: &App, conn: &Arc<Connection>, encoder: &NativeEncoder, text: &str) {
    let req = match parse_request(text) {
        Ok(r) => r,
        Err((id, e)) => return push(conn, encoder, &encode::reply_error(id, &e)),
    };
    let id = req.id.unwrap_or(0);
    let hub = &app.hub;
    match req.op {
        Op::Pong => {}
        Op::Connect { .. } => push(
            conn,
            encoder,
            &encode::reply_error(req.id, &HeraldError::new(ErrorCode::AlreadyConnected, "already connected")),
        ),
        Op::Subscribe { channel, since } => {
            let span = tracing::debug_span!("subscribe", channel = %channel);
            match hub.subscribe(conn, channel.clone(), since).instrument(span).await {
                Ok(pending) => {
                    push(
                        conn,
                        encoder,
                        &encode::subscribe_result(id, &channel, &pending.top, pending.recovery.as_ref()),
                    );
                    pending.activate();
                }
                Err(e) => push(conn, encoder, &encode::reply_error(req.id, &e)),
            }
        }
        Op::Unsubscribe { channel } => match hub.unsubscribe(conn, &channel) {
            Ok(()) => push(conn, encoder, &encode::reply(id, &serde_json::json!({}))),
            Err(e) => push(conn, encoder, &encode::reply_error(req.id, &e)),
        },
        Op::Publish { channel, data, idempotency_key } => {
            let span = tracing::debug_span!("publish", channel = %channel);
            let key = idempotency_key.map(Arc::from);
            let result =
                hub.publish(Caller::Client(conn), channel, Payload::from_raw(data), key).instrument(span).await;
            match result {
                Ok(p) => push(
                    conn,
                    encoder,
                    &encode::reply(id, &serde_json::json!({ "epoch": p.epoch.as_str(), "offset": p.offset })),
                ),
                Err(e) => push(conn, encoder, &encode::reply_error(req.id, &e)),
            }
        }
        Op::History { channel, since, before, limit, direction } => {
            let query = HistoryQuery { since, before, limit, direction };
            match hub.history(Caller::Client(conn), &channel, query).await {
                Ok(page) => push(conn, encoder, &encode::history_result(id, &page)),
                Err(e) => push(conn, encoder, &encode::reply_error(req.id, &e)),
            }
        }
        Op::Presence { channel } => match hub.presence(Caller::Client(conn), &channel) {
            Ok(members) => push(conn, encoder, &encode::presence_result(id, &members)),
            Err(e) => push(conn, encoder, &encode::reply_error(req.id, &e)),
        },
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    conn: Arc<Connection>,
    mut writer: WsWriter<W>,
    encoder: Arc<NativeEncoder>,
    write_timeout: Duration,
    client_closed: Arc<AtomicBool>,
) {
    let mut batch = Vec::with_capacity(64);
    let mut frames: Vec<Bytes> = Vec::with_capacity(64);
    loop {
        match conn.outbound.next_batch(&mut batch).await {
            Ok(()) => {
                frames.extend(batch.drain(..).map(|o| o.frame));
                let n = frames.len() as u64;
                tokio::select! {
                    r = tokio::time::timeout(write_timeout, writer.write_frames(&frames)) => {
                        if !matches!(r, Ok(Ok(()))) {
                            conn.outbound.close(DisconnectReason::SlowConsumer, false);
                            return;
                        }
                        metrics::counter!("herald_frames_sent_total").increment(n);
                    }
                    // A blocked write is abandoned when the connection is cut.
                    _ = conn.outbound.aborted() => return,
                }
                frames.clear();
            }
            Err(reason) => {
                let frames: Vec<Bytes> = if client_closed.load(Ordering::Acquire) {
                    vec![frame::close(1000, "")]
                } else {
                    metrics::counter!("herald_disconnects_total", "reason" => reason.name()).increment(1);
                    closing_frames(&encoder, reason).to_vec()
                };
                let _ = tokio::time::timeout(write_timeout, writer.write_frames(&frames)).await;
                return;
            }
        }
    }
}
