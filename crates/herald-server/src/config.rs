//! Configuration: defaults, then `herald.toml` (or `--config FILE`), then
//! `HERALD_*` environment variables, then command-line flags. Every limit is
//! a named value with a documented default (`docs/configuration.md`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use herald_core::{NamespaceOptions, QueueLimits};
use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:7700`.
    pub listen: SocketAddr,
    /// Where the embedded store keeps its data. Default `./herald-data`.
    pub data_dir: PathBuf,
    /// Keep history in memory only (lost on restart). Default false.
    pub ephemeral: bool,
    /// Bearer key for the HTTP API. Unset: the API answers loopback callers only.
    pub api_key: Option<String>,
    /// `pretty` or `json`. Default `pretty`.
    pub log_format: LogFormat,
    /// Connection limits and timers.
    pub connection: ConnectionConfig,
    /// WebSocket transport options.
    pub websocket: WebSocketConfig,
    /// Server-Sent Events and long-polling options.
    pub sse: SseConfig,
    /// Options of channels outside any configured namespace.
    pub default_namespace: NamespaceOptions,
    /// Named namespaces (`[namespaces.chat]`).
    pub namespaces: HashMap<String, NamespaceOptions>,
    /// Refuse channels whose namespace is not configured. Default false.
    pub strict_namespaces: bool,
    /// Seconds to wait for clients to leave on shutdown. Default 5.
    pub shutdown_grace_secs: u64,
    /// Seconds between removals of expired history. Default 60.
    pub history_sweep_secs: u64,
    /// Connection tokens, origins.
    pub auth: AuthConfig,
    /// Rate limits.
    pub limits: RateLimitConfig,
    /// Read receipts and notification inboxes.
    pub chat: ChatConfig,
    /// TLS (unset: plain HTTP; run behind a TLS-terminating proxy).
    pub tls: TlsConfig,
    /// Where durable state lives: SQLite in `data_dir` (default) or PostgreSQL (`[store] url`).
    pub store: StoreConfig,
    /// Pusher Channels compatibility (`[pusher]`, `[[pusher.apps]]`).
    pub pusher: crate::pusher::config::PusherConfig,
    /// Collaborative documents: the y-websocket door (`[yjs]`).
    pub yjs: crate::yjs::YjsConfig,
    /// Scale-out broker (`[broker]`; unset `url`: the embedded single-node broker).
    pub broker: BrokerConfig,
}

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

/// TLS certificate and key (PEM). Both or neither.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, PEM.
    pub cert_file: Option<PathBuf>,
    /// Private key, PEM.
    pub key_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7700)),
            data_dir: PathBuf::from("./herald-data"),
            ephemeral: false,
            api_key: None,
            log_format: LogFormat::Pretty,
            connection: ConnectionConfig::default(),
            websocket: WebSocketConfig::default(),
            sse: SseConfig::default(),
            default_namespace: NamespaceOptions::default(),
            namespaces: HashMap::new(),
            strict_namespaces: false,
            shutdown_grace_secs: 5,
            history_sweep_secs: 60,
            auth: AuthConfig::default(),
            limits: RateLimitConfig::default(),
            tls: TlsConfig::default(),
            chat: ChatConfig::default(),
            store: StoreConfig::default(),
            pusher: Default::default(),
            yjs: crate::yjs::YjsConfig::default(),
            broker: BrokerConfig::default(),
        }
    }
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
    /// New connections per client IP: per second. Default 100.
    pub connections_per_ip_per_sec: u32,
    /// New connections per client IP: burst. Default 500.
    pub connections_per_ip_burst: u32,
    /// Open connections per client IP at once. Default 5000.
    pub max_connections_per_ip: usize,
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

/// Command-line and environment overrides (flags win over the environment,
/// which wins over the file).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Config file. Default: `./herald.toml` if it exists.
    #[arg(long, env = "HERALD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "HERALD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory of the embedded store.
    #[arg(long, env = "HERALD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep history in memory only.
    #[arg(long, env = "HERALD_EPHEMERAL", num_args = 0..=1, default_missing_value = "true")]
    pub ephemeral: Option<bool>,
    /// HTTP API bearer key.
    #[arg(long, env = "HERALD_API_KEY")]
    pub api_key: Option<String>,
    /// Log format.
    #[arg(long, env = "HERALD_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Negotiate permessage-deflate.
    #[arg(long, env = "HERALD_WS_COMPRESSION", num_args = 0..=1, default_missing_value = "true")]
    pub ws_compression: Option<bool>,
    /// Seconds between server pings.
    #[arg(long, env = "HERALD_PING_INTERVAL_SECS")]
    pub ping_interval_secs: Option<u64>,
    /// Seconds a client has to answer a ping.
    #[arg(long, env = "HERALD_PONG_TIMEOUT_SECS")]
    pub pong_timeout_secs: Option<u64>,
    /// TLS certificate chain (PEM).
    #[arg(long, env = "HERALD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "HERALD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// HMAC secret for HS256 connection tokens (unset: development mode).
    #[arg(long, env = "HERALD_TOKEN_SECRET")]
    pub token_secret: Option<String>,
    /// Durable state in PostgreSQL (`postgres://user:password@host:port/db`) instead of SQLite.
    #[arg(long, env = "HERALD_STORE")]
    pub store: Option<String>,
    /// PostgreSQL schema for Herald's tables.
    #[arg(long, env = "HERALD_STORE_SCHEMA")]
    pub store_schema: Option<String>,
    /// Pusher app id (with the key and secret: one Pusher app).
    #[arg(long, env = "HERALD_PUSHER_APP_ID")]
    pub pusher_app_id: Option<String>,
    /// Pusher app key.
    #[arg(long, env = "HERALD_PUSHER_APP_KEY")]
    pub pusher_app_key: Option<String>,
    /// Pusher app secret.
    #[arg(long, env = "HERALD_PUSHER_APP_SECRET")]
    pub pusher_app_secret: Option<String>,
    /// Scale-out broker URL (`redis://host:6379`); unset: one node, embedded broker.
    #[arg(long, env = "HERALD_BROKER")]
    pub broker: Option<String>,
}

/// A configuration problem, said plainly.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Load: defaults < file < environment < flags.
    pub fn load(o: &Overrides) -> Result<Config, ConfigError> {
        let default_path = Path::new("herald.toml");
        let path = o.config.clone().or_else(|| default_path.exists().then(|| default_path.to_path_buf()));
        let mut cfg = match path {
            Some(path) => Self::from_file(&path)?,
            None => Config::default(),
        };
        cfg.apply(o);
        Ok(cfg)
    }

    /// Parse a TOML file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })
    }

    fn apply(&mut self, o: &Overrides) {
        if let Some(v) = o.listen {
            self.listen = v;
        }
        if let Some(v) = &o.data_dir {
            self.data_dir = v.clone();
        }
        if let Some(v) = o.ephemeral {
            self.ephemeral = v;
        }
        if let Some(v) = &o.api_key {
            self.api_key = Some(v.clone()).filter(|k| !k.is_empty());
        }
        if let Some(v) = o.log_format {
            self.log_format = v;
        }
        if let Some(v) = o.ws_compression {
            self.websocket.compression = v;
        }
        if let Some(v) = o.ping_interval_secs {
            self.connection.ping_interval_secs = v;
        }
        if let Some(v) = o.pong_timeout_secs {
            self.connection.pong_timeout_secs = v;
        }
        if let Some(v) = &o.tls_cert {
            self.tls.cert_file = Some(v.clone());
        }
        if let Some(v) = &o.tls_key {
            self.tls.key_file = Some(v.clone());
        }
        if let Some(v) = &o.token_secret {
            self.auth.token_secret = Some(v.clone()).filter(|k| !k.is_empty());
        }
        if let Some(v) = &o.store {
            self.store.url = Some(v.clone()).filter(|u| !u.is_empty());
        }
        if let Some(v) = &o.store_schema {
            self.store.schema = v.clone();
        }
        if let (Some(id), Some(key), Some(secret)) = (&o.pusher_app_id, &o.pusher_app_key, &o.pusher_app_secret) {
            // One app from the environment/flags replaces the file's app with the same id.
            self.pusher.apps.retain(|a| &a.id != id);
            let app = crate::pusher::config::PusherAppConfig::new(id.clone(), key.clone(), secret.clone());
            self.pusher.apps.push(app);
        }
        if let Some(v) = &o.broker {
            self.broker.url = Some(v.clone()).filter(|u| !u.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_overrides() {
        let cfg: Config = toml::from_str(
            r#"
            listen = "127.0.0.1:9000"
            api_key = "from-file"
            [connection]
            ping_interval_secs = 5
            [namespaces.chat]
            history_size = 50
            presence = true
            "#,
        )
        .unwrap();
        assert_eq!(cfg.listen.port(), 9000);
        assert_eq!(cfg.namespaces["chat"].history_size, 50);
        assert_eq!(cfg.namespaces["chat"].history_ttl_secs, 300);
        let mut cfg = cfg;
        cfg.apply(&Overrides { api_key: Some("flag".into()), ..Default::default() });
        assert_eq!(cfg.api_key.as_deref(), Some("flag"));
        assert_eq!(cfg.connection.ping_interval_secs, 5);
    }

    #[test]
    fn sse_settings_have_defaults() {
        let cfg: Config = toml::from_str("[sse]\nheartbeat_secs = 1\n").unwrap();
        assert_eq!((cfg.sse.retry_ms, cfg.sse.heartbeat_secs, cfg.sse.poll_timeout_secs), (2000, 1, 25));
        assert!(toml::from_str::<Config>("[sse]\nheartbeat = 1\n").is_err());
    }

    #[test]
    fn store_url_from_file_then_flag() {
        let mut cfg: Config =
            toml::from_str("[store]\nurl = \"postgres://h:pw@db/app\"\nmax_connections = 4\n").unwrap();
        assert_eq!((cfg.store.schema.as_str(), cfg.store.max_connections), ("herald", 4));
        assert!(!format!("{cfg:?}").contains("pw@"), "Debug hides the password");
        cfg.apply(&Overrides {
            store: Some("postgres://other/db".into()),
            store_schema: Some("s2".into()),
            ..Default::default()
        });
        assert_eq!((cfg.store.url.as_deref(), cfg.store.schema.as_str()), (Some("postgres://other/db"), "s2"));
        cfg.apply(&Overrides { store: Some(String::new()), ..Default::default() });
        assert_eq!(cfg.store.url, None, "an empty --store means SQLite");
        assert!(Config::default().store.url.is_none());
    }

    #[test]
    fn one_pusher_app_from_the_environment_or_flags() {
        let mut cfg: Config = toml::from_str("[[pusher.apps]]\nid = \"1\"\nkey = \"old\"\nsecret = \"s\"\n").unwrap();
        let o = Overrides {
            pusher_app_id: Some("1".into()),
            pusher_app_key: Some("k".into()),
            pusher_app_secret: Some("s2".into()),
            ..Default::default()
        };
        cfg.apply(&o);
        assert_eq!(cfg.pusher.apps.len(), 1, "replaces the file's app with the same id");
        assert_eq!((cfg.pusher.apps[0].key.as_str(), cfg.pusher.apps[0].namespace.as_str()), ("k", "pusher"));
        let mut partial = Config::default();
        partial.apply(&Overrides { pusher_app_id: Some("1".into()), ..Default::default() });
        assert!(partial.pusher.apps.is_empty(), "all three settings are needed");
    }

    #[test]
    fn the_broker_is_embedded_unless_a_url_is_given() {
        let cfg = Config::default();
        assert_eq!(cfg.broker.url, None);
        assert_eq!((cfg.broker.key_prefix.as_str(), cfg.broker.pubsub_shards), ("herald", 4));
        let mut cfg: Config = toml::from_str("[broker]\nkey_prefix = \"app1\"\nnode_ttl_secs = 30\n").unwrap();
        assert_eq!(
            (cfg.broker.key_prefix.as_str(), cfg.broker.node_ttl_secs, cfg.broker.node_heartbeat_secs),
            ("app1", 30, 2)
        );
        cfg.apply(&Overrides { broker: Some("redis://10.0.0.5:6379".into()), ..Default::default() });
        assert_eq!(cfg.broker.url.as_deref(), Some("redis://10.0.0.5:6379"));
        assert!(toml::from_str::<Config>("[broker]\nshards = 2\n").is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
    }
}
