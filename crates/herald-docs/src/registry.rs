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
use herald_core::{ChannelName, Connection, DocumentBus, DocumentStore};
use parking_lot::Mutex;
use yrs::StateVector;
use yrs::sync::protocol::{Message, SyncMessage};
use yrs::updates::encoder::Encode;

use crate::document::{Document, decode_message};
use crate::{DocError, DocOptions};

/// Turns a y-websocket message into the frame written to a connection: the
/// door supplies it (the y-websocket door: a binary WebSocket frame; the
/// native door: a JSON `doc` push carrying it in base64).
pub type Framer = Arc<dyn Fn(&[u8]) -> Bytes + Send + Sync>;

/// A connection editing or viewing a document, with its door's framing.
#[derive(Clone)]
struct Peer {
    conn: Arc<Connection>,
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
    pub(crate) docs: Mutex<HashMap<ChannelName, Arc<DocEntry>>>,
}

pub(crate) struct DocEntry {
    pub(crate) name: ChannelName,
    pub(crate) doc: tokio::sync::OnceCell<Arc<Mutex<Document>>>,
    /// Other nodes' messages that arrived while the document was loading
    /// (origin node, message); applied right after the load.
    pub(crate) early: Mutex<Vec<(Arc<str>, Vec<u8>)>>,
    /// Connections editing or viewing, by connection id.
    peers: Mutex<HashMap<Arc<str>, Peer>>,
    /// Leases held (changed under the registry's map lock).
    leases: AtomicUsize,
    /// Bytes in the store: snapshot + tail (approximate between compactions).
    pub(crate) stored_bytes: AtomicUsize,
    /// Updates this node appended since its last compaction.
    pub(crate) tail: AtomicUsize,
    last_change: Mutex<Instant>,
    last_release: Mutex<Instant>,
    pub(crate) compacting: tokio::sync::Mutex<()>,
}

/// A hold on an open document: while any exists, the document stays loaded.
/// A peer's lease also registers its connection for relays; dropping it
/// removes the connection's awareness states and tells the other peers.
pub struct DocLease {
    hold: Hold,
    doc: Arc<Mutex<Document>>,
}

/// Keeps a document loaded (and a peer registered) until dropped.
struct Hold {
    registry: Arc<DocRegistry>,
    entry: Arc<DocEntry>,
    peer: Option<Arc<Connection>>,
    /// How replies to the peer are framed.
    frame: Framer,
}

impl DocRegistry {
    /// A registry over `store`; `frame` wraps messages for the connections
    /// that [`join`](Self::join) (others bring their own framing).
    pub fn new(
        store: Arc<dyn DocumentStore>,
        options: DocOptions,
        frame: impl Fn(&[u8]) -> Bytes + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            store,
            bus: OnceLock::new(),
            options,
            frame: Arc::new(frame),
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
        let lease = self.join_framed(name, conn, self.frame.clone()).await?;
        lease.greet();
        Ok(lease)
    }

    /// Join `name` as a peer with the door's own framing of messages for
    /// `conn`, without the greeting: the door sends its answer first, then
    /// calls [`DocLease::greet`].
    pub async fn join_framed(
        &self,
        name: &ChannelName,
        conn: Arc<Connection>,
        frame: Framer,
    ) -> Result<DocLease, DocError> {
        self.lease(name, Some(Peer { conn, frame }))?.loaded().await
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

    async fn load(&self, name: &ChannelName) -> Result<(Document, herald_core::StoredDocument), DocError> {
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
    fn relay_everywhere(&self, entry: &DocEntry, message: &[u8], except: Option<&Arc<str>>) {
        self.relay(entry, message, except);
        if let Some(bus) = self.bus.get() {
            bus.send(&entry.name, message);
        }
    }

    /// Send `message` to the document's peers on this node, except `except`.
    /// Framed once per framing (all y-websocket peers share one frame).
    pub(crate) fn relay(&self, entry: &DocEntry, message: &[u8], except: Option<&Arc<str>>) {
        let mut framed: Vec<(*const (), Bytes)> = Vec::new();
        for (id, peer) in entry.peers.lock().iter() {
            if except.is_some_and(|e| e == id) {
                continue;
            }
            let key = Arc::as_ptr(&peer.frame) as *const ();
            let frame = match framed.iter().find(|(k, _)| *k == key) {
                Some((_, f)) => f.clone(),
                None => {
                    let f = (peer.frame)(message);
                    framed.push((key, f.clone()));
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

impl Hold {
    /// Load the document (once per entry) and turn the hold into a lease.
    async fn loaded(self) -> Result<DocLease, DocError> {
        let doc = self
            .entry
            .doc
            .get_or_try_init(|| async {
                let (doc, stored) = self.registry.load(&self.entry.name).await?;
                self.entry.stored_bytes.store(stored.size(), Ordering::Release);
                self.entry.tail.store(stored.updates.len(), Ordering::Release);
                // Ask the other nodes for their connections' cursors.
                if let Some(bus) = self.registry.bus.get() {
                    bus.send(&self.entry.name, &Message::AwarenessQuery.encode_v1());
                }
                Ok::<_, DocError>(Arc::new(Mutex::new(doc)))
            })
            .await?
            .clone();
        self.registry.apply_early(&self.entry, &doc);
        Ok(DocLease { hold: self, doc })
    }
}

impl DocLease {
    /// The document's name.
    pub fn name(&self) -> &ChannelName {
        &self.hold.entry.name
    }

    fn doc(&self) -> &Mutex<Document> {
        &self.doc
    }

    /// The whole document as one Yjs update.
    pub fn snapshot(&self) -> Vec<u8> {
        self.doc().lock().snapshot()
    }

    /// What a holder of `sv` is missing, as one update.
    pub fn diff(&self, sv: &StateVector) -> Vec<u8> {
        self.doc().lock().diff(sv)
    }

    /// The root types as JSON.
    pub fn json(&self) -> serde_json::Value {
        crate::json::to_json(&self.doc().lock())
    }

    /// Awareness states present: (client id, JSON state).
    pub fn awareness(&self) -> Vec<(u64, String)> {
        self.doc().lock().awareness_entries()
    }

    /// Integrate, store and relay one update (from this lease's peer, or
    /// from the server when the lease has none).
    pub async fn apply_update(&self, update: &[u8]) -> Result<(), DocError> {
        let opts = &self.hold.registry.options;
        if update.len() > opts.max_update_bytes {
            return Err(DocError::UpdateTooLarge { size: update.len(), limit: opts.max_update_bytes });
        }
        if crate::is_empty_update(update) {
            return Ok(());
        }
        let stored = self.hold.entry.stored_bytes.load(Ordering::Acquire);
        if stored + update.len() > opts.max_document_bytes {
            return Err(DocError::DocumentTooLarge {
                name: self.hold.entry.name.to_string(),
                limit: opts.max_document_bytes,
            });
        }
        self.doc().lock().apply_update(update)?;
        self.stored_and_relayed(update).await
    }

    /// Compare-and-set on a versioned record (see [`crate::records`]):
    /// checked and written under the document's lock, then stored and
    /// relayed like any update. Returns the new version.
    pub async fn compare_and_set(
        &self,
        root: &str,
        id: &str,
        expected: u64,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<u64, DocError> {
        let written = crate::records::compare_and_set(&self.doc().lock(), root, id, expected, fields)?;
        self.stored_and_relayed(&written.update).await?;
        Ok(written.version)
    }

    /// Append an update already integrated into the document, then relay it.
    async fn stored_and_relayed(&self, update: &[u8]) -> Result<(), DocError> {
        let opts = &self.hold.registry.options;
        self.hold.registry.store.append_document_update(&self.hold.entry.name, update).await?;
        self.hold.entry.stored_bytes.fetch_add(update.len(), Ordering::AcqRel);
        let tail = self.hold.entry.tail.fetch_add(1, Ordering::AcqRel) + 1;
        *self.hold.entry.last_change.lock() = Instant::now();
        metrics::counter!("herald_document_updates_total").increment(1);
        let message = Message::Sync(SyncMessage::Update(update.to_vec())).encode_v1();
        self.hold.registry.relay_everywhere(&self.hold.entry, &message, self.hold.peer.as_ref().map(|c| c.id()));
        if tail >= opts.compact_after_updates {
            let (registry, entry) = (self.hold.registry.clone(), self.hold.entry.clone());
            tokio::spawn(async move { registry.compact(&entry).await });
        }
        Ok(())
    }

    /// Queue the greeting to this lease's peer: sync step 1 (the server's
    /// state vector) and every awareness state.
    pub fn greet(&self) {
        let Some(conn) = &self.hold.peer else { return };
        let greeting = self.doc.lock().greeting();
        for msg in greeting {
            let _ = conn.outbound.push_frame((self.hold.frame)(&msg));
        }
    }

    /// Handle one y-websocket message from this lease's peer. Replies go to
    /// the peer's queue, relays to the others. `writable`: whether the
    /// peer may change the document. Refusals (read-only, size limits)
    /// come back as errors with [`DocError::is_refusal`]; the caller tells
    /// the peer and carries on.
    pub async fn handle(&self, bytes: &[u8], writable: bool) -> Result<(), DocError> {
        let Some(conn) = self.hold.peer.clone() else { return Ok(()) };
        match decode_message(bytes)? {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let reply = Message::Sync(SyncMessage::SyncStep2(self.diff(&sv))).encode_v1();
                let _ = conn.outbound.push_frame((self.hold.frame)(&reply));
            }
            Message::Sync(SyncMessage::SyncStep2(update)) | Message::Sync(SyncMessage::Update(update)) => {
                if crate::is_empty_update(&update) {
                    return Ok(());
                }
                if !writable {
                    return Err(DocError::ReadOnly { name: self.hold.entry.name.to_string() });
                }
                self.apply_update(&update).await?;
            }
            Message::Awareness(update) => {
                let relay = self.doc().lock().apply_awareness(conn.id(), update);
                // Everyone, the sender too: y-websocket clients count any
                // message as a sign of life, like the reference server's echo.
                if let Some(msg) = relay {
                    self.hold.registry.relay_everywhere(&self.hold.entry, &msg, None);
                }
            }
            Message::AwarenessQuery => {
                if let Some(msg) = self.doc().lock().awareness_states() {
                    let _ = conn.outbound.push_frame((self.hold.frame)(&msg));
                }
            }
            // Auth messages are server → client only; custom types are ignored.
            Message::Auth(_) | Message::Custom(..) => {}
        }
        Ok(())
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(conn) = &self.peer {
            self.entry.peers.lock().remove(conn.id());
            if let Some(doc) = self.entry.doc.get() {
                let removed = doc.lock().remove_peer(conn.id());
                if let Some(msg) = removed {
                    self.registry.relay_everywhere(&self.entry, &msg, None);
                }
            }
        }
        let _docs = self.registry.docs.lock();
        *self.entry.last_release.lock() = Instant::now();
        self.entry.leases.fetch_sub(1, Ordering::AcqRel);
    }
}
