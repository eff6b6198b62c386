//! `App`: the server's shared state, built once from the configuration.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use herald_core::{
    Broker, EmbeddedBroker, EmbeddedBrokerOptions, HistoryStore, Hub, HubConfig, InboxStore, Namespaces, now_ms,
};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Config;
use crate::native::encoder::NativeEncoder;
use crate::sse::encoder::SseEncoder;

/// Shared state of a running server.
pub struct App {
    /// The configuration in force.
    pub config: Config,
    /// This node's hub.
    pub hub: Arc<Hub>,
    /// The native protocol's encoders, one per wire variant.
    pub native_plain: Arc<NativeEncoder>,
    /// Native protocol with permessage-deflate.
    pub native_deflate: Arc<NativeEncoder>,
    /// The SSE door's encoder, shared by every SSE and long-poll connection.
    pub sse_encoder: Arc<SseEncoder>,
    /// Checks credentials for every door.
    pub auth: crate::auth::Authenticator,
    /// Rate limits.
    pub limits: Arc<crate::limits::RateLimits>,
    /// Which peers may tell us the client's address.
    pub proxies: crate::client_ip::ProxyPolicy,
    /// The Pusher door's apps and sockets.
    pub pusher: Arc<crate::pusher::PusherDoor>,
    /// The Socket.IO door's encoder and polling sessions.
    pub socketio: Arc<crate::socketio::SocketIoDoor>,
    /// The Ably door's resumable connections.
    pub ably_resumes: crate::ably::resume::Resumes,
    /// Renders `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// Open collaborative documents (`None` when `[yjs] enabled = false`).
    pub docs: Option<Arc<herald_docs::DocRegistry>>,
    /// Cluster membership, with a scale-out broker.
    pub nodes: Option<Arc<herald_redis::NodeRegistry>>,
    /// The database change feed (`[changes] url`).
    pub changes: Option<Arc<crate::changes::ChangeFeed>>,
    shutting_down: AtomicBool,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configured key or file is unusable.
    #[error("{0}")]
    Config(String),
    /// The scale-out broker could not start.
    #[error("{0}")]
    Broker(String),
    /// The embedded store could not be opened.
    #[error("cannot open the store in {dir}: {message}")]
    Store {
        /// The data directory.
        dir: String,
        /// Why.
        message: String,
    },
    /// The PostgreSQL store (`[store] url`) could not be opened.
    #[error("cannot open the PostgreSQL store: {0}")]
    Postgres(String),
}

impl App {
    /// Open the store, start the broker and build the hub.
    pub async fn build(config: Config, metrics: Option<PrometheusHandle>) -> Result<Arc<App>, StartError> {
        let crate::stores::OpenedStores { history: store, hub: stores, documents } =
            crate::stores::open(&config).await?;
        let redis = match &config.broker.url {
            Some(url) => Some(crate::scale_out::redis_broker(&config.broker, url).await?),
            None => None,
        };
        let (broker, embedded): (Arc<dyn Broker>, Option<Arc<EmbeddedBroker>>) = match &redis {
            Some(r) => (r.clone(), None),
            None => {
                let b = EmbeddedBroker::new(store.clone(), EmbeddedBrokerOptions::default());
                (b.clone(), Some(b))
            }
        };
        config.pusher.validate().map_err(StartError::Config)?;
        let mut named = config.namespaces.clone();
        crate::pusher::add_namespaces(&config.pusher, &mut named);
        crate::supabase::add_namespace(&config.supabase, &mut named).map_err(StartError::Config)?;
        if config.changes.url.is_some() {
            named.entry(config.changes.namespace.clone()).or_insert_with(crate::changes::default_namespace_options);
        }
        let namespaces = Namespaces::new(config.default_namespace.clone(), named, config.strict_namespaces);
        let hub_config = HubConfig {
            max_channels_per_connection: config.connection.max_channels,
            recovery_buffer_max: config.connection.recovery_buffer_max,
            history_page_max: config.connection.history_page_max,
            max_connections_per_user: config.limits.max_connections_per_user,
            inbox_max_per_user: config.chat.inbox_max_per_user,
            inbox_page_max: config.chat.inbox_page_max,
            notification_max_bytes: config.chat.notification_max_bytes,
            unread_channels_max: config.chat.unread_channels_max,
            read_positions_max: config.chat.read_positions_max,
        };
        let policy =
            crate::policy::AppPolicy::from_namespaces(&namespaces).map_err(|e| StartError::Config(e.to_string()))?;
        let inbox = stores.inbox.clone();
        let hub = Hub::with_stores(hub_config, namespaces, broker, stores);
        if let Some(policy) = policy {
            hub.set_policy(Arc::new(policy));
        }
        let durable_webhooks = redis.as_ref().map(|r| crate::pusher::webhook_queue::DurableQueue { broker: r.clone() });
        let pusher =
            crate::pusher::PusherDoor::new(&config.pusher, crate::http_client::HttpClient::new(), durable_webhooks);
        hub.set_server_event_sink(pusher.clone());
        let redis_for_docs = redis.clone();
        let redis_for_socketio = redis.clone();
        let nodes = redis.map(|r| crate::scale_out::join_cluster(&hub, r, &config.broker));
        spawn_history_sweeper(store, inbox, embedded, Duration::from_secs(config.history_sweep_secs.max(1)));
        let auth =
            crate::auth::Authenticator::from_config(&config.auth).map_err(|e| StartError::Config(e.to_string()))?;
        let limits = crate::limits::RateLimits::new(config.limits.clone());
        let proxies = crate::client_ip::ProxyPolicy::new(&config.auth.trusted_proxies)
            .map_err(|e| StartError::Config(format!("auth.trusted_proxies: {e}")))?;
        spawn_limit_housekeeping(Arc::downgrade(&limits));
        let docs = config.yjs.enabled.then(|| {
            let docs = herald_docs::DocRegistry::new(documents, config.yjs.doc_options(), crate::yjs::frame);
            // Several nodes: each document's updates and awareness reach the
            // other nodes that have it open, and one node compacts it at a time.
            if let Some(r) = &redis_for_docs {
                docs.set_bus(herald_redis::RedisDocumentBus::new(r.clone()));
            }
            docs
        });
        let changes =
            config.changes.url.clone().map(|url| crate::changes::ChangeFeed::start(&config.changes, url, hub.clone()));
        let ws = &config.websocket;
        let app = App {
            changes,
            docs,
            native_plain: Arc::new(NativeEncoder::plain()),
            native_deflate: Arc::new(NativeEncoder::deflate(ws.compression_level, ws.compression_threshold)),
            sse_encoder: Arc::new(SseEncoder),
            config,
            hub,
            auth,
            limits: limits.clone(),
            proxies,
            pusher,
            socketio: crate::socketio::SocketIoDoor::new(),
            ably_resumes: crate::ably::resume::Resumes::new(redis_for_docs.clone().map(herald_redis::Handoffs::new)),
            metrics,
            nodes,
            shutting_down: AtomicBool::new(false),
        };
        let app = Arc::new(app);
        if let Some(r) = &redis_for_socketio {
            crate::socketio::relay::start(&app, r);
        }
        Ok(app)
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Mark shutdown as begun (`/readyz` turns false, new connections are refused).
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }
}

fn spawn_history_sweeper(
    store: Arc<dyn HistoryStore>,
    inbox: Arc<dyn InboxStore>,
    embedded: Option<Arc<EmbeddedBroker>>,
    every: Duration,
) {
    let store = Arc::downgrade(&store);
    let inbox = Arc::downgrade(&inbox);
    let broker = embedded.as_ref().map(Arc::downgrade);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(store) = store.upgrade() else { return };
            // With a scale-out broker, history lives (and expires) there.
            if let Some(broker) = &broker {
                let Some(broker) = broker.upgrade() else { return };
                match store.remove_expired(now_ms()).await {
                    Ok(n) if n > 0 => tracing::debug!(removed = n, "expired history removed"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "removing expired history failed"),
                }
                broker.evict_idle();
            }
            if let Some(inbox) = inbox.upgrade()
                && let Err(e) = inbox.remove_expired_notifications(now_ms()).await
            {
                tracing::warn!(error = %e, "removing expired notifications failed");
            }
        }
    });
}

fn spawn_limit_housekeeping(limits: std::sync::Weak<crate::limits::RateLimits>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let Some(limits) = limits.upgrade() else { return };
            limits.housekeep();
        }
    });
}
