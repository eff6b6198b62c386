//! `NodeMailbox`: messages addressed to one node of the cluster, over Redis
//! pub/sub (`{prefix}:mbox:{topic}:{node}`). Each node listens on its own
//! channel; any node can send to it. At most once: a message to a node that
//! is not listening is lost (`send` says so). The Socket.IO door forwards a
//! polling request to the node holding its session this way.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use herald_core::HeraldError;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use crate::RedisBroker;

/// Messages queued for the receiver before the listener waits for it.
const INBOX: usize = 4096;
/// Wait between attempts to (re)open the listening connection.
const RETRY: Duration = Duration::from_millis(500);

/// This node's mailbox for one topic, and the way to other nodes' ones.
pub struct NodeMailbox {
    conn: ConnectionManager,
    prefix: String,
    topic: String,
    node_id: Arc<str>,
    timeout: Duration,
    listener: tokio::task::JoinHandle<()>,
}

impl NodeMailbox {
    /// Listen on this node's `topic` channel: the messages arrive on the
    /// returned receiver (in order; the connection is reopened when lost).
    pub fn open(broker: &RedisBroker, topic: &str) -> Result<(Arc<Self>, mpsc::Receiver<Vec<u8>>), HeraldError> {
        let client = redis::Client::open(broker.url())
            .map_err(|e| HeraldError::unavailable(format!("Redis unavailable: {e}")))?;
        let prefix = broker.keys().prefix().to_string();
        let node_id = broker.node_id().clone();
        let channel = channel(&prefix, topic, &node_id);
        let (tx, rx) = mpsc::channel(INBOX);
        let listener = tokio::spawn(listen(client, channel, tx));
        let mailbox = NodeMailbox {
            conn: broker.connection(),
            prefix,
            topic: topic.to_string(),
            node_id,
            timeout: broker.command_timeout(),
            listener,
        };
        Ok((Arc::new(mailbox), rx))
    }

    /// This node's id (what other nodes address it by).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Send `payload` to `node`'s mailbox. `Ok(false)`: no node listens there.
    pub async fn send(&self, node: &str, payload: &[u8]) -> Result<bool, HeraldError> {
        let mut conn = self.conn.clone();
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(channel(&self.prefix, &self.topic, node)).arg(payload);
        match tokio::time::timeout(self.timeout, publish.query_async::<i64>(&mut conn)).await {
            Ok(Ok(receivers)) => Ok(receivers > 0),
            Ok(Err(e)) => Err(HeraldError::unavailable(format!("Redis unavailable: {e}"))),
            Err(_) => Err(HeraldError::unavailable("Redis did not answer in time")),
        }
    }
}

impl Drop for NodeMailbox {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

fn channel(prefix: &str, topic: &str, node: &str) -> String {
    format!("{prefix}:mbox:{topic}:{node}")
}

async fn listen(client: redis::Client, channel: String, tx: mpsc::Sender<Vec<u8>>) {
    while !tx.is_closed() {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channel).await.is_ok() {
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        if tx.send(msg.get_payload_bytes().to_vec()).await.is_err() {
                            return;
                        }
                    }
                }
                tracing::warn!(%channel, "node mailbox connection lost; reopening");
            }
            Err(e) => tracing::warn!(error = %e, "node mailbox cannot connect to Redis"),
        }
        tokio::time::sleep(RETRY).await;
    }
}
