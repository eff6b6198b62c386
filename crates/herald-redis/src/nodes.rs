//! `NodeRegistry`: node membership. Each node writes a heartbeat every
//! `heartbeat` (`P:nodes` score = time, `P:node:N` details expiring after
//! `ttl`); a node silent for `ttl` is dead. Every live node looks for dead
//! ones on each heartbeat; the one that takes the reaper lock removes the
//! dead node's presence records and announces `leave` for members present
//! on no other node, removes its subscription counts (reporting `vacated`
//! for channels it was the last node of), and tells every document the
//! dead node had open. So presence converges within `ttl + heartbeat` of a
//! node's death (queries skip dead nodes' records as soon as `ttl` passes).

use std::sync::{Arc, Weak};
use std::time::Duration;

use herald_core::{ChannelName, HeraldError, NodeEvent, now_ms};
use redis::Script;

use crate::broker::RedisBroker;
use crate::presence::Record;

/// The origin named on `leave` events of a reaped node: no node has this id,
/// so every node (the reaper too) delivers them.
const REAPER_ORIGIN: &str = "reaper";

/// A live node as `GET /api/nodes` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeInfo {
    /// The node's id (random per process).
    pub id: String,
    /// Its open client connections at its last heartbeat.
    pub connections: u64,
    /// When it started, ms since the Unix epoch.
    pub started_at: u64,
    /// Its last heartbeat, ms since the Unix epoch.
    pub last_heartbeat: u64,
    /// Whether it is the node answering.
    pub this_node: bool,
}

/// Removes `node`'s records from a presence hash; returns the records of
/// members now present on no node.
/// KEYS: presence hash. ARGV: `node\n`.
static REAP_CHANNEL: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r#"
local prefix = ARGV[1]
local all = redis.call('HGETALL', KEYS[1])
local removed = {}
local others = {}
for i = 1, #all, 2 do
  local f = all[i]
  local nl = string.find(f, "\n", 1, true)
  if nl then
    local member = string.sub(f, nl + 1)
    if string.sub(f, 1, #prefix) == prefix then
      redis.call('HDEL', KEYS[1], f)
      removed[member] = all[i + 1]
    else
      others[member] = true
    end
  end
end
local gone = {}
for member, record in pairs(removed) do
  if not others[member] then table.insert(gone, record) end
end
return gone
"#,
    )
});

/// This node's membership in the cluster.
pub struct NodeRegistry {
    broker: Arc<RedisBroker>,
    heartbeat: Duration,
    ttl: Duration,
    started_ms: u64,
    connections: Box<dyn Fn() -> usize + Send + Sync>,
    resync: Box<dyn Fn() -> usize + Send + Sync>,
    vacated: Box<dyn Fn(ChannelName) + Send + Sync>,
    task: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl NodeRegistry {
    /// Register this node and start heart-beating; `connections` counts its
    /// clients; `resync` rewrites this node's presence records, called when a
    /// heartbeat finds the node unregistered (first beat, Redis lost its
    /// data, or the node was taken for dead and cleaned up); `vacated` is
    /// told of each channel whose last subscriptions were a removed node's.
    pub fn start(
        broker: Arc<RedisBroker>,
        heartbeat: Duration,
        ttl: Duration,
        connections: impl Fn() -> usize + Send + Sync + 'static,
        resync: impl Fn() -> usize + Send + Sync + 'static,
        vacated: impl Fn(ChannelName) + Send + Sync + 'static,
    ) -> Arc<Self> {
        let me = Arc::new(Self {
            broker,
            heartbeat: heartbeat.max(Duration::from_millis(100)),
            ttl: ttl.max(heartbeat * 2),
            started_ms: now_ms(),
            connections: Box::new(connections),
            resync: Box::new(resync),
            vacated: Box::new(vacated),
            task: parking_lot::Mutex::new(None),
        });
        let weak = Arc::downgrade(&me);
        *me.task.lock() = Some(tokio::spawn(run(weak, me.heartbeat)));
        me.broker.set_registry(me.clone());
        me
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        self.broker.node_id()
    }

    /// How long a silent node counts as alive.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Returns whether the node was unregistered before this beat.
    async fn beat(&self) -> Result<bool, HeraldError> {
        let keys = self.broker.keys();
        let id = self.broker.node_id();
        let now = now_ms();
        let mut pipe = redis::pipe();
        pipe.cmd("HSET")
            .arg(keys.node(id))
            .arg("connections")
            .arg((self.connections)() as u64)
            .arg("started")
            .arg(self.started_ms);
        pipe.cmd("PEXPIRE").arg(keys.node(id)).arg(self.ttl.as_millis() as u64).ignore();
        pipe.cmd("ZADD").arg(keys.nodes()).arg(now).arg(id.as_ref()).ignore();
        let (added,): (u64,) = self.broker.query(pipe).await?;
        Ok(added > 0)
    }

    /// Live nodes (heartbeat within the TTL), this one included.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, HeraldError> {
        let keys = self.broker.keys();
        let since = now_ms().saturating_sub(self.ttl.as_millis() as u64);
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGEBYSCORE").arg(keys.nodes()).arg(since).arg("+inf").arg("WITHSCORES");
        let (live,): (Vec<(String, u64)>,) = self.broker.query(pipe).await?;
        let mut pipe = redis::pipe();
        for (id, _) in &live {
            pipe.cmd("HMGET").arg(keys.node(id)).arg("connections").arg("started");
        }
        let details: Vec<(Option<u64>, Option<u64>)> =
            if live.is_empty() { Vec::new() } else { self.broker.query(pipe).await? };
        let me = self.broker.node_id();
        let mut out: Vec<NodeInfo> = live
            .into_iter()
            .zip(details)
            .map(|((id, last), (connections, started))| NodeInfo {
                this_node: id.as_str() == &**me,
                id,
                connections: connections.unwrap_or(0),
                started_at: started.unwrap_or(0),
                last_heartbeat: last,
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Clean up after nodes whose heartbeat is older than the TTL.
    async fn reap_dead(&self) -> Result<(), HeraldError> {
        let keys = self.broker.keys();
        let before = now_ms().saturating_sub(self.ttl.as_millis() as u64);
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGEBYSCORE").arg(keys.nodes()).arg("-inf").arg(format!("({before}"));
        let (dead,): (Vec<String>,) = self.broker.query(pipe).await?;
        for id in dead {
            let mut lock = redis::pipe();
            lock.cmd("SET")
                .arg(keys.node_reaper(&id))
                .arg(self.broker.node_id().as_ref())
                .arg("NX")
                .arg("PX")
                .arg(self.ttl.as_millis() as u64);
            let (won,): (Option<String>,) = self.broker.query(lock).await?;
            if won.is_none() {
                continue;
            }
            let left = self.reap(&id).await?;
            tracing::warn!(node = %id, members_left = left, "node stopped heart-beating; its presence and subscriptions removed");
        }
        Ok(())
    }

    /// Remove node `id`'s presence records and registration; announce
    /// `leave` for members present on no other node. Returns how many left.
    pub async fn reap(&self, id: &str) -> Result<usize, HeraldError> {
        let keys = self.broker.keys();
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS").arg(keys.node_channels(id));
        let (channels,): (Vec<String>,) = self.broker.query(pipe).await?;
        let prefix = format!("{id}\n");
        let mut left = 0;
        for name in channels {
            let Ok(channel) = ChannelName::new(&name) else { continue };
            let mut inv = REAP_CHANNEL.prepare_invoke();
            inv.key(keys.presence(&channel)).arg(&prefix);
            let mut conn = self.broker.connection();
            let gone: Vec<String> = self.broker.timed(inv.invoke_async(&mut conn)).await?;
            let mut pipe = redis::pipe();
            for record in gone {
                let Ok(r) = serde_json::from_str::<Record>(&record) else { continue };
                let event = NodeEvent::Leave { channel: channel.clone(), member: r.m };
                let Ok(json) = serde_json::to_string(&event) else { continue };
                pipe.cmd("PUBLISH").arg(keys.pubsub(&channel)).arg(format!("!{REAPER_ORIGIN} {json}")).ignore();
                left += 1;
            }
            self.broker.query::<()>(pipe).await?;
        }
        self.reap_subscriptions(id).await?;
        // Documents it had open: the others drop its connections' awareness states.
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS").arg(keys.node_documents(id));
        let (docs,): (Vec<String>,) = self.broker.query(pipe).await?;
        let mut pipe = redis::pipe();
        for name in docs {
            let Ok(doc) = ChannelName::new(&name) else { continue };
            let payload = crate::document_bus::node_gone_payload(REAPER_ORIGIN, id);
            pipe.cmd("PUBLISH").arg(keys.doc_pubsub(&doc)).arg(payload).ignore();
        }
        pipe.cmd("DEL").arg(keys.node_documents(id)).ignore();
        self.broker.query::<()>(pipe).await?;
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(keys.node_channels(id)).arg(keys.node(id)).ignore();
        pipe.cmd("ZREM").arg(keys.nodes()).arg(id).ignore();
        self.broker.query::<()>(pipe).await?;
        Ok(left)
    }

    /// Remove node `id`'s subscription counts; report `vacated` for each
    /// channel that had subscriptions on no other node.
    async fn reap_subscriptions(&self, id: &str) -> Result<(), HeraldError> {
        let keys = self.broker.keys();
        let mut pipe = redis::pipe();
        pipe.cmd("SMEMBERS").arg(keys.node_subscriptions(id));
        let (channels,): (Vec<String>,) = self.broker.query(pipe).await?;
        let channels: Vec<ChannelName> = channels.iter().filter_map(|c| ChannelName::new(c).ok()).collect();
        if !channels.is_empty() {
            let mut pipe = redis::pipe();
            for c in &channels {
                pipe.cmd("EVAL").arg(crate::scripts::VACATE).arg(1).arg(keys.subscriptions(c)).arg(id);
            }
            let emptied: Vec<i64> = self.broker.query(pipe).await?;
            for (channel, emptied) in channels.into_iter().zip(emptied) {
                if emptied == 1 {
                    tracing::info!(node = %id, channel = %channel, "channel vacated: its last subscriptions were on a removed node");
                    (self.vacated)(channel);
                }
            }
        }
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(keys.node_subscriptions(id)).ignore();
        self.broker.query::<()>(pipe).await
    }

    /// Leave the cluster: stop heart-beating and remove this node's records.
    pub async fn stop(&self) {
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
        let id = self.broker.node_id().to_string();
        if let Err(e) = self.reap(&id).await {
            tracing::warn!(error = %e, "could not remove this node's presence records on shutdown");
        }
    }
}

async fn run(me: Weak<NodeRegistry>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(me) = me.upgrade() else { return };
        match me.beat().await {
            Ok(true) => {
                let n = (me.resync)();
                tracing::info!(records = n, "registered in the cluster; presence records written");
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "node heartbeat failed");
                continue;
            }
        }
        if let Err(e) = me.reap_dead().await {
            tracing::warn!(error = %e, "cleaning up after dead nodes failed");
        }
    }
}
