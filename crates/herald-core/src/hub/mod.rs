//! The `Hub`: this node's registry of connections, channels and
//! subscriptions, and the one place every door goes through to subscribe,
//! publish, read history and presence. It knows nothing about sockets.
//!
//! Its methods, by concern: this file (the struct, connect/disconnect,
//! local broadcast, fan-out), `authorize`, `subscribe`, `publish`,
//! `channels` (listings and counts), `presence`, `typing`, `read_state`,
//! `inbox`, `occupancy` and `scale_out` (node events, lost streams). The
//! other modules of the crate are the data types and algorithms they use.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};
use rand::Rng;

use crate::auth::{Identity, Rights, SubscriptionGrant, is_private};
use crate::broker::{Broker, BrokerHandler, Direction, HistoryPage, HistoryQuery, PublishRequest};
use crate::channel::ChannelName;
use crate::connection::{Connection, ConnectionInit};
use crate::error::{DisconnectReason, ErrorCode, HeraldError};
use crate::memory_store::MemoryStore;
use crate::namespace::{NamespaceOptions, Namespaces};
use crate::policy::ChannelPolicy;
use crate::position::Position;
use crate::presence::{ChannelPresence, PresenceMember, Removal};
use crate::publication::{Payload, Publication, PublisherInfo};
use crate::recovery::{self, Recovery};
use crate::server_events::{ServerEvent, ServerEventSink};
use crate::store::{InboxStore, ReadStateStore};
use crate::subscription::{Delivered, MemberChange, Subscription};
use crate::typing::Typing;
use crate::wire::{ChannelEvent, EncodeCache};

mod authorize;
mod change_filter;
mod channels;
mod inbox;
mod occupancy;
mod presence;
mod presence_track;
mod publish;
mod read_state;
mod scale_out;
mod subscribe;
mod typing;

pub use channels::ChannelInfo;
pub use subscribe::PendingSubscription;

/// Hub limits. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Most channels one connection may subscribe to. Default 128.
    pub max_channels_per_connection: usize,
    /// Most live publications buffered per subscription while its history is
    /// read; past that the connection is cut as a slow consumer. Default 10,000.
    pub recovery_buffer_max: usize,
    /// Most publications one history request returns. Default 1000.
    pub history_page_max: usize,
    /// Most open connections of one user on this node. Default 100.
    pub max_connections_per_user: usize,
    /// Notifications kept per user; the oldest beyond it are dropped. Default 500.
    pub inbox_max_per_user: usize,
    /// Most notifications one `notifications` request returns. Default 100.
    pub inbox_page_max: usize,
    /// Largest notification (title + body + data + kind), bytes. Default 16384.
    pub notification_max_bytes: usize,
    /// Most channels an unread-count answer covers. Default 1000.
    pub unread_channels_max: usize,
    /// Most members a channel's read-position list returns. Default 1000.
    pub read_positions_max: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            max_channels_per_connection: 128,
            recovery_buffer_max: 10_000,
            history_page_max: 1000,
            max_connections_per_user: 100,
            inbox_max_per_user: 500,
            inbox_page_max: 100,
            notification_max_bytes: 16 * 1024,
            unread_channels_max: 1000,
            read_positions_max: 1000,
        }
    }
}

#[derive(Default)]
pub(crate) struct ChannelEntry {
    pub(crate) subscribers: RwLock<HashMap<Arc<str>, Arc<Subscription>>>,
    pub(crate) presence: Mutex<ChannelPresence>,
}

/// The stores behind read positions and inboxes.
#[derive(Clone)]
pub struct HubStores {
    /// Read positions.
    pub read_state: Arc<dyn ReadStateStore>,
    /// Notification inboxes.
    pub inbox: Arc<dyn InboxStore>,
}

impl HubStores {
    /// Both in one memory store (tests, `--ephemeral`).
    pub fn memory() -> HubStores {
        let m = Arc::new(MemoryStore::new());
        HubStores { read_state: m.clone(), inbox: m }
    }
}

/// Who is asking: a client connection (its identity and the namespace
/// rules for clients apply) or the app's back end (HTTP API: trusted).
#[derive(Clone, Copy)]
pub enum Caller<'a> {
    /// A client connection.
    Client(&'a Connection),
    /// A client acting over plain HTTP, without a connection (SSE's
    /// `POST /sse/publish`): its identity and the same client rules apply.
    /// Its publications name [`HTTP_CLIENT_ID`] as the publishing client.
    Identity(&'a Identity),
    /// The app's back end.
    Server,
}

/// The publisher `client` id of publications made by [`Caller::Identity`].
pub const HTTP_CLIENT_ID: &str = "http";

/// This node's hub.
pub struct Hub {
    pub(crate) me: Weak<Hub>,
    pub(crate) config: HubConfig,
    namespaces: Namespaces,
    pub(crate) broker: Arc<dyn Broker>,
    pub(crate) stores: HubStores,
    pub(crate) typing: Mutex<Typing>,
    pub(crate) channels: RwLock<HashMap<ChannelName, Arc<ChannelEntry>>>,
    connections: RwLock<HashMap<Arc<str>, Arc<Connection>>>,
    /// Open connections per user (for per-user limits and pushes to a user).
    users: Mutex<HashMap<Arc<str>, Vec<Arc<Connection>>>>,
    node_prefix: String,
    next_id: std::sync::atomic::AtomicU64,
    policy: std::sync::OnceLock<Arc<dyn ChannelPolicy>>,
    server_events: std::sync::OnceLock<Arc<dyn ServerEventSink>>,
    pub(crate) presence_backend: std::sync::OnceLock<Arc<dyn crate::presence_backend::PresenceBackend>>,
    pub(crate) occupancy_backend: std::sync::OnceLock<Arc<dyn crate::occupancy::OccupancyBackend>>,
    pub(crate) column_catalog: std::sync::OnceLock<Arc<dyn crate::row_filter::ColumnCatalog>>,
}

impl Hub {
    /// A hub over `broker` with read positions and inboxes in memory;
    /// attaches itself to the broker.
    pub fn new(config: HubConfig, namespaces: Namespaces, broker: Arc<dyn Broker>) -> Arc<Self> {
        Self::with_stores(config, namespaces, broker, HubStores::memory())
    }

    /// A hub over `broker` and `stores`; attaches itself to the broker.
    pub fn with_stores(
        config: HubConfig,
        namespaces: Namespaces,
        broker: Arc<dyn Broker>,
        stores: HubStores,
    ) -> Arc<Self> {
        let mut rng = rand::rng();
        let node_prefix: String = (0..6).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect();
        let hub = Arc::new_cyclic(|me| Hub {
            me: me.clone(),
            config,
            namespaces,
            broker: broker.clone(),
            stores,
            typing: Mutex::new(Typing::default()),
            channels: RwLock::new(HashMap::new()),
            connections: RwLock::new(HashMap::new()),
            users: Mutex::new(HashMap::new()),
            node_prefix,
            next_id: std::sync::atomic::AtomicU64::new(1),
            policy: std::sync::OnceLock::new(),
            server_events: std::sync::OnceLock::new(),
            presence_backend: std::sync::OnceLock::new(),
            occupancy_backend: std::sync::OnceLock::new(),
            column_catalog: std::sync::OnceLock::new(),
        });
        broker.attach(hub.clone());
        hub
    }

    /// Install the app's channel policy (authorization callback, payload
    /// schemas). Set once, at start-up.
    pub fn set_policy(&self, policy: Arc<dyn ChannelPolicy>) {
        let _ = self.policy.set(policy);
    }

    /// Install where server events (occupied, vacated, member added/removed,
    /// client events) are reported. Set once, at start-up.
    pub fn set_server_event_sink(&self, sink: Arc<dyn ServerEventSink>) {
        let _ = self.server_events.set(sink);
    }

    pub(crate) fn emit(&self, event: impl FnOnce() -> ServerEvent) {
        if let Some(sink) = self.server_events.get() {
            sink.emit(event());
        }
    }

    /// The broker this hub publishes through.
    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.broker
    }

    /// The namespace table.
    pub fn namespaces(&self) -> &Namespaces {
        &self.namespaces
    }

    /// Options for `channel`, or `unknown_namespace`.
    pub fn options(&self, channel: &ChannelName) -> Result<&NamespaceOptions, HeraldError> {
        self.namespaces.options(channel)
    }

    /// Register a new connection; refused when its user already has
    /// `max_connections_per_user` connections on this node.
    pub fn connect(&self, init: ConnectionInit) -> Result<Arc<Connection>, HeraldError> {
        let n = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id: Arc<str> = Arc::from(format!("{}-{n}", self.node_prefix));
        let conn = Arc::new(Connection::new(id.clone(), init));
        if let Some(user) = conn.user() {
            let mut users = self.users.lock();
            let mine = users.entry(user.clone()).or_default();
            if mine.len() >= self.config.max_connections_per_user {
                if mine.is_empty() {
                    users.remove(user);
                }
                return Err(HeraldError::new(
                    ErrorCode::LimitExceeded,
                    format!("user already has {} connections (the limit)", self.config.max_connections_per_user),
                ));
            }
            mine.push(conn.clone());
        }
        self.connections.write().insert(id, conn.clone());
        metrics::gauge!("herald_connections").increment(1.0);
        Ok(conn)
    }

    /// Forget a connection and all its subscriptions.
    pub fn disconnect(&self, conn: &Arc<Connection>) {
        for channel in conn.channels() {
            self.remove_subscription(conn, &channel);
        }
        if self.connections.write().remove(conn.id()).is_some() {
            metrics::gauge!("herald_connections").decrement(1.0);
            if let Some(user) = conn.user() {
                let mut users = self.users.lock();
                if let Some(mine) = users.get_mut(user) {
                    mine.retain(|c| !Arc::ptr_eq(c, conn));
                    if mine.is_empty() {
                        users.remove(user);
                    }
                }
            }
        }
    }

    /// Close every connection of `user` with `reason`. Returns how many.
    pub fn disconnect_user(&self, user: &str, reason: DisconnectReason) -> usize {
        let conns = self.user_connections(user);
        for c in &conns {
            c.outbound.close(reason, false);
        }
        conns.len()
    }

    /// Close every connection (graceful shutdown); queued frames are flushed first.
    pub fn close_all(&self, reason: DisconnectReason) {
        for c in self.connections.read().values() {
            c.outbound.close(reason, true);
        }
    }

    /// Every connection of `user` on this node.
    pub fn user_connections(&self, user: &str) -> Vec<Arc<Connection>> {
        self.users.lock().get(user).cloned().unwrap_or_default()
    }

    /// Number of connections on this node.
    pub fn connection_count(&self) -> usize {
        self.connections.read().len()
    }

    pub(crate) fn broadcast_event(&self, entry: &ChannelEntry, event: &ChannelEvent<'_>, except: Option<&Arc<str>>) {
        self.broadcast_filtered(entry, event, |c| except.is_none_or(|e| e != c.id()));
    }

    /// Send `event` to the channel's subscribers on this node for which `to` holds.
    pub(crate) fn broadcast_filtered(
        &self,
        entry: &ChannelEntry,
        event: &ChannelEvent<'_>,
        to: impl Fn(&Connection) -> bool,
    ) {
        let mut cache = EncodeCache::new(*event);
        let change = MemberChange::of(event);
        for sub in entry.subscribers.read().values() {
            if !to(&sub.connection) {
                continue;
            }
            sub.send_event(cache.frame(&sub.connection.encoder), change.clone());
        }
    }

    fn fanout(&self, p: &Arc<Publication>) {
        let entry = self.channels.read().get(&p.channel).cloned();
        let Some(entry) = entry else { return };
        let mut cache = EncodeCache::new(ChannelEvent::Publication(p));
        let mut view = crate::row_filter::ChangeView::new(&p.data);
        let mut ended = Vec::new();
        let mut delivered = 0u64;
        for sub in entry.subscribers.read().values() {
            match sub.deliver(p, &mut cache, &mut view) {
                Delivered::Ok => delivered += 1,
                Delivered::Gap => ended.push(sub.connection.clone()),
                Delivered::ConnectionClosed => {}
            }
        }
        metrics::counter!("herald_messages_delivered_total").increment(delivered);
        for conn in ended {
            self.remove_subscription(&conn, &p.channel);
        }
    }
}

/// The user of `identity`, or `unauthorized` (read receipts and inboxes are per user).
pub(crate) fn signed_in(identity: &Identity) -> Result<Arc<str>, HeraldError> {
    identity.user.clone().ok_or_else(|| HeraldError::new(ErrorCode::Unauthorized, "sign in (a token with `sub`) first"))
}

/// A store failure, as the client sees it.
pub(crate) fn unavailable(e: impl std::fmt::Display) -> HeraldError {
    HeraldError::unavailable(e.to_string())
}

/// Send `event` (a push to a user) to each of `conns`, encoded once per format.
pub(crate) fn send_to(conns: &[Arc<Connection>], event: ChannelEvent<'_>) {
    let mut cache = EncodeCache::new(event);
    for c in conns {
        let _ = c.outbound.push_frame(cache.frame(&c.encoder));
    }
}

impl BrokerHandler for Hub {
    fn on_publication(&self, publication: Arc<Publication>) {
        self.fanout(&publication);
    }

    fn on_node_event(&self, event: crate::node_event::NodeEvent) {
        self.deliver_node_event(event);
    }

    fn on_stream_lost(&self, channel: &ChannelName) {
        self.interrupt_channel(channel);
    }

    fn wants(&self, channel: &ChannelName) -> bool {
        self.channels.read().contains_key(channel)
    }
}
