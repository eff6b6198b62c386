//! The document registry over a `MemoryStore`: updates are stored as they
//! arrive and compacted after `compact_after_updates`; a document unloads
//! after its last lease plus the grace period and loads again with the same
//! state; size limits refuse updates with errors that name the setting.

use std::sync::Arc;
use std::time::Duration;

use herald_core::{ChannelName, DocumentStore, MemoryStore};
use herald_docs::{DocError, DocOptions, DocRegistry};
use yrs::{Doc, GetString, Options, ReadTxn, StateVector, Text, Transact};

fn frame(m: &[u8]) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(m)
}

fn options() -> DocOptions {
    DocOptions {
        max_update_bytes: 1000,
        max_document_bytes: 4000,
        compact_after_updates: 3,
        compact_idle: Duration::from_secs(3600),
        unload_grace: Duration::from_millis(100),
        ..DocOptions::default()
    }
}

/// An editor typing `words`, one update per word.
fn typed(words: &[&str]) -> Vec<Vec<u8>> {
    let doc = Doc::with_options(Options { client_id: yrs::ClientID::new(7), ..Options::default() });
    let text = doc.get_or_insert_text("t");
    words
        .iter()
        .map(|w| {
            let before = doc.transact().state_vector();
            let mut txn = doc.transact_mut();
            let len = text.len(&txn);
            text.insert(&mut txn, len, w);
            drop(txn);
            doc.transact().encode_state_as_update_v1(&before)
        })
        .collect()
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

fn text_of(update: &[u8]) -> String {
    let doc = herald_docs::Document::new();
    doc.apply_update(update).unwrap();
    let t = doc.doc().get_or_insert_text("t");
    t.get_string(&doc.doc().transact())
}

#[tokio::test]
async fn stores_compacts_unloads_and_reloads() {
    let store = Arc::new(MemoryStore::new());
    let registry = DocRegistry::new(store.clone(), options(), frame);
    let name = ChannelName::new("doc:reg").unwrap();
    let lease = registry.open(&name).await.unwrap();
    for u in typed(&["a", "b", "c", "d"]) {
        lease.apply_update(&u).await.unwrap();
    }
    // Three updates trigger a compaction in the background; the fourth may stay in the tail.
    let mut compacted = false;
    for _ in 0..200 {
        let d = store.load_document(&name).await.unwrap();
        if d.snapshot.is_some() && d.updates.len() <= 1 {
            compacted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(compacted, "no snapshot after {} updates", options().compact_after_updates);
    assert!(registry.is_open(&name));
    drop(lease);
    eventually("the document to unload", || !registry.is_open(&name)).await;
    // Unloading compacts what was left in the tail.
    let stored = store.load_document(&name).await.unwrap();
    assert!(stored.updates.is_empty(), "tail after unload: {:?}", stored.updates.len());
    assert_eq!(text_of(stored.snapshot.as_deref().unwrap()), "abcd");

    let again = registry.open(&name).await.unwrap();
    assert_eq!(text_of(&again.snapshot()), "abcd", "reloaded from the store");
    assert_eq!(again.diff(&StateVector::default()), again.snapshot());
}

#[tokio::test]
async fn size_limits_name_their_setting() {
    let store = Arc::new(MemoryStore::new());
    let registry = DocRegistry::new(store.clone(), options(), frame);
    let name = ChannelName::new("doc:big").unwrap();
    let lease = registry.open(&name).await.unwrap();
    let big = "x".repeat(1200);
    let e = lease.apply_update(&typed(&[&big])[0]).await.unwrap_err();
    assert!(matches!(e, DocError::UpdateTooLarge { .. }) && e.to_string().contains("yjs.max_update_bytes"), "{e}");
    let chunk = "y".repeat(900);
    let mut refused = None;
    for u in typed(&[&chunk, &chunk, &chunk, &chunk, &chunk]) {
        if let Err(e) = lease.apply_update(&u).await {
            refused = Some(e);
            break;
        }
    }
    let e = refused.expect("the document limit was reached");
    assert!(e.to_string().contains("yjs.max_document_bytes"), "{e}");
    assert!(e.is_refusal());
    // Nothing refused was stored.
    let stored = store.load_document(&name).await.unwrap();
    assert!(stored.size() <= 4000, "stored {} bytes", stored.size());
}
