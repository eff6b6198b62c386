//! Configuration: defaults, then `herald.toml` (or `--config FILE`), then
//! `HERALD_*` environment variables, then command-line flags. Every limit is
//! a named value with a documented default (`docs/configuration.md`).
//! `sections` holds one struct per `[section]`; `overrides` the flags and
//! environment variables.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use herald_core::{NamespaceOptions, QueueLimits};
use serde::Deserialize;

pub mod ably;
mod overrides;
mod sections;
mod socketio;
pub mod supabase;

pub use overrides::Overrides;
pub use sections::*;
pub use socketio::SocketIoConfig;

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
    /// Ably compatibility (`[ably]`, `[[ably.keys]]`).
    pub ably: ably::AblyConfig,
    /// Collaborative documents: the y-websocket door (`[yjs]`).
    pub yjs: crate::yjs::YjsConfig,
    /// The Socket.IO door (`[socketio]`).
    pub socketio: SocketIoConfig,
    /// Scale-out broker (`[broker]`; unset `url`: the embedded single-node broker).
    pub broker: BrokerConfig,
    /// Database change feeds (`[changes]`; unset `url`: none).
    pub changes: ChangesConfig,
    /// Supabase Realtime compatibility (`[supabase]`).
    pub supabase: supabase::SupabaseConfig,
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
            ably: Default::default(),
            yjs: crate::yjs::YjsConfig::default(),
            socketio: SocketIoConfig::default(),
            broker: BrokerConfig::default(),
            changes: ChangesConfig::default(),
            supabase: supabase::SupabaseConfig::default(),
        }
    }
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
        if let Some(v) = &o.ably_key
            && !self.ably.add_env_key(v)
        {
            tracing::warn!("HERALD_ABLY_KEY must be appId.keyId:secret; ignored");
        }
        if let Some(v) = &o.broker {
            self.broker.url = Some(v.clone()).filter(|u| !u.is_empty());
        }
        if let Some(v) = &o.changes {
            self.changes.url = Some(v.clone()).filter(|u| !u.is_empty());
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
    fn change_feeds_are_off_unless_a_url_is_given() {
        let cfg = Config::default();
        assert_eq!(cfg.changes.url, None);
        let c = &cfg.changes;
        assert_eq!((c.publication.as_str(), c.slot.as_str(), c.namespace.as_str()), ("herald", "herald", "db"));
        assert_eq!(c.max_lag_bytes, 1 << 30);
        let mut cfg: Config =
            toml::from_str("[changes]\nurl = \"postgres://app:pw@db/app\"\ntables = [\"public.todos\"]\n").unwrap();
        assert_eq!(cfg.changes.tables, ["public.todos"]);
        assert!(!format!("{cfg:?}").contains("pw@"), "Debug hides the password");
        cfg.apply(&Overrides { changes: Some("postgres://other/db".into()), ..Default::default() });
        assert_eq!(cfg.changes.url.as_deref(), Some("postgres://other/db"));
        assert!(toml::from_str::<Config>("[changes]\nslots = \"x\"\n").is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
    }
}
