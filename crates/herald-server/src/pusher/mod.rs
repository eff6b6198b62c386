//! The Pusher door: Pusher Channels protocol 7 over WebSocket at
//! `/app/{key}` and Pusher's signed HTTP API at `/apps/{id}/…`, so unmodified
//! pusher-js, the pusher server SDKs and Laravel Echo work against Herald
//! (`docs/pusher.md`). Pusher channel `X` of an app is Herald channel
//! `{namespace}:X`: both protocols share one hub.
//!
//! `config` (apps and limits), `signature` (HMAC checks), `channels` (names,
//! kinds, mapping), `frames` (Pusher JSON frames, the encoder), `upgrade`
//! (the handshake and refusals), `session` (one socket on the door runtime;
//! `subscribe` and `events`: subscriptions, sign-in, client events), `http_api` (REST),
//! `webhooks` (signed webhook POSTs, the in-process sender) and
//! `webhook_queue` (the durable sender on Redis, with a `[broker]`), and
//! here the door's state: apps and their sockets, and the hub's server-event
//! sink that turns events into webhooks.

pub mod channels;
pub mod config;
mod events;
pub mod frames;
pub mod http_api;
pub mod session;
pub mod signature;
mod subscribe;
pub mod upgrade;
pub mod webhook_queue;
pub mod webhooks;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use herald_core::{ChannelName, Connection, NamespaceOptions, ServerEvent, ServerEventSink};
use parking_lot::Mutex;

use self::config::{PusherAppConfig, PusherConfig};
use self::frames::PusherEncoder;
use self::webhooks::WebhookSender;
use crate::app::App;

/// The door's routes (WebSocket and REST), on Herald's normal port.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/app/{key}", get(upgrade::upgrade))
        .route("/apps/{app_id}/events", post(http_api::trigger))
        .route("/apps/{app_id}/batch_events", post(http_api::batch_trigger))
        .route("/apps/{app_id}/channels", get(http_api::channels))
        .route("/apps/{app_id}/channels/{channel}", get(http_api::channel))
        .route("/apps/{app_id}/channels/{channel}/users", get(http_api::users))
        .route("/apps/{app_id}/users/{user_id}/terminate_connections", post(http_api::terminate))
}

/// Give each app's namespace the options Pusher channels need, unless the
/// operator configured it: presence on (it only applies to `presence-`
/// channels, the only ones with members), no leave grace (Pusher reports a
/// leave at once), and 30 minutes of history (what cache channels keep).
pub fn add_namespaces(cfg: &PusherConfig, named: &mut HashMap<String, NamespaceOptions>) {
    for app in &cfg.apps {
        named.entry(app.namespace.clone()).or_insert_with(|| NamespaceOptions {
            presence: true,
            presence_grace_ms: 0,
            history_ttl_secs: 1800,
            ..NamespaceOptions::default()
        });
    }
}

/// Open sockets of one app on this node.
#[derive(Default)]
struct Sockets {
    by_id: HashMap<String, Arc<Connection>>,
    by_conn: HashMap<Arc<str>, String>,
    /// Signed-in users and their sockets.
    users: HashMap<String, HashSet<String>>,
}

/// One Pusher app as the door serves it.
pub struct PusherApp {
    /// Its configuration.
    pub config: PusherAppConfig,
    /// The encoder shared by its sockets.
    pub encoder: Arc<PusherEncoder>,
    sockets: Mutex<Sockets>,
    webhooks: Option<WebhookSender>,
}

impl PusherApp {
    /// The Herald channel of this app's Pusher channel `name`.
    pub fn channel(&self, name: &str) -> Result<ChannelName, herald_core::HeraldError> {
        channels::to_herald(&self.config.namespace, name)
    }

    /// Register a new socket; returns its `socket_id` (`\d+.\d+`).
    pub fn register(&self, conn: &Arc<Connection>) -> String {
        let mut s = self.sockets.lock();
        let id = loop {
            let id = format!("{}.{}", rand::random_range(1..1_000_000_000u32), rand::random_range(1..1_000_000_000u32));
            if !s.by_id.contains_key(&id) {
                break id;
            }
        };
        s.by_id.insert(id.clone(), conn.clone());
        s.by_conn.insert(conn.id().clone(), id.clone());
        id
    }

    /// Forget a socket (and its sign-in).
    pub fn unregister(&self, socket_id: &str, user: Option<&str>) {
        let mut s = self.sockets.lock();
        if let Some(conn) = s.by_id.remove(socket_id) {
            s.by_conn.remove(conn.id());
        }
        if let Some(user) = user
            && let Some(set) = s.users.get_mut(user)
        {
            set.remove(socket_id);
            if set.is_empty() {
                s.users.remove(user);
            }
        }
    }

    /// Forget that `socket_id` signed in as `user` (it signed in again as someone else).
    pub fn unregister_user(&self, socket_id: &str, user: &str) {
        let mut s = self.sockets.lock();
        if let Some(set) = s.users.get_mut(user) {
            set.remove(socket_id);
            if set.is_empty() {
                s.users.remove(user);
            }
        }
    }

    /// Record that `socket_id` signed in as `user`.
    pub fn sign_in(&self, socket_id: &str, user: &str) {
        self.sockets.lock().users.entry(user.to_string()).or_default().insert(socket_id.to_string());
    }

    /// Open sockets of this app on this node.
    pub fn socket_count(&self) -> usize {
        self.sockets.lock().by_id.len()
    }

    /// The sockets signed in as `user`.
    pub fn user_sockets(&self, user: &str) -> Vec<Arc<Connection>> {
        let s = self.sockets.lock();
        let Some(ids) = s.users.get(user) else { return Vec::new() };
        ids.iter().filter_map(|id| s.by_id.get(id).cloned()).collect()
    }

    /// Queue a webhook event (when the app has a webhook URL and wants `name`).
    pub fn webhook(&self, name: &str, event: serde_json::Value) {
        if let Some(w) = &self.webhooks
            && self.config.webhook_events.iter().any(|e| e == name)
        {
            w.send(event);
        }
    }

    fn socket_of(&self, conn: &str) -> Option<String> {
        self.sockets.lock().by_conn.get(conn).cloned()
    }
}

/// The door's state: the configured apps.
pub struct PusherDoor {
    /// The door's configuration.
    pub config: PusherConfig,
    apps: Vec<Arc<PusherApp>>,
}

impl PusherDoor {
    /// The door for `cfg`; starts a webhook sender per app with a URL
    /// (through the durable queue when `durable` is given).
    pub fn new(
        cfg: &PusherConfig,
        http: crate::http_client::HttpClient,
        durable: Option<webhook_queue::DurableQueue>,
    ) -> Arc<Self> {
        let apps = cfg
            .apps
            .iter()
            .map(|a| {
                let webhooks =
                    a.webhook_url.as_ref().map(|url| WebhookSender::start(cfg, a, url, http.clone(), durable.as_ref()));
                Arc::new(PusherApp {
                    config: a.clone(),
                    encoder: Arc::new(PusherEncoder::new(&a.namespace)),
                    sockets: Mutex::new(Sockets::default()),
                    webhooks,
                })
            })
            .collect();
        Arc::new(Self { config: cfg.clone(), apps })
    }

    /// The app with public key `key`.
    pub fn by_key(&self, key: &str) -> Option<&Arc<PusherApp>> {
        self.apps.iter().find(|a| a.config.key == key)
    }

    /// The app with id `id`.
    pub fn by_id(&self, id: &str) -> Option<&Arc<PusherApp>> {
        self.apps.iter().find(|a| a.config.id == id)
    }

    /// The app whose namespace holds `channel`, with the Pusher name.
    fn app_of<'a>(&self, channel: &'a ChannelName) -> Option<(&Arc<PusherApp>, &'a str)> {
        self.apps.iter().find_map(|a| channels::from_herald(&a.config.namespace, channel).map(|n| (a, n)))
    }
}

/// The hub's server events become the owning app's webhooks.
impl ServerEventSink for PusherDoor {
    fn emit(&self, event: ServerEvent) {
        let Some((app, name)) = self.app_of(event.channel()) else { return };
        if app.webhooks.is_none() {
            return;
        }
        let (kind, body) = match &event {
            ServerEvent::ChannelOccupied { .. } => {
                ("channel_occupied", serde_json::json!({ "name": "channel_occupied", "channel": name }))
            }
            ServerEvent::ChannelVacated { .. } => {
                ("channel_vacated", serde_json::json!({ "name": "channel_vacated", "channel": name }))
            }
            ServerEvent::MemberAdded { user, .. } => {
                if !name.starts_with("presence-") {
                    return;
                }
                ("member_added", serde_json::json!({ "name": "member_added", "channel": name, "user_id": &**user }))
            }
            ServerEvent::MemberRemoved { user, .. } => {
                if !name.starts_with("presence-") {
                    return;
                }
                ("member_removed", serde_json::json!({ "name": "member_removed", "channel": name, "user_id": &**user }))
            }
            ServerEvent::ClientEvent { event, data, client, user, .. } => {
                let mut v = serde_json::json!({
                    "name": "client_event",
                    "channel": name,
                    "event": &**event,
                    "data": data.as_str(),
                });
                if let Some(socket) = app.socket_of(client) {
                    v["socket_id"] = socket.into();
                }
                if name.starts_with("presence-")
                    && let Some(u) = user
                {
                    v["user_id"] = (&**u).into();
                }
                ("client_event", v)
            }
        };
        app.webhook(kind, body);
    }
}
