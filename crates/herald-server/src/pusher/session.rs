//! One Pusher socket at `/app/{key}`: `pusher:connection_established`,
//! then a read loop (ping/pong, subscribe/unsubscribe with the app's
//! signatures, sign-in, client events) and a write loop that drains the
//! connection's outbound queue. Closes use Pusher's codes so pusher-js
//! reconnects or gives up exactly as against Pusher: 4001–4099 refused for
//! good, 4100–4199 back off, 4200–4299 reconnect now; 4301 is only ever a
//! `pusher:error` frame.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use herald_core::{
    Caller, Connection, ConnectionInit, Direction, DisconnectReason, HistoryQuery, Identity, Payload, Rights,
    SubscriptionGrant, WireEncoder, now_ms,
};
use herald_ws::frame;
use herald_ws::reader::{Message, ReaderConfig, WsReader};
use herald_ws::writer::WsWriter;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use super::PusherApp;
use super::channels::{self, Kind};
use super::frames::{error_frame, event_frame, member_json};
use crate::app::App;
use crate::limits::{ConnectionLimit, ConnectionLimits, IpSlot};
use crate::native::session::write_batch;

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
    /// `pusher:error` only: client event rate limit.
    pub const CLIENT_EVENT_RATE: u16 = 4301;
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
struct Session<'a> {
    app: &'a App,
    papp: &'a PusherApp,
    conn: &'a Arc<Connection>,
    socket_id: &'a str,
    user: Option<String>,
    client_events: DefaultDirectRateLimiter,
    /// Herald's per-connection limits (`[limits]`): frames and subscribes.
    limits: ConnectionLimits,
}

/// Run a socket of `papp` until it ends. `_slot` holds its place in its address's count.
pub(super) async fn run<S>(app: Arc<App>, papp: Arc<PusherApp>, io: S, _slot: IpSlot)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let cc = &app.config.connection;
    let (rd, wr) = tokio::io::split(io);
    let reader_cfg = ReaderConfig { max_message_size: cc.max_message_size, max_frame_size: cc.max_message_size };
    let mut reader = WsReader::new(rd, reader_cfg, None);
    let writer = WsWriter::new(wr);
    let write_timeout = Duration::from_secs(cc.write_timeout_secs.max(1));
    let encoder: Arc<dyn WireEncoder> = papp.encoder.clone();
    let init = ConnectionInit { identity: Identity::anonymous(), encoder, queue: cc.queue };
    let conn = match app.hub.connect(init) {
        Ok(c) => c,
        Err(e) => {
            let mut writer = writer;
            let frames = [error_frame(Some(close::OVER_CAPACITY), &e.message), frame::close(close::OVER_CAPACITY, "")];
            let _ = tokio::time::timeout(write_timeout, writer.write_frames(&frames)).await;
            return;
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
    let mut writer_task = tokio::spawn(write_loop(conn.clone(), writer, write_timeout).instrument(span.clone()));
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
    let (end, writer_done) = read_loop(&mut session, &mut reader, &mut writer_task).instrument(span.clone()).await;
    let user = session.user.take();
    app.hub.disconnect(&conn);
    papp.unregister(&socket_id, user.as_deref());
    match end {
        Some(reason) => conn.outbound.close(reason, true),
        None => conn.outbound.close(DisconnectReason::Disconnected, false),
    }
    if !writer_done && tokio::time::timeout(write_timeout, &mut writer_task).await.is_err() {
        writer_task.abort();
    }
    if end.is_some() {
        crate::native::session::linger(&mut reader).await;
    }
    tracing::debug!(parent: &span, reason = ?end, "closed");
}

async fn write_loop<W: AsyncWrite + Unpin>(conn: Arc<Connection>, mut writer: WsWriter<W>, write_timeout: Duration) {
    let mut batch = Vec::new();
    let mut frames: Vec<Bytes> = Vec::new();
    loop {
        match conn.outbound.next_batch(&mut batch).await {
            Ok(()) => {
                frames.extend(batch.drain(..).map(|o| o.frame).filter(|f| !f.is_empty()));
                if !write_batch(&conn, &mut writer, &frames, write_timeout).await {
                    return;
                }
                frames.clear();
            }
            Err(reason) => {
                let closing = if reason == DisconnectReason::Disconnected {
                    vec![frame::close(1000, "")]
                } else {
                    let code = close_code(reason);
                    vec![error_frame(Some(code), reason.message()), frame::close(code, reason.message())]
                };
                let _ = tokio::time::timeout(write_timeout, writer.write_frames(&closing)).await;
                let _ = tokio::time::timeout(write_timeout, writer.shutdown()).await;
                return;
            }
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    s: &mut Session<'_>,
    reader: &mut WsReader<R>,
    writer_task: &mut tokio::task::JoinHandle<()>,
) -> (Option<DisconnectReason>, bool) {
    let cfg = &s.app.config.pusher;
    let activity = Duration::from_secs(cfg.activity_timeout_secs.max(1));
    let pong_timeout = Duration::from_secs(cfg.pong_timeout_secs.max(1));
    let mut last_seen = tokio::time::Instant::now();
    let mut pinged_at: Option<tokio::time::Instant> = None;
    loop {
        let wake = match pinged_at {
            Some(at) => at + pong_timeout,
            None => last_seen + activity,
        };
        tokio::select! {
            msg = reader.next() => {
                let msg = match msg {
                    Ok(Some(m)) => m,
                    Ok(None) => return (None, false),
                    Err(e) => {
                        return (e.close_frame().map(|_| DisconnectReason::ProtocolViolation), false);
                    }
                };
                last_seen = tokio::time::Instant::now();
                pinged_at = None;
                match msg {
                    Message::Text(text) => {
                        let text = std::str::from_utf8(&text).unwrap_or("");
                        if let Some(reason) = s.handle(text).await {
                            return (Some(reason), false);
                        }
                    }
                    Message::Binary(_) => s.push(error_frame(None, "binary frames are not part of the Pusher protocol")),
                    Message::Ping(p) => s.push(frame::pong(&p)),
                    Message::Pong(_) => {}
                    Message::Close(_) => return (None, false),
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                if pinged_at.is_some() {
                    return (Some(DisconnectReason::PingTimeout), false);
                }
                s.push(event_frame("pusher:ping", None, "{}"));
                pinged_at = Some(tokio::time::Instant::now());
            }
            _ = &mut *writer_task => return (s.conn.outbound.closed(), true),
        }
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

#[derive(Deserialize)]
struct SubscribeData {
    channel: String,
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    channel_data: Option<String>,
}

#[derive(Deserialize)]
struct SigninData {
    auth: String,
    user_data: String,
}

/// A frame's `data` as `T`: an object, or (older clients) a string holding one.
fn data_as<T: serde::de::DeserializeOwned>(data: Option<&RawValue>) -> Option<T> {
    let raw = data?;
    serde_json::from_str::<T>(raw.get())
        .ok()
        .or_else(|| serde_json::from_str::<String>(raw.get()).ok().and_then(|s| serde_json::from_str(&s).ok()))
}

impl Session<'_> {
    fn push(&self, frame: Bytes) {
        let _ = self.conn.outbound.push_frame(frame);
    }

    fn error(&self, code: Option<u16>, message: &str) {
        self.push(error_frame(code, message));
    }

    /// Handle one client frame; `Some` closes the socket.
    /// Count a frame against `[limits]`; a refusal is answered with
    /// `pusher:error`, and too many refusals close the socket (4100: back off).
    fn over_limit(&self, kind: ConnectionLimit) -> Option<Option<DisconnectReason>> {
        let e = self.limits.check(kind).err()?;
        self.error(None, &e.message);
        Some(self.limits.record_refusal().then_some(DisconnectReason::TooManyRequests))
    }

    async fn handle(&mut self, text: &str) -> Option<DisconnectReason> {
        if let Some(end) = self.over_limit(ConnectionLimit::Request) {
            return end;
        }
        let Ok(f) = serde_json::from_str::<ClientFrame<'_>>(text) else {
            self.error(None, "frames must be JSON objects with an \"event\"");
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
                    None => self.error(None, "pusher:subscribe needs data {channel, auth?, channel_data?}"),
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
                None => self.error(None, "pusher:signin needs data {auth, user_data}"),
            },
            e if e.starts_with("client-") => self.client_event(e, f.channel.as_deref(), f.data),
            other => self.error(None, &format!("unsupported event {other:?}")),
        }
        None
    }

    fn subscription_error(&self, channel: &str, status: u16, message: &str) {
        let data = serde_json::json!({ "type": "AuthError", "error": message, "status": status });
        self.push(event_frame("pusher:subscription_error", Some(channel), &data.to_string()));
    }

    /// Check the subscription's signature; the grant it earns.
    fn grant(&self, d: &SubscribeData) -> Result<SubscriptionGrant, (u16, String)> {
        let cfg = &self.papp.config;
        let kind = Kind::of(&d.channel);
        let plain = SubscriptionGrant { rights: Rights::SUBSCRIBE, user: None, info: None };
        let signed = |channel_data: Option<&str>| {
            let auth = d.auth.as_deref().unwrap_or("");
            if super::signature::channel_auth_valid(
                &cfg.key,
                &cfg.secret,
                self.socket_id,
                &d.channel,
                channel_data,
                auth,
            ) {
                Ok(())
            } else {
                Err((
                    401,
                    format!("Invalid signature for {}: expected key:HMAC-SHA256 of socket_id:channel", d.channel),
                ))
            }
        };
        match kind {
            Kind::Public => Ok(plain),
            Kind::Encrypted => signed(None).map(|_| plain),
            Kind::Private => {
                signed(None).map(|_| SubscriptionGrant { rights: Rights::SUBSCRIBE.union(Rights::PUBLISH), ..plain })
            }
            Kind::ServerToUser => {
                let id = d.channel.trim_start_matches("#server-to-user-");
                if self.user.as_deref() == Some(id) {
                    Ok(plain)
                } else {
                    Err((403, format!("{} is only for the socket signed in as user {id}", d.channel)))
                }
            }
            Kind::Presence => {
                let cd = d.channel_data.as_deref().ok_or((400, "presence channels need channel_data".to_string()))?;
                signed(Some(cd))?;
                presence_grant(cfg, cd)
            }
        }
    }

    async fn subscribe(&mut self, d: SubscribeData) {
        let ch = match self.papp.channel(&d.channel) {
            Ok(c) => c,
            Err(e) => return self.subscription_error(&d.channel, 400, &e.message),
        };
        let grant = match self.grant(&d) {
            Ok(g) => g,
            Err((status, message)) => {
                self.subscription_error(&d.channel, status, &message);
                if status == 401 {
                    self.error(Some(close::UNAUTHORIZED), &message);
                }
                return;
            }
        };
        let member = grant.user.clone();
        if let Some(user) = &member {
            let members = self.app.hub.presence_all(Caller::Server, &ch).await.unwrap_or_default();
            let max = self.papp.config.max_presence_members;
            if members.len() >= max && !members.iter().any(|m| m.info.user.as_ref() == Some(user)) {
                let msg = format!("{} is full: at most {max} members", d.channel);
                return self.subscription_error(&d.channel, 403, &msg);
            }
        }
        let info = grant.info.clone();
        let pending = match self.app.hub.subscribe_granted(self.conn, ch.clone(), None, Some(grant)).await {
            Ok(p) => p,
            Err(e) => return self.subscription_error(&d.channel, 400, &e.message),
        };
        let data = match &member {
            Some(me) => {
                let mut ids = Vec::new();
                let mut hash = serde_json::Map::new();
                for m in pending.presence_snapshot.iter().flatten() {
                    let v = member_json(&m.info, true);
                    let id = m.info.member_key().to_string();
                    hash.insert(id.clone(), v.get("user_info").cloned().unwrap_or(serde_json::Value::Null));
                    ids.push(id);
                }
                if !hash.contains_key(&**me) {
                    let info = info.as_ref().and_then(|i| serde_json::from_str(i.as_str()).ok());
                    hash.insert(me.to_string(), info.unwrap_or(serde_json::Value::Null));
                    ids.push(me.to_string());
                }
                serde_json::json!({ "presence": { "count": ids.len(), "ids": ids, "hash": hash } })
            }
            None => serde_json::json!({}),
        };
        self.push(event_frame("pusher_internal:subscription_succeeded", Some(&d.channel), &data.to_string()));
        if channels::is_cache(&d.channel) {
            self.send_cached(&ch, &d.channel, pending.top.offset).await;
        }
        pending.activate();
    }

    /// A cache channel's last event (within the history TTL), or `pusher:cache_miss`.
    async fn send_cached(&self, ch: &herald_core::ChannelName, name: &str, top: u64) {
        let ttl_ms = self.app.hub.options(ch).map(|o| o.history_ttl_secs * 1000).unwrap_or(0);
        let mut last = None;
        if top > 0 {
            let q = HistoryQuery { since: Some(top - 1), before: None, limit: 1, direction: Direction::Forward };
            if let Ok(page) = self.app.hub.history(Caller::Server, ch, q).await {
                last = page.publications.into_iter().find(|p| ttl_ms == 0 || p.time_ms + ttl_ms >= now_ms());
            }
        }
        match last {
            Some(p) => self.push(self.conn.encoder.encode(&herald_core::ChannelEvent::Publication(&p))),
            None => {
                self.push(event_frame("pusher:cache_miss", Some(name), "{}"));
                self.papp.webhook("cache_miss", serde_json::json!({ "name": "cache_miss", "channel": name }));
            }
        }
    }

    fn signin(&mut self, d: SigninData) -> Option<DisconnectReason> {
        let cfg = &self.papp.config;
        if !super::signature::signin_valid(&cfg.key, &cfg.secret, self.socket_id, &d.user_data, &d.auth) {
            self.error(Some(close::UNAUTHORIZED), "Invalid signature for pusher:signin");
            return Some(DisconnectReason::Unauthorized);
        }
        let id = serde_json::from_str::<serde_json::Value>(&d.user_data)
            .ok()
            .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
            .filter(|id| !id.is_empty() && id.len() <= cfg.max_user_id_len);
        let Some(id) = id else {
            self.error(Some(close::UNAUTHORIZED), "user_data must be JSON with a string \"id\"");
            return Some(DisconnectReason::Unauthorized);
        };
        if let Some(old) = self.user.replace(id.clone()) {
            self.papp.unregister_user(self.socket_id, &old);
        }
        self.papp.sign_in(self.socket_id, &id);
        let data = serde_json::json!({ "user_data": d.user_data });
        self.push(event_frame("pusher:signin_success", None, &data.to_string()));
        None
    }

    fn client_event(&self, event: &str, channel: Option<&str>, data: Option<&RawValue>) {
        let Some(name) = channel else {
            return self.error(None, "client events need a channel");
        };
        if !Kind::of(name).allows_client_events() {
            return self
                .error(None, &format!("Client events are only allowed on private and presence channels, not {name}"));
        }
        if event.len() > channels::MAX_NAME {
            return self.error(None, "event name over 200 characters");
        }
        if self.client_events.check().is_err() {
            let n = self.papp.config.client_events_per_sec;
            return self.error(
                Some(close::CLIENT_EVENT_RATE),
                &format!("Client event rejected - only {n} accepted per second"),
            );
        }
        let payload = match data {
            Some(raw) => Payload::from_raw(raw),
            None => Payload::from_value(&serde_json::Value::Null),
        };
        if payload.len() > self.papp.config.max_event_payload_bytes {
            let max = self.papp.config.max_event_payload_bytes;
            return self.error(None, &format!("Client event data over {max} bytes"));
        }
        let result = self.papp.channel(name).and_then(|ch| self.app.hub.client_event(self.conn, &ch, event, &payload));
        if let Err(e) = result {
            self.error(None, &e.message);
        }
    }
}

/// The presence grant from signed `channel_data`: `{"user_id", "user_info"?}`.
fn presence_grant(
    cfg: &super::config::PusherAppConfig,
    channel_data: &str,
) -> Result<SubscriptionGrant, (u16, String)> {
    let v: serde_json::Value =
        serde_json::from_str(channel_data).map_err(|_| (400, "channel_data must be JSON".to_string()))?;
    let user = match v.get("user_id") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err((400, "channel_data needs a user_id".into())),
    };
    if user.is_empty() || user.len() > cfg.max_user_id_len {
        return Err((400, format!("user_id must be 1 to {} characters", cfg.max_user_id_len)));
    }
    let info = match v.get("user_info") {
        Some(i) if !i.is_null() => Some(Payload::from_value(i)),
        _ => None,
    };
    if info.as_ref().is_some_and(|i| i.len() > cfg.max_user_info_bytes) {
        return Err((400, format!("user_info over {} bytes", cfg.max_user_info_bytes)));
    }
    let rights = Rights::SUBSCRIBE.union(Rights::PUBLISH).union(Rights::PRESENCE);
    Ok(SubscriptionGrant { rights, user: Some(user.into()), info })
}
