//! `SqliteStore` documents survive closing and reopening the database (the
//! behaviour every store shares is in `contract/documents.rs`).

mod common;

use common::*;
use herald_core::{DocumentStore, HistoryStore};

#[tokio::test]
async fn sqlite_store_documents_survive_reopen() {
    let dir = TempDir::new("documents");
    let store = open(&dir).await;
    let a = ch("doc:a");
    let s1 = store.append_document_update(&a, b"one").await.unwrap();
    store.append_document_update(&a, b"two").await.unwrap();
    store.compact_document(&a, b"one", s1).await.unwrap();
    let before = store.load_document(&a).await.unwrap();
    assert_eq!(before.snapshot.as_deref(), Some(&b"one"[..]));
    assert_eq!(before.updates.len(), 1);
    store.close().await;
    let store = open(&dir).await;
    assert_eq!(store.load_document(&a).await.unwrap(), before, "after reopening");
    store.close().await;
}
