//! Command-line flags and `HERALD_*` environment variables (clap).

use super::*;

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
    /// One Ably API key with every right, `appId.keyId:secret`.
    #[arg(long, env = "HERALD_ABLY_KEY")]
    pub ably_key: Option<String>,
    /// Scale-out broker URL (`redis://host:6379`); unset: one node, embedded broker.
    #[arg(long, env = "HERALD_BROKER")]
    pub broker: Option<String>,
    /// Database change feed: publish this PostgreSQL database's row changes (`postgres://…`).
    #[arg(long, env = "HERALD_CHANGES_URL")]
    pub changes: Option<String>,
}
