//! `Document`: one open Yjs document and its awareness (who is here, where
//! their cursor is), as plain synchronous state. The registry wraps it in a
//! lock and adds persistence and fan-out.

use std::collections::HashMap;
use std::sync::Arc;

use herald_core::StoredDocument;
use yrs::encoding::read::Error as ReadError;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::protocol::{Message, SyncMessage};
use yrs::sync::{Awareness, AwarenessUpdate};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, Options, ReadTxn, StateVector, Transact, Update};

use crate::DocError;

/// One open document: its CRDT state, awareness states, and which peer
/// owns which awareness client id.
pub struct Document {
    awareness: Awareness,
    /// Awareness client id → who announced it.
    owners: HashMap<u64, Owner>,
}

/// Who announced an awareness client id.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    /// A connection of this node (its id), the first to announce it.
    Peer(Arc<str>),
    /// Another node (its id), which checked ownership among its own connections.
    Node(Arc<str>),
}

impl Default for Document {
    fn default() -> Self {
        // The server never edits under its own client id except through the
        // HTTP API, whose updates come ready-made; skip_gc keeps nothing
        // extra, so use the defaults.
        Self { awareness: Awareness::new(Doc::with_options(Options::default())), owners: HashMap::new() }
    }
}

impl Document {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuild from the store: the snapshot, then every update after it.
    pub fn from_stored(stored: &StoredDocument) -> Result<Self, DocError> {
        let doc = Self::new();
        if let Some(snapshot) = &stored.snapshot {
            doc.apply_update(snapshot)?;
        }
        for (_, update) in &stored.updates {
            doc.apply_update(update)?;
        }
        Ok(doc)
    }

    /// The underlying yrs document.
    pub fn doc(&self) -> &Doc {
        self.awareness.doc()
    }

    /// Decode and integrate one update (v1 encoding). Updates whose
    /// dependencies are missing wait inside the document until they arrive.
    pub fn apply_update(&self, update: &[u8]) -> Result<(), DocError> {
        let update = Update::decode_v1(update).map_err(|e| DocError::Malformed(format!("bad update: {e}")))?;
        self.doc().transact_mut().apply_update(update).map_err(|e| DocError::Malformed(format!("bad update: {e}")))
    }

    /// The state vector.
    pub fn state_vector(&self) -> StateVector {
        self.doc().transact().state_vector()
    }

    /// Everything the holder of `sv` is missing, as one update.
    pub fn diff(&self, sv: &StateVector) -> Vec<u8> {
        self.doc().transact().encode_state_as_update_v1(sv)
    }

    /// The whole document as one update (a snapshot).
    pub fn snapshot(&self) -> Vec<u8> {
        self.diff(&StateVector::default())
    }

    /// Whether some updates wait for missing dependencies. Such a document
    /// is not compacted: with yrs 0.28, a snapshot taken while pending
    /// structs have gaps did not always rebuild the same document (the state
    /// vectors differed; found by `tests/convergence_props.rs`), so the raw
    /// updates stay in the store until the gaps are filled.
    pub fn has_pending(&self) -> bool {
        self.doc().transact().has_missing_updates()
    }

    /// The messages a peer gets on joining: sync step 1 (our state vector),
    /// then every known awareness state (if any).
    pub fn greeting(&self) -> Vec<Vec<u8>> {
        let mut out = vec![Message::Sync(SyncMessage::SyncStep1(self.state_vector())).encode_v1()];
        if let Some(aw) = self.awareness_states() {
            out.push(aw);
        }
        out
    }

    /// An awareness message with every present state, or `None` when nobody set one.
    pub fn awareness_states(&self) -> Option<Vec<u8>> {
        let update = self.awareness.update().ok()?;
        (!update.clients.is_empty()).then(|| Message::Awareness(update).encode_v1())
    }

    /// Apply an awareness update from `peer`. Entries for client ids that
    /// another peer or another node owns are dropped (a peer cannot
    /// overwrite someone else's cursor, and y-websocket clients echo the
    /// states they receive); the first announcement of an id claims it. A
    /// removal (`null` state) of an unowned id claims nothing. Returns the
    /// message to relay (the accepted entries), if any.
    pub fn apply_awareness(&mut self, peer: &Arc<str>, mut update: AwarenessUpdate) -> Option<Vec<u8>> {
        update.clients.retain(|id, _| match self.owners.get(&id.get()) {
            Some(Owner::Peer(owner)) => owner == peer,
            Some(Owner::Node(_)) => false,
            None => true,
        });
        if update.clients.is_empty() {
            return None;
        }
        for (id, entry) in &update.clients {
            if &*entry.json != "null" {
                self.owners.entry(id.get()).or_insert_with(|| Owner::Peer(peer.clone()));
            }
        }
        let relay = Message::Awareness(update.clone()).encode_v1();
        // An entry older than what we know is ignored by the awareness; the
        // relay is still harmless (every peer applies the same clock rule).
        let _ = self.awareness.apply_update(update);
        Some(relay)
    }

    /// Remove the awareness states `peer` owns (its connection closed).
    /// Returns the message telling the others, if it owned any.
    pub fn remove_peer(&mut self, peer: &Arc<str>) -> Option<Vec<u8>> {
        self.remove_owned_by(&Owner::Peer(peer.clone()))
    }

    /// Apply an awareness update another node accepted (`node`). Entries for
    /// ids a connection of this node or a third node owns are dropped; an
    /// entry with a `null` state (removal) ends the node's ownership. Returns the message
    /// for this node's peers, if anything is left.
    pub fn apply_remote_awareness(&mut self, node: &str, mut update: AwarenessUpdate) -> Option<Vec<u8>> {
        let node: Arc<str> = Arc::from(node);
        update.clients.retain(|id, _| match self.owners.get(&id.get()) {
            Some(Owner::Peer(_)) => false,
            Some(Owner::Node(owner)) => *owner == node,
            None => true,
        });
        if update.clients.is_empty() {
            return None;
        }
        for (id, entry) in &update.clients {
            if &*entry.json == "null" {
                self.owners.remove(&id.get());
            } else {
                self.owners.insert(id.get(), Owner::Node(node.clone()));
            }
        }
        let relay = Message::Awareness(update.clone()).encode_v1();
        let _ = self.awareness.apply_update(update);
        Some(relay)
    }

    /// Remove the awareness states another node announced (it died).
    /// Returns the message telling this node's peers, if it had any.
    pub fn remove_node(&mut self, node: &str) -> Option<Vec<u8>> {
        self.remove_owned_by(&Owner::Node(Arc::from(node)))
    }

    /// The awareness states of this node's own connections, as one message
    /// (the answer to another node that just opened the document).
    pub fn local_awareness_states(&self) -> Option<Vec<u8>> {
        let ids =
            self.owners.iter().filter(|(_, o)| matches!(o, Owner::Peer(_))).map(|(id, _)| yrs::ClientID::new(*id));
        let update = self.awareness.update_with_clients(ids).ok()?;
        (!update.clients.is_empty()).then(|| Message::Awareness(update).encode_v1())
    }

    /// Removals keep each state's clock (a `null` state at the same clock,
    /// as y-websocket's own server sends): the client's next announcement,
    /// one clock later, is then accepted everywhere when it reconnects. (yrs'
    /// `remove_state` bumps the clock, which made that announcement look old.)
    fn remove_owned_by(&mut self, owner: &Owner) -> Option<Vec<u8>> {
        let ids: Vec<u64> = self.owners.iter().filter(|(_, o)| *o == owner).map(|(id, _)| *id).collect();
        if ids.is_empty() {
            return None;
        }
        for id in &ids {
            self.owners.remove(id);
        }
        let current = self.awareness.update_with_clients(ids.into_iter().map(yrs::ClientID::new)).ok()?;
        let null: Arc<str> = Arc::from("null");
        let removal = AwarenessUpdate {
            clients: current
                .clients
                .into_iter()
                .map(|(id, e)| (id, AwarenessUpdateEntry { clock: e.clock, json: null.clone() }))
                .collect(),
        };
        let _ = self.awareness.apply_update(removal.clone());
        Some(Message::Awareness(removal).encode_v1())
    }

    /// Client ids with an awareness state, and their JSON states.
    pub fn awareness_entries(&self) -> Vec<(u64, String)> {
        self.awareness.iter().filter_map(|(id, s)| s.data.as_ref().map(|d| (id.get(), d.to_string()))).collect()
    }
}

/// Decode one y-websocket message (`varUint(type)` + body).
pub fn decode_message(bytes: &[u8]) -> Result<Message, DocError> {
    Message::decode_v1(bytes).map_err(|e: ReadError| DocError::Malformed(format!("bad y-websocket message: {e}")))
}
