//! The `Hub`: this node's registry of connections, channels and
//! subscriptions, and the one place every door goes through to subscribe,
//! publish, read history and presence. It knows nothing about sockets.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};
use rand::Rng;

use crate::auth::{Identity, Rights, is_private};
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
use crate::store::{InboxStore, ReadStateStore};
use crate::subscription::{Delivered, Subscription};
use crate::typing::Typing;
use crate::wire::{ChannelEvent, EncodeCache};

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

/// The result of a subscribe, before the subscription goes live.
pub struct PendingSubscription {
    hub: Weak<Hub>,
    sub: Option<Arc<Subscription>>,
    /// The channel's position the subscription continues from.
    pub top: Position,
    /// The recovery outcome, when the client asked to recover.
    pub recovery: Option<Recovery>,
    /// Whether this connection joins the channel's presence on activation.
    pub presence: bool,
    /// Presence members at subscribe time, when the namespace tracks presence
    /// (and the connection may read it).
    pub presence_snapshot: Option<Vec<PresenceMember>>,
}

impl PendingSubscription {
    /// Call after the subscribe reply is queued: buffered publications
    /// follow it, then live ones.
    pub fn activate(mut self) {
        let Some(sub) = self.sub.take() else { return };
        let Some(hub) = self.hub.upgrade() else { return };
        if !sub.go_live(self.top.epoch.clone(), self.top.offset) {
            let conn = sub.connection.clone();
            let channel = sub.channel.clone();
            hub.remove_subscription(&conn, &channel);
            return;
        }
        if self.presence {
            hub.presence_join(&sub);
        }
    }
}

impl Drop for PendingSubscription {
    fn drop(&mut self) {
        if let (Some(sub), Some(hub)) = (self.sub.take(), self.hub.upgrade()) {
            hub.remove_subscription(&sub.connection, &sub.channel);
        }
    }
}

/// Counts for the HTTP API and metrics.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChannelInfo {
    /// Channel name.
    pub channel: ChannelName,
    /// Local subscriptions.
    pub subscribers: usize,
    /// Distinct presence members.
    pub presence: usize,
}

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
        });
        broker.attach(hub.clone());
        hub
    }

    /// Install the app's channel policy (authorization callback, payload
    /// schemas). Set once, at start-up.
    pub fn set_policy(&self, policy: Arc<dyn ChannelPolicy>) {
        let _ = self.policy.set(policy);
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

    /// Check that `identity` may do `right` on `channel`; returns the
    /// channel's namespace options. The one authorization check every door
    /// goes through.
    pub fn authorize(
        &self,
        identity: &Identity,
        channel: &ChannelName,
        right: Rights,
    ) -> Result<&NamespaceOptions, HeraldError> {
        let opts = self.namespaces.options(channel)?;
        if identity.granted(channel, right) {
            return Ok(opts);
        }
        let public_read = matches!(right, Rights::SUBSCRIBE | Rights::HISTORY | Rights::PRESENCE);
        if opts.public && public_read && !is_private(channel) {
            return Ok(opts);
        }
        metrics::counter!("herald_permission_denied_total", "right" => right.name()).increment(1);
        let who =
            identity.user.as_deref().map(|u| format!("user {u:?}")).unwrap_or_else(|| "an anonymous connection".into());
        Err(HeraldError::new(ErrorCode::PermissionDenied, format!("{who} may not {} on {channel}", right.name())))
    }

    pub(crate) fn authorize_caller(
        &self,
        caller: Caller<'_>,
        channel: &ChannelName,
        right: Rights,
    ) -> Result<&NamespaceOptions, HeraldError> {
        match caller {
            Caller::Client(conn) => self.authorize(&conn.identity(), channel, right),
            Caller::Identity(identity) => self.authorize(identity, channel, right),
            Caller::Server => self.namespaces.options(channel),
        }
    }

    /// Subscribe `conn` to `channel`, recovering from `since` if given.
    /// Queue the reply, then call [`PendingSubscription::activate`].
    pub async fn subscribe(
        &self,
        conn: &Arc<Connection>,
        channel: ChannelName,
        since: Option<Position>,
    ) -> Result<PendingSubscription, HeraldError> {
        let identity = conn.identity();
        let opts = self.authorize(&identity, &channel, Rights::SUBSCRIBE)?.clone();
        // Appear in presence only with a user id (or in development mode) and the right.
        if let Some(policy) = self.policy.get() {
            policy.check_subscribe(&identity, &channel).await?;
        }
        let in_presence = opts.presence
            && (identity.is_development() || (identity.user.is_some() && identity.granted(&channel, Rights::PRESENCE)));
        {
            let mut chans = conn.channels.lock();
            if chans.contains(&channel) {
                return Err(HeraldError::new(ErrorCode::AlreadySubscribed, format!("already subscribed to {channel}")));
            }
            if chans.len() >= self.config.max_channels_per_connection {
                return Err(HeraldError::new(
                    ErrorCode::LimitExceeded,
                    format!("at most {} channels per connection", self.config.max_channels_per_connection),
                ));
            }
            chans.insert(channel.clone());
        }
        let sub = Arc::new(Subscription::buffering(channel.clone(), conn.clone(), self.config.recovery_buffer_max));
        {
            let mut channels = self.channels.write();
            let entry = channels.entry(channel.clone()).or_default();
            entry.subscribers.write().insert(conn.id().clone(), sub.clone());
        }
        metrics::gauge!("herald_subscriptions").increment(1.0);
        // From here on, dropping `pending` unregisters the subscription.
        let mut pending = PendingSubscription {
            hub: self.me.clone(),
            sub: Some(sub),
            top: Position { epoch: crate::position::Epoch::from_string(""), offset: 0 },
            recovery: None,
            presence: in_presence,
            presence_snapshot: None,
        };
        self.broker.watch(&channel).await?;
        let limit = if since.is_some() { opts.recovery_max + 1 } else { 0 };
        let query = HistoryQuery {
            since: since.as_ref().map(|s| s.offset),
            before: None,
            limit,
            direction: Direction::Forward,
        };
        let page = self.broker.history(&channel, query).await?;
        pending.top = page.top.clone();
        if let Some(since) = since {
            let rec = recovery::decide(&since, page, opts.recovery_max);
            metrics::counter!("herald_recoveries_total", "recovered" => if rec.recovered { "true" } else { "false" })
                .increment(1);
            pending.recovery = Some(rec);
        }
        let may_read_presence =
            in_presence || identity.granted(&channel, Rights::PRESENCE) || (opts.public && !is_private(&channel));
        if opts.presence && may_read_presence {
            let entry = self.channels.read().get(&channel).cloned();
            pending.presence_snapshot = Some(entry.map(|e| e.presence.lock().members()).unwrap_or_default());
        }
        Ok(pending)
    }

    /// Unsubscribe `conn` from `channel`.
    pub fn unsubscribe(&self, conn: &Arc<Connection>, channel: &ChannelName) -> Result<(), HeraldError> {
        if !conn.is_subscribed(channel) {
            return Err(HeraldError::new(ErrorCode::NotSubscribed, format!("not subscribed to {channel}")));
        }
        self.remove_subscription(conn, channel);
        Ok(())
    }

    fn remove_subscription(&self, conn: &Arc<Connection>, channel: &ChannelName) {
        if !conn.channels.lock().remove(channel) {
            return;
        }
        let entry = self.channels.read().get(channel).cloned();
        let Some(entry) = entry else { return };
        let removed = entry.subscribers.write().remove(conn.id());
        if let Some(sub) = removed {
            sub.end();
            metrics::gauge!("herald_subscriptions").decrement(1.0);
            self.typing_ended_by(conn, channel);
            let grace = self.options(channel).map(|o| o.presence_grace_ms).unwrap_or(0);
            match entry.presence.lock().remove(conn.client_info(), grace > 0) {
                Removal::Stays => {}
                Removal::Left => {
                    self.broadcast_event(&entry, &ChannelEvent::Leave(channel, conn.client_info()), None);
                }
                Removal::Leaving(generation) => {
                    self.spawn_presence_expiry(channel, conn.client_info().member_key(), generation, grace)
                }
            }
        }
        self.drop_entry_if_unused(channel, &entry);
    }

    /// Forget a channel's entry once it has neither subscribers nor members
    /// within their presence grace.
    pub(crate) fn drop_entry_if_unused(&self, channel: &ChannelName, entry: &Arc<ChannelEntry>) {
        let mut channels = self.channels.write();
        if entry.subscribers.read().is_empty()
            && entry.presence.lock().is_empty()
            && channels.get(channel).is_some_and(|e| Arc::ptr_eq(e, entry))
        {
            channels.remove(channel);
            drop(channels);
            let broker = self.broker.clone();
            let channel = channel.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { broker.unwatch(&channel).await });
            }
        }
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
        for sub in entry.subscribers.read().values() {
            if !to(&sub.connection) {
                continue;
            }
            let frame = cache.frame(&sub.connection.encoder);
            let _ = sub.connection.outbound.push_frame(frame);
        }
    }

    /// Publish `data` to `channel`.
    pub async fn publish(
        &self,
        publisher: Caller<'_>,
        channel: ChannelName,
        data: Payload,
        idempotency_key: Option<Arc<str>>,
    ) -> Result<Arc<Publication>, HeraldError> {
        let opts = self.authorize_caller(publisher, &channel, Rights::PUBLISH)?;
        if data.len() > opts.max_message_size {
            return Err(HeraldError::new(
                ErrorCode::MessageTooLarge,
                format!("data is {} bytes; {} allows at most {}", data.len(), channel, opts.max_message_size),
            ));
        }
        if let Some(policy) = self.policy.get() {
            policy.check_payload(&channel, &data)?;
        }
        if !matches!(publisher, Caller::Server) && !opts.allow_client_publish {
            return Err(HeraldError::new(ErrorCode::PermissionDenied, format!("clients may not publish to {channel}")));
        }
        let publisher_info = match publisher {
            Caller::Client(conn) => Some(PublisherInfo { client: conn.id().clone(), user: conn.user().cloned() }),
            Caller::Identity(identity) => {
                Some(PublisherInfo { client: Arc::from(HTTP_CLIENT_ID), user: identity.user.clone() })
            }
            Caller::Server => None,
        };
        let req =
            PublishRequest { channel, data, retention: opts.retention(), publisher: publisher_info, idempotency_key };
        let started = std::time::Instant::now();
        let result = self.broker.publish(req).await;
        metrics::histogram!("herald_publish_seconds").record(started.elapsed().as_secs_f64());
        if let Ok(p) = &result {
            metrics::counter!("herald_messages_published_total").increment(1);
            if let Caller::Client(conn) = publisher {
                self.typing_stopped(&p.channel, conn.client_info().member_key());
            }
        }
        result
    }

    /// Send an ephemeral client event to the channel's other subscribers on
    /// this node. Needs the publish right and a subscription; never stored,
    /// never echoed to the sender.
    pub fn client_event(
        &self,
        conn: &Connection,
        channel: &ChannelName,
        event: &str,
        data: &Payload,
    ) -> Result<(), HeraldError> {
        let opts = self.authorize(&conn.identity(), channel, Rights::PUBLISH)?;
        if !opts.allow_client_publish {
            return Err(HeraldError::new(ErrorCode::PermissionDenied, format!("clients may not publish to {channel}")));
        }
        if data.len() > opts.max_message_size {
            return Err(HeraldError::new(
                ErrorCode::MessageTooLarge,
                format!("event data over {} bytes", opts.max_message_size),
            ));
        }
        if !conn.is_subscribed(channel) {
            return Err(HeraldError::new(
                ErrorCode::NotSubscribed,
                format!("subscribe to {channel} before sending events"),
            ));
        }
        let entry = self.channels.read().get(channel).cloned();
        if let Some(entry) = entry {
            let ev = ChannelEvent::Client { channel, event, data, from: conn.client_info() };
            self.broadcast_event(&entry, &ev, Some(conn.id()));
        }
        metrics::counter!("herald_client_events_total").increment(1);
        Ok(())
    }

    /// A page of history, capped at the configured page size.
    pub async fn history(
        &self,
        caller: Caller<'_>,
        channel: &ChannelName,
        mut query: HistoryQuery,
    ) -> Result<HistoryPage, HeraldError> {
        self.authorize_caller(caller, channel, Rights::HISTORY)?;
        query.limit = query.limit.min(self.config.history_page_max);
        self.broker.history(channel, query).await
    }

    /// Channels with local subscribers, optionally filtered by prefix.
    pub fn channels(&self, prefix: Option<&str>) -> Vec<ChannelInfo> {
        let channels = self.channels.read();
        let mut out: Vec<_> = channels
            .iter()
            .filter(|(name, _)| prefix.is_none_or(|p| name.as_str().starts_with(p)))
            .map(|(name, e)| ChannelInfo {
                channel: name.clone(),
                subscribers: e.subscribers.read().len(),
                presence: e.presence.lock().len(),
            })
            .collect();
        out.sort_by(|a, b| a.channel.cmp(&b.channel));
        out
    }

    /// Counts for one channel (zeros when nobody is subscribed here).
    pub fn channel_info(&self, channel: &ChannelName) -> ChannelInfo {
        let channels = self.channels.read();
        let (subscribers, presence) =
            channels.get(channel).map(|e| (e.subscribers.read().len(), e.presence.lock().len())).unwrap_or((0, 0));
        ChannelInfo { channel: channel.clone(), subscribers, presence }
    }

    fn fanout(&self, p: &Arc<Publication>) {
        let entry = self.channels.read().get(&p.channel).cloned();
        let Some(entry) = entry else { return };
        let mut cache = EncodeCache::new(ChannelEvent::Publication(p));
        let mut ended = Vec::new();
        let mut delivered = 0u64;
        for sub in entry.subscribers.read().values() {
            match sub.deliver(p, &mut cache) {
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

impl BrokerHandler for Hub {
    fn on_publication(&self, publication: Arc<Publication>) {
        self.fanout(&publication);
    }
}
