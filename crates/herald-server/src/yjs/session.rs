//! One y-websocket connection: join the document (the registry queues sync
//! step 1 and the awareness states), then a read loop handing each binary
//! message to the document, a write loop draining the connection's queue,
//! WebSocket pings, and the token's expiry. Refused updates (read-only,
//! size limits) are answered with y-websocket's permission-denied message
//! and the connection stays; a malformed message closes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use herald_core::{ChannelName, Connection, DisconnectReason, now_ms};
use herald_docs::{DocError, DocLease, DocRegistry, denied_message};
use herald_ws::frame;
use herald_ws::reader::{Message, ReaderConfig, WsReader};
use herald_ws::writer::WsWriter;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};

use super::upgrade::Registered;
use crate::app::App;
use crate::limits::{ConnectionLimit, IpSlot};
use crate::native::session::linger;
use crate::native::session::write_batch;

/// Room for the message type, sub-type and length prefix around an update.
const MESSAGE_OVERHEAD: usize = 64;

/// Why a session ends: the close code and a reason the client can read.
type End = Option<(u16, String)>;

/// A y-websocket connection, authorized and registered with the hub.
pub struct Session {
    /// Shared server state.
    pub app: Arc<App>,
    /// The node's open documents.
    pub docs: Arc<DocRegistry>,
    /// The hub connection (presence, per-user limits, shutdown).
    pub registered: Registered,
    /// The document.
    pub channel: ChannelName,
    /// Whether the token may change the document.
    pub writable: bool,
}

impl Session {
    /// Run until the connection ends. `_slot` holds its place in its address's count.
    pub async fn run<S>(self, io: S, _slot: IpSlot)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let cc = &self.app.config.connection;
        let (rd, wr) = tokio::io::split(io);
        let max = self.app.config.yjs.max_update_bytes + MESSAGE_OVERHEAD;
        let mut reader = WsReader::new(rd, ReaderConfig { max_message_size: max, max_frame_size: max }, None);
        let writer = WsWriter::new(wr);
        let write_timeout = Duration::from_secs(cc.write_timeout_secs.max(1));
        let conn = self.registered.conn.clone();
        let close_detail: Arc<Mutex<End>> = Arc::new(Mutex::new(None));
        let mut writer_task = tokio::spawn(write_loop(conn.clone(), writer, write_timeout, close_detail.clone()));

        let end = match self.docs.join(&self.channel, conn.clone()).await {
            Ok(lease) => {
                tracing::debug!("joined");
                let end = self.read_loop(&lease, &mut reader, &mut writer_task).await;
                drop(lease);
                end
            }
            Err(e) => {
                tracing::warn!(error = %e, "document could not be opened");
                Some((DisconnectReason::ServerError.code(), format!("document could not be opened: {e}")))
            }
        };
        match &end {
            Some((code, reason)) => {
                tracing::debug!(code, reason, "closing");
                *close_detail.lock() = end.clone();
                conn.outbound.close(DisconnectReason::ProtocolViolation, true);
            }
            None => {
                // The peer left: answer its close with 1000. (`Disconnected`
                // from anywhere else is `/api/disconnect`: its own code.)
                *close_detail.lock() = Some((1000, String::new()));
                conn.outbound.close(DisconnectReason::Disconnected, false);
            }
        }
        if !writer_task.is_finished() && tokio::time::timeout(write_timeout, &mut writer_task).await.is_err() {
            writer_task.abort();
        }
        if end.is_some() {
            linger(&mut reader).await;
        }
        drop(self.registered);
        tracing::debug!("closed");
    }

    async fn read_loop<R: AsyncRead + Unpin>(
        &self,
        lease: &DocLease,
        reader: &mut WsReader<R>,
        writer_task: &mut tokio::task::JoinHandle<()>,
    ) -> End {
        let cc = &self.app.config.connection;
        let conn = &self.registered.conn;
        let ping_every = Duration::from_secs(cc.ping_interval_secs.max(1));
        let dead_after = ping_every + Duration::from_secs(cc.pong_timeout_secs.max(1));
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        let mut last_seen = Instant::now();
        let limits = self.app.limits.for_connection();
        let expires_in = conn.identity().expires_at_ms.map(|exp| Duration::from_millis(exp.saturating_sub(now_ms())));
        let expiry = async {
            match expires_in {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);
        loop {
            tokio::select! {
                msg = reader.next() => {
                    let msg = match msg {
                        Ok(Some(m)) => m,
                        Ok(None) => return None,
                        Err(e) => return read_error(&e, self.app.config.yjs.max_update_bytes),
                    };
                    last_seen = Instant::now();
                    metrics::counter!("herald_messages_received_total").increment(1);
                    match msg {
                        Message::Binary(bytes) => {
                            // Over the message rate, slow the reader down instead of dropping
                            // an edit (y-websocket has no way to resend one).
                            while limits.check(ConnectionLimit::Request).is_err() {
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                            if let Some(end) = self.handle(lease, conn, &bytes).await {
                                return Some(end);
                            }
                        }
                        Message::Text(_) => {
                            let reason = DisconnectReason::ProtocolViolation;
                            return Some((reason.code(), "y-websocket messages are binary frames".into()));
                        }
                        Message::Ping(p) => { let _ = conn.outbound.push_frame(frame::pong(&p)); }
                        Message::Pong(_) => {}
                        Message::Close(_) => return None,
                    }
                }
                _ = ping.tick() => {
                    if last_seen.elapsed() > dead_after {
                        let r = DisconnectReason::PingTimeout;
                        return Some((r.code(), r.message().into()));
                    }
                    let _ = conn.outbound.push_frame(frame::ping(b""));
                }
                _ = &mut expiry => {
                    let r = DisconnectReason::TokenExpired;
                    return Some((r.code(), r.message().into()));
                }
                _ = &mut *writer_task => return None,
            }
        }
    }

    /// One binary message; `Some` ends the session.
    async fn handle(&self, lease: &DocLease, conn: &Connection, bytes: &[u8]) -> Option<(u16, String)> {
        match lease.handle(bytes, self.writable).await {
            Ok(()) => None,
            Err(e) if e.is_refusal() => {
                metrics::counter!("herald_document_updates_refused_total").increment(1);
                tracing::debug!(error = %e, "update refused");
                let _ = conn.outbound.push_frame(super::frame(&denied_message(&e.to_string())));
                None
            }
            Err(DocError::Malformed(m)) => Some((DisconnectReason::ProtocolViolation.code(), m)),
            Err(e) => {
                tracing::warn!(error = %e, "document update failed");
                Some((DisconnectReason::ServerError.code(), e.to_string()))
            }
        }
    }
}

fn read_error(e: &herald_ws::WsError, max_update_bytes: usize) -> End {
    e.close_frame()?;
    Some(match e.close_code() {
        1009 => (1009, format!("message larger than yjs.max_update_bytes ({max_update_bytes} bytes)")),
        code => (code, e.to_string()),
    })
}

async fn write_loop<W: AsyncWrite + Unpin>(
    conn: Arc<Connection>,
    mut writer: WsWriter<W>,
    write_timeout: Duration,
    close_detail: Arc<Mutex<End>>,
) {
    let mut batch = Vec::new();
    let mut frames: Vec<Bytes> = Vec::new();
    loop {
        match conn.outbound.next_batch(&mut batch).await {
            Ok(()) => {
                // Channel events of the hub connection encode as nothing.
                frames.extend(batch.drain(..).map(|o| o.frame).filter(|f| !f.is_empty()));
                if frames.is_empty() {
                    continue;
                }
                if !write_batch(&conn, &mut writer, &frames, write_timeout).await {
                    return;
                }
                frames.clear();
            }
            Err(reason) => {
                let close = match close_detail.lock().take() {
                    Some((code, text)) => frame::close(code, &truncate(&text)),
                    None => frame::close(reason.code(), reason.message()),
                };
                let _ = tokio::time::timeout(write_timeout, writer.write_frames(&[close])).await;
                let _ = tokio::time::timeout(write_timeout, writer.shutdown()).await;
                return;
            }
        }
    }
}

/// A close reason fits in 123 bytes; cut at a character boundary.
fn truncate(s: &str) -> String {
    let mut end = s.len().min(123);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
