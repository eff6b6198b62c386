//! `Connection`: one client connection as the hub sees it, whatever door it
//! came through: who it is, how to encode for it, and its outbound queue.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::channel::ChannelName;
use crate::outbound::{Outbound, QueueLimits};
use crate::publication::Payload;
use crate::wire::{ClientInfo, WireEncoder};

/// What a door knows about a connection when it registers it with the hub.
pub struct ConnectionInit {
    /// User id, if authenticated.
    pub user: Option<Arc<str>>,
    /// Public profile (shown in presence).
    pub info: Option<Payload>,
    /// Encoder for this connection's wire variant.
    pub encoder: Arc<dyn WireEncoder>,
    /// Outbound queue limits.
    pub queue: QueueLimits,
}

/// A client connection registered with the hub.
pub struct Connection {
    client: ClientInfo,
    /// Encoder for this connection's wire variant.
    pub encoder: Arc<dyn WireEncoder>,
    /// Frames waiting to be written.
    pub outbound: Outbound,
    pub(crate) channels: Mutex<HashSet<ChannelName>>,
}

impl Connection {
    pub(crate) fn new(id: Arc<str>, init: ConnectionInit) -> Self {
        Self {
            client: ClientInfo { client: id, user: init.user, info: init.info },
            encoder: init.encoder,
            outbound: Outbound::new(init.queue),
            channels: Mutex::new(HashSet::new()),
        }
    }

    /// The connection id.
    pub fn id(&self) -> &Arc<str> {
        &self.client.client
    }

    /// The user id, if authenticated.
    pub fn user(&self) -> Option<&Arc<str>> {
        self.client.user.as_ref()
    }

    /// Identity as shown in presence.
    pub fn client_info(&self) -> &ClientInfo {
        &self.client
    }

    /// Channels this connection is subscribed to (or subscribing).
    pub fn channels(&self) -> Vec<ChannelName> {
        self.channels.lock().iter().cloned().collect()
    }

    /// Whether the connection is subscribed (or subscribing) to `channel`.
    pub fn is_subscribed(&self, channel: &ChannelName) -> bool {
        self.channels.lock().contains(channel)
    }
}
