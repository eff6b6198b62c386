//! [`DocumentStore`] for [`MemoryStore`]: collaborative documents in process
//! memory (`--ephemeral`, tests). A restart loses them.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::channel::ChannelName;
use crate::memory_store::MemoryStore;
use crate::store::{DocumentStore, StoreError, StoredDocument};

/// Every document's snapshot and tail, the sequence its snapshot covers,
/// and the sequence counter.
#[derive(Default)]
pub struct Documents {
    next_seq: u64,
    by_name: HashMap<ChannelName, (StoredDocument, u64)>,
}

#[async_trait]
impl DocumentStore for MemoryStore {
    async fn load_document(&self, name: &ChannelName) -> Result<StoredDocument, StoreError> {
        Ok(self.documents.lock().by_name.get(name).map(|(d, _)| d.clone()).unwrap_or_default())
    }

    async fn append_document_update(&self, name: &ChannelName, update: &[u8]) -> Result<u64, StoreError> {
        let mut docs = self.documents.lock();
        docs.next_seq += 1;
        let seq = docs.next_seq;
        docs.by_name.entry(name.clone()).or_default().0.updates.push((seq, update.to_vec()));
        Ok(seq)
    }

    async fn compact_document(&self, name: &ChannelName, snapshot: &[u8], through_seq: u64) -> Result<(), StoreError> {
        let mut docs = self.documents.lock();
        let (doc, through) = docs.by_name.entry(name.clone()).or_default();
        // A snapshot older than the stored one is not kept (as in the SQL stores).
        if *through <= through_seq {
            doc.snapshot = Some(snapshot.to_vec());
            *through = through_seq;
        }
        doc.updates.retain(|(seq, _)| *seq > through_seq);
        Ok(())
    }
}
