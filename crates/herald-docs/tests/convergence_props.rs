//! Property: whatever order the server receives concurrent updates in, the
//! document ends up the same. Several editors (yrs docs with their own
//! client ids) make random text and map edits, sometimes syncing with each
//! other (so later updates depend on earlier ones); every edit's update is
//! collected, and the collection is applied to server documents in
//! different random causal orders (each update after the updates its editor
//! had seen when making it — what a server relaying between editors
//! receives), and through the store: appended, compacted half-way, loaded.
//! State vectors and content must be identical everywhere.
//!
//! Orders that break causality (an update arriving before one it depends
//! on) are not part of the property: yrs keeps such updates pending, and a
//! seeded run found an order in which yrs 0.28 never integrated some of
//! them (see `docs/collaboration.md`).

use std::collections::BTreeSet;
use std::sync::Arc;

use herald_core::{ChannelName, DocumentStore, MemoryStore};
use herald_docs::Document;
use proptest::prelude::*;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Map, Options, ReadTxn, StateVector, Text, Transact, Update};

#[derive(Debug, Clone)]
enum Op {
    Insert {
        editor: usize,
        at: u32,
        text: String,
    },
    Delete {
        editor: usize,
        at: u32,
        len: u32,
    },
    Set {
        editor: usize,
        key: u8,
        value: i64,
    },
    /// `from` sends everything it has to `to`.
    Sync {
        from: usize,
        to: usize,
    },
}

const EDITORS: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..EDITORS, any::<u32>(), "[a-z]{1,4}").prop_map(|(editor, at, text)| Op::Insert { editor, at, text }),
        2 => (0..EDITORS, any::<u32>(), 1u32..4).prop_map(|(editor, at, len)| Op::Delete { editor, at, len }),
        2 => (0..EDITORS, 0u8..4, any::<i64>()).prop_map(|(editor, key, value)| Op::Set { editor, key, value }),
        1 => (0..EDITORS, 0..EDITORS).prop_map(|(from, to)| Op::Sync { from, to }),
    ]
}

fn editor(id: u64) -> Doc {
    Doc::with_options(Options { client_id: yrs::ClientID::new(id), ..Options::default() })
}

/// Run the edits; returns every update an editor produced, in creation
/// order, and for each the indices of the updates its editor had seen (its
/// causal dependencies).
fn edit(ops: &[Op]) -> (Vec<Vec<u8>>, Vec<BTreeSet<usize>>) {
    let docs: Vec<Doc> = (0..EDITORS as u64).map(|i| editor(i + 1)).collect();
    let mut updates = Vec::new();
    let mut deps: Vec<BTreeSet<usize>> = Vec::new();
    let mut seen: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); EDITORS];
    for op in ops {
        let before = updates.len();
        let who = match op {
            Op::Insert { editor, .. } | Op::Delete { editor, .. } | Op::Set { editor, .. } => Some(*editor),
            Op::Sync { .. } => None,
        };
        match op {
            Op::Insert { editor, at, text } => {
                let d = &docs[*editor];
                let before = d.transact().state_vector();
                let t = d.get_or_insert_text("t");
                let mut txn = d.transact_mut();
                let len = t.len(&txn);
                t.insert(&mut txn, at % (len + 1), text);
                drop(txn);
                updates.push(d.transact().encode_state_as_update_v1(&before));
            }
            Op::Delete { editor, at, len } => {
                let d = &docs[*editor];
                let t = d.get_or_insert_text("t");
                let mut txn = d.transact_mut();
                let n = t.len(&txn);
                if n == 0 {
                    continue;
                }
                let start = at % n;
                let del = (*len).min(n - start);
                t.remove_range(&mut txn, start, del);
                // A delete changes no state vector: the update is the delete set.
                updates.push(txn.encode_update_v1());
            }
            Op::Set { editor, key, value } => {
                let d = &docs[*editor];
                let before = d.transact().state_vector();
                let m = d.get_or_insert_map("m");
                m.insert(&mut d.transact_mut(), format!("k{key}"), *value);
                updates.push(d.transact().encode_state_as_update_v1(&before));
            }
            Op::Sync { from, to } => {
                if from == to {
                    continue;
                }
                let sv = docs[*to].transact().state_vector();
                let diff = docs[*from].transact().encode_state_as_update_v1(&sv);
                if let Ok(u) = Update::decode_v1(&diff) {
                    let _ = docs[*to].transact_mut().apply_update(u);
                }
            }
        }
        if let Some(e) = who
            && updates.len() > before
        {
            deps.push(seen[e].clone());
            seen[e].insert(before);
        }
        if let Op::Sync { from, to } = op {
            let known = seen[*from].clone();
            seen[*to].extend(known);
        }
    }
    (updates, deps)
}

/// The causal order that follows `priority` as closely as it can: at each
/// step, of the updates whose dependencies are all applied, the one that
/// comes first in `priority`.
fn causal(priority: &[usize], deps: &[BTreeSet<usize>]) -> Vec<usize> {
    let mut applied = vec![false; deps.len()];
    let mut order = Vec::with_capacity(deps.len());
    while order.len() < deps.len() {
        let next = priority
            .iter()
            .copied()
            .find(|&i| !applied[i] && deps[i].iter().all(|&d| applied[d]))
            .expect("the dependencies of an update were all made before it");
        applied[next] = true;
        order.push(next);
    }
    order
}

fn fingerprint(doc: &Document) -> (StateVector, String, serde_json::Value) {
    let sv = doc.state_vector();
    let text = doc.doc().get_or_insert_text("t").get_string(&doc.doc().transact());
    (sv, text, herald_docs::json::to_json(doc))
}

fn apply_in(order: &[usize], updates: &[Vec<u8>]) -> Document {
    let doc = Document::new();
    for &i in order {
        doc.apply_update(&updates[i]).expect("valid update");
    }
    doc
}

fn permutation(n: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..n).collect::<Vec<_>>()).prop_shuffle()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_delivery_order_gives_the_same_document(
        (ops, orders) in prop::collection::vec(op(), 1..40).prop_flat_map(|ops| {
            let n = edit(&ops).0.len();
            (Just(ops), prop::collection::vec(permutation(n), 3))
        })
    ) {
        let (updates, deps) = edit(&ops);
        let orders: Vec<Vec<usize>> = orders.iter().map(|p| causal(p, &deps)).collect();
        let in_order = apply_in(&(0..updates.len()).collect::<Vec<_>>(), &updates);
        let expected = fingerprint(&in_order);
        for order in &orders {
            let doc = apply_in(order, &updates);
            prop_assert_eq!(&fingerprint(&doc), &expected, "order {:?}", order);
        }

        // Through the store: append in the first order, compact half-way, load.
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let loaded = rt.block_on(async {
            let store = Arc::new(MemoryStore::new());
            let name = ChannelName::new("doc:prop").expect("name");
            let live = Document::new();
            let mut compacted = false;
            for (k, &i) in orders[0].iter().enumerate() {
                live.apply_update(&updates[i]).expect("valid update");
                let seq = store.append_document_update(&name, &updates[i]).await.expect("append");
                // As the registry does: never compact while updates wait for dependencies.
                if k >= orders[0].len() / 2 && !compacted && !live.has_pending() {
                    compacted = true;
                    store.compact_document(&name, &live.snapshot(), seq).await.expect("compact");
                }
            }
            Document::from_stored(&store.load_document(&name).await.expect("load")).expect("rebuild")
        });
        prop_assert_eq!(fingerprint(&loaded), expected);
    }
}
