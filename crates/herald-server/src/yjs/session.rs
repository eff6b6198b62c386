//! One y-websocket connection on the door runtime: join the document (the
//! registry queues sync step 1 and the awareness states), then each binary
//! message goes to the document, with WebSocket pings and the token's
//! expiry. Refused updates (read-only, size limits) are answered with
//! y-websocket's permission-denied message and the connection stays; a
//! malformed message closes it with a reason the client can read.

use std::sync::Arc;

use bytes::Bytes;
use herald_core::{ChannelName, Connection, DisconnectReason};
use herald_docs::{DocError, DocLease, DocRegistry, denied_message};
use herald_ws::{WsError, frame};
use tokio::io::{AsyncRead, AsyncWrite};

use super::upgrade::Registered;
use crate::app::App;
use crate::door::socket::Socket;
use crate::door::{Closing, DoorSession, Ending, Flow, KeepAlive, runtime};
use crate::limits::{ConnectionLimit, ConnectionLimits, IpSlot};

/// Room for the message type, sub-type and length prefix around an update.
const MESSAGE_OVERHEAD: usize = 64;

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
        let Session { app, docs, registered, channel, writable } = self;
        let mut socket = Socket::new(&app, io, app.config.yjs.max_update_bytes + MESSAGE_OVERHEAD, None);
        let conn = registered.conn.clone();
        let limits = app.limits.for_connection();
        let mut door = YjsDoor { app: &app, docs, conn: &conn, channel, writable, lease: None, limits };
        runtime::run(&app, &mut socket, &conn, Arc::new(YjsClosing), &mut door).await;
        drop(registered);
    }
}

/// The y-websocket protocol of one connection.
struct YjsDoor<'a> {
    app: &'a App,
    docs: Arc<DocRegistry>,
    conn: &'a Arc<Connection>,
    channel: ChannelName,
    writable: bool,
    /// The open document, once joined.
    lease: Option<DocLease>,
    limits: ConnectionLimits,
}

/// y-websocket closes with Herald's codes and reasons. (The runtime answers
/// a peer that closed first with 1000; a `Disconnected` reaching this table
/// came from `/api/disconnect` and gets its own code.)
struct YjsClosing;

impl Closing for YjsClosing {
    fn frames(&self, reason: DisconnectReason) -> Vec<Bytes> {
        vec![frame::close(reason.code(), reason.message())]
    }
}

impl DoorSession for YjsDoor<'_> {
    const DOOR: &'static str = "yjs";

    fn keep_alive(&self) -> KeepAlive {
        KeepAlive::configured_interval(&self.app.config.connection, frame::ping(b""))
    }

    async fn start(&mut self) -> Flow {
        match self.docs.join(&self.channel, self.conn.clone()).await {
            Ok(lease) => {
                tracing::debug!("joined");
                self.lease = Some(lease);
                Flow::Continue
            }
            Err(e) => {
                tracing::warn!(error = %e, "document could not be opened");
                let reason = DisconnectReason::ServerError;
                Flow::Close(Ending::with_detail(reason, reason.code(), format!("document could not be opened: {e}")))
            }
        }
    }

    async fn on_text(&mut self, _text: &str) -> Flow {
        let reason = DisconnectReason::ProtocolViolation;
        Flow::Close(Ending::with_detail(reason, reason.code(), "y-websocket messages are binary frames"))
    }

    async fn on_binary(&mut self, bytes: &[u8]) -> Flow {
        // Over the message rate, slow the reader down instead of dropping
        // an edit (y-websocket has no way to resend one).
        self.limits.until_ready(ConnectionLimit::Request).await;
        let Some(lease) = &self.lease else { return Flow::Continue };
        match lease.handle(bytes, self.writable).await {
            Ok(()) => Flow::Continue,
            Err(e) if e.is_refusal() => {
                metrics::counter!("herald_document_updates_refused_total").increment(1);
                tracing::debug!(error = %e, "update refused");
                let _ = self.conn.outbound.push_frame(super::frame(&denied_message(&e.to_string())));
                Flow::Continue
            }
            Err(DocError::Malformed(m)) => {
                let reason = DisconnectReason::ProtocolViolation;
                Flow::Close(Ending::with_detail(reason, reason.code(), m))
            }
            Err(e) => {
                tracing::warn!(error = %e, "document update failed");
                let reason = DisconnectReason::ServerError;
                Flow::Close(Ending::with_detail(reason, reason.code(), e.to_string()))
            }
        }
    }

    fn read_error(&self, e: &WsError) -> Option<Ending> {
        e.close_frame()?;
        let max = self.app.config.yjs.max_update_bytes;
        Some(match e.close_code() {
            1009 => Ending::with_detail(
                DisconnectReason::MessageTooLarge,
                1009,
                format!("message larger than yjs.max_update_bytes ({max} bytes)"),
            ),
            code => Ending::with_detail(DisconnectReason::ProtocolViolation, code, e.to_string()),
        })
    }

    /// Leave the document before the connection leaves the hub.
    fn left(&mut self) {
        self.lease = None;
    }
}
