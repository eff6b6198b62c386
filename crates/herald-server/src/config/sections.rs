//! One struct per `[section]` of `herald.toml`, each with its documented defaults.

use super::*;

/// The scale-out broker (`[broker]`, `--broker`, `HERALD_BROKER`). Without
/// a `url`, Herald runs one node with the embedded broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// `redis://[user:password@]host:port[/db]`. Unset: embedded broker.
    pub url: Option<String>,
    /// Prefix of every Redis key and pub/sub channel. Default `herald`.
    pub key_prefix: String,
    /// Redis pub/sub connections channels are spread over. Default 4.
    pub pubsub_shards: usize,
    /// Longest a Redis command may take before the request fails with a temporary error, ms. Default 3000.
    pub command_timeout_ms: u64,
    /// How long a publish idempotency key is remembered, seconds. Default 300.
    pub idempotency_window_secs: u64,
    /// Liveness ping interval on each pub/sub connection, ms. Default 2000.
    pub pubsub_ping_interval_ms: u64,
    /// Longest wait between Redis reconnection attempts, ms. Default 5000.
    pub reconnect_max_delay_ms: u64,
    /// Seconds between this node's heartbeats in Redis. Default 2.
    pub node_heartbeat_secs: u64,
    /// Seconds without a heartbeat after which a node counts as dead and
    /// its presence entries are removed by the others. Default 10.
    pub node_ttl_secs: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            url: None,
            key_prefix: "herald".to_string(),
            pubsub_shards: 4,
            command_timeout_ms: 3000,
            idempotency_window_secs: 300,
            pubsub_ping_interval_ms: 2000,
            reconnect_max_delay_ms: 5000,
            node_heartbeat_secs: 2,
            node_ttl_secs: 10,
        }
    }
}

/// Database change feeds (`[changes]`, `--changes`, `HERALD_CHANGES_URL`;
/// `docs/changes.md`). Without a `url`, no feed runs. `Debug` never shows
/// the password.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChangesConfig {
    /// `postgres://user:password@host:port/database`: the database whose
    /// changes are published. Its role needs `REPLICATION`. Unset: no feed.
    pub url: Option<String>,
    /// Publication streamed, created `FOR ALL TABLES` (else `FOR TABLE`
    /// `tables`) when missing. Default `herald`.
    pub publication: String,
    /// Permanent logical replication slot, created when missing. Default `herald`.
    pub slot: String,
    /// Namespace of the change channels: table `s.t` publishes on `{namespace}:s.t`. Default `db`.
    pub namespace: String,
    /// Tables (`schema.table`, or `table` in `public`) published when the
    /// role may not create a `FOR ALL TABLES` publication. Default none.
    pub tables: Vec<String>,
    /// Above this many bytes of WAL held back by the slot, `/readyz` reports
    /// not ready and an error is logged every check. Default 1 GiB.
    pub max_lag_bytes: u64,
    /// Seconds between slot lag checks. Default 5.
    pub lag_check_secs: u64,
    /// Longest wait between reconnection attempts, ms. Default 10000.
    pub reconnect_max_delay_ms: u64,
    /// How often the confirmed position is reported to PostgreSQL, ms. Default 1000.
    pub status_interval_ms: u64,
}

impl Default for ChangesConfig {
    fn default() -> Self {
        Self {
            url: None,
            publication: "herald".to_string(),
            slot: "herald".to_string(),
            namespace: "db".to_string(),
            tables: Vec::new(),
            max_lag_bytes: 1 << 30,
            lag_check_secs: 5,
            reconnect_max_delay_ms: 10_000,
            status_interval_ms: 1000,
        }
    }
}

impl std::fmt::Debug for ChangesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangesConfig")
            .field("url", &self.url.as_deref().map(crate::stores::redact_password))
            .field("publication", &self.publication)
            .field("slot", &self.slot)
            .field("namespace", &self.namespace)
            .field("tables", &self.tables)
            .field("max_lag_bytes", &self.max_lag_bytes)
            .field("lag_check_secs", &self.lag_check_secs)
            .field("reconnect_max_delay_ms", &self.reconnect_max_delay_ms)
            .field("status_interval_ms", &self.status_interval_ms)
            .finish()
    }
}

/// TLS certificate and key (PEM). Both or neither.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, PEM.
    pub cert_file: Option<PathBuf>,
    /// Private key, PEM.
    pub key_file: Option<PathBuf>,
}

/// Durable state (`[store]`): history, read marks and notification inboxes.
/// Without a `url` they live in SQLite under `data_dir` (one node); with a
/// PostgreSQL `url` every node pointing at the same database and schema
/// shares them. `Debug` never shows the password.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://user:password@host:port/database`. Unset: SQLite in `data_dir`.
    pub url: Option<String>,
    /// PostgreSQL schema holding Herald's tables, created if missing. Default `herald`.
    pub schema: String,
    /// Most PostgreSQL connections per node. Default 10.
    pub max_connections: u32,
    /// Seconds a request waits for a free PostgreSQL connection. Default 30.
    pub acquire_timeout_secs: u64,
    /// Seconds one PostgreSQL statement may run (lock waits included) before it is cancelled. Default 30.
    pub statement_timeout_secs: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: None,
            schema: "herald".to_string(),
            max_connections: 10,
            acquire_timeout_secs: 30,
            statement_timeout_secs: 30,
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &self.url.as_deref().map(crate::stores::redact_password))
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .field("statement_timeout_secs", &self.statement_timeout_secs)
            .finish()
    }
}

/// Connection tokens and origin checks. With no key configured at all,
/// Herald runs in development mode (anonymous clients may use every
/// non-private channel), announced loudly in the log.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// HMAC secret for HS256/HS384/HS512 tokens.
    pub token_secret: Option<String>,
    /// PEM file with the RSA public key for RS256 tokens.
    pub rsa_public_key_file: Option<PathBuf>,
    /// PEM file with the EC P-256 public key for ES256 tokens.
    pub ec_public_key_file: Option<PathBuf>,
    /// PEM file with the Ed25519 public key for EdDSA tokens.
    pub ed_public_key_file: Option<PathBuf>,
    /// URL of a JWKS (the identity provider's key set) for RS256/ES256/EdDSA
    /// tokens that carry a `kid`.
    pub jwks_url: Option<String>,
    /// Seconds between JWKS refreshes. Default 300.
    pub jwks_refresh_secs: Option<u64>,
    /// Required `aud` claim, if set.
    pub audience: Option<String>,
    /// Required `iss` claim, if set.
    pub issuer: Option<String>,
    /// Clock leeway for `exp`/`nbf`/`iat`, seconds. Default 30 (via `leeway()`).
    pub leeway_secs: Option<u64>,
    /// Warn a client this many seconds before its token expires. Default 30.
    pub refresh_before_secs: Option<u64>,
    /// Browser origins allowed to connect (`https://app.example.com`,
    /// `https://*.example.com`, `*`). Empty: any origin.
    pub allowed_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed (`10.0.0.0/8`, `127.0.0.1`). Empty: none.
    pub trusted_proxies: Vec<String>,
}

impl AuthConfig {
    /// Clock leeway in seconds (default 30).
    pub fn leeway(&self) -> u64 {
        self.leeway_secs.unwrap_or(30)
    }

    /// Seconds before expiry when the client is told to refresh (default 30).
    pub fn refresh_before(&self) -> u64 {
        self.refresh_before_secs.unwrap_or(30)
    }
}

/// Rate limits. Each is a sustained rate per second and a burst.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// New connections per client IP: per second. Default 100. Every
    /// accepted TCP connection counts, before anything is read from it
    /// (behind a trusted proxy: every WebSocket or SSE client it forwards).
    pub connections_per_ip_per_sec: u32,
    /// New connections per client IP: burst. Default 500.
    pub connections_per_ip_burst: u32,
    /// Open connections per client IP at once. Default 5000.
    pub max_connections_per_ip: usize,
    /// Accepted sockets per address that no door has taken over yet (no
    /// WebSocket upgrade, no SSE stream: idle, sending a request, or between
    /// keep-alive requests). Over it a new socket is refused at once.
    /// Trusted proxies are exempt. Default 256.
    pub max_pending_connections_per_ip: usize,
    /// Open connections per user at once. Default 100.
    pub max_connections_per_user: usize,
    /// Requests per connection: per second. Default 100.
    pub messages_per_conn_per_sec: u32,
    /// Requests per connection: burst. Default 500.
    pub messages_per_conn_burst: u32,
    /// Publishes per user across all their connections: per second. Default 50.
    pub publishes_per_user_per_sec: u32,
    /// Publishes per user: burst. Default 100.
    pub publishes_per_user_burst: u32,
    /// Subscribe attempts per connection: per second. Default 50.
    pub subscribes_per_conn_per_sec: u32,
    /// Subscribe attempts per connection: burst. Default 200.
    pub subscribes_per_conn_burst: u32,
    /// Client events (typing…) per connection: per second. Default 10.
    pub client_events_per_conn_per_sec: u32,
    /// Client events per connection: burst. Default 20.
    pub client_events_per_conn_burst: u32,
    /// HTTP API calls per key (or per IP without a key): per second. Default 2000.
    pub api_calls_per_sec: u32,
    /// HTTP API calls: burst. Default 4000.
    pub api_calls_burst: u32,
    /// Refused requests on one connection before it is closed with 4006. Default 50.
    pub abuse_threshold: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            connections_per_ip_per_sec: 100,
            connections_per_ip_burst: 500,
            max_connections_per_ip: 5000,
            max_pending_connections_per_ip: 256,
            max_connections_per_user: 100,
            messages_per_conn_per_sec: 100,
            messages_per_conn_burst: 500,
            publishes_per_user_per_sec: 50,
            publishes_per_user_burst: 100,
            subscribes_per_conn_per_sec: 50,
            subscribes_per_conn_burst: 200,
            client_events_per_conn_per_sec: 10,
            client_events_per_conn_burst: 20,
            api_calls_per_sec: 2000,
            api_calls_burst: 4000,
            abuse_threshold: 50,
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Per-connection limits and timers.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionConfig {
    /// Largest client message (after decompression), bytes. Default 131072
    /// (room for the largest `data` a namespace allows by default, plus the envelope).
    pub max_message_size: usize,
    /// Seconds between server pings. Default 25.
    pub ping_interval_secs: u64,
    /// Seconds a client has to answer a ping. Default 10.
    pub pong_timeout_secs: u64,
    /// Seconds a client has to send `connect`. Default 10.
    pub connect_timeout_secs: u64,
    /// Seconds one socket write may take before the client is dropped. Default 10.
    pub write_timeout_secs: u64,
    /// Seconds an HTTP connection has to deliver a complete request head,
    /// counted from when the server starts waiting for it: after the accept
    /// (and the TLS handshake), and after each response on a keep-alive
    /// connection. So it is also the idle timeout before the first request
    /// and between keep-alive requests. Default 10.
    pub header_read_timeout_secs: u64,
    /// Most channels per connection. Default 128.
    pub max_channels: usize,
    /// The outbound queue bound.
    pub queue: QueueLimits,
    /// Live publications buffered per subscription during recovery. Default 10,000.
    pub recovery_buffer_max: usize,
    /// Most publications one history request returns. Default 1000.
    pub history_page_max: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            max_message_size: 128 * 1024,
            ping_interval_secs: 25,
            pong_timeout_secs: 10,
            connect_timeout_secs: 10,
            write_timeout_secs: 10,
            header_read_timeout_secs: 10,
            max_channels: 128,
            queue: QueueLimits::default(),
            recovery_buffer_max: 10_000,
            history_page_max: 1000,
        }
    }
}

/// Read receipts and notification inboxes (`[chat]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatConfig {
    /// Notifications kept per user; the oldest beyond it are dropped. Default 500.
    pub inbox_max_per_user: usize,
    /// Most notifications one `notifications` request returns. Default 100.
    pub inbox_page_max: usize,
    /// Largest notification (kind + title + body + data), bytes. Default 16384.
    pub notification_max_bytes: usize,
    /// Most channels one unread-count answer covers. Default 1000.
    pub unread_channels_max: usize,
    /// Most users one channel's read-position list returns. Default 1000.
    pub read_positions_max: usize,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            inbox_max_per_user: 500,
            inbox_page_max: 100,
            notification_max_bytes: 16 * 1024,
            unread_channels_max: 1000,
            read_positions_max: 1000,
        }
    }
}

/// WebSocket options.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSocketConfig {
    /// Negotiate permessage-deflate when the client offers it. Default false.
    pub compression: bool,
    /// Frames smaller than this many bytes are sent uncompressed. Default 256.
    pub compression_threshold: usize,
    /// zlib level 1–9. Default 1 (fastest).
    pub compression_level: u32,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        Self { compression: false, compression_threshold: 256, compression_level: 1 }
    }
}

/// Server-Sent Events (`/sse`) and long-polling (`/poll`) options.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SseConfig {
    /// Reconnect delay the server asks EventSource clients to use (`retry:`), ms. Default 2000.
    pub retry_ms: u64,
    /// Seconds between `: ping` comments that keep proxies from closing an idle stream. Default 15.
    pub heartbeat_secs: u64,
    /// Seconds a long-poll request waits for data before answering with an empty batch. Default 25.
    pub poll_timeout_secs: u64,
}

impl Default for SseConfig {
    fn default() -> Self {
        Self { retry_ms: 2000, heartbeat_secs: 15, poll_timeout_secs: 25 }
    }
}
