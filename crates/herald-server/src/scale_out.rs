//! Scale-out wiring: the Redis broker from `[broker]`.

use std::sync::Arc;
use std::time::Duration;

use herald_redis::{RedisBroker, RedisBrokerOptions};

use crate::app::StartError;
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
