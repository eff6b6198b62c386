//! Server events: what happened to channels that the app's back end may want
//! to hear about (Pusher's webhooks, a durable event queue). The hub reports
//! them to one [`ServerEventSink`]; the server decides where they go.
//!
//! Occupied and vacated are once per cluster: with a shared
//! [`OccupancyBackend`](crate::occupancy::OccupancyBackend) (Redis) a channel
//! is occupied when its first subscription on any node begins and vacated
//! when its last one on any node ends (or dies with its node); on one node,
//! when its first (last) subscription here begins (ends).

use std::sync::Arc;

use crate::channel::ChannelName;
use crate::publication::Payload;

/// Something that happened to a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The channel's first subscriber (on any node) subscribed.
    ChannelOccupied {
        /// The channel.
        channel: ChannelName,
    },
    /// The channel's last subscriber (on any node) left.
    ChannelVacated {
        /// The channel.
        channel: ChannelName,
    },
    /// A member joined the channel's presence.
    MemberAdded {
        /// The channel.
        channel: ChannelName,
        /// The member's user id (connection id for anonymous members).
        user: Arc<str>,
    },
    /// A member left the channel's presence.
    MemberRemoved {
        /// The channel.
        channel: ChannelName,
        /// The member's user id (connection id for anonymous members).
        user: Arc<str>,
    },
    /// A client sent an ephemeral event on the channel.
    ClientEvent {
        /// The channel.
        channel: ChannelName,
        /// The event name.
        event: Arc<str>,
        /// The event data.
        data: Payload,
        /// The sending connection's id.
        client: Arc<str>,
        /// The sender's user id, when it has one on this channel.
        user: Option<Arc<str>>,
    },
}

impl ServerEvent {
    /// The channel the event is about.
    pub fn channel(&self) -> &ChannelName {
        match self {
            ServerEvent::ChannelOccupied { channel }
            | ServerEvent::ChannelVacated { channel }
            | ServerEvent::MemberAdded { channel, .. }
            | ServerEvent::MemberRemoved { channel, .. }
            | ServerEvent::ClientEvent { channel, .. } => channel,
        }
    }
}

/// Where the hub reports server events. Called inline on the hub's paths
/// (subscribe, unsubscribe, presence, client events): implementations must
/// not block; queue the event and deliver it elsewhere.
pub trait ServerEventSink: Send + Sync {
    /// Take one event.
    fn emit(&self, event: ServerEvent);
}
