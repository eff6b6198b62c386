//! `RedisPresence`: presence shared by every node. Each node writes its own
//! record per member (`node\nmember` → `{"m","n","s"}` in the channel's
//! presence hash) through the broker's ordered write queue; a query reads
//! the hash and the live-node set in one round trip and counts each member
//! once, over live nodes only. A dead node's records are removed by
//! [`NodeRegistry`](crate::nodes::NodeRegistry).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use herald_core::{ChannelName, HeraldError, Payload, PresenceBackend, PresenceMember, WireMember, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::broker::{Outgoing, RedisBroker};

/// One node's record of one member.
#[derive(Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) m: WireMember,
    pub(crate) n: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) s: Option<Box<RawValue>>,
}

/// Presence over Redis.
pub struct RedisPresence {
    broker: Arc<RedisBroker>,
    node_ttl_ms: u64,
}

impl RedisPresence {
    /// Presence through `broker`; nodes silent for `node_ttl` count as gone.
    pub fn new(broker: Arc<RedisBroker>, node_ttl: std::time::Duration) -> Arc<Self> {
        Arc::new(Self { broker, node_ttl_ms: node_ttl.as_millis() as u64 })
    }
}

#[async_trait]
impl PresenceBackend for RedisPresence {
    fn store(&self, channel: &ChannelName, key: &str, member: Option<&PresenceMember>) {
        let keys = self.broker.keys();
        let field = format!("{}\n{}", self.broker.node_id(), key);
        let record = member.and_then(record_json);
        self.broker.enqueue(Outgoing::Presence {
            key: keys.presence(channel),
            field,
            record,
            channel: channel.to_string(),
        });
    }

    fn transition(
        &self,
        channel: &ChannelName,
        key: &str,
        member: Option<&PresenceMember>,
    ) -> tokio::sync::oneshot::Receiver<bool> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.broker.enqueue(Outgoing::Transition {
            key: self.broker.keys().presence(channel),
            field: format!("{}\n{}", self.broker.node_id(), key),
            member: key.to_string(),
            record: member.and_then(record_json),
            channel: channel.to_string(),
            reply,
        });
        rx
    }

    async fn members(&self, channel: &ChannelName) -> Result<Vec<PresenceMember>, HeraldError> {
        let keys = self.broker.keys();
        let since = now_ms().saturating_sub(self.node_ttl_ms);
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(keys.presence(channel));
        pipe.cmd("ZRANGEBYSCORE").arg(keys.nodes()).arg(since).arg("+inf");
        let (records, live): (HashMap<String, String>, Vec<String>) = self.broker.query(pipe).await?;
        let mut live: HashSet<String> = live.into_iter().collect();
        live.insert(self.broker.node_id().to_string());
        Ok(aggregate(records, &live))
    }
}

fn record_json(m: &PresenceMember) -> Option<String> {
    let r = Record {
        m: WireMember::from_info(&m.info),
        n: m.connections,
        s: m.state.as_ref().and_then(|s| RawValue::from_string(s.as_str().to_string()).ok()),
    };
    serde_json::to_string(&r).ok()
}

/// Count each member once over the records of live nodes, in member-key order.
pub(crate) fn aggregate(records: HashMap<String, String>, live: &HashSet<String>) -> Vec<PresenceMember> {
    let mut by_key: std::collections::BTreeMap<String, PresenceMember> = std::collections::BTreeMap::new();
    for (field, json) in records {
        let Some((node, key)) = field.split_once('\n') else { continue };
        if !live.contains(node) {
            continue;
        }
        let Ok(r) = serde_json::from_str::<Record>(&json) else { continue };
        let state = r.s.as_ref().and_then(|s| Payload::from_json_text(s.get().to_string()).ok());
        match by_key.get_mut(key) {
            Some(m) => {
                m.connections += r.n;
                if m.state.is_none() {
                    m.state = state;
                }
            }
            None => {
                by_key.insert(key.to_string(), PresenceMember { info: r.m.to_info(), connections: r.n, state });
            }
        }
    }
    by_key.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_on_two_live_nodes_counts_once_and_dead_nodes_are_ignored() {
        let rec = |user: &str, n: usize| format!("{{\"m\":{{\"client\":\"c-{user}\",\"user\":\"{user}\"}},\"n\":{n}}}");
        let records = HashMap::from([
            ("a\nann".to_string(), rec("ann", 2)),
            ("b\nann".to_string(), rec("ann", 1)),
            ("b\nbob".to_string(), rec("bob", 1)),
            ("dead\ncid".to_string(), rec("cid", 1)),
        ]);
        let live = HashSet::from(["a".to_string(), "b".to_string()]);
        let got = aggregate(records, &live);
        let summary: Vec<(String, usize)> =
            got.iter().map(|m| (m.info.user.as_deref().unwrap_or("").to_string(), m.connections)).collect();
        assert_eq!(summary, vec![("ann".to_string(), 3), ("bob".to_string(), 1)]);
    }
}
