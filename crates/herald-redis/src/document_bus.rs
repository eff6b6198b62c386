//! `RedisDocumentBus`: herald-core's [`DocumentBus`] on Redis pub/sub.
//!
//! Each open document is a pub/sub topic `P:doc:C` on the broker's shards
//! (a node subscribes only while it has the document open). A message is
//! `{origin node} m{y-websocket message}`; a node drops its own. Sends go
//! through the broker's ordered write queue, so one node's messages arrive
//! in the order it accepted them. When a node dies, the node that reaps it
//! ([`NodeRegistry`](crate::NodeRegistry)) sends `reaper g{dead node}` on
//! every document the dead node had open (`P:node:N:docs`), so the others
//! drop its connections' awareness states.
//!
//! Compaction lease: `SET P:doc:{C}:compactor token NX PX ttl`, released by
//! a script that deletes the key only if it still holds our token.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use herald_core::{ChannelName, CompactionLease, DocumentBus, DocumentBusHandler, HeraldError};
use redis::Script;

use crate::broker::{Outgoing, RedisBroker};
use crate::pubsub::Topic;

/// Deletes the lease only if it holds our token. KEYS: lease. ARGV: token.
static RELEASE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#,
    )
});

const MESSAGE: u8 = b'm';
const NODE_GONE: u8 = b'g';

/// Documents' messages between the nodes of one Redis broker.
pub struct RedisDocumentBus {
    broker: Arc<RedisBroker>,
}

impl RedisDocumentBus {
    /// A bus over `broker`'s connections and key prefix.
    pub fn new(broker: Arc<RedisBroker>) -> Arc<Self> {
        Arc::new(Self { broker })
    }
}

/// The payload announcing that `node` is gone, sent by `origin` (the reaper).
pub(crate) fn node_gone_payload(origin: &str, node: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(origin.len() + node.len() + 2);
    p.extend_from_slice(origin.as_bytes());
    p.push(b' ');
    p.push(NODE_GONE);
    p.extend_from_slice(node.as_bytes());
    p
}

/// Hand one received payload to the handler (messages from `me` are dropped).
pub(crate) fn dispatch(me: &str, handler: &dyn DocumentBusHandler, doc: &ChannelName, payload: &[u8]) {
    let Some(sp) = payload.iter().position(|b| *b == b' ') else { return };
    let Ok(origin) = std::str::from_utf8(&payload[..sp]) else { return };
    if origin == me {
        return;
    }
    match payload.get(sp + 1) {
        Some(&MESSAGE) => handler.on_message(doc, origin, &payload[sp + 2..]),
        Some(&NODE_GONE) => {
            if let Ok(node) = std::str::from_utf8(&payload[sp + 2..])
                && node != me
            {
                handler.on_node_gone(doc, node);
            }
        }
        _ => tracing::warn!(doc = %doc, "dropping an undecodable document message"),
    }
}

#[async_trait]
impl DocumentBus for RedisDocumentBus {
    fn attach(&self, handler: Arc<dyn DocumentBusHandler>) {
        let _ = self.broker.handlers().docs.set(handler);
    }

    async fn join(&self, doc: &ChannelName) -> Result<(), HeraldError> {
        self.broker.shards().watch(Topic::Document(doc.clone())).await?;
        self.broker.enqueue(Outgoing::DocMembership { doc: doc.to_string(), joined: true });
        Ok(())
    }

    async fn leave(&self, doc: &ChannelName) {
        if self.broker.shards().unwatch(Topic::Document(doc.clone())).await {
            self.broker.enqueue(Outgoing::DocMembership { doc: doc.to_string(), joined: false });
        }
    }

    fn send(&self, doc: &ChannelName, message: &[u8]) {
        let me = self.broker.node_id();
        let mut payload = Vec::with_capacity(me.len() + 2 + message.len());
        payload.extend_from_slice(me.as_bytes());
        payload.push(b' ');
        payload.push(MESSAGE);
        payload.extend_from_slice(message);
        self.broker.enqueue(Outgoing::Doc { topic: self.broker.keys().doc_pubsub(doc), payload });
    }

    async fn try_compaction(&self, doc: &ChannelName, ttl: Duration) -> Result<Option<CompactionLease>, HeraldError> {
        let token = format!("{}:{:x}", self.broker.node_id(), rand::random::<u64>());
        let mut conn = self.broker.connection();
        let cmd = redis::cmd("SET")
            .arg(self.broker.keys().doc_compactor(doc))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .to_owned();
        let won: Option<String> = self.broker.timed(cmd.query_async(&mut conn)).await?;
        Ok(won.map(|_| CompactionLease(token)))
    }

    async fn release_compaction(&self, doc: &ChannelName, lease: CompactionLease) {
        let mut inv = RELEASE.prepare_invoke();
        inv.key(self.broker.keys().doc_compactor(doc)).arg(lease.0);
        let mut conn = self.broker.connection();
        if self.broker.timed(inv.invoke_async::<i64>(&mut conn)).await.is_err() {
            tracing::debug!(doc = %doc, "compaction lease not released; it expires");
        }
    }
}
