//! One Ably connection on the door runtime: CONNECTED first (with
//! `connectionDetails`; error 80008 when a resume was asked for and is not
//! possible), then each protocol message dispatched (HEARTBEAT, ATTACH,
//! DETACH, MESSAGE, PRESENCE, AUTH, CLOSE, DISCONNECT). Keep-alive is
//! WebSocket pings, plus HEARTBEAT messages for clients that asked for
//! them (`heartbeats=true`: browsers cannot see pings). Before the token
//! expires the server asks for a new one (AUTH); an expired connection
//! gets DISCONNECTED 40142, so ably-js renews and resumes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use herald_ably::error::code;
use herald_ably::{ConnectionDetails, ErrorInfo, Format, ProtocolMessage, action};
use herald_core::{ChannelName, Connection, ConnectionInit, DisconnectReason, WireEncoder};
use herald_ws::frame as ws_frame;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use super::credentials::{self, AblyAuth};
use super::encoder::AblyEncoder;
use super::frame;
use super::upgrade::ConnectQuery;
use crate::app::App;
use crate::door::socket::Socket;
use crate::door::{Closing, DoorSession, Ending, Flow, KeepAlive, runtime};
use crate::limits::{ConnectionLimit, ConnectionLimits, IpSlot};

/// One connection's state.
pub(super) struct Session<'a> {
    pub(super) app: &'a App,
    pub(super) conn: &'a Arc<Connection>,
    pub(super) format: Format,
    pub(super) encoder: Arc<AblyEncoder>,
    /// The Ably connectionId (the hub connection's id, or the resumed connection's).
    pub(super) connection_id: String,
    connection_key: String,
    pub(super) auth: AblyAuth,
    heartbeats: bool,
    /// Attached channels: the client's name → Herald's channel.
    pub(super) attached: HashMap<String, ChannelName>,
    /// Presence members this connection entered.
    pub(super) members: super::presence::Members,
    limits: ConnectionLimits,
    /// The client said CLOSE: the connection cannot be resumed.
    closed_for_good: bool,
}

/// Run an admitted connection until it ends. `_slot` holds its place in its address's count.
pub(super) async fn run<S>(app: Arc<App>, io: S, _slot: IpSlot, format: Format, auth: AblyAuth, q: ConnectQuery)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let cc = &app.config.connection;
    let mut socket = Socket::new(&app, io, cc.max_message_size, None);
    let encoder = Arc::new(AblyEncoder::new(format));
    let wire: Arc<dyn WireEncoder> = encoder.clone();
    let init = ConnectionInit { identity: auth.identity.clone(), encoder: wire, queue: cc.queue };
    let conn = match app.hub.connect(init) {
        Ok(c) => c,
        Err(e) => {
            let pm = ProtocolMessage { error: Some(super::error_info(&e)), ..ProtocolMessage::new(action::ERROR) };
            return socket.refuse(&[frame(format, &pm), ws_frame::close(1000, "")]).await;
        }
    };
    conn.set_echo(q.echo.as_deref() != Some("false"));
    let asked = q.resume.as_deref().or(q.recover.as_deref());
    let resumed = app.ably_resumes.start(asked, auth.client_id.as_deref(), conn.id()).await;
    if resumed.connection_id != conn.id().as_ref() {
        // Publications of the earlier transport count as this connection's (echo).
        conn.set_alias(Arc::from(resumed.connection_id.as_str()));
    }
    let span = tracing::info_span!("ably_conn", id = %conn.id(), connection_id = %resumed.connection_id);
    let mut session = Session {
        app: &app,
        conn: &conn,
        format,
        encoder,
        connection_id: resumed.connection_id,
        connection_key: resumed.key,
        auth,
        heartbeats: q.heartbeats.as_deref() == Some("true"),
        attached: HashMap::new(),
        members: Default::default(),
        limits: app.limits.for_connection(),
        closed_for_good: false,
    };
    let error = (asked.is_some() && !resumed.resumed)
        .then(|| ErrorInfo::new(code::UNABLE_TO_RESUME, "Unable to resume the connection: a new connection"));
    session.push(&session.connected(error));
    let closing = Arc::new(AblyClosing { format });
    let ended = runtime::run(&app, &mut socket, &conn, closing, &mut session).instrument(span).await;
    // A connection the server refused for good, or the client closed, cannot be resumed.
    let fatal = ended.as_ref().is_some_and(|e| {
        matches!(
            e.reason,
            DisconnectReason::Unauthorized | DisconnectReason::Forbidden | DisconnectReason::ProtocolViolation
        )
    });
    if session.closed_for_good || fatal {
        app.ably_resumes.closed(&session.connection_key).await;
    } else {
        let ttl = Duration::from_millis(app.config.ably.connection_state_ttl_ms);
        app.ably_resumes.dropped(&session.connection_key, ttl).await;
    }
}

/// Ably's close: DISCONNECTED (the client reconnects and resumes) or a
/// connection ERROR (it fails), then the close frame.
struct AblyClosing {
    format: Format,
}

/// The protocol message that ends a connection for `reason`.
fn ending_message(reason: DisconnectReason) -> ProtocolMessage {
    let (act, c) = match reason {
        DisconnectReason::TokenExpired => (action::DISCONNECTED, code::TOKEN_EXPIRED),
        DisconnectReason::Unauthorized => (action::ERROR, code::INVALID_CREDENTIALS),
        DisconnectReason::Forbidden => (action::ERROR, code::CAPABILITY_REFUSED),
        DisconnectReason::MessageTooLarge => (action::ERROR, code::TOO_LARGE),
        DisconnectReason::ProtocolViolation => (action::ERROR, code::BAD_REQUEST),
        DisconnectReason::SlowConsumer => (action::DISCONNECTED, code::SLOW_CONSUMER),
        DisconnectReason::TooManyRequests => (action::DISCONNECTED, code::RATE_LIMITED),
        _ => (action::DISCONNECTED, code::DISCONNECTED),
    };
    ProtocolMessage { error: Some(ErrorInfo::new(c, reason.message())), ..ProtocolMessage::new(act) }
}

impl Closing for AblyClosing {
    fn frames(&self, reason: DisconnectReason) -> Vec<Bytes> {
        vec![frame(self.format, &ending_message(reason)), ws_frame::close(1000, "")]
    }
}

impl DoorSession for Session<'_> {
    const DOOR: &'static str = "ably";

    fn keep_alive(&self) -> KeepAlive {
        let mut ping = BytesMut::from(&ws_frame::ping(b"")[..]);
        if self.heartbeats {
            // Two frames in one write: the WebSocket ping the socket answers,
            // and the HEARTBEAT a browser client can see.
            ping.extend_from_slice(&frame(self.format, &ProtocolMessage::new(action::HEARTBEAT)));
        }
        KeepAlive::configured_interval(&self.app.config.connection, ping.freeze())
    }

    fn expiry_warning(&self) -> Option<Duration> {
        Some(Duration::from_millis(self.app.config.ably.reauth_before_expiry_ms))
    }

    fn token_expiring(&mut self) {
        self.push(&ProtocolMessage::new(action::AUTH));
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        self.handle(text.as_bytes()).await
    }

    async fn on_binary(&mut self, bytes: &[u8]) -> Flow {
        self.handle(bytes).await
    }

    fn left(&mut self) {
        self.leave_all_presence();
    }
}

impl Session<'_> {
    pub(super) fn push(&self, pm: &ProtocolMessage) {
        let _ = self.conn.outbound.push_frame(frame(self.format, pm));
    }

    /// A channel-scoped ERROR (the channel fails, the connection stays).
    pub(super) fn channel_error(&self, channel: &str, error: ErrorInfo) {
        self.push(&ProtocolMessage { error: Some(error), ..ProtocolMessage::on_channel(action::ERROR, channel) });
    }

    /// CONNECTED with the connection's details.
    fn connected(&self, error: Option<ErrorInfo>) -> ProtocolMessage {
        let cfg = &self.app.config;
        let details = ConnectionDetails {
            client_id: self.auth.client_id.clone(),
            connection_key: self.connection_key.clone(),
            max_message_size: cfg.default_namespace.max_message_size as u64,
            max_frame_size: cfg.connection.max_message_size as u64,
            max_inbound_rate: u64::from(cfg.limits.messages_per_conn_per_sec),
            max_idle_interval: cfg.connection.ping_interval_secs.max(1) * 1000,
            connection_state_ttl: cfg.ably.connection_state_ttl_ms,
            server_id: None,
        };
        ProtocolMessage {
            connection_id: Some(self.connection_id.clone()),
            connection_details: Some(details),
            error,
            ..ProtocolMessage::new(action::CONNECTED)
        }
    }

    /// One protocol message from the client.
    async fn handle(&mut self, bytes: &[u8]) -> Flow {
        let pm: ProtocolMessage = match self.format.decode(bytes) {
            Ok(pm) => pm,
            Err(e) => {
                let error = ErrorInfo::new(code::BAD_REQUEST, e.to_string());
                self.push(&ProtocolMessage { error: Some(error), ..ProtocolMessage::new(action::ERROR) });
                return Flow::Close(Ending::with_detail(DisconnectReason::ProtocolViolation, 1000, ""));
            }
        };
        if let Err(e) = self.limits.check(ConnectionLimit::Request) {
            self.refuse(&pm, super::error_info(&e));
            return match self.limits.record_refusal() {
                true => DisconnectReason::TooManyRequests.into(),
                false => Flow::Continue,
            };
        }
        match pm.action {
            action::HEARTBEAT => self.push(&ProtocolMessage { id: pm.id, ..ProtocolMessage::new(action::HEARTBEAT) }),
            action::ATTACH => self.attach(pm).await,
            action::DETACH => self.detach(pm),
            action::MESSAGE => self.publish(pm).await,
            action::PRESENCE => self.presence(pm).await,
            action::AUTH => return self.reauthenticate(pm),
            action::CLOSE => {
                self.closed_for_good = true;
                self.push(&ProtocolMessage::new(action::CLOSED));
                return Flow::Close(Ending::with_detail(DisconnectReason::Disconnected, 1000, ""));
            }
            action::DISCONNECT => return Flow::Close(Ending::with_detail(DisconnectReason::Disconnected, 1000, "")),
            other => {
                let error = ErrorInfo::new(code::BAD_REQUEST, format!("unsupported action {other}"));
                match pm.channel {
                    Some(ch) => self.channel_error(&ch, error),
                    None => self.push(&ProtocolMessage { error: Some(error), ..ProtocolMessage::new(action::ERROR) }),
                }
            }
        }
        Flow::Continue
    }

    /// Refuse a message: NACK what has a serial, a channel ERROR otherwise.
    fn refuse(&self, pm: &ProtocolMessage, error: ErrorInfo) {
        match (pm.msg_serial, &pm.channel) {
            (Some(serial), _) if matches!(pm.action, action::MESSAGE | action::PRESENCE) => self.nack(serial, error),
            (_, Some(ch)) => self.channel_error(ch, error),
            _ => {}
        }
    }

    pub(super) fn ack(&self, serial: i64) {
        self.push(&ProtocolMessage { msg_serial: Some(serial), count: Some(1), ..ProtocolMessage::new(action::ACK) });
    }

    pub(super) fn nack(&self, serial: i64, error: ErrorInfo) {
        let pm = ProtocolMessage {
            msg_serial: Some(serial),
            count: Some(1),
            error: Some(error),
            ..ProtocolMessage::new(action::NACK)
        };
        self.push(&pm);
    }

    /// AUTH with a new token: same clientId, new grants and expiry, CONNECTED again.
    fn reauthenticate(&mut self, pm: ProtocolMessage) -> Flow {
        let token = pm.auth.and_then(|a| a.access_token);
        let next = match token {
            Some(t) => credentials::with_token(self.app, &t, self.auth.client_id.as_deref()),
            None => Err(ErrorInfo::new(code::NO_CREDENTIALS, "AUTH needs auth.accessToken")),
        };
        match next {
            Ok(next) if next.client_id == self.auth.client_id => {
                self.conn.refresh_identity(next.identity.clone());
                self.auth = next;
                self.push(&self.connected(None));
                Flow::Refreshed
            }
            Ok(_) => {
                let error = ErrorInfo::new(code::INVALID_CLIENT_ID, "a new token must keep the connection's clientId");
                self.push(&ProtocolMessage { error: Some(error), ..ProtocolMessage::new(action::ERROR) });
                Flow::Close(Ending::with_detail(DisconnectReason::Unauthorized, 1000, ""))
            }
            Err(error) => {
                let act = if error.is_token_error() { action::DISCONNECTED } else { action::ERROR };
                self.push(&ProtocolMessage { error: Some(error), ..ProtocolMessage::new(act) });
                Flow::Close(Ending::with_detail(DisconnectReason::Unauthorized, 1000, ""))
            }
        }
    }
}
