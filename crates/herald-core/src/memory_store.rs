//! `MemoryStore`: history kept in process memory, for `--ephemeral` and tests.
//! A restart loses it, and the channels come back with new epochs.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::broker::{Direction, HistoryQuery};
use crate::channel::ChannelName;
use crate::namespace::Retention;
use crate::position::Epoch;
use crate::publication::Publication;
use crate::store::{HistoryStore, StoreError, StreamMeta};

struct Stream {
    meta: StreamMeta,
    /// (publication, expires_at_ms or u64::MAX), oldest first.
    log: VecDeque<(Arc<Publication>, u64)>,
}

/// History in memory.
#[derive(Default)]
pub struct MemoryStore {
    streams: Mutex<HashMap<ChannelName, Stream>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn expiry(p: &Publication, r: &Retention) -> u64 {
    r.ttl.map(|t| p.time_ms.saturating_add(t.as_millis() as u64)).unwrap_or(u64::MAX)
}

#[async_trait]
impl HistoryStore for MemoryStore {
    async fn stream_meta(&self, channel: &ChannelName) -> Result<StreamMeta, StoreError> {
        let mut streams = self.streams.lock();
        let s = streams
            .entry(channel.clone())
            .or_insert_with(|| Stream { meta: StreamMeta { epoch: Epoch::generate(), top: 0 }, log: VecDeque::new() });
        Ok(s.meta.clone())
    }

    async fn append(&self, batch: &[(Arc<Publication>, Retention)]) -> Result<(), StoreError> {
        let mut streams = self.streams.lock();
        for (p, r) in batch {
            let s = streams.entry(p.channel.clone()).or_insert_with(|| Stream {
                meta: StreamMeta { epoch: p.epoch.clone(), top: 0 },
                log: VecDeque::new(),
            });
            s.meta.top = s.meta.top.max(p.offset);
            if r.size == 0 {
                s.log.clear();
                continue;
            }
            s.log.push_back((p.clone(), expiry(p, r)));
            while s.log.len() > r.size {
                s.log.pop_front();
            }
        }
        Ok(())
    }

    async fn read(&self, channel: &ChannelName, q: &HistoryQuery) -> Result<Vec<Arc<Publication>>, StoreError> {
        let now = crate::publication::now_ms();
        let streams = self.streams.lock();
        let Some(s) = streams.get(channel) else { return Ok(Vec::new()) };
        let live = s.log.iter().filter(|(_, exp)| *exp > now).map(|(p, _)| p);
        let out = match q.direction {
            Direction::Forward => {
                let since = q.since.unwrap_or(0);
                live.filter(|p| p.offset > since).take(q.limit).cloned().collect()
            }
            Direction::Backward => {
                let before = q.before.unwrap_or(u64::MAX);
                live.rev().filter(|p| p.offset < before).take(q.limit).cloned().collect()
            }
        };
        Ok(out)
    }

    async fn remove_expired(&self, now_ms: u64) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        let mut streams = self.streams.lock();
        streams.retain(|_, s| {
            let had_history = !s.log.is_empty();
            while s.log.front().is_some_and(|(_, exp)| *exp <= now_ms) {
                s.log.pop_front();
                removed += 1;
            }
            // A channel whose history has all expired is dropped; it comes
            // back with a new epoch, so old positions are told recovered:false.
            !(had_history && s.log.is_empty())
        });
        Ok(removed)
    }

    async fn close(&self) {}
}
