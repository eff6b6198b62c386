//! `Connection`: one client connection as the hub sees it, whatever door it
//! came through: who it is, how to encode for it, and its outbound queue.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::auth::Identity;
use crate::channel::ChannelName;
use crate::outbound::{Outbound, QueueLimits};
use crate::wire::{ClientInfo, WireEncoder};

/// What a door knows about a connection when it registers it with the hub.
pub struct ConnectionInit {
    /// Who it is and what it may do.
    pub identity: Identity,
    /// Encoder for this connection's wire variant.
    pub encoder: Arc<dyn WireEncoder>,
    /// Outbound queue limits.
    pub queue: QueueLimits,
}

/// A client connection registered with the hub.
pub struct Connection {
    client: ClientInfo,
    identity: Mutex<Arc<Identity>>,
    /// Encoder for this connection's wire variant.
    pub encoder: Arc<dyn WireEncoder>,
    /// Frames waiting to be written.
    pub outbound: Outbound,
    pub(crate) channels: Mutex<HashSet<ChannelName>>,
    /// Whether publications attributed to this connection are delivered back to it.
    echo: AtomicBool,
    /// Another publisher id that means this connection (a Pusher socket id),
    /// so a node that does not hold the connection can attribute a
    /// publication to it.
    alias: std::sync::OnceLock<Arc<str>>,
}

impl Connection {
    pub(crate) fn new(id: Arc<str>, init: ConnectionInit) -> Self {
        let client = ClientInfo { client: id, user: init.identity.user.clone(), info: init.identity.info.clone() };
        Self {
            client,
            identity: Mutex::new(Arc::new(init.identity)),
            encoder: init.encoder,
            outbound: Outbound::new(init.queue),
            channels: Mutex::new(HashSet::new()),
            echo: AtomicBool::new(true),
            alias: std::sync::OnceLock::new(),
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

    /// Who the connection is and what it may do, now.
    pub fn identity(&self) -> Arc<Identity> {
        self.identity.lock().clone()
    }

    /// Replace the identity after a token refresh. The user must stay the
    /// same (checked by the caller); grants and expiry may change.
    pub fn refresh_identity(&self, identity: Identity) {
        *self.identity.lock() = Arc::new(identity);
    }

    /// Choose whether publications attributed to this connection (it
    /// published them, or the back end published on its behalf with
    /// [`Hub::publish_on_behalf`](crate::Hub::publish_on_behalf)) are
    /// delivered back to it. Default true; Pusher sockets say false, which
    /// is how a trigger's `socket_id` excludes its socket.
    pub fn set_echo(&self, echo: bool) {
        self.echo.store(echo, Ordering::Relaxed);
    }

    /// Give the connection a second publisher id (set once): a publication
    /// attributed to `alias` counts as its own. The Pusher door uses the
    /// socket id, which any node can put in a trigger's publication, so a
    /// `socket_id` excludes its socket whichever node it is on.
    pub fn set_alias(&self, alias: Arc<str>) {
        let _ = self.alias.set(alias);
    }

    /// Whether `publication` should reach this connection under its echo choice.
    pub fn wants(&self, publication: &crate::publication::Publication) -> bool {
        self.echo.load(Ordering::Relaxed)
            || publication
                .publisher
                .as_ref()
                .is_none_or(|p| p.client != self.client.client && self.alias.get().is_none_or(|a| *a != p.client))
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
