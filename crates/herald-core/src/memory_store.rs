//! `MemoryStore`: history, read positions, inboxes (and documents, in
//! `memory_documents.rs`) kept in process
//! memory, for `--ephemeral` and tests. A restart loses them, and the
//! channels come back with new epochs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::broker::{Direction, HistoryQuery};
use crate::channel::ChannelName;
use crate::namespace::Retention;
use crate::position::Epoch;
use crate::publication::Publication;
use crate::store::{
    HistoryStore, InboxError, InboxStore, NewNotifications, Notification, ReadMark, ReadStateStore, StoreError, Stored,
    StreamMeta,
};

struct Stream {
    meta: StreamMeta,
    /// (publication, expires_at_ms or u64::MAX), oldest first.
    log: VecDeque<(Arc<Publication>, u64)>,
}

#[derive(Default)]
struct Inboxes {
    next_id: u64,
    by_user: HashMap<String, BTreeMap<u64, Notification>>,
}

/// History, read positions and inboxes in memory.
#[derive(Default)]
pub struct MemoryStore {
    streams: Mutex<HashMap<ChannelName, Stream>>,
    reads: Mutex<HashMap<String, HashMap<ChannelName, ReadMark>>>,
    inboxes: Mutex<Inboxes>,
    pub(crate) documents: Mutex<crate::memory_documents::Documents>,
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

#[async_trait]
impl ReadStateStore for MemoryStore {
    async fn advance_read(
        &self,
        user: &str,
        channel: &ChannelName,
        mark: ReadMark,
    ) -> Result<(ReadMark, bool), StoreError> {
        let mut reads = self.reads.lock();
        let marks = reads.entry(user.to_string()).or_default();
        match marks.get_mut(channel) {
            Some(cur) if cur.epoch == mark.epoch && cur.offset >= mark.offset => Ok((cur.clone(), false)),
            Some(cur) => {
                *cur = mark;
                Ok((cur.clone(), true))
            }
            None => {
                marks.insert(channel.clone(), mark.clone());
                Ok((mark, true))
            }
        }
    }

    async fn read_marks_of_user(&self, user: &str, limit: usize) -> Result<Vec<(ChannelName, ReadMark)>, StoreError> {
        let reads = self.reads.lock();
        let mut out: Vec<_> =
            reads.get(user).map(|m| m.iter().map(|(c, r)| (c.clone(), r.clone())).collect()).unwrap_or_default();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.truncate(limit);
        Ok(out)
    }

    async fn read_marks_of_channel(
        &self,
        channel: &ChannelName,
        limit: usize,
    ) -> Result<Vec<(String, ReadMark)>, StoreError> {
        let reads = self.reads.lock();
        let mut out: Vec<_> =
            reads.iter().filter_map(|(u, m)| m.get(channel).map(|r| (u.clone(), r.clone()))).collect();
        out.sort_by(|a, b| b.1.updated_ms.cmp(&a.1.updated_ms).then_with(|| a.0.cmp(&b.0)));
        out.truncate(limit);
        Ok(out)
    }
}

fn live(n: &Notification, now_ms: u64) -> bool {
    n.content.expires_at.is_none_or(|e| e > now_ms)
}

#[async_trait]
impl InboxStore for MemoryStore {
    async fn insert_notifications(&self, new: NewNotifications<'_>) -> Result<Vec<Stored>, InboxError> {
        let mut inboxes = self.inboxes.lock();
        let mut existing = Vec::with_capacity(new.users.len());
        for user in new.users {
            let found = new.dedupe_key.and_then(|key| {
                inboxes.by_user.get(user)?.values().find(|n| n.dedupe_key.as_deref() == Some(key)).cloned()
            });
            if let Some(n) = &found
                && n.content != *new.content
            {
                return Err(InboxError::Conflict { user: user.clone() });
            }
            existing.push(found);
        }
        let mut out = Vec::with_capacity(new.users.len());
        for (user, found) in new.users.iter().zip(existing) {
            if let Some(n) = found {
                out.push(Stored::Existing(n));
                continue;
            }
            inboxes.next_id += 1;
            let n = Notification {
                id: inboxes.next_id,
                user: user.clone(),
                content: new.content.clone(),
                dedupe_key: new.dedupe_key.map(str::to_string),
                created_ms: new.now_ms,
                read: false,
            };
            let inbox = inboxes.by_user.entry(user.clone()).or_default();
            inbox.insert(n.id, n.clone());
            while inbox.len() > new.max_per_user.max(1) {
                inbox.pop_first();
            }
            out.push(Stored::Created(n));
        }
        Ok(out)
    }

    async fn list_notifications(
        &self,
        user: &str,
        before: Option<u64>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<Notification>, StoreError> {
        let inboxes = self.inboxes.lock();
        let Some(inbox) = inboxes.by_user.get(user) else { return Ok(Vec::new()) };
        Ok(inbox
            .range(..before.unwrap_or(u64::MAX))
            .rev()
            .map(|(_, n)| n)
            .filter(|n| live(n, now_ms))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn mark_notification_read(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        let mut inboxes = self.inboxes.lock();
        match inboxes.by_user.get_mut(user).and_then(|i| i.get_mut(&id)) {
            Some(n) => {
                n.read = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn mark_all_notifications_read(&self, user: &str) -> Result<(), StoreError> {
        if let Some(inbox) = self.inboxes.lock().by_user.get_mut(user) {
            inbox.values_mut().for_each(|n| n.read = true);
        }
        Ok(())
    }

    async fn delete_notification(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        Ok(self.inboxes.lock().by_user.get_mut(user).and_then(|i| i.remove(&id)).is_some())
    }

    async fn unread_notifications(&self, user: &str, now_ms: u64) -> Result<u64, StoreError> {
        let inboxes = self.inboxes.lock();
        let n = inboxes.by_user.get(user).map(|i| i.values().filter(|n| !n.read && live(n, now_ms)).count());
        Ok(n.unwrap_or(0) as u64)
    }

    async fn remove_expired_notifications(&self, now_ms: u64) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        for inbox in self.inboxes.lock().by_user.values_mut() {
            let before = inbox.len();
            inbox.retain(|_, n| live(n, now_ms));
            removed += (before - inbox.len()) as u64;
        }
        Ok(removed)
    }
}
