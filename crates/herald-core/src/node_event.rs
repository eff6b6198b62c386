//! `NodeEvent`: an ephemeral event (presence join/leave/update, typing,
//! client events, read receipts, pushes to a user) that the hub delivers to
//! its own connections at once and hands to the broker for the other nodes
//! ([`Broker::broadcast`](crate::broker::Broker::broadcast)). A node receiving
//! one ([`BrokerHandler::on_node_event`](crate::broker::BrokerHandler::on_node_event))
//! delivers it to its own connections only. Never stored.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::channel::ChannelName;
use crate::hub::Hub;
use crate::presence::PresenceMember;
use crate::publication::Payload;
use crate::store::Notification;
use crate::wire::{ChannelEvent, ClientInfo, EncodeCache};

/// A presence member or event sender as it travels between nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireMember {
    /// Connection id.
    pub client: String,
    /// User id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Public profile (JSON text), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Box<RawValue>>,
}

impl WireMember {
    /// From the hub's form.
    pub fn from_info(c: &ClientInfo) -> Self {
        Self {
            client: c.client.to_string(),
            user: c.user.as_deref().map(str::to_string),
            info: c.info.as_ref().and_then(|p| RawValue::from_string(p.as_str().to_string()).ok()),
        }
    }

    /// To the hub's form.
    pub fn to_info(&self) -> ClientInfo {
        ClientInfo {
            client: Arc::from(self.client.as_str()),
            user: self.user.as_deref().map(Arc::from),
            info: self.info.as_ref().and_then(|r| Payload::from_json_text(r.get().to_string()).ok()),
        }
    }
}

/// An ephemeral event for the other nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeEvent {
    /// A member joined a channel's presence.
    Join {
        /// The channel.
        channel: ChannelName,
        /// Who.
        member: WireMember,
    },
    /// A member left a channel's presence.
    Leave {
        /// The channel.
        channel: ChannelName,
        /// Who.
        member: WireMember,
    },
    /// A member changed its presence state.
    PresenceUpdate {
        /// The channel.
        channel: ChannelName,
        /// Who.
        member: WireMember,
        /// Its connections on the origin node.
        connections: usize,
        /// The new state.
        state: Option<Box<RawValue>>,
    },
    /// A user started or stopped typing.
    Typing {
        /// The channel.
        channel: ChannelName,
        /// The user (connection id when anonymous).
        user: String,
        /// Typing or not.
        typing: bool,
    },
    /// A client event from a connection on the origin node.
    Client {
        /// The channel.
        channel: ChannelName,
        /// The event name.
        event: String,
        /// Its data.
        data: Box<RawValue>,
        /// The sender.
        from: WireMember,
    },
    /// A user's read position moved.
    Read {
        /// The channel.
        channel: ChannelName,
        /// The user.
        user: String,
        /// The new mark.
        offset: u64,
    },
    /// A new notification for `notification.user`, with their unread count.
    Notification {
        /// The notification.
        notification: Notification,
        /// The user's unread count.
        unread: u64,
    },
    /// A user's unread notification count changed.
    Unread {
        /// The user.
        user: String,
        /// The count.
        unread: u64,
    },
}

impl NodeEvent {
    /// The channel a channel event belongs to (`None` for pushes to a user).
    pub fn channel(&self) -> Option<&ChannelName> {
        match self {
            NodeEvent::Join { channel, .. }
            | NodeEvent::Leave { channel, .. }
            | NodeEvent::PresenceUpdate { channel, .. }
            | NodeEvent::Typing { channel, .. }
            | NodeEvent::Client { channel, .. }
            | NodeEvent::Read { channel, .. } => Some(channel),
            NodeEvent::Notification { .. } | NodeEvent::Unread { .. } => None,
        }
    }
}

fn raw(p: &Payload) -> Option<Box<RawValue>> {
    RawValue::from_string(p.as_str().to_string()).ok()
}

impl Hub {
    /// Hand `event` to the broker for the other nodes (this node has
    /// delivered it already).
    pub(crate) fn share(&self, event: impl FnOnce() -> Option<NodeEvent>) {
        if self.broker.distributed()
            && let Some(e) = event()
        {
            self.broker.broadcast(e);
        }
    }

    pub(crate) fn share_presence_update(&self, channel: &ChannelName, m: &PresenceMember) {
        self.share(|| {
            Some(NodeEvent::PresenceUpdate {
                channel: channel.clone(),
                member: WireMember::from_info(&m.info),
                connections: m.connections,
                state: m.state.as_ref().and_then(raw),
            })
        });
    }

    pub(crate) fn share_client_event(&self, channel: &ChannelName, event: &str, data: &Payload, from: &ClientInfo) {
        self.share(|| {
            Some(NodeEvent::Client {
                channel: channel.clone(),
                event: event.to_string(),
                data: raw(data)?,
                from: WireMember::from_info(from),
            })
        });
    }

    /// Deliver an event from another node to this node's connections.
    pub(crate) fn deliver_node_event(&self, event: NodeEvent) {
        if let Some(channel) = event.channel() {
            let entry = self.channels.read().get(channel).cloned();
            let Some(entry) = entry else { return };
            match &event {
                NodeEvent::Join { channel, member } => {
                    self.broadcast_event(&entry, &ChannelEvent::Join(channel, &member.to_info()), None)
                }
                NodeEvent::Leave { channel, member } => {
                    self.broadcast_event(&entry, &ChannelEvent::Leave(channel, &member.to_info()), None)
                }
                NodeEvent::PresenceUpdate { channel, member, connections, state } => {
                    let m = PresenceMember {
                        info: member.to_info(),
                        connections: *connections,
                        state: state.as_ref().and_then(|s| Payload::from_json_text(s.get().to_string()).ok()),
                    };
                    self.broadcast_event(&entry, &ChannelEvent::PresenceUpdate(channel, &m), None)
                }
                NodeEvent::Typing { channel, user, typing } => {
                    let ev = ChannelEvent::Typing { channel, user, typing: *typing };
                    self.broadcast_filtered(&entry, &ev, |c| c.client_info().member_key().as_ref() != user.as_str());
                }
                NodeEvent::Client { channel, event, data, from } => {
                    let Ok(data) = Payload::from_json_text(data.get().to_string()) else { return };
                    let from = from.to_info();
                    let ev = ChannelEvent::Client { channel, event, data: &data, from: &from };
                    self.broadcast_event(&entry, &ev, None);
                }
                NodeEvent::Read { channel, user, offset } => {
                    self.broadcast_event(&entry, &ChannelEvent::Read { channel, user, offset: *offset }, None)
                }
                NodeEvent::Notification { .. } | NodeEvent::Unread { .. } => {}
            }
            return;
        }
        match &event {
            NodeEvent::Notification { notification, unread } => {
                let conns = self.user_connections(&notification.user);
                let mut cache = EncodeCache::new(ChannelEvent::Notification(notification, *unread));
                for c in &conns {
                    let _ = c.outbound.push_frame(cache.frame(&c.encoder));
                }
            }
            NodeEvent::Unread { user, unread } => {
                let conns = self.user_connections(user);
                let mut cache = EncodeCache::new(ChannelEvent::Unread(*unread));
                for c in &conns {
                    let _ = c.outbound.push_frame(cache.frame(&c.encoder));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_round_trips_as_json() {
        let e = NodeEvent::Client {
            channel: ChannelName::new("chat:a").unwrap(),
            event: "poke".into(),
            data: RawValue::from_string("{\"x\":1}".into()).unwrap(),
            from: WireMember {
                client: "n-1".into(),
                user: Some("u".into()),
                info: Some(RawValue::from_string("{\"name\":\"U\"}".into()).unwrap()),
            },
        };
        let text = serde_json::to_string(&e).unwrap();
        let back: NodeEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(back.channel().map(|c| c.as_str()), Some("chat:a"));
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }
}
