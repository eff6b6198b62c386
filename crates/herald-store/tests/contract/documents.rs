//! Collaborative documents (`DocumentStore`): appends keep their order,
//! compaction replaces the snapshot and drops exactly the updates it
//! covers, an older snapshot never replaces a newer one, sequence numbers
//! are never reused, documents do not see each other's updates, and
//! compactions racing appends (from one node or two) lose nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use herald_core::{DocumentStore, StoredDocument};

use crate::common::ch;

pub async fn documents_append_compact_load(store: Arc<impl DocumentStore>) {
    let a = ch("doc:a");
    let b = ch("doc:b");
    assert_eq!(store.load_document(&a).await.unwrap(), StoredDocument::default());
    let s1 = store.append_document_update(&a, b"one").await.unwrap();
    let s2 = store.append_document_update(&a, b"two").await.unwrap();
    let sb = store.append_document_update(&b, b"other").await.unwrap();
    let s3 = store.append_document_update(&a, b"three").await.unwrap();
    assert!(s1 < s2 && s2 < s3, "sequence numbers increase within a document: {s1} {s2} {s3}");
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

    // A late compaction with an older snapshot keeps the newer one.
    store.compact_document(&a, b"one+two (late)", s2).await.unwrap();
    let loaded = store.load_document(&a).await.unwrap();
    assert_eq!((loaded.snapshot.as_deref(), loaded.updates), (Some(&b"all"[..]), vec![(s4, b"four".to_vec())]));
}

/// What a compaction does in herald-docs, with opaque bytes: load the
/// snapshot and the tail from the store, merge them (here: a set of
/// comma-separated tokens) and compact through the last update loaded.
async fn compact_from_store(store: &dyn DocumentStore, name: &herald_core::ChannelName) {
    let loaded = store.load_document(name).await.unwrap();
    if loaded.updates.is_empty() {
        return;
    }
    let mut tokens = tokens_of(&loaded);
    tokens.remove("");
    let snapshot = tokens.into_iter().collect::<Vec<_>>().join(",");
    store.compact_document(name, snapshot.as_bytes(), loaded.last_seq()).await.unwrap();
}

fn tokens_of(doc: &StoredDocument) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(s) = &doc.snapshot {
        out.extend(String::from_utf8_lossy(s).split(',').map(str::to_string));
    }
    for (_, u) in &doc.updates {
        out.insert(String::from_utf8_lossy(u).into_owned());
    }
    out.remove("");
    out
}

/// Writers on every store append distinct tokens to one document while
/// compactors on every store compact it from what they load. Afterwards
/// the snapshot and tail hold every token appended: nothing was dropped by
/// a compaction that did not include it.
pub async fn race_appends_and_compactions(stores: &[Arc<dyn DocumentStore>]) {
    let name = ch("doc:race");
    let mut tasks = Vec::new();
    for (n, store) in stores.iter().enumerate() {
        for w in 0..2 {
            let (store, name) = (store.clone(), name.clone());
            tasks.push(tokio::spawn(async move {
                let mut wrote = Vec::new();
                for i in 0..60 {
                    let token = format!("n{n}w{w}i{i}");
                    store.append_document_update(&name, token.as_bytes()).await.unwrap();
                    wrote.push(token);
                }
                wrote
            }));
        }
        let (store, name) = (store.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..30 {
                compact_from_store(&*store, &name).await;
                tokio::task::yield_now().await;
            }
            Vec::new()
        }));
    }
    let mut appended = BTreeSet::new();
    for t in tasks {
        appended.extend(t.await.unwrap());
    }
    assert_eq!(appended.len(), stores.len() * 2 * 60);
    for store in stores {
        let held = tokens_of(&store.load_document(&name).await.unwrap());
        let lost: Vec<_> = appended.difference(&held).collect();
        assert!(lost.is_empty(), "updates lost by compaction: {lost:?}");
    }
    // And after a final compaction, the snapshot alone holds everything.
    compact_from_store(&*stores[0], &name).await;
    let last = stores[stores.len() - 1].load_document(&name).await.unwrap();
    assert!(last.updates.is_empty(), "{:?}", last.updates);
    assert_eq!(tokens_of(&last), appended);
}

pub async fn compactions_racing_appends_lose_nothing(store: Arc<impl DocumentStore>) {
    let one: Arc<dyn DocumentStore> = store;
    race_appends_and_compactions(&[one.clone(), one]).await;
}
