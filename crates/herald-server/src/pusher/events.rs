//! `pusher:signin` (the signed `user_data` makes the socket a user's) and
//! `client-*` events (private and presence channels only, the app's rate
//! and size limits).

use herald_core::{DisconnectReason, Payload};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::channels::{self, Kind};
use super::frames::event_frame;
use super::session::{Session, close};

#[derive(Deserialize)]
pub(super) struct SigninData {
    auth: String,
    user_data: String,
}

impl Session<'_> {
    pub(super) fn signin(&mut self, d: SigninData) -> Option<DisconnectReason> {
        let cfg = &self.papp.config;
        if !super::signature::signin_valid(&cfg.key, &cfg.secret, self.socket_id, &d.user_data, &d.auth) {
            self.error(close::UNAUTHORIZED, "Invalid signature for pusher:signin");
            return Some(DisconnectReason::Unauthorized);
        }
        let id = serde_json::from_str::<serde_json::Value>(&d.user_data)
            .ok()
            .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
            .filter(|id| !id.is_empty() && id.len() <= cfg.max_user_id_len);
        let Some(id) = id else {
            self.error(close::UNAUTHORIZED, "user_data must be JSON with a string \"id\"");
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

    pub(super) fn client_event(&self, event: &str, channel: Option<&str>, data: Option<&RawValue>) {
        let Some(name) = channel else {
            return self.error(close::OTHER_ERROR, "client events need a channel");
        };
        if !Kind::of(name).allows_client_events() {
            let name = channels::echoed(name);
            return self.error(
                close::OTHER_ERROR,
                &format!("Client events are only allowed on private and presence channels, not {name}"),
            );
        }
        if event.len() > channels::MAX_NAME {
            return self.error(close::OTHER_ERROR, "event name over 200 characters");
        }
        if self.client_events.check().is_err() {
            let n = self.papp.config.client_events_per_sec;
            return self
                .error(close::CLIENT_EVENT_RATE, &format!("Client event rejected - only {n} accepted per second"));
        }
        let payload = match data {
            Some(raw) => Payload::from_raw(raw),
            None => Payload::from_value(&serde_json::Value::Null),
        };
        if payload.len() > self.papp.config.max_event_payload_bytes {
            let max = self.papp.config.max_event_payload_bytes;
            return self.error(close::OTHER_ERROR, &format!("Client event data over {max} bytes"));
        }
        let result = self.papp.channel(name).and_then(|ch| self.app.hub.client_event(self.conn, &ch, event, &payload));
        if let Err(e) = result {
            self.error(error_code(&e), &e.message);
        }
    }
}

/// The Pusher code of a refusal by the hub.
fn error_code(e: &herald_core::HeraldError) -> u16 {
    match e.code {
        herald_core::ErrorCode::TooManyRequests => close::CLIENT_EVENT_RATE,
        herald_core::ErrorCode::Unauthorized | herald_core::ErrorCode::PermissionDenied => close::UNAUTHORIZED,
        _ => close::OTHER_ERROR,
    }
}
