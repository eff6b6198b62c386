//! `RedisBroker`: the multi-node broker. See the crate docs for the shape.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use herald_core::{
    Broker, BrokerHandler, ChannelName, Direction, Epoch, HeraldError, HistoryPage, HistoryQuery, Hub, NodeEvent,
    Position, Publication, PublishRequest, now_ms,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::RedisStartError;
use crate::codec;
use crate::keys::Keys;
use crate::options::RedisBrokerOptions;
use crate::pubsub::{Handlers, Shards, Topic};
use crate::scripts;

/// The broker of a Herald cluster sharing one Redis.
pub struct RedisBroker {
    node_id: Arc<str>,
    /// Stopped (this node's records removed) when the broker closes.
    registry: parking_lot::Mutex<Option<Arc<crate::nodes::NodeRegistry>>>,
    events: tokio::sync::mpsc::Sender<Outgoing>,
    events_task: tokio::task::JoinHandle<()>,
    conn: ConnectionManager,
    keys: Keys,
    options: RedisBrokerOptions,
    handlers: Handlers,
    shards: Arc<Shards>,
}

/// A Redis failure as the hub and clients see it.
fn unavailable(e: impl std::fmt::Display) -> HeraldError {
    HeraldError::unavailable(format!("Redis unavailable: {e}"))
}

/// The URL without its password, for logs and errors.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

impl RedisBroker {
    /// Connect to Redis (fails when it cannot be reached now) and start the
    /// pub/sub shards. Must be called inside a Tokio runtime.
    pub async fn connect(options: RedisBrokerOptions) -> Result<Arc<Self>, RedisStartError> {
        let url = redacted(&options.url);
        let client = redis::Client::open(options.url.as_str())
            .map_err(|e| RedisStartError::Url { url: url.clone(), message: e.to_string() })?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(options.command_timeout)
            .set_connection_timeout(options.command_timeout)
            .set_number_of_retries(2)
            .set_max_delay(options.reconnect_max_delay.as_millis() as u64);
        let conn = tokio::time::timeout(options.command_timeout * 2, client.get_connection_manager_with_config(config))
            .await
            .map_err(|_| RedisStartError::Connect { url: url.clone(), message: "timed out".into() })?
            .map_err(|e| RedisStartError::Connect { url: url.clone(), message: e.to_string() })?;
        let keys = Keys::new(&options.key_prefix);
        let handlers = Handlers { hub: Arc::new(OnceLock::new()), docs: Arc::new(OnceLock::new()) };
        let node_id: Arc<str> = Arc::from(new_node_id());
        let shards = Shards::start(
            node_id.clone(),
            client,
            options.pubsub_shards,
            keys.clone(),
            handlers.clone(),
            options.command_timeout,
            options.pubsub_ping_interval,
            options.reconnect_max_delay,
        );
        if !shards.wait_up(options.command_timeout * 2).await {
            shards.stop();
            return Err(RedisStartError::Connect { url, message: "pub/sub connections did not come up".into() });
        }
        let (events, rx) = tokio::sync::mpsc::channel(EVENT_QUEUE);
        let events_task =
            tokio::spawn(send_events(rx, conn.clone(), keys.clone(), node_id.clone(), options.command_timeout));
        Ok(Arc::new(Self {
            node_id,
            registry: parking_lot::Mutex::new(None),
            events,
            events_task,
            conn,
            keys,
            options,
            handlers,
            shards,
        }))
    }

    /// How long one command may take.
    pub fn command_timeout(&self) -> Duration {
        self.options.command_timeout
    }

    /// This node's id in the cluster (random per process).
    pub fn node_id(&self) -> &Arc<str> {
        &self.node_id
    }

    /// The key names in use.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The Redis URL (for connections of their own: pub/sub listeners).
    pub(crate) fn url(&self) -> &str {
        &self.options.url
    }

    /// A command connection (multiplexed, reconnecting), for other Redis-backed parts of the node.
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// One Redis round trip (a command, a pipeline or a script) within the
    /// command timeout; a failure or a timeout is `unavailable`. Every
    /// request-path Redis call of the crate goes through here.
    pub(crate) async fn timed<T>(
        &self,
        f: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, HeraldError> {
        match tokio::time::timeout(self.options.command_timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(unavailable(e)),
            Err(_) => Err(unavailable("command timed out")),
        }
    }

    /// Run `pipe` on the command connection, [timed](Self::timed).
    pub(crate) async fn query<T: redis::FromRedisValue>(&self, pipe: redis::Pipeline) -> Result<T, HeraldError> {
        let mut conn = self.conn.clone();
        self.timed(pipe.query_async(&mut conn)).await
    }
}

/// Ephemeral events waiting to be sent to the other nodes; beyond it they
/// are dropped (counted in `herald_node_events_dropped_total`).
const EVENT_QUEUE: usize = 65_536;

fn new_node_id() -> String {
    let mut rng = rand::rng();
    (0..12)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rand::Rng::random_range(&mut rng, 0..36)]))
        .collect()
}

/// A write queued for Redis, sent in order.
pub(crate) enum Outgoing {
    /// An ephemeral event for the other nodes.
    Event(NodeEvent),
    /// This node's presence record of `field` in `key` (`None`: delete), and the node's channel set.
    Presence { key: String, field: String, record: Option<String>, channel: String },
    /// A member's first connection on this node (`record` given) or its
    /// last one gone: write or delete the record and answer whether no
    /// other node has the member (push `join`/`leave`).
    Transition {
        key: String,
        field: String,
        member: String,
        record: Option<String>,
        channel: String,
        reply: tokio::sync::oneshot::Sender<bool>,
    },
    /// This node's subscriptions to `channel` went from `before` to `after`.
    /// A change from or to zero runs the occupy/vacate script and tells
    /// `hub` when the channel became occupied or vacated on every node.
    Occupancy { channel: ChannelName, before: usize, after: usize, hub: Weak<Hub> },
    /// A collaborative document's message for the other nodes: `PUBLISH` as is.
    Doc { topic: String, payload: Vec<u8> },
    /// This node opened (`joined`) or closed a document: the set of
    /// documents to tell when the node dies.
    DocMembership { doc: String, joined: bool },
    /// Answered once everything queued before it was sent.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// What to do with one script's answer, in queue order.
enum Reply {
    /// Presence: whether to push `join`/`leave`.
    Presence(tokio::sync::oneshot::Sender<bool>),
    /// Occupancy: report `occupied` (or vacated) to the hub on answer 1.
    Occupancy { hub: Weak<Hub>, channel: ChannelName, occupied: bool },
}

impl Reply {
    /// Act on the script's answer (`None`: Redis did not answer; presence
    /// pushes and occupancy reports anyway: rather a repeated event than a
    /// missing one).
    fn answer(self, answer: Option<i64>) {
        let yes = answer.is_none_or(|a| a == 1);
        match self {
            Reply::Presence(tx) => {
                let _ = tx.send(yes);
            }
            Reply::Occupancy { hub, channel, occupied } => {
                if let (true, Some(hub)) = (yes, hub.upgrade()) {
                    hub.occupancy_changed(channel, occupied);
                }
            }
        }
    }
}

/// How long a failed document message waits before it is sent again.
const DOC_RETRY_DELAY: Duration = Duration::from_millis(250);
/// Most document messages kept for sending again while Redis is away;
/// older ones are dropped (the other nodes catch up from the store once
/// their own pub/sub connection is back).
const DOC_RETRY_MAX: usize = 10_000;

fn retry_documents(again: &mut Vec<Outgoing>, failed: Vec<Outgoing>) {
    again.extend(failed);
    if again.len() > DOC_RETRY_MAX {
        let excess = again.len() - DOC_RETRY_MAX;
        again.drain(..excess);
        metrics::counter!("herald_node_events_dropped_total").increment(excess as u64);
    }
}

/// Send queued node events and presence writes in order, pipelined in batches.
async fn send_events(
    mut rx: tokio::sync::mpsc::Receiver<Outgoing>,
    mut conn: ConnectionManager,
    keys: Keys,
    node_id: Arc<str>,
    timeout: Duration,
) {
    let mut batch = Vec::with_capacity(256);
    // Document messages whose publish failed, sent again first: another node
    // that misses a document update would hold a stale copy (updates are
    // idempotent, so a repeat is harmless).
    let mut again: Vec<Outgoing> = Vec::new();
    loop {
        let received = if again.is_empty() {
            rx.recv_many(&mut batch, 256).await
        } else {
            match tokio::time::timeout(DOC_RETRY_DELAY, rx.recv_many(&mut batch, 256)).await {
                Ok(n) => n,
                Err(_) => usize::MAX,
            }
        };
        if received == 0 {
            return;
        }
        batch.splice(0..0, again.drain(..));
        let mut pipe = redis::pipe();
        let mut flushed = Vec::new();
        let mut replies = Vec::new();
        let mut docs = Vec::new();
        for out in batch.drain(..) {
            match out {
                Outgoing::Transition { key, field, member, record, channel, reply } => {
                    match record {
                        Some(record) => {
                            pipe.cmd("EVAL")
                                .arg(scripts::PRESENCE_JOIN)
                                .arg(1)
                                .arg(&key)
                                .arg(field)
                                .arg(member)
                                .arg(record);
                            pipe.cmd("SADD").arg(keys.node_channels(&node_id)).arg(channel).ignore();
                        }
                        None => {
                            pipe.cmd("EVAL").arg(scripts::PRESENCE_LEAVE).arg(1).arg(&key).arg(field).arg(member);
                        }
                    }
                    replies.push(Reply::Presence(reply));
                }
                Outgoing::Occupancy { channel, before, after, hub } => {
                    let key = keys.subscriptions(&channel);
                    let node_set = keys.node_subscriptions(&node_id);
                    match (before, after) {
                        (0, 0) => {}
                        (0, n) => {
                            pipe.cmd("EVAL").arg(scripts::OCCUPY).arg(1).arg(key).arg(node_id.as_ref()).arg(n);
                            pipe.cmd("SADD").arg(node_set).arg(channel.as_str()).ignore();
                            replies.push(Reply::Occupancy { hub, channel, occupied: true });
                        }
                        (_, 0) => {
                            pipe.cmd("EVAL").arg(scripts::VACATE).arg(1).arg(key).arg(node_id.as_ref());
                            pipe.cmd("SREM").arg(node_set).arg(channel.as_str()).ignore();
                            replies.push(Reply::Occupancy { hub, channel, occupied: false });
                        }
                        (_, n) => {
                            pipe.cmd("HSET").arg(key).arg(node_id.as_ref()).arg(n).ignore();
                        }
                    }
                }
                Outgoing::Flush(tx) => flushed.push(tx),
                Outgoing::Doc { topic, payload } => {
                    pipe.cmd("PUBLISH").arg(&topic).arg(&payload).ignore();
                    docs.push(Outgoing::Doc { topic, payload });
                }
                Outgoing::DocMembership { doc, joined } => {
                    pipe.cmd(if joined { "SADD" } else { "SREM" }).arg(keys.node_documents(&node_id)).arg(doc).ignore();
                }
                Outgoing::Event(e) => {
                    let Ok(json) = serde_json::to_string(&e) else { continue };
                    let target = match e.channel() {
                        Some(c) => keys.pubsub(c),
                        None => keys.users(),
                    };
                    pipe.cmd("PUBLISH").arg(target).arg(format!("!{node_id} {json}")).ignore();
                }
                Outgoing::Presence { key, field, record: Some(record), channel } => {
                    pipe.cmd("HSET").arg(&key).arg(field).arg(record).ignore();
                    pipe.cmd("SADD").arg(keys.node_channels(&node_id)).arg(channel).ignore();
                }
                Outgoing::Presence { key, field, record: None, .. } => {
                    pipe.cmd("HDEL").arg(key).arg(field).ignore();
                }
            }
        }
        let answers = match tokio::time::timeout(timeout, pipe.query_async::<Vec<i64>>(&mut conn)).await {
            Ok(Ok(answers)) => answers,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "node events not sent to other nodes");
                retry_documents(&mut again, docs);
                Vec::new()
            }
            Err(_) => {
                tracing::warn!("node events not sent to other nodes: timed out");
                retry_documents(&mut again, docs);
                Vec::new()
            }
        };
        let mut answers = answers.into_iter();
        for reply in replies {
            reply.answer(answers.next());
        }
        for tx in flushed {
            let _ = tx.send(());
        }
    }
}

fn as_bytes(v: &redis::Value) -> Option<&[u8]> {
    match v {
        redis::Value::BulkString(b) => Some(b),
        redis::Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn as_u64(v: &redis::Value) -> Option<u64> {
    match v {
        redis::Value::Int(n) => u64::try_from(*n).ok(),
        other => as_bytes(other).and_then(|b| std::str::from_utf8(b).ok()).and_then(|s| s.parse().ok()),
    }
}

/// Parse `{epoch, top, entries}` from the history script.
fn parse_history(channel: &ChannelName, v: redis::Value) -> Result<HistoryPage, HeraldError> {
    let bad = |what: &str| HeraldError::unavailable(format!("unexpected history reply from Redis: {what}"));
    let redis::Value::Array(parts) = v else { return Err(bad("not an array")) };
    let [epoch, top, rows] = parts.as_slice() else { return Err(bad("not 3 parts")) };
    let epoch = as_bytes(epoch).and_then(|b| std::str::from_utf8(b).ok()).ok_or_else(|| bad("epoch"))?;
    let epoch = Epoch::from_string(epoch);
    let top = as_u64(top).ok_or_else(|| bad("top"))?;
    let redis::Value::Array(rows) = rows else { return Err(bad("rows")) };
    let now = now_ms();
    let mut publications = Vec::with_capacity(rows.len());
    for row in rows {
        let redis::Value::Array(pair) = row else { return Err(bad("row")) };
        let [id, fields] = pair.as_slice() else { return Err(bad("row shape")) };
        let id = as_bytes(id).and_then(|b| std::str::from_utf8(b).ok()).ok_or_else(|| bad("id"))?;
        let offset: u64 = id.split('-').next().and_then(|s| s.parse().ok()).ok_or_else(|| bad("id"))?;
        let redis::Value::Array(fields) = fields else { return Err(bad("fields")) };
        let Some(body) = fields.get(1).and_then(as_bytes) else { return Err(bad("body")) };
        let d = codec::decode_body(channel, &epoch, offset, body).map_err(|e| bad(&e.0))?;
        if (d.expires_ms == 0 || d.expires_ms > now) && offset <= top {
            publications.push(d.publication);
        }
    }
    Ok(HistoryPage { top: Position { epoch, offset: top }, publications })
}

#[async_trait]
impl Broker for RedisBroker {
    fn attach(&self, handler: Arc<dyn BrokerHandler>) {
        let _ = self.handlers.hub.set(handler);
    }

    async fn publish(&self, req: PublishRequest) -> Result<Arc<Publication>, HeraldError> {
        let time_ms = now_ms();
        let ttl_ms = req.retention.ttl.map(|t| t.as_millis() as u64).unwrap_or(0);
        let expires_ms = if ttl_ms > 0 { time_ms + ttl_ms } else { 0 };
        let body =
            codec::encode_body(&req.data, time_ms, expires_ms, req.publisher.as_ref(), req.idempotency_key.as_deref())
                .map_err(|e| HeraldError::bad_request(e.0))?;
        let mut inv = scripts::PUBLISH.prepare_invoke();
        inv.key(self.keys.meta(&req.channel)).key(self.keys.history(&req.channel));
        if let Some(k) = &req.idempotency_key {
            inv.key(self.keys.idempotency(&req.channel, k));
        }
        inv.arg(Epoch::generate().as_str())
            .arg(body)
            .arg(req.retention.size)
            .arg(ttl_ms)
            .arg(self.keys.pubsub(&req.channel))
            .arg(self.options.idempotency_window.as_millis() as u64);
        let mut conn = self.conn.clone();
        let started = std::time::Instant::now();
        let msg: Vec<u8> = self.timed(inv.invoke_async(&mut conn)).await?;
        metrics::histogram!("herald_redis_publish_seconds").record(started.elapsed().as_secs_f64());
        let d = codec::decode_message(&req.channel, &msg).map_err(unavailable)?;
        Ok(d.publication)
    }

    async fn history(&self, channel: &ChannelName, query: HistoryQuery) -> Result<HistoryPage, HeraldError> {
        let (dir, start, end) = match query.direction {
            Direction::Forward => ("f", format!("{}-0", query.since.unwrap_or(0).saturating_add(1)), "+".to_string()),
            Direction::Backward => match query.before {
                Some(0) | Some(1) => ("b", "-".to_string(), "0-0".to_string()),
                Some(b) => ("b", "-".to_string(), format!("{}-0", b - 1)),
                None => ("b", "-".to_string(), "+".to_string()),
            },
        };
        // `before` ≤ 1 asks for nothing: read the top only.
        let limit = if matches!(query.before, Some(0) | Some(1)) && dir == "b" { 0 } else { query.limit };
        let mut inv = scripts::HISTORY.prepare_invoke();
        inv.key(self.keys.meta(channel))
            .key(self.keys.history(channel))
            .arg(Epoch::generate().as_str())
            .arg(dir)
            .arg(start)
            .arg(end)
            .arg(limit);
        let mut conn = self.conn.clone();
        let v: redis::Value = self.timed(inv.invoke_async(&mut conn)).await?;
        parse_history(channel, v)
    }

    async fn watch(&self, channel: &ChannelName) -> Result<(), HeraldError> {
        self.shards.watch(Topic::Channel(channel.clone())).await
    }

    async fn unwatch(&self, channel: &ChannelName) {
        self.shards.unwatch(Topic::Channel(channel.clone())).await;
    }

    async fn ready(&self) -> bool {
        if !self.shards.all_up() {
            return false;
        }
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut conn);
        matches!(tokio::time::timeout(Duration::from_secs(1), ping).await, Ok(Ok(_)))
    }

    async fn close(&self) {
        // Queued writes first (the last subscriptions and members leaving),
        // then whatever is left of this node's records.
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.events.try_send(Outgoing::Flush(tx)).is_ok() {
            let _ = tokio::time::timeout(self.options.command_timeout, rx).await;
        }
        let registry = self.registry.lock().take();
        if let Some(r) = registry {
            r.stop().await;
        }
        self.shards.stop();
        self.events_task.abort();
    }

    fn distributed(&self) -> bool {
        true
    }

    fn broadcast(&self, event: NodeEvent) {
        self.enqueue(Outgoing::Event(event));
    }
}

impl RedisBroker {
    pub(crate) fn set_registry(&self, registry: Arc<crate::nodes::NodeRegistry>) {
        *self.registry.lock() = Some(registry);
    }

    pub(crate) fn shards(&self) -> &Shards {
        &self.shards
    }

    pub(crate) fn handlers(&self) -> &Handlers {
        &self.handlers
    }

    pub(crate) fn enqueue(&self, out: Outgoing) {
        if self.events.try_send(out).is_err() {
            metrics::counter!("herald_node_events_dropped_total").increment(1);
        }
    }
}
