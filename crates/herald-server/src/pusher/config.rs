//! `[pusher]` in `herald.toml`: the Pusher apps Herald serves, and the
//! door's limits. One app can also come from `HERALD_PUSHER_APP_ID`,
//! `HERALD_PUSHER_APP_KEY` and `HERALD_PUSHER_APP_SECRET` (or the matching
//! flags). Every limit has Pusher's value as its default.

use serde::Deserialize;

/// The Pusher door's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PusherConfig {
    /// The apps (`[[pusher.apps]]`). None: the door is closed (`/app/…` answers 4001).
    pub apps: Vec<PusherAppConfig>,
    /// `activity_timeout` announced to clients, seconds: a client pings after
    /// this long without traffic, and the server pings a silent client after
    /// it too. Default 120.
    pub activity_timeout_secs: u64,
    /// How long a client has to answer the server's `pusher:ping`, seconds,
    /// before it is closed with 4201. Default 30.
    pub pong_timeout_secs: u64,
    /// How far a REST request's `auth_timestamp` may be from the server's
    /// clock, seconds. Default 600.
    pub auth_timestamp_tolerance_secs: u64,
    /// Webhook delivery: give up on a batch after this many seconds of
    /// retries. Default 300 (Pusher's five minutes).
    pub webhook_retry_secs: u64,
    /// Webhook delivery: one attempt's timeout, ms. Default 5000.
    pub webhook_timeout_ms: u64,
    /// Webhook events queued per app while its endpoint is slow or down;
    /// past that new events are dropped (and counted). With a `[broker]`, also
    /// about the most undelivered events the app's Redis stream keeps (the
    /// oldest are trimmed past it). Default 10,000.
    pub webhook_queue_max: usize,
    /// Most events in one webhook request. Default 50.
    pub webhook_batch_max: usize,
    /// With a `[broker]` (durable webhooks): how long a batch another node
    /// took may go unrenewed before this node takes it over (that node
    /// died mid-delivery), seconds. Default 30.
    pub webhook_claim_after_secs: u64,
    /// With a `[broker]`: how often a node looks for webhook events queued
    /// by other nodes (or left by dead ones) when it has none of its own, ms.
    /// Default 1000.
    pub webhook_poll_ms: u64,
}

impl Default for PusherConfig {
    fn default() -> Self {
        Self {
            apps: Vec::new(),
            activity_timeout_secs: 120,
            pong_timeout_secs: 30,
            auth_timestamp_tolerance_secs: 600,
            webhook_retry_secs: 300,
            webhook_timeout_ms: 5000,
            webhook_queue_max: 10_000,
            webhook_batch_max: 50,
            webhook_claim_after_secs: 30,
            webhook_poll_ms: 1000,
        }
    }
}

/// One Pusher app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PusherAppConfig {
    /// The app id (REST paths `/apps/{id}/…`).
    pub id: String,
    /// The public key (WebSocket path `/app/{key}`, `auth_key`).
    pub key: String,
    /// The secret that signs channel auth, sign-in, REST requests and webhooks.
    pub secret: String,
    /// The Herald namespace the app's channels live in: Pusher channel
    /// `presence-room-1` is Herald channel `pusher:presence-room-1`.
    /// Default `pusher`; apps must not share one.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Most open connections of this app on this node (0: no limit); past it
    /// new ones are closed with 4004. Default 0.
    #[serde(default)]
    pub max_connections: usize,
    /// Client events per connection per second; over it a `pusher:error`
    /// 4301 answers. Default 10.
    #[serde(default = "default_client_events")]
    pub client_events_per_sec: u32,
    /// Most members of a presence channel. Default 100.
    #[serde(default = "default_presence_members")]
    pub max_presence_members: usize,
    /// Longest presence `user_id`, characters. Default 128.
    #[serde(default = "default_user_id_len")]
    pub max_user_id_len: usize,
    /// Largest presence `user_info`, JSON bytes. Default 1024.
    #[serde(default = "default_user_info")]
    pub max_user_info_bytes: usize,
    /// Largest event `data` (triggered or client event), bytes. Default 10240.
    #[serde(default = "default_payload")]
    pub max_event_payload_bytes: usize,
    /// Most channels one trigger names. Default 100.
    #[serde(default = "default_trigger_channels")]
    pub max_trigger_channels: usize,
    /// Most events in one batch trigger. Default 10.
    #[serde(default = "default_batch")]
    pub max_batch_events: usize,
    /// Where webhooks are POSTed. Default none (no webhooks).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Which webhook events are sent: `channel_occupied`, `channel_vacated`,
    /// `member_added`, `member_removed`, `client_event`, `cache_miss`.
    /// Default: all of them.
    #[serde(default = "all_webhook_events")]
    pub webhook_events: Vec<String>,
}

/// Every webhook event name.
pub const WEBHOOK_EVENTS: [&str; 6] =
    ["channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss"];

fn default_namespace() -> String {
    "pusher".into()
}
fn default_client_events() -> u32 {
    10
}
fn default_presence_members() -> usize {
    100
}
fn default_user_id_len() -> usize {
    128
}
fn default_user_info() -> usize {
    1024
}
fn default_payload() -> usize {
    10 * 1024
}
fn default_trigger_channels() -> usize {
    100
}
fn default_batch() -> usize {
    10
}
fn all_webhook_events() -> Vec<String> {
    WEBHOOK_EVENTS.iter().map(|s| s.to_string()).collect()
}

impl PusherAppConfig {
    /// An app with every optional setting at its default.
    pub fn new(id: String, key: String, secret: String) -> Self {
        Self {
            id,
            key,
            secret,
            namespace: default_namespace(),
            max_connections: 0,
            client_events_per_sec: default_client_events(),
            max_presence_members: default_presence_members(),
            max_user_id_len: default_user_id_len(),
            max_user_info_bytes: default_user_info(),
            max_event_payload_bytes: default_payload(),
            max_trigger_channels: default_trigger_channels(),
            max_batch_events: default_batch(),
            webhook_url: None,
            webhook_events: all_webhook_events(),
        }
    }
}

impl PusherConfig {
    /// Check what serde cannot: unique ids, keys and namespaces, known
    /// webhook events, usable namespaces.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for app in &self.apps {
            if app.id.is_empty() || app.key.is_empty() || app.secret.is_empty() {
                return Err("pusher.apps: id, key and secret must not be empty".into());
            }
            for (what, v) in [("id", &app.id), ("key", &app.key), ("namespace", &app.namespace)] {
                if !seen.insert(format!("{what}={v}")) {
                    return Err(format!("pusher.apps: two apps share the {what} {v:?}"));
                }
            }
            let ns_ok = !app.namespace.is_empty()
                && app.namespace.len() < 64
                && app.namespace.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
            if !ns_ok {
                return Err(format!(
                    "pusher.apps: namespace {:?} must be 1 to 63 letters, digits, _ or -",
                    app.namespace
                ));
            }
            if let Some(bad) = app.webhook_events.iter().find(|e| !WEBHOOK_EVENTS.contains(&e.as_str())) {
                return Err(format!("pusher.apps: unknown webhook event {bad:?}; known are {WEBHOOK_EVENTS:?}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_with_defaults_and_validation() {
        let cfg: PusherConfig = toml::from_str(
            r#"
            [[apps]]
            id = "1"
            key = "k1"
            secret = "s1"
            [[apps]]
            id = "2"
            key = "k2"
            secret = "s2"
            namespace = "other"
            max_presence_members = 5
            webhook_url = "http://127.0.0.1:1/hook"
            webhook_events = ["member_added"]
            "#,
        )
        .unwrap();
        assert_eq!(cfg.apps[0].namespace, "pusher");
        assert_eq!(cfg.apps[0].max_event_payload_bytes, 10240);
        assert_eq!(cfg.apps[1].max_presence_members, 5);
        assert_eq!(cfg.activity_timeout_secs, 120);
        assert!(cfg.validate().is_ok());
        let mut dup = cfg.clone();
        dup.apps[1].namespace = "pusher".into();
        assert!(dup.validate().unwrap_err().contains("namespace"));
        let mut bad = cfg;
        bad.apps[0].webhook_events = vec!["nope".into()];
        assert!(bad.validate().is_err());
    }
}
