//! One realtime-js socket on the door runtime: each Phoenix message
//! dispatched — `heartbeat` on `phoenix`, `phx_join` (`channel.rs`),
//! `phx_leave`, `broadcast`, `presence` track/untrack, `access_token` — and
//! a push to a topic not joined answered `unmatched topic`. A socket silent
//! for `[supabase] heartbeat_timeout_secs` is closed; realtime-js reconnects
//! after any close it did not ask for, and rejoins its channels.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use herald_core::{Caller, ChannelName, Connection, DisconnectReason, Identity, Payload};
use herald_ws::{WsError, frame};
use serde_json::{Value, json};

use super::encoder::SupabaseEncoder;
use super::frames::{self, Message, Vsn};
use crate::app::App;
use crate::door::{Closing, DoorSession, Ending, Flow, KeepAlive};
use crate::limits::{ConnectionLimit, ConnectionLimits};

/// A joined topic.
pub(super) struct Joined {
    /// Its Herald channel.
    pub(super) channel: ChannelName,
    /// The join's reference.
    pub(super) join_ref: Option<String>,
    /// Reply `ok` to each broadcast.
    pub(super) ack: bool,
    /// The change channels its bindings read.
    pub(super) change_channels: Vec<ChannelName>,
}

/// One socket's state.
pub(super) struct Session<'a> {
    pub(super) app: &'a App,
    pub(super) conn: &'a Arc<Connection>,
    pub(super) encoder: Arc<SupabaseEncoder>,
    pub(super) vsn: Vsn,
    pub(super) topics: HashMap<String, Joined>,
    /// The next `postgres_changes` binding id.
    pub(super) next_binding: u64,
    pub(super) limits: ConnectionLimits,
}

impl DoorSession for Session<'_> {
    const DOOR: &'static str = "supabase";

    /// realtime-js sends a heartbeat every 25 s; a socket silent for the
    /// timeout is dead (the "ping" is empty: nothing is sent).
    fn keep_alive(&self) -> KeepAlive {
        KeepAlive::WhenIdle {
            idle: Duration::from_secs(self.app.config.supabase.heartbeat_timeout_secs.max(1)),
            timeout: Duration::ZERO,
            ping: Bytes::new(),
        }
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        let decoded = frames::decode_text(self.vsn, text);
        self.handle(decoded).await
    }

    async fn on_binary(&mut self, bytes: &[u8]) -> Flow {
        let decoded = frames::decode_binary(self.vsn, bytes);
        self.handle(decoded).await
    }

    fn read_error(&self, e: &WsError) -> Option<Ending> {
        crate::door::read_error_reason(e).map(Ending::from)
    }
}

impl Session<'_> {
    pub(super) fn push(&self, frame: Bytes) {
        let _ = self.conn.outbound.push_frame(frame);
    }

    pub(super) fn reply_ok(&self, to: &Message, response: &Value) {
        self.push(frames::reply(self.vsn, to, true, response));
    }

    pub(super) fn reply_error(&self, to: &Message, reason: &str) {
        self.push(frames::error_reply(self.vsn, to, reason));
    }

    /// A server message on a joined topic.
    pub(super) fn send(&self, topic: &str, join_ref: Option<&str>, event: &str, payload: &Value) {
        self.push(frames::text_frame(self.vsn, join_ref, None, topic, event, &payload.to_string()));
    }

    /// A frame that is not a message: told on topic `phoenix` (no channel
    /// listens there), the socket goes on.
    fn bad_frame(&self, why: &str) {
        tracing::debug!(why, "bad frame");
        let payload = json!({ "status": "error", "response": { "reason": why } });
        self.push(frames::text_frame(self.vsn, None, None, "phoenix", "phx_reply", &payload.to_string()));
    }

    /// Count a message against `[limits]`; too many refusals close the socket.
    fn over_limit(&self) -> Option<Flow> {
        let e = self.limits.check(ConnectionLimit::Request).err()?;
        self.bad_frame(&e.message);
        self.limits.record_refusal().then(|| DisconnectReason::TooManyRequests.into())
    }

    /// A decoded frame (text or binary), counted against `[limits]`.
    async fn handle(&mut self, decoded: Result<Message, frames::FrameError>) -> Flow {
        if let Some(end) = self.over_limit() {
            return end;
        }
        match decoded {
            Ok(m) => self.dispatch(m).await,
            Err(e) => {
                self.bad_frame(&e.to_string());
                Flow::Continue
            }
        }
    }

    async fn dispatch(&mut self, m: Message) -> Flow {
        if m.topic.len() > self.app.config.supabase.max_topic_len {
            let max = self.app.config.supabase.max_topic_len;
            self.bad_frame(&format!("topic longer than {max} bytes"));
            return Flow::Continue;
        }
        if m.topic == "phoenix" {
            match m.event.as_str() {
                "heartbeat" => self.reply_ok(&m, &json!({})),
                _ => self.reply_error(&m, &format!("unknown event {:?} on topic phoenix", m.event)),
            }
            return Flow::Continue;
        }
        if m.event == "phx_join" {
            if self.limits.check(ConnectionLimit::Subscribe).is_err() {
                self.reply_error(&m, "too many joins: slow down");
                return Flow::Continue;
            }
            return self.join(&m).await;
        }
        if !self.topics.contains_key(&m.topic) {
            self.reply_error(&m, "unmatched topic");
            return Flow::Continue;
        }
        match m.event.as_str() {
            "phx_leave" => {
                self.leave(&m.topic);
                self.reply_ok(&m, &json!({}));
                let close = frames::text_frame(
                    self.vsn,
                    m.join_ref.as_deref(),
                    m.join_ref.as_deref(),
                    &m.topic,
                    "phx_close",
                    "{}",
                );
                self.push(close);
            }
            "broadcast" => self.broadcast(&m).await,
            "presence" => self.presence(&m),
            "access_token" => return self.access_token(&m),
            other => self.reply_error(&m, &format!("unknown event {other:?}")),
        }
        Flow::Continue
    }

    async fn broadcast(&self, m: &Message) {
        let Some(joined) = self.topics.get(&m.topic) else { return };
        let ack = joined.ack;
        let event = m.payload.get("event").and_then(Value::as_str);
        let Some(event) = event else {
            return self.reply_error(m, "a broadcast needs {\"type\":\"broadcast\",\"event\",\"payload\"}");
        };
        let data = m.payload.get("payload").unwrap_or(&Value::Null);
        let envelope = json!({ "event": event, "data": data });
        let result = self
            .app
            .hub
            .publish(Caller::Client(self.conn), joined.channel.clone(), Payload::from_value(&envelope), None)
            .await;
        match result {
            Ok(_) if ack => self.reply_ok(m, &json!({})),
            Ok(_) => {}
            Err(e) => self.reply_error(m, &e.message),
        }
    }

    fn presence(&self, m: &Message) {
        let Some(joined) = self.topics.get(&m.topic) else { return };
        let result = match m.payload.get("event").and_then(Value::as_str) {
            Some("track") => {
                let payload = m.payload.get("payload").cloned().unwrap_or_else(|| json!({}));
                self.app.hub.track_presence(self.conn, &joined.channel, Payload::from_value(&payload))
            }
            Some("untrack") => self.app.hub.untrack_presence(self.conn, &joined.channel),
            _ => return self.reply_error(m, "presence events are track and untrack"),
        };
        match result {
            Ok(()) => self.reply_ok(m, &json!({})),
            Err(e) => self.reply_error(m, &e.message),
        }
    }

    /// Replace the connection's token with `token`: a full sign-in for an
    /// anonymous connection, a refresh (same user) otherwise.
    pub(super) fn use_token(&self, token: &str) -> Result<(), String> {
        let current = self.conn.identity();
        let next: Identity = match current.user {
            None => self.app.auth.authenticate(Some(token)),
            Some(_) => self.app.auth.refresh(&current, token),
        }
        .map_err(|e| e.message)?;
        let next = super::roles::with_role_grants(&self.app.config.supabase, token, next);
        self.conn.refresh_identity(next);
        Ok(())
    }

    /// `access_token`: the new token applies to the socket; a bad or
    /// expired one ends the channel with a `system` error, as Supabase does.
    fn access_token(&mut self, m: &Message) -> Flow {
        let token = m.payload.get("access_token").and_then(Value::as_str).unwrap_or("");
        match self.use_token(token) {
            Ok(()) => Flow::Refreshed,
            Err(reason) => {
                let join_ref = self.topics.get(&m.topic).and_then(|j| j.join_ref.clone());
                self.leave(&m.topic);
                system_error(self.vsn, &m.topic, join_ref.as_deref(), &reason).into_iter().for_each(|f| self.push(f));
                Flow::Continue
            }
        }
    }
}

/// A `system` error message then `phx_close` on `topic`: how Supabase ends
/// a channel whose token is bad or expired.
pub(super) fn system_error(vsn: Vsn, topic: &str, join_ref: Option<&str>, message: &str) -> Vec<Bytes> {
    let sub = topic.strip_prefix("realtime:").unwrap_or(topic);
    let system = json!({ "extension": "system", "status": "error", "message": message, "channel": sub });
    vec![
        frames::text_frame(vsn, join_ref, None, topic, "system", &system.to_string()),
        frames::text_frame(vsn, join_ref, join_ref, topic, "phx_close", "{}"),
    ]
}

/// The close of a socket the server ends: for an expired token, a
/// `system` error and `phx_close` on every joined topic first.
pub(super) struct SupabaseClosing {
    pub(super) vsn: Vsn,
    pub(super) encoder: Arc<SupabaseEncoder>,
}

impl Closing for SupabaseClosing {
    fn frames(&self, reason: DisconnectReason) -> Vec<Bytes> {
        let mut out = Vec::new();
        if reason == DisconnectReason::TokenExpired {
            for (topic, join_ref) in self.encoder.topics() {
                out.extend(system_error(self.vsn, &topic, join_ref.as_deref(), "Token has expired"));
            }
        }
        let code = match reason {
            DisconnectReason::Disconnected | DisconnectReason::TokenExpired => 1000,
            DisconnectReason::Shutdown => 1001,
            _ => 1008,
        };
        out.push(frame::close(code, reason.message()));
        out
    }
}
