//! `phx_join` and leaving: topic `realtime:X` is Herald channel
//! `{namespace}:X` (`private: true`: `{namespace}:private-X`, which needs
//! an explicit grant like every private channel). A join subscribes the
//! socket to the channel (its presence key as the member, joining presence
//! only on `track`) and to the change channel of each `postgres_changes`
//! binding, and replies `ok` only once all of them are live — so a row
//! written when realtime-js reports SUBSCRIBED is delivered — then sends
//! `presence_state` and, with bindings, the `system` "postgres_changes ok".

use herald_core::{ChannelName, PendingSubscription, Rights, SubscriptionGrant};
use serde_json::{Value, json};

use super::bindings::{self, Binding};
use super::encoder::{ChangeRoute, TopicRoute};
use super::frames::Message;
use super::join::JoinConfig;
use super::presence;
use super::session::{Joined, Session};
use crate::door::Flow;

/// The Herald channel of `topic`.
pub fn channel_of(namespace: &str, topic: &str, private: bool) -> Result<ChannelName, String> {
    let sub = topic.strip_prefix("realtime:").unwrap_or(topic);
    let name = match private && !sub.starts_with("private-") {
        true => format!("{namespace}:private-{sub}"),
        false => format!("{namespace}:{sub}"),
    };
    ChannelName::new(&name).map_err(|e| format!("{topic}: {}", e.message))
}

impl Session<'_> {
    pub(super) async fn join(&mut self, m: &Message) -> Flow {
        if self.topics.contains_key(&m.topic) {
            self.leave(&m.topic);
        }
        let cfg = match JoinConfig::parse(&m.payload) {
            Ok(c) => c,
            Err(reason) => return self.refuse_join(m, &reason),
        };
        let mut flow = Flow::Continue;
        if let Some(token) = &cfg.access_token {
            if let Err(reason) = self.use_token(token) {
                return self.refuse_join(m, &reason);
            }
            flow = Flow::Refreshed;
        }
        match self.subscribe(m, &cfg).await {
            Ok(()) => flow,
            Err(reason) => match self.refuse_join(m, &reason) {
                Flow::Continue => flow,
                other => other,
            },
        }
    }

    fn refuse_join(&self, m: &Message, reason: &str) -> Flow {
        self.reply_error(m, reason);
        Flow::Continue
    }

    /// Check the bindings against the change feed's catalog and the
    /// connection's rights.
    fn bindings(&mut self, cfg: &JoinConfig) -> Result<Vec<Binding>, String> {
        let max = self.app.config.supabase.max_bindings_per_join;
        if cfg.postgres_changes.len() > max {
            return Err(format!("at most {max} postgres_changes bindings per channel"));
        }
        if !cfg.postgres_changes.is_empty() && self.app.changes.is_none() {
            return Err("postgres_changes needs the database change feed ([changes] url)".into());
        }
        let namespace = &self.app.config.changes.namespace;
        let identity = self.conn.identity();
        let mut out = Vec::new();
        for raw in &cfg.postgres_changes {
            let id = self.next_binding;
            self.next_binding += 1;
            let mut b = bindings::parse(namespace, raw, id)?;
            self.app.hub.authorize(&identity, &b.channel, Rights::SUBSCRIBE).map_err(|e| e.message)?;
            self.app.hub.check_change_filter(&b.channel, &mut b.filter).map_err(|e| e.message)?;
            out.push(b);
        }
        Ok(out)
    }

    /// The presence key: the user id with a signed-in token, else the
    /// join's `presence.key`, else a generated one.
    fn presence_key(&self, cfg: &JoinConfig) -> String {
        if let Some(user) = self.conn.identity().user.as_deref() {
            return user.to_string();
        }
        if !cfg.presence_key.is_empty() {
            return cfg.presence_key.clone();
        }
        format!("{:032x}", rand::random::<u128>())
    }

    async fn subscribe(&mut self, m: &Message, cfg: &JoinConfig) -> Result<(), String> {
        let namespace = self.app.config.supabase.namespace.clone();
        let channel = channel_of(&namespace, &m.topic, cfg.private)?;
        let identity = self.conn.identity();
        self.app.hub.authorize(&identity, &channel, Rights::SUBSCRIBE).map_err(|e| e.message)?;
        let bindings = self.bindings(cfg)?;
        let route =
            TopicRoute { topic: m.topic.clone(), join_ref: m.join_ref.clone(), self_broadcast: cfg.broadcast_self };
        self.encoder.route_channel(channel.clone(), route);
        let mut joined = Joined {
            channel: channel.clone(),
            join_ref: m.join_ref.clone(),
            ack: cfg.broadcast_ack,
            change_channels: Vec::new(),
        };
        // Authorized above: the grant only names the presence member.
        let grant =
            SubscriptionGrant { rights: Rights::SUBSCRIBE, user: Some(self.presence_key(cfg).into()), info: None };
        let pending = match self.app.hub.subscribe_granted(self.conn, channel.clone(), None, Some(grant)).await {
            Ok(p) => p,
            Err(e) => {
                self.encoder.unroute_channel(&channel);
                return Err(e.message);
            }
        };
        let mut live: Vec<PendingSubscription> = Vec::new();
        if let Err(reason) = self.subscribe_changes(m, &bindings, &mut joined, &mut live).await {
            drop(pending);
            drop(live);
            self.release(&m.topic, &joined);
            return Err(reason);
        }
        let echoed: Vec<Value> =
            cfg.postgres_changes.iter().zip(&bindings).map(|(raw, b)| bindings::echo(raw, b.id)).collect();
        self.reply_ok(m, &json!({ "postgres_changes": echoed }));
        let state = presence::state(pending.presence_snapshot.as_deref().unwrap_or_default());
        self.send(&m.topic, m.join_ref.as_deref(), "presence_state", &state);
        pending.activate();
        live.into_iter().for_each(PendingSubscription::activate);
        if !bindings.is_empty() {
            let sub = m.topic.strip_prefix("realtime:").unwrap_or(&m.topic);
            let system = json!({ "extension": "postgres_changes", "status": "ok", "message": "Subscribed to PostgreSQL", "channel": sub });
            self.send(&m.topic, m.join_ref.as_deref(), "system", &system);
        }
        self.topics.insert(m.topic.clone(), joined);
        Ok(())
    }

    /// Route each binding's change channel to this topic, subscribing the
    /// socket to the channels no other topic of it reads yet.
    async fn subscribe_changes(
        &mut self,
        m: &Message,
        bindings: &[Binding],
        joined: &mut Joined,
        live: &mut Vec<PendingSubscription>,
    ) -> Result<(), String> {
        let mut by_channel: Vec<(ChannelName, Vec<(u64, herald_core::ChangeFilter)>)> = Vec::new();
        for b in bindings {
            match by_channel.iter_mut().find(|(c, _)| *c == b.channel) {
                Some((_, list)) => list.push((b.id, b.filter.clone())),
                None => by_channel.push((b.channel.clone(), vec![(b.id, b.filter.clone())])),
            }
        }
        for (channel, list) in by_channel {
            let route = ChangeRoute { topic: m.topic.clone(), join_ref: m.join_ref.clone(), bindings: list };
            joined.change_channels.push(channel.clone());
            if self.encoder.route_changes(channel.clone(), route) {
                continue;
            }
            let pending =
                self.app.hub.subscribe_filtered(self.conn, channel, None, None).await.map_err(|e| e.message)?;
            live.push(pending);
        }
        Ok(())
    }

    /// Leave `topic` (nothing when not joined).
    pub(super) fn leave(&mut self, topic: &str) {
        if let Some(joined) = self.topics.remove(topic) {
            self.release(topic, &joined);
        }
    }

    /// Unsubscribe a topic's channels and forget its routes.
    fn release(&self, topic: &str, joined: &Joined) {
        let _ = self.app.hub.unsubscribe(self.conn, &joined.channel);
        self.encoder.unroute_channel(&joined.channel);
        for ch in &joined.change_channels {
            if self.encoder.unroute_changes(ch, topic) {
                let _ = self.app.hub.unsubscribe(self.conn, ch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_map_to_channels() {
        assert_eq!(channel_of("realtime", "realtime:room-1", false).unwrap().as_str(), "realtime:room-1");
        assert_eq!(channel_of("realtime", "realtime:room-1", true).unwrap().as_str(), "realtime:private-room-1");
        assert_eq!(channel_of("rt", "realtime:private-a", true).unwrap().as_str(), "rt:private-a");
        assert!(channel_of("realtime", "realtime:has space", false).is_err());
    }
}
