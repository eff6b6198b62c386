//! `DocLease`: a hold on an open document of the [`DocRegistry`], and what
//! its holder does with it — read the state, apply updates (stored, then
//! relayed), and, for a peer connection, the y-websocket conversation
//! (greeting, sync, awareness). Dropping the last lease lets the registry
//! unload the document after its grace period.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use herald_core::{ChannelName, Connection};
use parking_lot::Mutex;
use yrs::StateVector;
use yrs::sync::protocol::{Message, SyncMessage};
use yrs::updates::encoder::Encode;

use crate::DocError;
use crate::document::{Document, decode_message};
use crate::registry::{DocEntry, DocRegistry, Framer};

/// A hold on an open document: while any exists, the document stays loaded.
/// A peer's lease also registers its connection for relays; dropping it
/// removes the connection's awareness states and tells the other peers.
pub struct DocLease {
    hold: Hold,
    doc: Arc<Mutex<Document>>,
}

/// Keeps a document loaded (and a peer registered) until dropped.
pub(crate) struct Hold {
    pub(crate) registry: Arc<DocRegistry>,
    pub(crate) entry: Arc<DocEntry>,
    /// The peer connection, registered for relays (none: a server-side holder).
    pub(crate) peer: Option<Arc<Connection>>,
    /// How replies to the peer are framed.
    pub(crate) frame: Framer,
}

impl Hold {
    /// Load the document (once per entry) and turn the hold into a lease.
    pub(crate) async fn loaded(self) -> Result<DocLease, DocError> {
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
