//! Scale-out wiring: the Redis broker from `[broker]`, shared presence and
//! occupancy, cluster membership.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use herald_redis::{RedisBroker, RedisBrokerOptions};

use crate::api_error::ApiError;
use crate::app::{App, StartError};
use crate::config::BrokerConfig;

/// Connect the Redis broker described by `cfg` at `url`.
pub async fn redis_broker(cfg: &BrokerConfig, url: &str) -> Result<Arc<RedisBroker>, StartError> {
    let mut o = RedisBrokerOptions::new(url);
    o.key_prefix = cfg.key_prefix.clone();
    o.pubsub_shards = cfg.pubsub_shards.max(1);
    o.command_timeout = Duration::from_millis(cfg.command_timeout_ms.max(1));
    o.idempotency_window = Duration::from_secs(cfg.idempotency_window_secs);
    o.pubsub_ping_interval = Duration::from_millis(cfg.pubsub_ping_interval_ms.max(1));
    o.reconnect_max_delay = Duration::from_millis(cfg.reconnect_max_delay_ms.max(1));
    let broker = RedisBroker::connect(o).await.map_err(|e| StartError::Broker(e.to_string()))?;
    tracing::info!(url = %herald_redis::broker::redacted(url), prefix = %cfg.key_prefix, "scale-out broker: Redis");
    Ok(broker)
}

/// Share presence and channel occupancy through Redis and register this
/// node (heartbeats, dead-node cleanup).
pub fn join_cluster(
    hub: &Arc<herald_core::Hub>,
    broker: Arc<RedisBroker>,
    cfg: &BrokerConfig,
) -> Arc<herald_redis::NodeRegistry> {
    let ttl = Duration::from_secs(cfg.node_ttl_secs.max(1));
    hub.set_presence_backend(herald_redis::RedisPresence::new(broker.clone(), ttl));
    hub.set_occupancy_backend(herald_redis::RedisOccupancy::new(broker.clone(), Arc::downgrade(hub), ttl));
    let (weak, weak2, weak3) = (Arc::downgrade(hub), Arc::downgrade(hub), Arc::downgrade(hub));
    let registry = herald_redis::NodeRegistry::start(
        broker.clone(),
        Duration::from_secs(cfg.node_heartbeat_secs.max(1)),
        ttl,
        move || weak.upgrade().map(|h| h.connection_count()).unwrap_or(0),
        move || weak2.upgrade().map(|h| h.resync_presence() + h.resync_occupancy()).unwrap_or(0),
        move |channel| {
            if let Some(h) = weak3.upgrade() {
                h.occupancy_changed(channel, false);
            }
        },
    );
    tracing::info!(node = %broker.node_id(), "joined the cluster");
    registry
}

/// `GET /api/nodes`: live nodes with their connection counts (just this
/// node with the embedded broker).
pub async fn nodes_route(State(app): State<Arc<App>>) -> Result<Json<Nodes>, ApiError> {
    let nodes = match &app.nodes {
        Some(r) => r.nodes().await?,
        None => vec![herald_redis::NodeInfo {
            id: "local".to_string(),
            connections: app.hub.connection_count() as u64,
            started_at: 0,
            last_heartbeat: herald_core::now_ms(),
            this_node: true,
        }],
    };
    Ok(Json(Nodes { nodes }))
}

/// The answer of `GET /api/nodes`.
#[derive(serde::Serialize)]
pub struct Nodes {
    nodes: Vec<herald_redis::NodeInfo>,
}
