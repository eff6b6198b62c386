//! `[supabase]` in `herald.toml`: the Supabase Realtime door
//! (`docs/supabase.md`). Every value has a documented default.

use std::collections::HashMap;

use serde::Deserialize;

/// The Supabase Realtime door's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupabaseConfig {
    /// Serve `/realtime/v1/websocket`, `/socket/websocket` and the REST
    /// broadcast. Default true.
    pub enabled: bool,
    /// Namespace of the door's channels: topic `realtime:X` is Herald channel
    /// `{namespace}:X` (a private channel `{namespace}:private-X`). Default
    /// `realtime`, so topic and channel names are the same string.
    pub namespace: String,
    /// A socket that sent nothing (no heartbeat) for this long is closed,
    /// seconds. realtime-js sends a heartbeat every 25 s. Default 60.
    pub heartbeat_timeout_secs: u64,
    /// Longest topic accepted, bytes (realtime-js's binary frames carry at
    /// most 255). Longer: the push is answered with an error. Default 255.
    pub max_topic_len: usize,
    /// Most `postgres_changes` bindings in one join. Default 100.
    pub max_bindings_per_join: usize,
    /// Most messages in one REST broadcast request. Default 100.
    pub max_rest_messages: usize,
    /// Grants for a valid token that carries a Supabase `role` claim but no
    /// Herald `capabilities` (Supabase's anon key, a user's session token),
    /// by role: `[supabase.roles] authenticated = [{ channels = ["realtime:*"],
    /// allow = ["subscribe", "publish", "presence"] }]`. Default none: such a
    /// token grants nothing.
    pub roles: HashMap<String, Vec<RoleGrant>>,
}

/// Rights on channels for a role, in the token `capabilities` format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleGrant {
    /// Channel patterns: exact, `prefix*` or `*` (never opening a private channel).
    pub channels: Vec<String>,
    /// `subscribe`, `publish`, `presence`, `history` or `*`.
    pub allow: Vec<String>,
}

impl Default for SupabaseConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            namespace: "realtime".into(),
            heartbeat_timeout_secs: 60,
            max_topic_len: 255,
            max_bindings_per_join: 100,
            max_rest_messages: 100,
            roles: HashMap::new(),
        }
    }
}
