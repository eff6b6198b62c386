//! One native-protocol connection: the `connect` handshake, then a read loop
//! that hands requests to the [`Dispatcher`], a write loop that drains the
//! connection's outbound queue in batches, application-level pings, and the
//! token's expiry (warn, then close with 4004 unless refreshed).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use herald_core::{
    Connection, ConnectionInit, DisconnectReason, ErrorCode, HeraldError, Identity, WireEncoder, now_ms,
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

use super::dispatch::{Dispatcher, Flow};
use super::encoder::NativeEncoder;
use crate::app::App;
use crate::limits::IpSlot;

#[derive(Serialize)]
struct ConnectResult<'a> {
    client: &'a str,
    version: &'static str,
    ping_interval_ms: u64,
    pong_timeout_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

/// Run a connection on an upgraded socket until it ends. `_slot` holds the
/// connection's place in its address's count.
pub async fn run<S>(app: Arc<App>, io: S, deflate: Option<DeflateParams>, _slot: IpSlot)
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

    let refused = |reason| closing_frames(&encoder, reason);
    let (connect_id, identity) = match await_connect(&app, &mut reader, &mut writer, &encoder).await {
        Ok(c) => c,
        Err(Some(reason)) => {
            let _ = tokio::time::timeout(write_timeout, writer.write_frames(&refused(reason))).await;
            let _ = writer.shutdown().await;
            linger(&mut reader).await;
            return;
        }
        Err(None) => return,
    };

    let wire: Arc<dyn WireEncoder> = encoder.clone();
    let conn = match app.hub.connect(ConnectionInit { identity, encoder: wire, queue: cc.queue }) {
        Ok(c) => c,
        Err(e) => {
            let mut frames = vec![encoder.frame(&encode::reply_error(Some(connect_id), &e))];
            frames.extend(refused(DisconnectReason::TooManyRequests));
            let _ = tokio::time::timeout(write_timeout, writer.write_frames(&frames)).await;
            let _ = writer.shutdown().await;
            linger(&mut reader).await;
            return;
        }
    };
    let span = tracing::info_span!("conn", id = %conn.id(), user = conn.user().map(|u| u.to_string()));
    let identity = conn.identity();
    let result = ConnectResult {
        client: conn.id(),
        version: env!("CARGO_PKG_VERSION"),
        ping_interval_ms: cc.ping_interval_secs * 1000,
        pong_timeout_ms: cc.pong_timeout_secs * 1000,
        user: conn.user().map(|u| &**u),
        expires_at: identity.expires_at_ms,
    };
    let _ = conn.outbound.push_frame(encoder.frame(&encode::reply(connect_id, &result)));
    tracing::debug!(parent: &span, "connected");

    let client_closed = Arc::new(AtomicBool::new(false));
    let mut writer_task = tokio::spawn(
        write_loop(conn.clone(), writer, encoder.clone(), write_timeout, client_closed.clone())
            .instrument(span.clone()),
    );
    // A signed-in user learns their unread notification count right after
    // the connect reply (which the writer is already sending).
    if let Err(e) = app.hub.greet(&conn).await {
        tracing::warn!(parent: &span, error = %e, "reading the unread count failed");
    }
    let dispatcher = Dispatcher {
        app: &app,
        conn: &conn,
        encoder: &encoder,
        limits: app.limits.for_connection(),
        documents: Default::default(),
    };
    let (end, writer_done) = read_loop(&dispatcher, &mut reader, &mut writer_task).instrument(span.clone()).await;
    app.hub.disconnect(&conn);
    match end {
        // Replies already queued (e.g. the errors that led to an abuse close) go out first.
        Some(reason) => conn.outbound.close(reason, true),
        None => {
            client_closed.store(true, Ordering::Release);
            conn.outbound.close(DisconnectReason::Disconnected, false);
        }
    }
    if !writer_done && tokio::time::timeout(write_timeout, &mut writer_task).await.is_err() {
        writer_task.abort();
    }
    if end.is_some() && conn.outbound.closed() != Some(DisconnectReason::SlowConsumer) {
        // The writer sent the close frame and FIN; read what the client still
        // sends until it closes too, so the kernel does not answer its unread
        // data with a reset that would discard our close frame.
        linger(&mut reader).await;
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
                                    return Err(Some(if e.code == ErrorCode::TokenExpired {
                                        DisconnectReason::TokenExpired
                                    } else {
                                        DisconnectReason::Unauthorized
                                    }));
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

/// How long a closing connection keeps reading (and discarding) client data.
const LINGER: Duration = Duration::from_secs(2);

/// Read and discard what a closing peer still sends, until its close frame
/// (or [`LINGER`]), so unread data does not turn our close into a reset.
pub async fn linger<R: AsyncRead + Unpin>(reader: &mut WsReader<R>) {
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(Some(m)) = reader.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
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
fn closing_frames(encoder: &NativeEncoder, reason: DisconnectReason) -> Vec<Bytes> {
    vec![encoder.frame(&encode::disconnect(reason)), frame::close(reason.code(), reason.message())]
}

/// When the token's expiry needs attention next: the warning, then the end.
struct Expiry {
    warn_at: Option<tokio::time::Instant>,
    end_at: Option<tokio::time::Instant>,
}

impl Expiry {
    fn of(conn: &Connection, refresh_before: Duration) -> Expiry {
        let Some(exp) = conn.identity().expires_at_ms else { return Expiry { warn_at: None, end_at: None } };
        let now = tokio::time::Instant::now();
        let left = Duration::from_millis(exp.saturating_sub(now_ms()));
        Expiry { warn_at: Some(now + left.saturating_sub(refresh_before)), end_at: Some(now + left) }
    }

    fn next(&self) -> Option<tokio::time::Instant> {
        self.warn_at.or(self.end_at)
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    d: &Dispatcher<'_>,
    reader: &mut WsReader<R>,
    writer_task: &mut tokio::task::JoinHandle<()>,
) -> (Option<DisconnectReason>, bool) {
    let cc = &d.app.config.connection;
    let ping_every = Duration::from_secs(cc.ping_interval_secs.max(1));
    let dead_after = ping_every + Duration::from_secs(cc.pong_timeout_secs.max(1));
    let refresh_before = Duration::from_secs(d.app.config.auth.refresh_before());
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let mut last_seen = Instant::now();
    let mut expiry = Expiry::of(d.conn, refresh_before);
    loop {
        let expiry_timer = async {
            match expiry.next() {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
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
                        match d.handle(text).await {
                            Flow::Continue => {}
                            Flow::Refreshed => expiry = Expiry::of(d.conn, refresh_before),
                            Flow::Abuse => return (Some(DisconnectReason::TooManyRequests), false),
                        }
                    }
                    Message::Binary(_) => d.push(&encode::reply_error(None, &binary_error())),
                    Message::Ping(p) => { let _ = d.conn.outbound.push_frame(frame::pong(&p)); }
                    Message::Pong(_) => {}
                    Message::Close(_) => return (None, false),
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > dead_after {
                    return (Some(DisconnectReason::PingTimeout), false);
                }
                d.push(encode::PING.as_bytes());
            }
            _ = expiry_timer => {
                if expiry.warn_at.take().is_some() {
                    let exp = d.conn.identity().expires_at_ms;
                    d.push(&encode::reply_push("token_expiring", &serde_json::json!({ "expires_at": exp })));
                } else {
                    return (Some(DisconnectReason::TokenExpired), false);
                }
            }
            _ = &mut *writer_task => return (d.conn.outbound.closed(), true),
        }
    }
}

/// Write one batch of frames for `conn`, as every door's writer does. Most
/// writes complete on the first poll (the socket buffer has room), so no
/// timer and no abort watch is set up; a write that blocks gets
/// `write_timeout` and is abandoned when the connection is cut. Returns
/// false when the writer must stop: the connection was cut, or the write
/// failed or timed out (then it is closed as a slow consumer).
pub(crate) async fn write_batch<W: AsyncWrite + Unpin>(
    conn: &Connection,
    writer: &mut WsWriter<W>,
    frames: &[Bytes],
    write_timeout: Duration,
) -> bool {
    let mut write = std::pin::pin!(writer.write_frames(frames));
    let written = match std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
        Poll::Ready(r) => r.is_ok(),
        Poll::Pending => tokio::select! {
            r = tokio::time::timeout(write_timeout, write) => matches!(r, Ok(Ok(()))),
            _ = conn.outbound.aborted() => return false,
        },
    };
    if !written {
        conn.outbound.close(DisconnectReason::SlowConsumer, false);
    }
    written
}

async fn write_loop<W: AsyncWrite + Unpin>(
    conn: Arc<Connection>,
    mut writer: WsWriter<W>,
    encoder: Arc<NativeEncoder>,
    write_timeout: Duration,
    client_closed: Arc<AtomicBool>,
) {
    let mut batch = Vec::new();
    let mut frames: Vec<Bytes> = Vec::new();
    // Looked up once per connection, not once per write.
    let frames_sent = metrics::counter!("herald_frames_sent_total");
    loop {
        match conn.outbound.next_batch(&mut batch).await {
            Ok(()) => {
                frames.extend(batch.drain(..).map(|o| o.frame));
                let n = frames.len() as u64;
                if !write_batch(&conn, &mut writer, &frames, write_timeout).await {
                    return;
                }
                frames_sent.increment(n);
                frames.clear();
            }
            Err(reason) => {
                let frames: Vec<Bytes> = if client_closed.load(Ordering::Acquire) {
                    vec![frame::close(1000, "")]
                } else {
                    metrics::counter!("herald_disconnects_total", "reason" => reason.name()).increment(1);
                    closing_frames(&encoder, reason)
                };
                let _ = tokio::time::timeout(write_timeout, writer.write_frames(&frames)).await;
                let _ = tokio::time::timeout(write_timeout, writer.shutdown()).await;
                return;
            }
        }
    }
}
