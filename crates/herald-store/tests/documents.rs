//! `SqliteStore` as a `DocumentStore`, checked against `MemoryStore` with the
//! same calls: appends keep their order, compaction replaces the snapshot
//! and drops exactly the updates it covers, sequence numbers are never
//! reused, documents do not see each other's updates, and everything
//! survives closing and reopening the database.

mod common;

use common::*;
use herald_core::{DocumentStore, HistoryStore, MemoryStore, StoredDocument};

async fn append_compact_load(store: &dyn DocumentStore) {
    let a = ch("doc:a");
    let b = ch("doc:b");
    assert_eq!(store.load_document(&a).await.unwrap(), StoredDocument::default());
    let s1 = store.append_document_update(&a, b"one").await.unwrap();
    let s2 = store.append_document_update(&a, b"two").await.unwrap();
    let sb = store.append_document_update(&b, b"other").await.unwrap();
    let s3 = store.append_document_update(&a, b"three").await.unwrap();
    assert!(s1 < s2 && s2 < sb && sb < s3, "sequence numbers increase: {s1} {s2} {sb} {s3}");
    let loaded = store.load_document(&a).await.unwrap();
    assert_eq!(loaded.snapshot, None);
    assert_eq!(loaded.updates, vec![(s1, b"one".to_vec()), (s2, b"two".to_vec()), (s3, b"three".to_vec())]);
    assert_eq!(loaded.size(), 11);

    // A snapshot through s2 replaces one and two; three stays in the tail.
    store.compact_document(&a, b"one+two", s2).await.unwrap();
    let loaded = store.load_document(&a).await.unwrap();
    assert_eq!(loaded.snapshot.as_deref(), Some(&b"one+two"[..]));
    assert_eq!(loaded.updates, vec![(s3, b"three".to_vec())]);
    // The other document is untouched.
    assert_eq!(store.load_document(&b).await.unwrap().updates, vec![(sb, b"other".to_vec())]);

    // After compacting everything, new appends get new numbers.
    store.compact_document(&a, b"all", s3).await.unwrap();
    let s4 = store.append_document_update(&a, b"four").await.unwrap();
    assert!(s4 > s3, "a sequence number is never reused");
    let loaded = store.load_document(&a).await.unwrap();
    assert_eq!((loaded.snapshot.as_deref(), loaded.updates), (Some(&b"all"[..]), vec![(s4, b"four".to_vec())]));
}

#[tokio::test]
async fn memory_store_documents() {
    append_compact_load(&MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_documents_and_reopen() {
    let dir = TempDir::new("documents");
    let store = open(&dir).await;
    append_compact_load(&store).await;
    let before = store.load_document(&ch("doc:a")).await.unwrap();
    store.close().await;
    let store = open(&dir).await;
    assert_eq!(store.load_document(&ch("doc:a")).await.unwrap(), before, "after reopening");
    store.close().await;
}
