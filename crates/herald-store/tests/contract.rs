//! One behavioural suite, run against every store: `MemoryStore`,
//! `SqliteStore` and `PostgresStore` must give the same answers. Each case
//! is an async fn in `contract/` taking the store; the macro below turns
//! each into one `#[tokio::test]` per backend. Each SQLite case gets its own
//! directory and each PostgreSQL case its own schema, removed afterwards.
//!
//! Cases listed under `durable` hold for the SQL stores only: `MemoryStore`
//! never refuses a batch and drops a stream whose history all expired.

mod common;
mod contract {
    pub mod chat;
    pub mod documents;
    pub mod history;
}

use std::sync::Arc;

use common::*;
use herald_core::{DocumentStore, HistoryStore, InboxStore, MemoryStore, ReadStateStore};
use herald_store::{PostgresStore, SqliteStore};

/// What every backend implements.
pub trait Backend: HistoryStore + ReadStateStore + InboxStore + DocumentStore {}
impl<T: HistoryStore + ReadStateStore + InboxStore + DocumentStore> Backend for T {}

async fn memory() -> (Arc<MemoryStore>, ()) {
    (Arc::new(MemoryStore::new()), ())
}

async fn sqlite() -> (Arc<SqliteStore>, TempDir) {
    let dir = TempDir::new("contract");
    (Arc::new(open(&dir).await), dir)
}

async fn postgres() -> (Arc<PostgresStore>, PgSchema) {
    let schema = PgSchema::new("contract");
    (Arc::new(schema.open().await), schema)
}

/// `cases!(backend_fn; case, case, ...)`: one test per case, in a module named after the backend.
macro_rules! cases {
    ($open:ident; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                // The guard removes the directory or schema when the test ends, even by a panic.
                let (store, _guard) = super::$open().await;
                crate::contract::$module::$case(store.clone()).await;
                store.close().await;
            }
        )*
    };
}

/// The cases every store passes.
macro_rules! all_cases {
    ($open:ident) => {
        cases!($open;
            history::stream_meta_is_created_once,
            history::append_then_read_both_ways,
            history::append_creates_a_missing_stream_with_the_publication_epoch,
            history::history_is_trimmed_to_its_size,
            history::expiry_removes_large_backlogs_in_chunks,
            history::a_batch_of_500_across_3_channels_is_one_call,
            history::concurrent_stream_meta_callers_get_one_epoch,
            chat::read_marks_move_forward,
            chat::read_marks_keep_the_largest_under_concurrent_writers,
            chat::inbox_rules,
            chat::notification_ids_increase_and_pages_are_newest_first,
            chat::concurrent_identical_notifications_store_one,
            documents::documents_append_compact_load,
            documents::compactions_racing_appends_lose_nothing,
        );
    };
}

/// The cases of the SQL stores.
macro_rules! durable_cases {
    ($open:ident) => {
        cases!($open;
            history::expired_publications_are_hidden_then_removed,
            history::a_failing_batch_changes_nothing,
            history::answers_like_the_memory_store,
        );
    };
}

mod memory {
    use herald_core::HistoryStore;
    all_cases!(memory);
}

mod sqlite {
    use herald_core::HistoryStore;
    all_cases!(sqlite);
    durable_cases!(sqlite);
}

mod postgres {
    use herald_core::HistoryStore;
    all_cases!(postgres);
    durable_cases!(postgres);
}

/// Two `PostgresStore`s on one schema are two Herald nodes sharing durable
/// state: the races the cases above run within one store, run across both.
mod postgres_two_nodes {
    use std::collections::HashSet;
    use std::sync::Arc;

    use crate::common::*;
    use crate::contract::chat::{content, race_identical_notifications, race_read_marks, users};
    use herald_core::{HistoryStore, InboxStore, NewNotifications, Stored};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_marks_racing_from_two_nodes_keep_the_largest() {
        let schema = PgSchema::new("nodes_marks");
        let nodes = [Arc::new(schema.open().await), Arc::new(schema.open().await)];
        race_read_marks(&nodes).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_notification_retried_against_two_nodes_is_stored_once() {
        let schema = PgSchema::new("nodes_dedupe");
        let nodes = [Arc::new(schema.open().await), Arc::new(schema.open().await)];
        race_identical_notifications(&nodes).await;
    }

    /// Ids come from one PostgreSQL sequence: unique and increasing across
    /// nodes; the inbox keeps exactly its newest `max_per_user` however many
    /// nodes insert at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn notification_ids_follow_one_sequence_and_retention_is_exact() {
        let schema = PgSchema::new("nodes_order");
        let nodes = [Arc::new(schema.open().await), Arc::new(schema.open().await)];
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let node = nodes[i % 2].clone();
                tokio::spawn(async move {
                    let (who, c) = (users(&["reader"]), content(&format!("n{i}")));
                    let n =
                        NewNotifications { users: &who, content: &c, dedupe_key: None, now_ms: 1, max_per_user: 10 };
                    match node.insert_notifications(n).await.unwrap().remove(0) {
                        Stored::Created(n) => n.id,
                        other => panic!("{other:?}"),
                    }
                })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 40, "ids are unique across nodes");
        ids.sort_unstable();
        let newest: Vec<u64> = ids[30..].iter().rev().copied().collect();
        for node in &nodes {
            let listed: Vec<u64> =
                node.list_notifications("reader", None, 100, 0).await.unwrap().iter().map(|n| n.id).collect();
            assert_eq!(listed, newest, "both nodes list the same 10 newest, newest first");
            assert_eq!(node.unread_notifications("reader", 0).await.unwrap(), 10);
        }
    }

    /// Two nodes append to one document and compact it at the same time;
    /// every update survives, in the snapshot or in the tail.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn document_compactions_on_two_nodes_racing_appends_lose_nothing() {
        let schema = PgSchema::new("nodes_documents");
        let a: Arc<dyn herald_core::DocumentStore> = Arc::new(schema.open().await);
        let b: Arc<dyn herald_core::DocumentStore> = Arc::new(schema.open().await);
        crate::contract::documents::race_appends_and_compactions(&[a, b]).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streams_get_one_epoch_and_a_reused_offset_is_refused() {
        let schema = PgSchema::new("nodes_history");
        let nodes = [Arc::new(schema.open().await), Arc::new(schema.open().await)];
        let c = ch("shared:1");
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (node, c) = (nodes[i % 2].clone(), c.clone());
                tokio::spawn(async move { node.stream_meta(&c).await.unwrap() })
            })
            .collect();
        let mut metas = Vec::new();
        for t in tasks {
            metas.push(t.await.unwrap());
        }
        assert!(metas.iter().all(|m| *m == metas[0]), "{metas:?}");
        let e = metas[0].epoch.clone();
        nodes[0].append(&[(publication(&c, &e, 1), keep(10)), (publication(&c, &e, 2), keep(10))]).await.unwrap();
        // A second sequencer handing out offset 2 again: refused, nothing changes.
        assert!(nodes[1].append(&[(publication(&c, &e, 2), keep(10))]).await.is_err());
        nodes[1].append(&[(publication(&c, &e, 3), keep(10))]).await.unwrap();
        let q = herald_core::HistoryQuery { limit: 10, ..Default::default() };
        for node in &nodes {
            assert_eq!(offsets(&node.read(&c, &q).await.unwrap()), [1, 2, 3]);
            assert_eq!(node.stream_meta(&c).await.unwrap().top, 3);
        }
    }
}
