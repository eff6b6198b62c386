//! `EmbeddedBroker`: the single-node broker. Offsets are assigned in memory
//! under a per-channel lock, publications are committed to the
//! [`HistoryStore`] in batches by one writer task (group commit), and only
//! then delivered to the hub, in offset order. A publication a subscriber has
//! seen is therefore always in history: a crash cannot make an offset mean
//! two different messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot};

use crate::broker::{Broker, BrokerHandler, HistoryPage, HistoryQuery, PublishRequest};
use crate::channel::ChannelName;
use crate::error::HeraldError;
use crate::namespace::Retention;
use crate::position::{Epoch, Position};
use crate::publication::{Publication, now_ms};
use crate::store::HistoryStore;

/// Options of the embedded broker. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct EmbeddedBrokerOptions {
    /// Most publications committed in one store transaction. Default 512.
    pub max_batch: usize,
    /// How long an idempotency key is remembered. Default 300 s.
    pub idempotency_window: Duration,
    /// Most idempotency keys remembered per channel. Default 10,000.
    pub idempotency_max_keys: usize,
}

impl Default for EmbeddedBrokerOptions {
    fn default() -> Self {
        Self { max_batch: 512, idempotency_window: Duration::from_secs(300), idempotency_max_keys: 10_000 }
    }
}

struct Cursor {
    epoch: Epoch,
    top: u64,
    generation: u64,
    /// Idempotency key -> (publication, first seen).
    keys: HashMap<Arc<str>, (Arc<Publication>, Instant)>,
}

type Slot = Arc<AsyncMutex<Option<Cursor>>>;

enum WriterMsg {
    Publish(Pending),
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
}

struct Pending {
    publication: Arc<Publication>,
    retention: Retention,
    generation: u64,
    done: oneshot::Sender<Result<Arc<Publication>, HeraldError>>,
}

/// The single-node broker over a history store.
pub struct EmbeddedBroker {
    store: Arc<dyn HistoryStore>,
    options: EmbeddedBrokerOptions,
    cursors: parking_lot::Mutex<HashMap<ChannelName, Slot>>,
    writer: mpsc::UnboundedSender<WriterMsg>,
    handler: Arc<OnceLock<Arc<dyn BrokerHandler>>>,
    /// Bumped when a commit fails: every cursor reloads from the store.
    generation: Arc<AtomicU64>,
    writer_task: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl EmbeddedBroker {
    /// A broker over `store`. Must be called inside a Tokio runtime.
    pub fn new(store: Arc<dyn HistoryStore>, options: EmbeddedBrokerOptions) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let handler = Arc::new(OnceLock::new());
        let generation = Arc::new(AtomicU64::new(0));
        let task =
            tokio::spawn(write_loop(store.clone(), rx, handler.clone(), generation.clone(), options.max_batch.max(1)));
        Arc::new(Self {
            store,
            options,
            cursors: parking_lot::Mutex::new(HashMap::new()),
            writer: tx,
            handler,
            generation,
            writer_task: parking_lot::Mutex::new(Some(task)),
        })
    }

    fn slot(&self, channel: &ChannelName) -> Slot {
        self.cursors.lock().entry(channel.clone()).or_default().clone()
    }

    /// Forget cursors of channels idle past the idempotency window (they reload on demand).
    pub fn evict_idle(&self) {
        let window = self.options.idempotency_window;
        self.cursors.lock().retain(|_, slot| {
            if Arc::strong_count(slot) > 1 {
                return true;
            }
            match slot.try_lock() {
                Ok(g) => g.as_ref().is_some_and(|c| c.keys.values().any(|(_, t)| t.elapsed() < window)),
                Err(_) => true,
            }
        });
    }
}

async fn write_loop(
    store: Arc<dyn HistoryStore>,
    mut rx: mpsc::UnboundedReceiver<WriterMsg>,
    handler: Arc<OnceLock<Arc<dyn BrokerHandler>>>,
    generation: Arc<AtomicU64>,
    max_batch: usize,
) {
    let mut msgs: Vec<WriterMsg> = Vec::with_capacity(max_batch);
    let mut rows: Vec<(Arc<Publication>, Retention)> = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut msgs, max_batch).await > 0 {
        let current = generation.load(Ordering::Acquire);
        let mut valid = Vec::with_capacity(msgs.len());
        let mut stale = Vec::new();
        let mut flushes = Vec::new();
        for m in msgs.drain(..) {
            match m {
                WriterMsg::Publish(p) if p.generation == current => valid.push(p),
                WriterMsg::Publish(p) => stale.push(p),
                WriterMsg::Flush(f) => flushes.push(f),
            }
        }
        for p in stale {
            let _ = p.done.send(Err(HeraldError::unavailable("history store failed; publish again")));
        }
        rows.clear();
        rows.extend(valid.iter().map(|p| (p.publication.clone(), p.retention)));
        let started = Instant::now();
        let committed = if rows.is_empty() { Ok(()) } else { store.append(&rows).await };
        match committed {
            Ok(()) => {
                metrics::histogram!("herald_store_commit_seconds").record(started.elapsed().as_secs_f64());
                let h = handler.get();
                for p in valid {
                    if let Some(h) = h {
                        h.on_publication(p.publication.clone());
                    }
                    let _ = p.done.send(Ok(p.publication));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "history commit failed; channels reload from the store");
                generation.fetch_add(1, Ordering::AcqRel);
                for p in valid {
                    let _ = p.done.send(Err(HeraldError::unavailable("history store unavailable; publish again")));
                }
            }
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

#[async_trait]
impl Broker for EmbeddedBroker {
    fn attach(&self, handler: Arc<dyn BrokerHandler>) {
        let _ = self.handler.set(handler);
    }

    async fn publish(&self, req: PublishRequest) -> Result<Arc<Publication>, HeraldError> {
        let slot = self.slot(&req.channel);
        let rx = {
            let mut guard = slot.lock().await;
            let generation = self.generation.load(Ordering::Acquire);
            if guard.as_ref().is_none_or(|c| c.generation != generation) {
                let meta =
                    self.store.stream_meta(&req.channel).await.map_err(|e| HeraldError::unavailable(e.to_string()))?;
                *guard = Some(Cursor { epoch: meta.epoch, top: meta.top, generation, keys: HashMap::new() });
            }
            let Some(cursor) = guard.as_mut() else {
                return Err(HeraldError::unavailable("channel cursor missing"));
            };
            if let Some(key) = &req.idempotency_key {
                let window = self.options.idempotency_window;
                if let Some((p, at)) = cursor.keys.get(key)
                    && at.elapsed() < window
                {
                    return Ok(p.clone());
                }
            }
            let offset = cursor.top + 1;
            let publication = Arc::new(Publication {
                channel: req.channel.clone(),
                epoch: cursor.epoch.clone(),
                offset,
                data: req.data,
                time_ms: now_ms(),
                publisher: req.publisher,
                idempotency_key: req.idempotency_key.clone(),
            });
            let (tx, rx) = oneshot::channel();
            self.writer
                .send(WriterMsg::Publish(Pending {
                    publication: publication.clone(),
                    retention: req.retention,
                    generation,
                    done: tx,
                }))
                .map_err(|_| HeraldError::unavailable("broker is shutting down"))?;
            cursor.top = offset;
            if let Some(key) = req.idempotency_key {
                if cursor.keys.len() >= self.options.idempotency_max_keys {
                    let window = self.options.idempotency_window;
                    cursor.keys.retain(|_, (_, at)| at.elapsed() < window);
                    if cursor.keys.len() >= self.options.idempotency_max_keys
                        && let Some(oldest) = cursor.keys.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone())
                    {
                        cursor.keys.remove(&oldest);
                    }
                }
                cursor.keys.insert(key, (publication, Instant::now()));
            }
            rx
        };
        rx.await.map_err(|_| HeraldError::unavailable("broker is shutting down"))?
    }

    async fn history(&self, channel: &ChannelName, query: HistoryQuery) -> Result<HistoryPage, HeraldError> {
        // The committed top first, then rows: every row up to `top` is
        // committed, so the page is complete up to `top`; newer rows are cut
        // so that a recovering subscription takes them from its live buffer.
        let meta = self.store.stream_meta(channel).await.map_err(|e| HeraldError::unavailable(e.to_string()))?;
        let top = Position { epoch: meta.epoch, offset: meta.top };
        let mut publications = if query.limit == 0 {
            Vec::new()
        } else {
            self.store.read(channel, &query).await.map_err(|e| HeraldError::unavailable(e.to_string()))?
        };
        publications.retain(|p| p.offset <= top.offset && p.epoch == top.epoch);
        Ok(HistoryPage { top, publications })
    }

    async fn watch(&self, _channel: &ChannelName) -> Result<(), HeraldError> {
        Ok(())
    }

    async fn unwatch(&self, _channel: &ChannelName) {}

    async fn ready(&self) -> bool {
        !self.writer.is_closed()
    }

    async fn close(&self) {
        // Publishes already queued commit first (the flush is queued behind them).
        let (tx, rx) = oneshot::channel();
        if self.writer.send(WriterMsg::Flush(tx)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
        }
        if let Some(task) = self.writer_task.lock().take() {
            task.abort();
        }
        self.store.close().await;
    }
}
