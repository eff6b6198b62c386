//! A `phx_join` payload: `{"config": {"broadcast": {"self","ack"},
//! "presence": {"key","enabled"}, "postgres_changes": [...], "private"},
//! "access_token"?}`. Unknown keys are ignored, as Supabase does.

use serde::Deserialize;
use serde_json::Value;

/// What a join asks for.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct JoinConfig {
    /// Receive one's own broadcasts.
    pub broadcast_self: bool,
    /// Reply `ok` to each broadcast push.
    pub broadcast_ack: bool,
    /// The presence key (empty: a server-generated one).
    pub presence_key: String,
    /// The `postgres_changes` bindings, as sent (echoed in the reply).
    pub postgres_changes: Vec<Value>,
    /// A private channel: needs an explicit grant.
    pub private: bool,
    /// A token replacing the connection's.
    pub access_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload {
    config: Config,
    access_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    broadcast: Broadcast,
    presence: Presence,
    postgres_changes: Option<Vec<Value>>,
    private: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Broadcast {
    #[serde(rename = "self")]
    self_: Option<bool>,
    ack: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Presence {
    key: Option<String>,
}

impl JoinConfig {
    /// Parse a join payload; `Err` says what is wrong with it.
    pub fn parse(payload: &Value) -> Result<JoinConfig, String> {
        let p: Payload = serde_json::from_value(payload.clone()).map_err(|e| format!("malformed join config: {e}"))?;
        Ok(JoinConfig {
            broadcast_self: p.config.broadcast.self_.unwrap_or(false),
            broadcast_ack: p.config.broadcast.ack.unwrap_or(false),
            presence_key: p.config.presence.key.unwrap_or_default(),
            postgres_changes: p.config.postgres_changes.unwrap_or_default(),
            private: p.config.private.unwrap_or(false),
            access_token: p.access_token.filter(|t| !t.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn realtime_js_join_payload() {
        let p = json!({
            "config": {
                "broadcast": {"ack": true, "self": true},
                "presence": {"key": "alice", "enabled": true},
                "postgres_changes": [{"event": "*", "schema": "public", "table": "todos"}],
                "private": false,
                "unknown": 1
            },
            "access_token": "t"
        });
        let c = JoinConfig::parse(&p).unwrap();
        assert!(c.broadcast_self && c.broadcast_ack && !c.private);
        assert_eq!((c.presence_key.as_str(), c.access_token.as_deref()), ("alice", Some("t")));
        assert_eq!(c.postgres_changes.len(), 1);
        assert_eq!(JoinConfig::parse(&json!({})).unwrap(), JoinConfig::default());
        assert!(JoinConfig::parse(&json!({"config": {"private": "yes"}})).is_err());
    }
}
