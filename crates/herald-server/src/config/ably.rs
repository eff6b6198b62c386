//! `[ably]` in `herald.toml`: the API keys Ably clients authenticate with
//! (`[[ably.keys]]`) and the door's limits. One key with every right can
//! also come from `HERALD_ABLY_KEY=appId.keyId:secret` (or `--ably-key`).
//! No key: the door refuses every Ably connection with 40101.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The Ably door's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AblyConfig {
    /// The API keys.
    pub keys: Vec<AblyKeyConfig>,
    /// `connectionStateTtl`: how long a dropped connection can be resumed,
    /// ms. Default 120,000 (Ably's two minutes).
    pub connection_state_ttl_ms: u64,
    /// Life of a token issued for a TokenRequest without a `ttl`, ms. Default 3,600,000.
    pub token_ttl_ms: u64,
    /// Longest life of an issued token, ms. Default 86,400,000.
    pub max_token_ttl_ms: u64,
    /// How far a TokenRequest's timestamp may be from the server's clock, ms. Default 600,000.
    pub token_request_tolerance_ms: u64,
    /// Before a connection's token expires, ask the client to re-authenticate
    /// (AUTH) this long ahead, ms. Default 30,000.
    pub reauth_before_expiry_ms: u64,
    /// Most messages one `rewind` replays. Default 100 (Ably's limit).
    pub rewind_max: usize,
    /// REST history: the page size without `limit`. Default 100; at most the hub's `history_page_max`.
    pub history_default_limit: usize,
}

impl Default for AblyConfig {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            connection_state_ttl_ms: 120_000,
            token_ttl_ms: 3_600_000,
            max_token_ttl_ms: 86_400_000,
            token_request_tolerance_ms: 600_000,
            reauth_before_expiry_ms: 30_000,
            rewind_max: 100,
            history_default_limit: 100,
        }
    }
}

/// One API key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AblyKeyConfig {
    /// `appId.keyId`.
    pub name: String,
    /// The secret.
    pub secret: String,
    /// Ably's capability form, `{"chat:*" = ["publish", "subscribe", "presence", "history"]}`;
    /// absent: every right (`{"*" = ["*"]}`; private channels still need an exact grant).
    #[serde(default)]
    pub capability: Option<BTreeMap<String, Vec<String>>>,
}

impl AblyKeyConfig {
    /// The key's capability.
    pub fn capability(&self) -> BTreeMap<String, Vec<String>> {
        self.capability.clone().unwrap_or_else(herald_ably::auth::all_rights)
    }
}

impl AblyConfig {
    /// The key named `name`.
    pub fn key(&self, name: &str) -> Option<&AblyKeyConfig> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Add the key from `HERALD_ABLY_KEY` (`name:secret`, every right),
    /// replacing a configured key of the same name. `false`: not `name:secret`.
    pub fn add_env_key(&mut self, key: &str) -> bool {
        let Some(k) = herald_ably::auth::ApiKey::parse(key) else { return false };
        self.keys.retain(|c| c.name != k.name);
        self.keys.push(AblyKeyConfig { name: k.name, secret: k.secret, capability: None });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_the_file_and_the_environment() {
        let mut cfg: AblyConfig = toml::from_str(
            "[[keys]]\nname = \"app.ro\"\nsecret = \"s\"\ncapability = { \"chat:*\" = [\"subscribe\"] }\n",
        )
        .unwrap();
        assert_eq!(cfg.key("app.ro").unwrap().capability()["chat:*"], ["subscribe"]);
        assert!(cfg.add_env_key("app.all:secret"));
        assert_eq!(cfg.key("app.all").unwrap().capability(), herald_ably::auth::all_rights());
        assert!(!cfg.add_env_key("no-secret"));
        assert_eq!(cfg.rewind_max, 100);
    }
}
