//! Compaction: replace a document's stored updates with one snapshot.
//!
//! The snapshot is built from the store (snapshot + tail, loaded in one
//! read), never from this node's copy: with several nodes appending to one
//! document, only the store knows every update up to a sequence number, so
//! `compact_document(snapshot, through = last update loaded)` never drops an
//! update the snapshot lacks. With a [`DocumentBus`](herald_core::DocumentBus),
//! a node first takes the document's compaction lease, so one node compacts
//! a document at a time; the store's rule (an older snapshot never replaces
//! a newer one) keeps a late compactor harmless should a lease expire.

use std::sync::atomic::Ordering;

use crate::DocError;
use crate::document::Document;
use crate::registry::{DocEntry, DocRegistry};

/// What one compaction did.
enum Outcome {
    /// Snapshot written through `through`: `bytes` is its size.
    Compacted { through: u64, bytes: usize },
    /// The store has no updates after its snapshot (another node compacted).
    NothingToDo { bytes: usize },
    /// Some stored updates wait for missing dependencies: kept as they are.
    Pending,
}

impl DocRegistry {
    /// Compact `entry` if this node appended to it since its last compaction.
    pub(crate) async fn compact(&self, entry: &DocEntry) {
        let _one_at_a_time = entry.compacting.lock().await;
        let tail = entry.tail.load(Ordering::Acquire);
        if tail == 0 {
            return;
        }
        let bytes_before = entry.stored_bytes.load(Ordering::Acquire);
        let lease = match self.bus.get() {
            None => None,
            Some(bus) => match bus.try_compaction(&entry.name, self.options.compaction_lease).await {
                Ok(Some(lease)) => Some(lease),
                Ok(None) => {
                    tracing::debug!(doc = %entry.name, "not compacted here: another node is compacting it");
                    return;
                }
                Err(e) => {
                    tracing::warn!(doc = %entry.name, error = %e, "document not compacted: no compaction lease");
                    return;
                }
            },
        };
        let outcome = self.compact_from_store(entry).await;
        if let (Some(bus), Some(lease)) = (self.bus.get(), lease) {
            bus.release_compaction(&entry.name, lease).await;
        }
        let stored = match outcome {
            Ok(Outcome::Compacted { through, bytes }) => {
                metrics::counter!("herald_document_compactions_total").increment(1);
                tracing::debug!(doc = %entry.name, through, bytes, "document compacted");
                bytes
            }
            Ok(Outcome::NothingToDo { bytes }) => bytes,
            Ok(Outcome::Pending) => {
                tracing::debug!(doc = %entry.name, "not compacted: updates wait for missing dependencies");
                return;
            }
            Err(e) => {
                tracing::warn!(doc = %entry.name, error = %e, "document compaction failed");
                return;
            }
        };
        entry.tail.fetch_sub(tail, Ordering::AcqRel);
        // Updates appended while compacting are still in the store's tail.
        let since = entry.stored_bytes.load(Ordering::Acquire).saturating_sub(bytes_before);
        entry.stored_bytes.store(stored + since, Ordering::Release);
    }

    async fn compact_from_store(&self, entry: &DocEntry) -> Result<Outcome, DocError> {
        let stored = self.store.load_document(&entry.name).await?;
        if stored.updates.is_empty() {
            return Ok(Outcome::NothingToDo { bytes: stored.size() });
        }
        let through = stored.last_seq();
        let snapshot = {
            let doc = Document::from_stored(&stored)?;
            if doc.has_pending() {
                return Ok(Outcome::Pending);
            }
            doc.snapshot()
        };
        self.store.compact_document(&entry.name, &snapshot, through).await?;
        Ok(Outcome::Compacted { through, bytes: snapshot.len() })
    }
}
