//! `pusher:subscribe`: the channel's signature (private, presence,
//! encrypted), the grant it earns (rights, the presence member from signed
//! `channel_data`), the presence member limit, `subscription_succeeded` with
//! the members, and a cache channel's last event or `pusher:cache_miss`.

use herald_core::{Caller, Direction, HistoryQuery, Payload, Rights, SubscriptionGrant, now_ms};
use serde::Deserialize;

use super::channels::{self, Kind};
use super::frames::{event_frame, member_json};
use super::session::{Session, close};

#[derive(Deserialize)]
pub(super) struct SubscribeData {
    channel: String,
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    channel_data: Option<String>,
}

impl Session<'_> {
    /// `pusher:subscription_error` on `channel` (cut when it is too long to be a channel).
    fn subscription_error(&self, channel: &str, status: u16, message: &str) {
        let data = serde_json::json!({ "type": "AuthError", "error": message, "status": status });
        self.push(event_frame("pusher:subscription_error", Some(&channels::echoed(channel)), &data.to_string()));
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

    pub(super) async fn subscribe(&mut self, d: SubscribeData) {
        let ch = match self.papp.channel(&d.channel) {
            Ok(c) => c,
            Err(e) => return self.subscription_error(&d.channel, 400, &e.message),
        };
        let grant = match self.grant(&d) {
            Ok(g) => g,
            Err((status, message)) => {
                self.subscription_error(&d.channel, status, &message);
                if status == 401 {
                    self.error(close::UNAUTHORIZED, &message);
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
