//! What only `SqliteStore` has: a database file in WAL mode that keeps
//! streams, rows and read marks across a reopen. The behaviour every store
//! shares is in `contract.rs`.

mod common;

use common::*;
use herald_core::{Direction, Epoch, HistoryQuery, HistoryStore, ReadMark, ReadStateStore};

fn forward(since: Option<u64>, limit: usize) -> HistoryQuery {
    HistoryQuery { since, before: None, limit, direction: Direction::Forward }
}

#[tokio::test]
async fn reopening_keeps_epochs_tops_rows_and_read_marks() {
    let dir = TempDir::new("reopen");
    let (c, idle) = (ch("chat:reopen"), ch("chat:idle"));
    let store = open(&dir).await;
    let meta = store.stream_meta(&c).await.unwrap();
    let idle_meta = store.stream_meta(&idle).await.unwrap();
    let batch: Vec<_> = (1..=5).map(|o| (publication(&c, &meta.epoch, o), keep(100))).collect();
    store.append(&batch).await.unwrap();
    let read = ReadMark { epoch: meta.epoch.clone(), offset: 3, updated_ms: 7 };
    store.advance_read("u", &c, read.clone()).await.unwrap();
    store.close().await;
    let wal = dir.path().join("herald.db-wal");
    assert!(std::fs::metadata(&wal).map_or(true, |m| m.len() == 0), "close checkpoints the WAL");
    assert!(store.read(&c, &forward(None, 10)).await.is_err(), "a closed store fails");
    store.close().await; // idempotent
    drop(store);

    let store = open(&dir).await;
    let again = store.stream_meta(&c).await.unwrap();
    assert_eq!((again.epoch, again.top), (meta.epoch, 5));
    assert_eq!(store.stream_meta(&idle).await.unwrap(), idle_meta);
    assert_eq!(offsets(&store.read(&c, &forward(None, 10)).await.unwrap()), [1, 2, 3, 4, 5]);
    assert_eq!(store.read_marks_of_user("u", 10).await.unwrap(), vec![(c.clone(), read)]);
    store.close().await;
}

#[tokio::test]
async fn a_wiped_directory_gives_new_epochs() {
    let dir = TempDir::new("wipe");
    let c = ch("chat:wipe");
    let store = open(&dir).await;
    let before = store.stream_meta(&c).await.unwrap();
    store.append(&[(publication(&c, &before.epoch, 1), keep(10))]).await.unwrap();
    store.close().await;
    drop(store);
    std::fs::remove_dir_all(dir.path()).unwrap();

    let store = open(&dir).await;
    let after = store.stream_meta(&c).await.unwrap();
    assert_ne!(after.epoch, before.epoch);
    assert_eq!(after.top, 0);
    assert!(store.read(&c, &forward(None, 10)).await.unwrap().is_empty());
    store.close().await;
}

#[tokio::test]
async fn a_corrupt_row_fails_the_read() {
    let dir = TempDir::new("corrupt");
    let store = open(&dir).await;
    let (c, e) = (ch("corrupt"), Epoch::generate());
    store.append(&[(publication(&c, &e, 1), keep(10)), (publication(&c, &e, 2), keep(10))]).await.unwrap();
    let url = format!("sqlite://{}", store.path().display());
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE publications SET data = '{not json' WHERE \"offset\" = 2").execute(&raw).await.unwrap();
    raw.close().await;
    assert!(store.read(&c, &forward(None, 10)).await.is_err());
    assert_eq!(offsets(&store.read(&c, &forward(None, 1)).await.unwrap()), [1]);
    store.close().await;
}

#[tokio::test]
async fn the_database_is_in_wal_mode() {
    let dir = TempDir::new("wal");
    let store = open(&dir).await;
    assert!(store.path().starts_with(dir.path()) && store.path().ends_with("herald.db"));
    let url = format!("sqlite://{}", store.path().display());
    let raw = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&raw).await.unwrap();
    assert_eq!(mode, "wal");
    raw.close().await;
    store.close().await;
}
