//! One Pusher socket at `/app/{key}` on the door runtime:
//! `pusher:connection_established`, then each frame dispatched (ping/pong,
//! `subscribe.rs`, unsubscribe, `events.rs`: sign-in and client events),
//! `pusher:ping` after `activity_timeout` of silence. Closes use Pusher's
//! codes so pusher-js reconnects or gives up exactly as against Pusher:
//! 4001–4099 refused for good, 4100–4199 back off, 4200–4299 reconnect now;
//! 4301 is only ever a `pusher:error` frame.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use herald_core::{Connection, ConnectionInit, DisconnectReason, Identity, WireEncoder};
use herald_ws::WsError;
use herald_ws::frame;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use super::PusherApp;
use super::channels;
use super::events::SigninData;
use super::frames::{error_frame, event_frame};
use super::subscribe::SubscribeData;
use crate::app::App;
use crate::door::socket::Socket;
use crate::door::{Closing, DoorSession, Ending, Flow, KeepAlive, runtime};
use crate::limits::{ConnectionLimit, ConnectionLimits, IpSlot};

/// Pusher close codes Herald uses.
pub mod close {
    /// The app key is unknown.
    pub const APP_UNKNOWN: u16 = 4001;
    /// The app is over its connection quota.
    pub const OVER_QUOTA: u16 = 4004;
    /// Unsupported protocol version.
    pub const BAD_PROTOCOL: u16 = 4007;
    /// Unauthorized (terminated by the app, bad sign-in).
    pub const UNAUTHORIZED: u16 = 4009;
    /// Over capacity: back off, then reconnect.
    pub const OVER_CAPACITY: u16 = 4100;
    /// Reconnect now.
    pub const RECONNECT: u16 = 4200;
    /// No pong in time: reconnect now.
    pub const PONG_TIMEOUT: u16 = 4201;
    /// `pusher:error` only: a rate limit refused the frame (Pusher's
    /// "client event rejected due to rate limit"; Herald's `[limits]` too).
    pub const CLIENT_EVENT_RATE: u16 = 4301;
    /// `pusher:error` only: any other refused frame (Pusher's 4300–4399
    /// "any other type of error": the socket stays open, nothing to retry).
    pub const OTHER_ERROR: u16 = 4300;
}

/// The Pusher close code for a Herald disconnect reason.
pub fn close_code(reason: DisconnectReason) -> u16 {
    match reason {
        DisconnectReason::SlowConsumer | DisconnectReason::TooManyRequests => close::OVER_CAPACITY,
        DisconnectReason::PingTimeout => close::PONG_TIMEOUT,
        DisconnectReason::Unauthorized | DisconnectReason::Forbidden => close::UNAUTHORIZED,
        _ => close::RECONNECT,
    }
}

/// One socket's session state.
pub(super) struct Session<'a> {
    pub(super) app: &'a App,
    pub(super) papp: &'a PusherApp,
    pub(super) conn: &'a Arc<Connection>,
    pub(super) socket_id: &'a str,
    pub(super) user: Option<String>,
    pub(super) client_events: DefaultDirectRateLimiter,
    /// Herald's per-connection limits (`[limits]`): frames and subscribes.
    limits: ConnectionLimits,
}

/// Run a socket of `papp` until it ends. `_slot` holds its place in its address's count.
pub(super) async fn run<S>(app: Arc<App>, papp: Arc<PusherApp>, io: S, _slot: IpSlot)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let cc = &app.config.connection;
    let mut socket = Socket::new(&app, io, cc.max_message_size, None);
    let encoder: Arc<dyn WireEncoder> = papp.encoder.clone();
    let init = ConnectionInit { identity: Identity::anonymous(), encoder, queue: cc.queue };
    let conn = match app.hub.connect(init) {
        Ok(c) => c,
        Err(e) => {
            let frames = [error_frame(close::OVER_CAPACITY, &e.message), frame::close(close::OVER_CAPACITY, "")];
            return socket.refuse(&frames).await;
        }
    };
    // A trigger's `socket_id` excludes this socket, on whichever node the
    // trigger arrives: it opts out of echo and answers to its socket id.
    conn.set_echo(false);
    let socket_id = papp.register(&conn);
    conn.set_alias(Arc::from(socket_id.as_str()));
    let span = tracing::info_span!("pusher_conn", id = %conn.id(), socket_id = %socket_id, app = %papp.config.id);
    let established = serde_json::json!({
        "socket_id": socket_id,
        "activity_timeout": app.config.pusher.activity_timeout_secs,
    });
    let _ = conn.outbound.push_frame(event_frame("pusher:connection_established", None, &established.to_string()));
    let per_sec =
        std::num::NonZeroU32::new(papp.config.client_events_per_sec.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    let mut session = Session {
        app: &app,
        papp: &papp,
        conn: &conn,
        socket_id: &socket_id,
        user: None,
        client_events: RateLimiter::direct(Quota::per_second(per_sec)),
        limits: app.limits.for_connection(),
    };
    runtime::run(&app, &mut socket, &conn, Arc::new(PusherClosing), &mut session).instrument(span).await;
}

/// Pusher's close: `pusher:error` with the code, then the close frame
/// (a disconnect by the app is a plain 1000).
struct PusherClosing;

impl Closing for PusherClosing {
    fn frames(&self, reason: DisconnectReason) -> Vec<Bytes> {
        if reason == DisconnectReason::Disconnected {
            return vec![frame::close(1000, "")];
        }
        let code = close_code(reason);
        vec![error_frame(code, reason.message()), frame::close(code, reason.message())]
    }
}

impl DoorSession for Session<'_> {
    const DOOR: &'static str = "pusher";

    fn keep_alive(&self) -> KeepAlive {
        let cfg = &self.app.config.pusher;
        KeepAlive::WhenIdle {
            idle: Duration::from_secs(cfg.activity_timeout_secs.max(1)),
            timeout: Duration::from_secs(cfg.pong_timeout_secs.max(1)),
            ping: event_frame("pusher:ping", None, "{}"),
        }
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        match self.handle(text).await {
            Some(reason) => reason.into(),
            None => Flow::Continue,
        }
    }

    async fn on_binary(&mut self, _bytes: &[u8]) -> Flow {
        self.error(close::OTHER_ERROR, "binary frames are not part of the Pusher protocol");
        Flow::Continue
    }

    fn read_error(&self, e: &WsError) -> Option<Ending> {
        e.close_frame().map(|_| DisconnectReason::ProtocolViolation.into())
    }

    fn left(&mut self) {
        let user = self.user.take();
        self.papp.unregister(self.socket_id, user.as_deref());
    }
}

#[derive(Deserialize)]
struct ClientFrame<'a> {
    #[serde(borrow)]
    event: std::borrow::Cow<'a, str>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

/// A frame's `data` as `T`: an object, or (older clients) a string holding one.
fn data_as<T: serde::de::DeserializeOwned>(data: Option<&RawValue>) -> Option<T> {
    let raw = data?;
    serde_json::from_str::<T>(raw.get())
        .ok()
        .or_else(|| serde_json::from_str::<String>(raw.get()).ok().and_then(|s| serde_json::from_str(&s).ok()))
}

impl Session<'_> {
    pub(super) fn push(&self, frame: Bytes) {
        let _ = self.conn.outbound.push_frame(frame);
    }

    pub(super) fn error(&self, code: u16, message: &str) {
        self.push(error_frame(code, message));
    }

    /// Count a frame against `[limits]`; a refusal is answered with
    /// `pusher:error`, and too many refusals close the socket (4100: back off).
    fn over_limit(&self, kind: ConnectionLimit) -> Option<Option<DisconnectReason>> {
        let e = self.limits.check(kind).err()?;
        self.error(close::CLIENT_EVENT_RATE, &e.message);
        Some(self.limits.record_refusal().then_some(DisconnectReason::TooManyRequests))
    }

    /// Handle one client frame; `Some` closes the socket.
    async fn handle(&mut self, text: &str) -> Option<DisconnectReason> {
        if let Some(end) = self.over_limit(ConnectionLimit::Request) {
            return end;
        }
        let Ok(f) = serde_json::from_str::<ClientFrame<'_>>(text) else {
            self.error(close::OTHER_ERROR, "frames must be JSON objects with an \"event\"");
            return None;
        };
        match &*f.event {
            "pusher:ping" => self.push(event_frame("pusher:pong", None, "{}")),
            "pusher:pong" => {}
            "pusher:subscribe" => {
                if let Some(end) = self.over_limit(ConnectionLimit::Subscribe) {
                    return end;
                }
                match data_as::<SubscribeData>(f.data) {
                    Some(d) => self.subscribe(d).await,
                    None => {
                        self.error(close::OTHER_ERROR, "pusher:subscribe needs data {channel, auth?, channel_data?}")
                    }
                }
            }
            "pusher:unsubscribe" => {
                #[derive(Deserialize)]
                struct Unsub {
                    channel: String,
                }
                if let Some(d) = data_as::<Unsub>(f.data)
                    && let Ok(ch) = self.papp.channel(&d.channel)
                {
                    let _ = self.app.hub.unsubscribe(self.conn, &ch);
                }
            }
            "pusher:signin" => match data_as::<SigninData>(f.data) {
                Some(d) => return self.signin(d),
                None => self.error(close::OTHER_ERROR, "pusher:signin needs data {auth, user_data}"),
            },
            e if e.starts_with("client-") => self.client_event(e, f.channel.as_deref(), f.data),
            other => self.error(close::OTHER_ERROR, &format!("unsupported event {:?}", channels::echoed(other))),
        }
        None
    }
}
