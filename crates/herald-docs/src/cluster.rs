//! Documents open on several nodes (scale-out). Each node keeps its own
//! copy of a document it has open and joins the document's topic on the
//! [`DocumentBus`]. What a node accepts from its connections (updates it
//! stored, awareness) it sends on the bus ([`DocRegistry::relay`]'s
//! counterpart `relay_everywhere`); what it receives from another node it
//! integrates into its copy **without storing it again** (the origin
//! stored it before sending) and hands to its own connections.
//!
//! - Opening: join the topic, then load from the store; messages that
//!   arrive meanwhile wait in the entry and are applied after the load
//!   (an update in both is harmless: updates are idempotent). Then ask the
//!   other nodes for their connections' awareness states.
//! - Awareness: a state another node announced belongs to that node; its
//!   removal (connection closed) comes as a normal awareness message, and
//!   when the node dies, the node that reaps it tells every document it had
//!   open ([`DocumentBusHandler::on_node_gone`]).
//! - A lost bus connection may have dropped messages: once the topic is
//!   joined again, the node reloads the document from the store, merges it
//!   and sends its connections what they lacked.

use std::sync::{Arc, Weak};
use std::time::Duration;

use herald_core::{ChannelName, DocumentBus, DocumentBusHandler};
use parking_lot::Mutex;
use yrs::sync::protocol::{Message, SyncMessage};
use yrs::updates::encoder::Encode;

use crate::document::{Document, decode_message};
use crate::registry::{DocEntry, DocRegistry};

/// Longest wait between attempts to rejoin a document's topic after the bus lost it.
const REJOIN_MAX_DELAY: Duration = Duration::from_secs(2);

impl DocRegistry {
    /// Share documents with the other nodes through `bus` (call once, before use).
    pub fn set_bus(&self, bus: Arc<dyn DocumentBus>) {
        let me = self.me();
        bus.attach(Arc::new(BusHandler(me)));
        let _ = self.bus.set(bus);
    }

    fn open_entry(&self, name: &ChannelName) -> Option<Arc<DocEntry>> {
        self.docs.lock().get(name).cloned()
    }

    /// Apply the messages that arrived while `entry` was loading.
    pub(crate) fn apply_early(&self, entry: &DocEntry, doc: &Arc<Mutex<Document>>) {
        let early = std::mem::take(&mut *entry.early.lock());
        for (origin, message) in early {
            self.apply_remote(entry, doc, &origin, &message);
        }
    }

    fn on_remote(&self, name: &ChannelName, origin: &str, message: &[u8]) {
        let Some(entry) = self.open_entry(name) else { return };
        let doc = {
            let mut early = entry.early.lock();
            match entry.doc.get() {
                Some(doc) => doc.clone(),
                None => {
                    early.push((Arc::from(origin), message.to_vec()));
                    return;
                }
            }
        };
        self.apply_remote(&entry, &doc, origin, message);
    }

    /// One message another node accepted: integrate and hand to this node's peers.
    fn apply_remote(&self, entry: &DocEntry, doc: &Mutex<Document>, origin: &str, message: &[u8]) {
        let decoded = match decode_message(message) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(doc = %entry.name, node = origin, error = %e, "dropping a message from another node");
                return;
            }
        };
        match decoded {
            Message::Sync(SyncMessage::Update(update)) | Message::Sync(SyncMessage::SyncStep2(update)) => {
                if let Err(e) = doc.lock().apply_update(&update) {
                    tracing::warn!(doc = %entry.name, node = origin, error = %e, "dropping an update from another node");
                    return;
                }
                entry.stored_bytes.fetch_add(update.len(), std::sync::atomic::Ordering::AcqRel);
                self.relay(entry, message, None);
            }
            Message::Awareness(update) => {
                let relay = doc.lock().apply_remote_awareness(origin, update);
                if let Some(msg) = relay {
                    self.relay(entry, &msg, None);
                }
            }
            Message::AwarenessQuery => {
                let states = doc.lock().local_awareness_states();
                if let (Some(msg), Some(bus)) = (states, self.bus.get()) {
                    bus.send(&entry.name, &msg);
                }
            }
            Message::Sync(SyncMessage::SyncStep1(_)) | Message::Auth(_) | Message::Custom(..) => {}
        }
    }

    fn on_node_gone(&self, name: &ChannelName, node: &str) {
        let Some(entry) = self.open_entry(name) else { return };
        let Some(doc) = entry.doc.get() else { return };
        let removed = doc.lock().remove_node(node);
        if let Some(msg) = removed {
            tracing::debug!(doc = %name, node, "awareness of a dead node removed");
            self.relay(&entry, &msg, None);
        }
    }

    /// Rejoin `name`'s topic, then catch up from the store.
    fn on_stream_lost(&self, name: &ChannelName) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let me = self.me();
        let name = name.clone();
        rt.spawn(async move {
            let mut delay = Duration::from_millis(50);
            loop {
                let Some(registry) = me.upgrade() else { return };
                let (Some(bus), Some(entry)) = (registry.bus.get(), registry.open_entry(&name)) else { return };
                if bus.join(&name).await.is_ok() {
                    registry.catch_up(&entry).await;
                    return;
                }
                drop(registry);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(REJOIN_MAX_DELAY);
            }
        });
    }

    /// Merge the stored document into this node's copy; send this node's
    /// peers what they lacked, and ask the other nodes for their cursors again.
    async fn catch_up(&self, entry: &DocEntry) {
        let Some(doc) = entry.doc.get() else { return };
        let stored = match self.store.load_document(&entry.name).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(doc = %entry.name, error = %e, "cannot catch up after a bus interruption");
                return;
            }
        };
        let missed = {
            let doc = doc.lock();
            let before = doc.state_vector();
            for update in stored.snapshot.iter().chain(stored.updates.iter().map(|(_, u)| u)) {
                if let Err(e) = doc.apply_update(update) {
                    tracing::warn!(doc = %entry.name, error = %e, "stored update not applied while catching up");
                }
            }
            (doc.state_vector() != before).then(|| doc.diff(&before))
        };
        if let Some(update) = missed {
            tracing::info!(doc = %entry.name, "caught up with updates missed during a bus interruption");
            self.relay(entry, &Message::Sync(SyncMessage::Update(update)).encode_v1(), None);
        }
        if let Some(bus) = self.bus.get() {
            bus.send(&entry.name, &Message::AwarenessQuery.encode_v1());
        }
    }
}

/// The registry as the bus's handler (weak: the bus must not keep it alive).
struct BusHandler(Weak<DocRegistry>);

impl DocumentBusHandler for BusHandler {
    fn on_message(&self, doc: &ChannelName, origin: &str, message: &[u8]) {
        if let Some(r) = self.0.upgrade() {
            r.on_remote(doc, origin, message);
        }
    }

    fn on_node_gone(&self, doc: &ChannelName, node: &str) {
        if let Some(r) = self.0.upgrade() {
            r.on_node_gone(doc, node);
        }
    }

    fn on_stream_lost(&self, doc: &ChannelName) {
        if let Some(r) = self.0.upgrade() {
            r.on_stream_lost(doc);
        }
    }

    fn wants(&self, doc: &ChannelName) -> bool {
        self.0.upgrade().is_some_and(|r| r.is_open(doc))
    }
}
