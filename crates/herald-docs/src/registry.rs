//! `DocRegistry`: this node's open documents. A document is loaded from the
//! [`DocumentStore`] on first use, kept while leases on it exist (each
//! y-websocket connection holds one; an HTTP API call holds one briefly),
//! compacted in the background, and unloaded a grace period after the last
//! lease ends.
//!
//! Write path of an update: size checks → integrate into the in-memory
//! document → append to the store (durable) → relay to the other peers (of
//! this node, and through the [`DocumentBus`] to the other nodes that have
//! the document open). So an edit any other client has seen is durable.
//! Snapshots are built from the store, not from this copy
//! ([`crate::compaction`]), so they include other nodes' updates too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use herald_core::{ChannelName, Connection, DocumentBus, DocumentStore, WireFormat};
use parking_lot::Mutex;

use crate::document::Document;
use crate::lease::{DocLease, Hold};
use crate::{DocError, DocOptions};

/// Turns a y-websocket message into the frame written to a connection: the
/// door supplies it (the y-websocket door: a binary WebSocket frame; the
/// native door: a JSON `doc` push carrying it in base64).
pub type Framer = Arc<dyn Fn(&[u8]) -> Bytes + Send + Sync>;

/// A connection editing or viewing a document, with its door's framing and
/// the format of what it frames: within one document, peers whose framings
/// have the same format get the same frame, so a relay frames once per format.
#[derive(Clone)]
pub(crate) struct Peer {
    conn: Arc<Connection>,
    format: WireFormat,
    frame: Framer,
}

/// This node's open documents.
pub struct DocRegistry {
    me: Weak<DocRegistry>,
    pub(crate) store: Arc<dyn DocumentStore>,
    /// The other nodes (scale-out); none with one node.
    pub(crate) bus: OnceLock<Arc<dyn DocumentBus>>,
    pub(crate) options: DocOptions,
    frame: Framer,
    /// The format of `frame` (one for every peer that joins with it).
    format: WireFormat,
    pub(crate) docs: Mutex<HashMap<ChannelName, Arc<DocEntry>>>,
}

pub(crate) struct DocEntry {
    pub(crate) name: ChannelName,
    pub(crate) doc: tokio::sync::OnceCell<Arc<Mutex<Document>>>,
    /// Other nodes' messages that arrived while the document was loading
    /// (origin node, message); applied right after the load.
    pub(crate) early: Mutex<Vec<(Arc<str>, Vec<u8>)>>,
    /// Connections editing or viewing, by connection id.
    pub(crate) peers: Mutex<HashMap<Arc<str>, Peer>>,
    /// Leases held (changed under the registry's map lock).
    pub(crate) leases: AtomicUsize,
    /// Bytes in the store: snapshot + tail (approximate between compactions).
    pub(crate) stored_bytes: AtomicUsize,
    /// Updates this node appended since its last compaction.
    pub(crate) tail: AtomicUsize,
    pub(crate) last_change: Mutex<Instant>,
    pub(crate) last_release: Mutex<Instant>,
    pub(crate) compacting: tokio::sync::Mutex<()>,
}

impl DocRegistry {
    /// A registry over `store`; `frame` wraps messages for the connections
    /// that [`join`](Self::join) (others bring their own framing).
    pub fn new(
        store: Arc<dyn DocumentStore>,
        options: DocOptions,
        frame: impl Fn(&[u8]) -> Bytes + Send + Sync + 'static,
    ) -> Arc<Self> {
        let frame: Framer = Arc::new(frame);
        let format = WireFormat::instance(&*frame);
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            store,
            bus: OnceLock::new(),
            options,
            frame,
            format,
            docs: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn me(&self) -> Weak<DocRegistry> {
        self.me.clone()
    }

    /// The options in force.
    pub fn options(&self) -> &DocOptions {
        &self.options
    }

    /// How many documents are loaded on this node.
    pub fn open_count(&self) -> usize {
        self.docs.lock().len()
    }

    /// Whether `name` is loaded on this node.
    pub fn is_open(&self, name: &ChannelName) -> bool {
        self.docs.lock().contains_key(name)
    }

    /// Open `name` for a server-side read or write (HTTP API).
    pub async fn open(&self, name: &ChannelName) -> Result<DocLease, DocError> {
        self.lease(name, None)?.loaded().await
    }

    /// Join `name` as a peer: load it if needed, register `conn` for
    /// relays, and queue the greeting (sync step 1, awareness states).
    pub async fn join(&self, name: &ChannelName, conn: Arc<Connection>) -> Result<DocLease, DocError> {
        let lease = self.join_formatted(name, conn, self.format, self.frame.clone()).await?;
        lease.greet();
        Ok(lease)
    }

    /// Join `name` as a peer with the door's own framing of messages for
    /// `conn`, without the greeting: the door sends its answer first, then
    /// calls [`DocLease::greet`]. The framing is this peer's alone: a relay
    /// frames for it separately (see [`Self::join_formatted`]).
    pub async fn join_framed(
        &self,
        name: &ChannelName,
        conn: Arc<Connection>,
        frame: Framer,
    ) -> Result<DocLease, DocError> {
        self.join_formatted(name, conn, WireFormat::instance(&*frame), frame).await
    }

    /// [`Self::join_framed`] with the format of `frame`'s output: peers of
    /// one document whose framings have the same `format` must produce the
    /// same frame for a message (e.g. a door's encoder format, the document
    /// name being the same), and a relay frames once per format, however
    /// many peers (each with its own `frame` closure) share it.
    pub async fn join_formatted(
        &self,
        name: &ChannelName,
        conn: Arc<Connection>,
        format: WireFormat,
        frame: Framer,
    ) -> Result<DocLease, DocError> {
        self.lease(name, Some(Peer { conn, format, frame }))?.loaded().await
    }

    fn lease(&self, name: &ChannelName, peer: Option<Peer>) -> Result<Hold, DocError> {
        let registry = self.me.upgrade().ok_or(DocError::ShuttingDown)?;
        let entry = {
            let mut docs = self.docs.lock();
            let entry = docs
                .entry(name.clone())
                .or_insert_with(|| {
                    let e = Arc::new(DocEntry::new(name.clone()));
                    metrics::gauge!("herald_documents_open").increment(1.0);
                    spawn_keeper(self.me.clone(), Arc::downgrade(&e), &self.options);
                    e
                })
                .clone();
            entry.leases.fetch_add(1, Ordering::AcqRel);
            entry
        };
        let frame = peer.as_ref().map_or_else(|| self.frame.clone(), |p| p.frame.clone());
        if let Some(p) = &peer {
            entry.peers.lock().insert(p.conn.id().clone(), p.clone());
        }
        Ok(Hold { registry, entry, peer: peer.map(|p| p.conn), frame })
    }

    pub(crate) async fn load(&self, name: &ChannelName) -> Result<(Document, herald_core::StoredDocument), DocError> {
        // Join the other nodes first: an update they append from now on
        // arrives through the bus, one appended before is in the load
        // (they append before they send). Both is harmless: updates are idempotent.
        if let Some(bus) = self.bus.get() {
            bus.join(name).await.map_err(|e| DocError::Unavailable(e.message))?;
        }
        let stored = self.store.load_document(name).await?;
        let doc = Document::from_stored(&stored)?;
        tracing::debug!(doc = %name, updates = stored.updates.len(), bytes = stored.size(), "document loaded");
        Ok((doc, stored))
    }

    /// Send `message`, accepted from this node's peers or the server, to
    /// the document's other peers here (except `except`) and to the other
    /// nodes that have it open. This is the one place updates and awareness
    /// leave a document; other nodes' messages take [`Self::relay`] only.
    pub(crate) fn relay_everywhere(&self, entry: &DocEntry, message: &[u8], except: Option<&Arc<str>>) {
        self.relay(entry, message, except);
        if let Some(bus) = self.bus.get() {
            bus.send(&entry.name, message);
        }
    }

    /// Send `message` to the document's peers on this node, except `except`.
    /// Framed once per format (all y-websocket peers share one frame, and
    /// so do the native door's peers of one compression variant). A relay
    /// meets a few formats, so a short list scanned by key is the cheapest lookup.
    pub(crate) fn relay(&self, entry: &DocEntry, message: &[u8], except: Option<&Arc<str>>) {
        let mut framed: Vec<(WireFormat, Bytes)> = Vec::with_capacity(2);
        for (id, peer) in entry.peers.lock().iter() {
            if except.is_some_and(|e| e == id) {
                continue;
            }
            let frame = match framed.iter().find(|(k, _)| *k == peer.format) {
                Some((_, f)) => f.clone(),
                None => {
                    let f = (peer.frame)(message);
                    framed.push((peer.format, f.clone()));
                    f
                }
            };
            let _ = peer.conn.outbound.push_frame(frame);
        }
    }

    /// Remove `entry` if nobody holds it and its grace period is over.
    pub(crate) fn try_unload(&self, entry: &Arc<DocEntry>) -> bool {
        let mut docs = self.docs.lock();
        let idle = entry.leases.load(Ordering::Acquire) == 0
            && entry.last_release.lock().elapsed() >= self.options.unload_grace;
        if idle && docs.get(&entry.name).is_some_and(|e| Arc::ptr_eq(e, entry)) {
            docs.remove(&entry.name);
            metrics::gauge!("herald_documents_open").decrement(1.0);
            return true;
        }
        false
    }

    /// Compact every open document that has a tail (graceful shutdown).
    pub async fn flush(&self) {
        let entries: Vec<Arc<DocEntry>> = self.docs.lock().values().cloned().collect();
        for e in entries {
            self.compact(&e).await;
        }
    }
}

impl DocEntry {
    fn new(name: ChannelName) -> Self {
        Self {
            name,
            doc: tokio::sync::OnceCell::new(),
            early: Mutex::new(Vec::new()),
            peers: Mutex::new(HashMap::new()),
            leases: AtomicUsize::new(0),
            stored_bytes: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            last_change: Mutex::new(Instant::now()),
            last_release: Mutex::new(Instant::now()),
            compacting: tokio::sync::Mutex::new(()),
        }
    }
}

/// Compacts an idle document with a tail, and unloads it once nobody holds
/// it for the grace period. Ends with the document.
fn spawn_keeper(registry: Weak<DocRegistry>, entry: Weak<DocEntry>, options: &DocOptions) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
    let idle = options.compact_idle;
    let tick = (idle.min(options.unload_grace) / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    rt.spawn(async move {
        loop {
            tokio::time::sleep(tick).await;
            let (Some(registry), Some(entry)) = (registry.upgrade(), entry.upgrade()) else { return };
            if entry.tail.load(Ordering::Acquire) > 0 && entry.last_change.lock().elapsed() >= idle {
                registry.compact(&entry).await;
            }
            if registry.try_unload(&entry) {
                registry.compact(&entry).await;
                if let Some(bus) = registry.bus.get() {
                    bus.leave(&entry.name).await;
                }
                tracing::debug!(doc = %entry.name, "document unloaded");
                return;
            }
        }
    });
}
