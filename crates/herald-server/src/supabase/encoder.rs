//! Hub events as Phoenix messages for one socket. The frames depend on the
//! socket (its topics, their join refs, `broadcast.self`, its
//! `postgres_changes` binding ids), so each socket has its own encoder,
//! whose routes the session updates as channels are joined and left.
//!
//! - a publication on a joined channel → `broadcast`
//!   `{"type":"broadcast","event","payload"}` from the `{"event","data"}`
//!   envelope (another shape: event `message`, the whole publication as payload);
//! - a change on a change channel → `postgres_changes` `{"ids","data"}` to
//!   each topic with a binding it passes;
//! - presence join, leave and update → `presence_diff`;
//! - the hub ending a subscription → `phx_error` (realtime-js rejoins).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use herald_core::{ChangeFilter, ChannelEvent, ChannelName, WireEncoder, split_event_envelope};
use parking_lot::Mutex;
use serde_json::Value;

use super::bindings;
use super::frames::{Vsn, text_frame};
use super::presence;

/// Event name for publications that are not `{"event","data"}` envelopes.
pub const DEFAULT_EVENT: &str = "message";

/// A joined topic's channel.
#[derive(Debug, Clone)]
pub struct TopicRoute {
    /// The topic on the wire.
    pub topic: String,
    /// The join's reference.
    pub join_ref: Option<String>,
    /// Deliver the socket's own broadcasts back to it.
    pub self_broadcast: bool,
}

/// A joined topic's bindings on one change channel.
#[derive(Debug, Clone)]
pub struct ChangeRoute {
    /// The topic on the wire.
    pub topic: String,
    /// The join's reference.
    pub join_ref: Option<String>,
    /// Binding ids and their filters.
    pub bindings: Vec<(u64, ChangeFilter)>,
}

#[derive(Default)]
struct Routes {
    channels: HashMap<ChannelName, TopicRoute>,
    changes: HashMap<ChannelName, Vec<ChangeRoute>>,
}

/// One socket's encoder.
pub struct SupabaseEncoder {
    vsn: Vsn,
    conn_id: OnceLock<Arc<str>>,
    routes: Mutex<Routes>,
}

impl SupabaseEncoder {
    /// An encoder for a socket speaking `vsn`.
    pub fn new(vsn: Vsn) -> Arc<Self> {
        Arc::new(Self { vsn, conn_id: OnceLock::new(), routes: Mutex::new(Routes::default()) })
    }

    /// The hub connection's id (set once, after connecting): its own
    /// broadcasts are dropped unless the topic asked for `self`.
    pub fn set_connection(&self, id: Arc<str>) {
        let _ = self.conn_id.set(id);
    }

    /// Route `channel` to a joined topic.
    pub fn route_channel(&self, channel: ChannelName, route: TopicRoute) {
        self.routes.lock().channels.insert(channel, route);
    }

    /// Forget `channel`'s topic.
    pub fn unroute_channel(&self, channel: &ChannelName) {
        self.routes.lock().channels.remove(channel);
    }

    /// Route `change_channel` to a topic's bindings; returns whether the
    /// socket already read that change channel for another topic.
    pub fn route_changes(&self, change_channel: ChannelName, route: ChangeRoute) -> bool {
        let mut r = self.routes.lock();
        let list = r.changes.entry(change_channel).or_default();
        let had = !list.is_empty();
        list.push(route);
        had
    }

    /// Forget `topic`'s bindings on `change_channel`; returns whether no
    /// topic reads it any more.
    pub fn unroute_changes(&self, change_channel: &ChannelName, topic: &str) -> bool {
        let mut r = self.routes.lock();
        let Some(list) = r.changes.get_mut(change_channel) else { return true };
        list.retain(|c| c.topic != topic);
        if list.is_empty() {
            r.changes.remove(change_channel);
            return true;
        }
        false
    }

    /// The joined topics and their join refs.
    pub fn topics(&self) -> Vec<(String, Option<String>)> {
        self.routes.lock().channels.values().map(|r| (r.topic.clone(), r.join_ref.clone())).collect()
    }

    fn frame(&self, route: &TopicRoute, event: &str, payload: &str) -> Bytes {
        text_frame(self.vsn, route.join_ref.as_deref(), None, &route.topic, event, payload)
    }

    fn changes(&self, routes: &[ChangeRoute], data: &[u8]) -> Bytes {
        let Ok(change) = serde_json::from_slice::<Value>(data) else { return Bytes::new() };
        let mut out = BytesMut::new();
        for route in routes {
            let ids: Vec<u64> = route.bindings.iter().filter(|(_, f)| f.matches(&change)).map(|(id, _)| *id).collect();
            if ids.is_empty() {
                continue;
            }
            let Some(payload) = bindings::payload(&ids, &change) else { continue };
            let f = text_frame(
                self.vsn,
                route.join_ref.as_deref(),
                None,
                &route.topic,
                "postgres_changes",
                &payload.to_string(),
            );
            out.extend_from_slice(&f);
        }
        out.freeze()
    }
}

/// `{"type":"broadcast","event","payload"}` for a publication's data.
pub fn broadcast_payload(data: &str) -> String {
    let (event, payload): (Cow<'_, str>, &str) =
        split_event_envelope(data).unwrap_or((Cow::Borrowed(DEFAULT_EVENT), data));
    format!("{{\"type\":\"broadcast\",\"event\":{},\"payload\":{payload}}}", Value::from(&*event))
}

impl WireEncoder for SupabaseEncoder {
    fn encode(&self, event: &ChannelEvent<'_>) -> Bytes {
        let routes = self.routes.lock();
        match event {
            ChannelEvent::Publication(p) => {
                if let Some(route) = routes.channels.get(&p.channel) {
                    let own = p.publisher.as_ref().zip(self.conn_id.get()).is_some_and(|(p, me)| p.client == *me);
                    if own && !route.self_broadcast {
                        return Bytes::new();
                    }
                    return self.frame(route, "broadcast", &broadcast_payload(p.data.as_str()));
                }
                match routes.changes.get(&p.channel) {
                    Some(list) => self.changes(list, p.data.bytes()),
                    None => Bytes::new(),
                }
            }
            ChannelEvent::Join(ch, who) | ChannelEvent::Leave(ch, who) => {
                let Some(route) = routes.channels.get(*ch) else { return Bytes::new() };
                let joined = matches!(event, ChannelEvent::Join(..));
                self.frame(route, "presence_diff", &presence::diff(who, joined).to_string())
            }
            ChannelEvent::PresenceUpdate(ch, member) => {
                let Some(route) = routes.channels.get(*ch) else { return Bytes::new() };
                self.frame(route, "presence_diff", &presence::update(member).to_string())
            }
            ChannelEvent::Unsubscribed(ch, _) => {
                if let Some(route) = routes.channels.get(*ch) {
                    return self.frame(route, "phx_error", "{}");
                }
                let mut out = BytesMut::new();
                for route in routes.changes.get(*ch).into_iter().flatten() {
                    out.extend_from_slice(&text_frame(
                        self.vsn,
                        route.join_ref.as_deref(),
                        None,
                        &route.topic,
                        "phx_error",
                        "{}",
                    ));
                }
                out.freeze()
            }
            _ => Bytes::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_become_broadcasts() {
        let v: Value = serde_json::from_str(&broadcast_payload(r#"{"event":"news","data":{"a":1}}"#)).unwrap();
        assert_eq!(v, serde_json::json!({"type":"broadcast","event":"news","payload":{"a":1}}));
        let v: Value = serde_json::from_str(&broadcast_payload(r#"{"x":1}"#)).unwrap();
        assert_eq!(v, serde_json::json!({"type":"broadcast","event":"message","payload":{"x":1}}));
    }
}
