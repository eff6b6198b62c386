//! Redis key names. One channel's keys share the hash tag `{channel}` so a
//! script touching them stays within one slot (ready for Redis Cluster).
//!
//! | key | type | what |
//! |---|---|---|
//! | `P:ch:{C}:meta` | hash | `epoch`, `top` (last offset assigned) |
//! | `P:ch:{C}:hist` | stream | history; entry id `offset-0`, field `p` = encoded publication |
//! | `P:ch:{C}:idem:K` | string | the publish result for idempotency key `K`, expiring after the window |
//! | `P:pub:C` | pub/sub channel | every publication of `C`, as `offset epoch body`, and its ephemeral events as `!node json` |
//! | `P:ch:{C}:pres` | hash | presence: `node\nmember` → `{"m":member,"n":connections,"s":state}` |
//! | `P:nodes` | sorted set | node id → last heartbeat, ms |
//! | `P:node:N` | hash | `connections`, `started`; expires without heartbeats |
//! | `P:node:N:chans` | set | channels where node `N` has presence records |
//! | `P:ch:{C}:subs` | hash | occupancy: node → its subscriptions to `C` (no field: none there) |
//! | `P:node:N:subs` | set | channels where node `N` has subscriptions |
//! | `P:webhooks:A` | stream | durable webhook events of Pusher app `A` (consumer group `webhooks`) |
//! | `P:users` | pub/sub channel | pushes to users (notification, unread) as `!node json` |
//! | `P:doc:C` | pub/sub channel | document `C`'s messages between nodes: `node m<y-websocket message>`, `node g<dead node>` |
//! | `P:doc:{C}:compactor` | string | the node compacting document `C` (a token), expiring |
//! | `P:node:N:docs` | set | documents node `N` has open, for telling them when it dies |
//! | `P:handoff:K:I` | string | a value of kind `K` one node left for any node to take once (a dropped Ably connection's resume state), expiring |

use herald_core::ChannelName;

/// Key names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Names under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_string() }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A channel's epoch and top offset.
    pub fn meta(&self, channel: &ChannelName) -> String {
        format!("{}:ch:{{{}}}:meta", self.prefix, channel)
    }

    /// A channel's history stream.
    pub fn history(&self, channel: &ChannelName) -> String {
        format!("{}:ch:{{{}}}:hist", self.prefix, channel)
    }

    /// The remembered result of one idempotency key.
    pub fn idempotency(&self, channel: &ChannelName, key: &str) -> String {
        format!("{}:ch:{{{}}}:idem:{}", self.prefix, channel, key)
    }

    /// The pub/sub channel carrying `channel`'s publications.
    pub fn pubsub(&self, channel: &ChannelName) -> String {
        format!("{}:pub:{}", self.prefix, channel)
    }

    /// The pub/sub channel carrying pushes to users (notifications, unread
    /// counts); every node subscribes to it.
    pub fn users(&self) -> String {
        format!("{}:users", self.prefix)
    }

    /// A value of kind `kind` left for any node to take once ([`crate::Handoffs`]).
    pub fn handoff(&self, kind: &str, id: &str) -> String {
        format!("{}:handoff:{kind}:{id}", self.prefix)
    }

    /// A channel's presence records: field `node\nmember` → record JSON.
    pub fn presence(&self, channel: &ChannelName) -> String {
        format!("{}:ch:{{{}}}:pres", self.prefix, channel)
    }

    /// A channel's subscription counts: field node id → its subscriptions.
    pub fn subscriptions(&self, channel: &ChannelName) -> String {
        format!("{}:ch:{{{}}}:subs", self.prefix, channel)
    }

    /// Channels where a node has subscriptions (set), for listings and for cleaning up after it.
    pub fn node_subscriptions(&self, id: &str) -> String {
        format!("{}:node:{}:subs", self.prefix, id)
    }

    /// The durable webhook stream of one app (the Pusher door's `app id`).
    pub fn webhooks(&self, app: &str) -> String {
        format!("{}:webhooks:{}", self.prefix, app)
    }

    /// The pub/sub channel carrying document `doc`'s messages between nodes.
    pub fn doc_pubsub(&self, doc: &ChannelName) -> String {
        format!("{}:doc:{}", self.prefix, doc)
    }

    /// The document a pub/sub channel name carries, if it is one of ours.
    pub fn doc_of_pubsub(&self, name: &str) -> Option<ChannelName> {
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix(":doc:")?;
        ChannelName::new(rest).ok()
    }

    /// The compaction lease of document `doc`.
    pub fn doc_compactor(&self, doc: &ChannelName) -> String {
        format!("{}:doc:{{{}}}:compactor", self.prefix, doc)
    }

    /// Documents node `id` has open (set).
    pub fn node_documents(&self, id: &str) -> String {
        format!("{}:node:{}:docs", self.prefix, id)
    }

    /// Live nodes: sorted set of node id → last heartbeat (ms).
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// One node's details (hash, expiring without heartbeats).
    pub fn node(&self, id: &str) -> String {
        format!("{}:node:{}", self.prefix, id)
    }

    /// Channels where a node has presence records (set), for cleaning up after it.
    pub fn node_channels(&self, id: &str) -> String {
        format!("{}:node:{}:chans", self.prefix, id)
    }

    /// The lock one live node takes to clean up after a dead one.
    pub fn node_reaper(&self, id: &str) -> String {
        format!("{}:node:{}:reaper", self.prefix, id)
    }

    /// The Herald channel a pub/sub channel name carries, if it is one of ours.
    pub fn channel_of_pubsub(&self, name: &str) -> Option<ChannelName> {
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix(":pub:")?;
        ChannelName::new(rest).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channels_keys_share_one_hash_tag() {
        let k = Keys::new("t1");
        let c = ChannelName::new("chat:lobby").unwrap();
        assert_eq!(k.meta(&c), "t1:ch:{chat:lobby}:meta");
        assert_eq!(k.history(&c), "t1:ch:{chat:lobby}:hist");
        assert_eq!(k.channel_of_pubsub(&k.pubsub(&c)), Some(c.clone()));
        assert_eq!(k.channel_of_pubsub("other:pub:x"), None);
        assert_eq!(k.doc_of_pubsub(&k.doc_pubsub(&c)), Some(c.clone()));
        assert_eq!(k.doc_of_pubsub(&k.pubsub(&c)), None);
        assert_eq!(k.channel_of_pubsub(&k.doc_pubsub(&c)), None);
    }
}
