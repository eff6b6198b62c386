//! One native-protocol connection on the door runtime: the `connect`
//! handshake (`connect.rs`), registration with the hub, then the runtime
//! runs it with the [`Dispatcher`] as its protocol: JSON pings, the token's
//! expiry (a `token_expiring` push, then 4004 unless refreshed), and a
//! `disconnect` push before every close frame.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use herald_core::{ConnectionInit, DisconnectReason, ErrorCode, HeraldError, WireEncoder};
use herald_protocol::encode;
use herald_ws::frame;
use herald_ws::handshake::DeflateParams;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use super::connect;
use super::dispatch::Dispatcher;
use super::encoder::NativeEncoder;
use crate::app::App;
use crate::door::socket::Socket;
use crate::door::{Closing, DoorSession, Flow, KeepAlive, runtime};
use crate::limits::IpSlot;

/// Run a connection on an upgraded socket until it ends. `_slot` holds the
/// connection's place in its address's count.
pub async fn run<S>(app: Arc<App>, io: S, deflate: Option<DeflateParams>, _slot: IpSlot)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let cc = &app.config.connection;
    let mut socket = Socket::new(&app, io, cc.max_message_size, deflate);
    let encoder = if deflate.is_some() { app.native_deflate.clone() } else { app.native_plain.clone() };
    let closing = Arc::new(NativeClosing(encoder.clone()));

    let (connect_id, identity) = match connect::await_connect(&app, &mut socket, &encoder).await {
        Ok(c) => c,
        Err(Some(reason)) => return socket.refuse(&closing.frames(reason)).await,
        Err(None) => return,
    };
    let wire: Arc<dyn WireEncoder> = encoder.clone();
    let conn = match app.hub.connect(ConnectionInit { identity, encoder: wire, queue: cc.queue }) {
        Ok(c) => c,
        Err(e) => {
            let mut frames = vec![encoder.frame(&encode::reply_error(Some(connect_id), &e))];
            frames.extend(closing.frames(DisconnectReason::TooManyRequests));
            return socket.refuse(&frames).await;
        }
    };
    let span = tracing::info_span!("conn", id = %conn.id(), user = conn.user().map(|u| u.to_string()));
    let _ = conn.outbound.push_frame(encoder.frame(&connect::reply(&app, &conn, connect_id)));
    tracing::debug!(parent: &span, "connected");
    let mut dispatcher = Dispatcher {
        app: &app,
        conn: &conn,
        encoder: &encoder,
        limits: app.limits.for_connection(),
        documents: Default::default(),
    };
    runtime::run(&app, &mut socket, &conn, closing, &mut dispatcher).instrument(span).await;
}

pub(super) fn binary_error() -> HeraldError {
    HeraldError::new(ErrorCode::BinaryNotSupported, "binary frames are not part of the native protocol; send JSON text")
}

/// The native close: a `disconnect` push, then the close frame, both with the reason's code.
struct NativeClosing(Arc<NativeEncoder>);

impl Closing for NativeClosing {
    fn frames(&self, reason: DisconnectReason) -> Vec<Bytes> {
        vec![self.0.frame(&encode::disconnect(reason)), frame::close(reason.code(), reason.message())]
    }
}

impl DoorSession for Dispatcher<'_> {
    const DOOR: &'static str = "native";

    fn keep_alive(&self) -> KeepAlive {
        KeepAlive::configured_interval(&self.app.config.connection, self.encoder.frame(encode::PING.as_bytes()))
    }

    fn expiry_warning(&self) -> Option<Duration> {
        Some(Duration::from_secs(self.app.config.auth.refresh_before()))
    }

    /// A signed-in user learns their unread notification count right after
    /// the connect reply (which the writer is already sending).
    async fn start(&mut self) -> Flow {
        if let Err(e) = self.app.hub.greet(self.conn).await {
            tracing::warn!(error = %e, "reading the unread count failed");
        }
        Flow::Continue
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        self.handle(text).await
    }

    async fn on_binary(&mut self, _bytes: &[u8]) -> Flow {
        self.push(&encode::reply_error(None, &binary_error()));
        Flow::Continue
    }

    fn token_expiring(&mut self) {
        let exp = self.conn.identity().expires_at_ms;
        self.push(&encode::reply_push("token_expiring", &serde_json::json!({ "expires_at": exp })));
    }
}
