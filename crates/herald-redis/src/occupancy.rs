//! `RedisOccupancy`: channel occupancy shared by every node. Each node
//! keeps its own subscription count per channel in the channel's
//! occupancy hash (`P:ch:{C}:subs`, field = node id) and the channels it
//! has subscriptions in (`P:node:N:subs`), written through the broker's
//! ordered write queue. A change from or to zero runs a script that answers
//! whether the hash went from empty (occupied) or to empty (vacated), so
//! each fires once for the cluster. A dead node's counts stay (and keep the
//! channel occupied) until [`NodeRegistry`](crate::nodes::NodeRegistry)
//! removes them, reporting `vacated` for channels that emptied; queries
//! count live nodes only.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use herald_core::{ChannelName, HeraldError, Hub, OccupancyBackend, now_ms};

use crate::broker::{Outgoing, RedisBroker};

/// Occupancy over Redis.
pub struct RedisOccupancy {
    broker: Arc<RedisBroker>,
    hub: Weak<Hub>,
    node_ttl_ms: u64,
}

impl RedisOccupancy {
    /// Occupancy through `broker`, reporting changes to `hub`; nodes silent
    /// for `node_ttl` count as gone.
    pub fn new(broker: Arc<RedisBroker>, hub: Weak<Hub>, node_ttl: std::time::Duration) -> Arc<Self> {
        Arc::new(Self { broker, hub, node_ttl_ms: node_ttl.as_millis() as u64 })
    }

    /// Live node ids (heartbeat within the TTL), this one included.
    async fn live_nodes(&self) -> Result<HashSet<String>, HeraldError> {
        let since = now_ms().saturating_sub(self.node_ttl_ms);
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGEBYSCORE").arg(self.broker.keys().nodes()).arg(since).arg("+inf");
        let (live,): (Vec<String>,) = self.broker.query(pipe).await?;
        let mut live: HashSet<String> = live.into_iter().collect();
        live.insert(self.broker.node_id().to_string());
        Ok(live)
    }
}

/// The subscriptions of live nodes in one occupancy hash.
fn live_sum(counts: &HashMap<String, u64>, live: &HashSet<String>) -> usize {
    counts.iter().filter(|(node, _)| live.contains(*node)).map(|(_, n)| *n as usize).sum()
}

#[async_trait]
impl OccupancyBackend for RedisOccupancy {
    fn store(&self, channel: &ChannelName, before: usize, after: usize) {
        self.broker.enqueue(Outgoing::Occupancy { channel: channel.clone(), before, after, hub: self.hub.clone() });
    }

    async fn subscriptions(&self, channel: &ChannelName) -> Result<usize, HeraldError> {
        let live = self.live_nodes().await?;
        let mut pipe = redis::pipe();
        pipe.cmd("HGETALL").arg(self.broker.keys().subscriptions(channel));
        let (counts,): (HashMap<String, u64>,) = self.broker.query(pipe).await?;
        Ok(live_sum(&counts, &live))
    }

    async fn occupied(&self, prefix: &str) -> Result<Vec<(ChannelName, usize)>, HeraldError> {
        let keys = self.broker.keys();
        let live = self.live_nodes().await?;
        let mut pipe = redis::pipe();
        for node in &live {
            pipe.cmd("SMEMBERS").arg(keys.node_subscriptions(node));
        }
        let sets: Vec<Vec<String>> = self.broker.query(pipe).await?;
        let names: BTreeSet<String> = sets.into_iter().flatten().filter(|c| c.starts_with(prefix)).collect();
        let channels: Vec<ChannelName> = names.iter().filter_map(|n| ChannelName::new(n).ok()).collect();
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for c in &channels {
            pipe.cmd("HGETALL").arg(keys.subscriptions(c));
        }
        let counts: Vec<HashMap<String, u64>> = self.broker.query(pipe).await?;
        let mut out = BTreeMap::new();
        for (channel, counts) in channels.into_iter().zip(counts) {
            let n = live_sum(&counts, &live);
            if n > 0 {
                out.insert(channel, n);
            }
        }
        Ok(out.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_live_nodes_count() {
        let counts = HashMap::from([("a".to_string(), 2), ("b".to_string(), 1), ("dead".to_string(), 5)]);
        let live = HashSet::from(["a".to_string(), "b".to_string()]);
        assert_eq!(live_sum(&counts, &live), 3);
    }
}
