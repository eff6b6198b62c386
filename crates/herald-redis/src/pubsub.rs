//! Pub/sub shards: a few dedicated Redis connections that carry the
//! publications of the channels this node has subscribers for, and the
//! messages of the collaborative documents it has open ([`Topic`]). A topic
//! always maps to the same shard, so its messages arrive in order.
//!
//! Each shard runs one task: connect, (re)subscribe every watched channel,
//! then read messages and ping. When the connection is lost, every watched
//! channel of the shard is reported to the hub as interrupted (its
//! subscribers are told to resubscribe and recover), every document to the
//! document registry (it catches up from the store), and the task
//! reconnects with exponential backoff.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use herald_core::{BrokerHandler, ChannelName, DocumentBusHandler, HeraldError, NodeEvent};
use redis::aio::PubSubSink;

use crate::codec;
use crate::keys::Keys;

pub(crate) type Handler = Arc<OnceLock<Arc<dyn BrokerHandler>>>;
pub(crate) type DocHandler = Arc<OnceLock<Arc<dyn DocumentBusHandler>>>;

/// What a pub/sub subscription carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Topic {
    /// A channel's publications and ephemeral events (`P:pub:C`).
    Channel(ChannelName),
    /// A collaborative document's messages between nodes (`P:doc:C`).
    Document(ChannelName),
}

impl Topic {
    fn name(&self) -> &ChannelName {
        match self {
            Topic::Channel(c) | Topic::Document(c) => c,
        }
    }

    fn pubsub(&self, keys: &Keys) -> String {
        match self {
            Topic::Channel(c) => keys.pubsub(c),
            Topic::Document(d) => keys.doc_pubsub(d),
        }
    }
}

/// Both handlers, set once each when attached.
#[derive(Clone, Default)]
pub(crate) struct Handlers {
    pub(crate) hub: Handler,
    pub(crate) docs: DocHandler,
}

impl Handlers {
    fn wants(&self, topic: &Topic) -> bool {
        match topic {
            Topic::Channel(c) => self.hub.get().is_some_and(|h| h.wants(c)),
            Topic::Document(d) => self.docs.get().is_some_and(|h| h.wants(d)),
        }
    }

    fn lost(&self, topic: &Topic) {
        match topic {
            Topic::Channel(c) => {
                if let Some(h) = self.hub.get() {
                    h.on_stream_lost(c);
                }
            }
            Topic::Document(d) => {
                if let Some(h) = self.docs.get() {
                    h.on_stream_lost(d);
                }
            }
        }
    }
}

struct ShardState {
    sink: Option<PubSubSink>,
}

pub(crate) struct Shard {
    index: usize,
    state: tokio::sync::Mutex<ShardState>,
    /// Topics subscribed upstream (confirmed by Redis), kept across reconnects.
    watched: parking_lot::Mutex<HashSet<Topic>>,
    up: AtomicBool,
}

pub(crate) struct Shards {
    shards: Vec<Arc<Shard>>,
    keys: Keys,
    handlers: Handlers,
    timeout: Duration,
    tasks: parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

fn unavailable(what: impl std::fmt::Display) -> HeraldError {
    HeraldError::unavailable(format!("Redis pub/sub unavailable: {what}"))
}

impl Shards {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        node_id: Arc<str>,
        client: redis::Client,
        count: usize,
        keys: Keys,
        handlers: Handlers,
        timeout: Duration,
        ping_interval: Duration,
        max_backoff: Duration,
    ) -> Arc<Shards> {
        let shards: Vec<Arc<Shard>> = (0..count.max(1))
            .map(|index| {
                Arc::new(Shard {
                    index,
                    state: tokio::sync::Mutex::new(ShardState { sink: None }),
                    watched: parking_lot::Mutex::new(HashSet::new()),
                    up: AtomicBool::new(false),
                })
            })
            .collect();
        let me = Arc::new(Shards { shards, keys, handlers, timeout, tasks: parking_lot::Mutex::new(Vec::new()) });
        for shard in &me.shards {
            let run = ShardRunner {
                node_id: node_id.clone(),
                shard: shard.clone(),
                client: client.clone(),
                keys: me.keys.clone(),
                handlers: me.handlers.clone(),
                timeout,
                ping_interval,
                max_backoff,
            };
            me.tasks.lock().push(tokio::spawn(run.run()));
        }
        me
    }

    fn shard_of(&self, topic: &Topic) -> &Arc<Shard> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        topic.name().as_str().hash(&mut h);
        &self.shards[(h.finish() % self.shards.len() as u64) as usize]
    }

    /// Whether every shard is connected.
    pub(crate) fn all_up(&self) -> bool {
        self.shards.iter().all(|s| s.up.load(Ordering::SeqCst))
    }

    /// Wait until every shard is connected, up to `within`.
    pub(crate) async fn wait_up(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.all_up() {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Subscribe upstream to `topic`; returns once Redis confirmed it, so
    /// every message after this is received.
    pub(crate) async fn watch(&self, topic: Topic) -> Result<(), HeraldError> {
        let shard = self.shard_of(&topic);
        if shard.up.load(Ordering::SeqCst) && shard.watched.lock().contains(&topic) {
            return Ok(());
        }
        let mut st = shard.state.lock().await;
        let Some(sink) = st.sink.as_mut() else { return Err(unavailable("reconnecting")) };
        if shard.watched.lock().contains(&topic) {
            return Ok(());
        }
        match tokio::time::timeout(self.timeout, sink.subscribe(topic.pubsub(&self.keys))).await {
            Ok(Ok(())) => {
                shard.watched.lock().insert(topic);
                Ok(())
            }
            Ok(Err(e)) => Err(unavailable(e)),
            Err(_) => Err(unavailable("subscribe timed out")),
        }
    }

    /// Unsubscribe upstream from `topic`, unless its handler wants it
    /// again. Returns whether it unsubscribed.
    pub(crate) async fn unwatch(&self, topic: Topic) -> bool {
        let shard = self.shard_of(&topic);
        let mut st = shard.state.lock().await;
        // Removed before asking the handler: a subscribe racing this either
        // sees the topic missing (and waits for the lock to subscribe again)
        // or is seen by `wants`.
        if !shard.watched.lock().remove(&topic) {
            return false;
        }
        if self.handlers.wants(&topic) {
            shard.watched.lock().insert(topic);
            return false;
        }
        if let Some(sink) = st.sink.as_mut() {
            let _ = tokio::time::timeout(self.timeout, sink.unsubscribe(topic.pubsub(&self.keys))).await;
        }
        true
    }

    pub(crate) fn stop(&self) {
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }
}

struct ShardRunner {
    node_id: Arc<str>,
    shard: Arc<Shard>,
    client: redis::Client,
    keys: Keys,
    handlers: Handlers,
    timeout: Duration,
    ping_interval: Duration,
    max_backoff: Duration,
}

impl ShardRunner {
    async fn run(self) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.connect().await {
                Ok(stream) => {
                    backoff = Duration::from_millis(50);
                    tracing::info!(shard = self.shard.index, "Redis pub/sub connected");
                    self.read(stream).await;
                    self.lost().await;
                }
                Err(e) => {
                    tracing::warn!(shard = self.shard.index, error = %e, "Redis pub/sub connect failed; retrying");
                }
            }
            let jitter = rand::random::<u64>() % (backoff.as_millis() as u64 / 2 + 1);
            tokio::time::sleep(backoff + Duration::from_millis(jitter)).await;
            backoff = (backoff * 2).min(self.max_backoff);
        }
    }

    async fn connect(&self) -> Result<redis::aio::PubSubStream, String> {
        let pubsub = tokio::time::timeout(self.timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let (mut sink, stream) = pubsub.split();
        let mut st = self.shard.state.lock().await;
        let topics: Vec<Topic> = {
            let mut watched = self.shard.watched.lock();
            watched.retain(|t| self.handlers.wants(t));
            watched.iter().cloned().collect()
        };
        let mut names: Vec<String> = topics.iter().map(|t| t.pubsub(&self.keys)).collect();
        if self.shard.index == 0 {
            names.push(self.keys.users());
        }
        if !names.is_empty() {
            tokio::time::timeout(self.timeout, sink.subscribe(names))
                .await
                .map_err(|_| "resubscribe timed out".to_string())?
                .map_err(|e| e.to_string())?;
        }
        st.sink = Some(sink);
        self.shard.up.store(true, Ordering::SeqCst);
        Ok(stream)
    }

    async fn read(&self, mut stream: redis::aio::PubSubStream) {
        let mut ping = tokio::time::interval(self.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        loop {
            tokio::select! {
                msg = stream.next() => {
                    let Some(msg) = msg else { return };
                    self.dispatch(&msg);
                }
                _ = ping.tick() => {
                    let sink = self.shard.state.lock().await.sink.clone();
                    let Some(mut sink) = sink else { return };
                    match tokio::time::timeout(self.timeout, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        _ => {
                            tracing::warn!(shard = self.shard.index, "Redis pub/sub ping failed");
                            return;
                        }
                    }
                }
            }
        }
    }

    fn dispatch(&self, msg: &redis::Msg) {
        let payload = msg.get_payload_bytes();
        if let Some(doc) = self.keys.doc_of_pubsub(msg.get_channel_name()) {
            if let Some(h) = self.handlers.docs.get() {
                crate::document_bus::dispatch(&self.node_id, h.as_ref(), &doc, payload);
            }
            return;
        }
        if payload.first() == Some(&b'!') {
            self.dispatch_event(payload);
            return;
        }
        let Some(channel) = self.keys.channel_of_pubsub(msg.get_channel_name()) else { return };
        match codec::decode_message(&channel, msg.get_payload_bytes()) {
            Ok(d) => {
                if let Some(h) = self.handlers.hub.get() {
                    h.on_publication(d.publication);
                }
            }
            Err(e) => {
                tracing::error!(channel = %channel, error = %e, "dropping undecodable publication; interrupting the channel");
                self.handlers.lost(&Topic::Channel(channel));
            }
        }
    }

    /// `!{origin node} {json}`: an ephemeral event; this node's own were delivered already.
    fn dispatch_event(&self, payload: &[u8]) {
        let Some(sp) = payload.iter().position(|b| *b == b' ') else { return };
        if &payload[1..sp] == self.node_id.as_bytes() {
            return;
        }
        match serde_json::from_slice::<NodeEvent>(&payload[sp + 1..]) {
            Ok(e) => {
                if let Some(h) = self.handlers.hub.get() {
                    h.on_node_event(e);
                }
            }
            Err(e) => tracing::warn!(error = %e, "dropping an undecodable node event"),
        }
    }

    /// The connection is gone: no more promises of continuity.
    async fn lost(&self) {
        self.shard.up.store(false, Ordering::SeqCst);
        // A watch holding the lock fails soon: its sink is dead (or times out).
        self.shard.state.lock().await.sink = None;
        let topics: Vec<Topic> = self.shard.watched.lock().iter().cloned().collect();
        tracing::warn!(shard = self.shard.index, topics = topics.len(), "Redis pub/sub connection lost");
        metrics::counter!("herald_redis_pubsub_disconnects_total").increment(1);
        for t in &topics {
            self.handlers.lost(t);
        }
    }
}
