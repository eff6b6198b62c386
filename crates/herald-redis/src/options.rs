//! Options of the Redis broker. Every field has a documented default
//! (`docs/configuration.md`, `[broker]`).

use std::time::Duration;

/// How the Redis broker connects and behaves.
#[derive(Debug, Clone)]
pub struct RedisBrokerOptions {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Prefix of every key and pub/sub channel. Default `herald`. Several
    /// Herald clusters (or test runs) can share one Redis with different prefixes.
    pub key_prefix: String,
    /// Pub/sub connections channels are spread over. Default 4.
    pub pubsub_shards: usize,
    /// How long one Redis command may take before it fails (the publish is
    /// then reported as a temporary error). Default 3 s.
    pub command_timeout: Duration,
    /// How long an idempotency key is remembered. Default 300 s.
    pub idempotency_window: Duration,
    /// Interval of the liveness ping on each pub/sub connection. Default 2 s.
    pub pubsub_ping_interval: Duration,
    /// Longest wait between reconnection attempts (backoff doubles up to it). Default 5 s.
    pub reconnect_max_delay: Duration,
}

impl RedisBrokerOptions {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: "herald".to_string(),
            pubsub_shards: 4,
            command_timeout: Duration::from_secs(3),
            idempotency_window: Duration::from_secs(300),
            pubsub_ping_interval: Duration::from_secs(2),
            reconnect_max_delay: Duration::from_secs(5),
        }
    }
}
