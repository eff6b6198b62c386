//! Test helpers: unique temporary store directories and publications.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use herald_core::{ChannelName, Epoch, Payload, Publication, PublisherInfo, Retention};
use herald_store::{SqliteOptions, SqliteStore};

/// A unique directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name =
            format!("herald-store-{tag}-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        TempDir(std::env::temp_dir().join(name))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn open(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(dir.path(), SqliteOptions::default()).await.unwrap()
}

pub fn ch(name: &str) -> ChannelName {
    ChannelName::new(name).unwrap()
}

pub fn keep(size: usize) -> Retention {
    Retention { size, ttl: None }
}

pub fn keep_for(size: usize, ttl: Duration) -> Retention {
    Retention { size, ttl: Some(ttl) }
}

/// Publication `offset` of `channel` with data `{"n":offset}`, published now.
pub fn publication(channel: &ChannelName, epoch: &Epoch, offset: u64) -> Arc<Publication> {
    publication_at(channel, epoch, offset, herald_core::now_ms())
}

pub fn publication_at(channel: &ChannelName, epoch: &Epoch, offset: u64, time_ms: u64) -> Arc<Publication> {
    Arc::new(Publication {
        channel: channel.clone(),
        epoch: epoch.clone(),
        offset,
        data: Payload::from_json_text(format!(r#"{{"n":{offset},"s":"é\"x"}}"#)).unwrap(),
        time_ms,
        publisher: offset.is_multiple_of(2).then(|| PublisherInfo {
            client: Arc::from(format!("client-{offset}")),
            user: offset.is_multiple_of(4).then(|| Arc::from("alice")),
        }),
        idempotency_key: offset.is_multiple_of(3).then(|| Arc::from(format!("key-{offset}"))),
    })
}

pub fn offsets(pubs: &[Arc<Publication>]) -> Vec<u64> {
    pubs.iter().map(|p| p.offset).collect()
}
