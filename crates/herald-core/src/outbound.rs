//! `Outbound`: a connection's bounded queue of encoded frames.
//!
//! The hub pushes already-encoded frames (shared `Bytes`, encoded once per
//! wire variant); the transport's writer task drains everything queued in one
//! go and writes it with one vectored write (coalescing). When the queue
//! would exceed its limit in frames or bytes, the connection is marked
//! closed with [`DisconnectReason::SlowConsumer`]: it never slows anyone else.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::error::DisconnectReason;
use crate::publication::Publication;

/// Limits of one connection's outbound queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueLimits {
    /// Most frames queued. Default 4096.
    pub max_messages: usize,
    /// Most bytes queued. Default 4 MiB.
    pub max_bytes: usize,
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self { max_messages: 4096, max_bytes: 4 * 1024 * 1024 }
    }
}

/// One queued frame. `publication` is set for publication frames, so a door
/// that tracks positions per frame (SSE's `id:`) can do so.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The encoded frame.
    pub frame: Bytes,
    /// The publication it carries, if any.
    pub publication: Option<Arc<Publication>>,
}

struct State {
    queue: VecDeque<Outgoing>,
    bytes: usize,
    closed: Option<DisconnectReason>,
    /// Closed without flushing: the writer should drop the socket now,
    /// even in the middle of a blocked write.
    aborted: bool,
}

/// Why a push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The connection is closed (or was just closed for being slow).
    Closed(DisconnectReason),
}

/// A connection's bounded outbound queue.
pub struct Outbound {
    state: Mutex<State>,
    notify: Notify,
    aborted: Notify,
    limits: QueueLimits,
}

impl Outbound {
    /// An empty queue with `limits`.
    pub fn new(limits: QueueLimits) -> Self {
        Self {
            state: Mutex::new(State { queue: VecDeque::new(), bytes: 0, closed: None, aborted: false }),
            notify: Notify::new(),
            aborted: Notify::new(),
            limits,
        }
    }

    /// Queue a frame; on overflow the connection is closed as a slow
    /// consumer. A frame larger than `max_bytes` fits an empty queue (the
    /// client is not behind, and the frame is in memory anyway): a
    /// recovering subscribe's reply may be larger than the bound, and
    /// refusing it would cut the client again at every reconnect.
    pub fn push(&self, item: Outgoing) -> Result<(), PushError> {
        let mut st = self.state.lock();
        if let Some(reason) = st.closed {
            return Err(PushError::Closed(reason));
        }
        let len = item.frame.len();
        let over_bytes = st.bytes + len > self.limits.max_bytes && !st.queue.is_empty();
        if st.queue.len() >= self.limits.max_messages || over_bytes {
            st.closed = Some(DisconnectReason::SlowConsumer);
            st.aborted = true;
            st.queue.clear();
            st.bytes = 0;
            drop(st);
            // Counted by the door that serves the connection
            // (`herald_slow_consumer_disconnects_total{door}`), which knows it.
            self.notify.notify_one();
            self.aborted.notify_waiters();
            return Err(PushError::Closed(DisconnectReason::SlowConsumer));
        }
        let was_empty = st.queue.is_empty();
        st.bytes += len;
        st.queue.push_back(item);
        drop(st);
        if was_empty {
            self.notify.notify_one();
        }
        Ok(())
    }

    /// Queue a control frame (replies, pushes that carry no publication).
    pub fn push_frame(&self, frame: Bytes) -> Result<(), PushError> {
        self.push(Outgoing { frame, publication: None })
    }

    /// Close the connection for `reason`; frames still queued are dropped
    /// unless `flush` is set, in which case the writer sends them first.
    pub fn close(&self, reason: DisconnectReason, flush: bool) {
        let mut st = self.state.lock();
        if st.closed.is_none() {
            st.closed = Some(reason);
            if !flush {
                st.aborted = true;
                st.queue.clear();
                st.bytes = 0;
            }
        }
        drop(st);
        self.notify.notify_one();
        self.aborted.notify_waiters();
    }

    /// Resolves once the connection is closed without flushing (slow
    /// consumer, kicked): the writer abandons a blocked write and drops the socket.
    pub async fn aborted(&self) -> DisconnectReason {
        loop {
            let notified = self.aborted.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.state.lock();
                if st.aborted
                    && let Some(r) = st.closed
                {
                    return r;
                }
            }
            notified.await;
        }
    }

    /// Why the connection was closed, if it was.
    pub fn closed(&self) -> Option<DisconnectReason> {
        self.state.lock().closed
    }

    /// Wait for frames and move all queued ones into `batch`. Returns
    /// `Err(reason)` once the queue is closed and drained.
    pub async fn next_batch(&self, batch: &mut Vec<Outgoing>) -> Result<(), DisconnectReason> {
        loop {
            {
                let mut st = self.state.lock();
                if !st.queue.is_empty() {
                    batch.extend(st.queue.drain(..));
                    st.bytes = 0;
                    return Ok(());
                }
                if let Some(reason) = st.closed {
                    return Err(reason);
                }
            }
            self.notify.notified().await;
        }
    }

    /// Move whatever is queued into `batch` without waiting.
    pub fn drain_now(&self, batch: &mut Vec<Outgoing>) {
        let mut st = self.state.lock();
        batch.extend(st.queue.drain(..));
        st.bytes = 0;
    }

    /// Frames currently queued.
    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[tokio::test]
    async fn overflow_by_count_closes_as_slow_consumer() {
        let q = Outbound::new(QueueLimits { max_messages: 2, max_bytes: 1000 });
        q.push_frame(frame(1)).unwrap();
        q.push_frame(frame(1)).unwrap();
        assert_eq!(q.push_frame(frame(1)), Err(PushError::Closed(DisconnectReason::SlowConsumer)));
        let mut b = Vec::new();
        assert_eq!(q.next_batch(&mut b).await, Err(DisconnectReason::SlowConsumer));
    }

    #[tokio::test]
    async fn overflow_by_bytes_closes() {
        let q = Outbound::new(QueueLimits { max_messages: 100, max_bytes: 10 });
        q.push_frame(frame(6)).unwrap();
        assert!(q.push_frame(frame(6)).is_err());
    }

    #[tokio::test]
    async fn one_frame_over_the_byte_bound_fits_an_empty_queue_only() {
        let q = Outbound::new(QueueLimits { max_messages: 100, max_bytes: 10 });
        q.push_frame(frame(50)).unwrap();
        assert!(q.push_frame(frame(1)).is_err(), "anything behind it overflows");
    }

    #[tokio::test]
    async fn batch_drains_everything_queued() {
        let q = Outbound::new(QueueLimits::default());
        for _ in 0..5 {
            q.push_frame(frame(3)).unwrap();
        }
        let mut b = Vec::new();
        q.next_batch(&mut b).await.unwrap();
        assert_eq!(b.len(), 5);
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn close_with_flush_delivers_queued_first() {
        let q = Outbound::new(QueueLimits::default());
        q.push_frame(frame(3)).unwrap();
        q.close(DisconnectReason::Shutdown, true);
        let mut b = Vec::new();
        q.next_batch(&mut b).await.unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(q.next_batch(&mut b).await, Err(DisconnectReason::Shutdown));
    }
}
