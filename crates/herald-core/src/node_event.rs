//! `NodeEvent`: an ephemeral event (presence join/leave/update, typing,
//! client events, read receipts, pushes to a user) that the hub delivers to
//! its own connections at once and hands to the broker for the other nodes
//! ([`Broker::broadcast`](crate::broker::Broker::broadcast)). A node receiving
//! one ([`BrokerHandler::on_node_event`](crate::broker::BrokerHandler::on_node_event))
//! delivers it to its own connections only. Never stored. The hub's side
//! (`Hub::share`, `Hub::deliver_node_event`) is `hub/scale_out.rs`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::channel::ChannelName;
use crate::publication::Payload;
use crate::store::Notification;
use crate::wire::ClientInfo;

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
