//! `EventQueue`: a durable queue of server-side events (channel occupied /
//! vacated, presence join/leave, client events) for app webhooks, on a Redis
//! Stream with a consumer group. At-least-once: an event stays pending until
//! a consumer acknowledges it; events a consumer took but never
//! acknowledged (its node died mid-send) are claimed by another consumer
//! once they have been idle for `claim_after`.
//!
//! The queue carries opaque bytes (the webhook layer decides the JSON);
//! the consumer should make delivery idempotent by event id (the stream id).

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamReadReply};

/// A queue failure (Redis unreachable or answering unexpectedly).
#[derive(Debug, thiserror::Error)]
#[error("event queue: {0}")]
pub struct QueueError(String);

impl From<redis::RedisError> for QueueError {
    fn from(e: redis::RedisError) -> Self {
        QueueError(e.to_string())
    }
}

/// One queued event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    /// The stream id: unique, increasing; use it to deduplicate deliveries.
    pub id: String,
    /// The event as enqueued.
    pub payload: Vec<u8>,
}

/// Options of one queue.
#[derive(Debug, Clone)]
pub struct EventQueueOptions {
    /// The stream key (e.g. `herald:events`).
    pub stream: String,
    /// The consumer group (e.g. `webhooks`).
    pub group: String,
    /// This consumer's name (the node id).
    pub consumer: String,
    /// Approximate most events kept in the stream (acknowledged ones are
    /// trimmed first by age). Default 100,000.
    pub max_len: usize,
    /// How long an event may stay pending at a consumer before another one
    /// takes it over. Default 30 s.
    pub claim_after: Duration,
}

/// A durable queue on a Redis Stream.
pub struct EventQueue {
    conn: ConnectionManager,
    o: EventQueueOptions,
}

fn parse_entries(entries: Vec<redis::streams::StreamId>) -> Vec<QueuedEvent> {
    entries
        .into_iter()
        .filter_map(|e| {
            let payload = match e.map.get("e") {
                Some(redis::Value::BulkString(b)) => b.clone(),
                _ => return None,
            };
            Some(QueuedEvent { id: e.id, payload })
        })
        .collect()
}

impl EventQueue {
    /// A queue over `conn`; creates the stream and group if missing.
    pub async fn open(conn: ConnectionManager, o: EventQueueOptions) -> Result<EventQueue, QueueError> {
        let mut c = conn.clone();
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&o.stream)
            .arg(&o.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        match created {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(e.into()),
        }
        Ok(EventQueue { conn, o })
    }

    /// How long an event may stay pending at a consumer before another one takes it over.
    pub fn claim_after(&self) -> Duration {
        self.o.claim_after
    }

    /// Append an event; returns its id. Durable as far as Redis persistence goes.
    pub async fn enqueue(&self, payload: &[u8]) -> Result<String, QueueError> {
        let mut c = self.conn.clone();
        let id: String = redis::cmd("XADD")
            .arg(&self.o.stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.o.max_len)
            .arg("*")
            .arg("e")
            .arg(payload)
            .query_async(&mut c)
            .await?;
        Ok(id)
    }

    /// Take up to `count` new events for this consumer, waiting up to `block`
    /// for one (zero: answer at once). A blocking read holds its connection:
    /// on a connection shared with other work, use zero.
    pub async fn consume(&self, count: usize, block: Duration) -> Result<Vec<QueuedEvent>, QueueError> {
        let mut c = self.conn.clone();
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(&self.o.group).arg(&self.o.consumer).arg("COUNT").arg(count.max(1));
        if !block.is_zero() {
            cmd.arg("BLOCK").arg(block.as_millis() as u64);
        }
        let reply: Option<StreamReadReply> =
            cmd.arg("STREAMS").arg(&self.o.stream).arg(">").query_async(&mut c).await?;
        Ok(reply.map(|r| r.keys.into_iter().flat_map(|k| parse_entries(k.ids)).collect()).unwrap_or_default())
    }

    /// Acknowledge delivered events; returns how many were pending.
    pub async fn ack(&self, ids: &[String]) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut c = self.conn.clone();
        let n: u64 = redis::cmd("XACK").arg(&self.o.stream).arg(&self.o.group).arg(ids).query_async(&mut c).await?;
        Ok(n)
    }

    /// Acknowledge delivered (or abandoned) events and delete them from the
    /// stream, so that `max_len` bounds only the events not yet delivered.
    pub async fn remove(&self, ids: &[String]) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("XACK").arg(&self.o.stream).arg(&self.o.group).arg(ids).ignore();
        pipe.cmd("XDEL").arg(&self.o.stream).arg(ids).ignore();
        let () = pipe.query_async(&mut c).await?;
        Ok(())
    }

    /// Tell the group this consumer is still working on `ids` (their idle
    /// time restarts), so that no other consumer claims them while it
    /// retries a slow delivery.
    pub async fn keep(&self, ids: &[String]) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let _: redis::Value = redis::cmd("XCLAIM")
            .arg(&self.o.stream)
            .arg(&self.o.group)
            .arg(&self.o.consumer)
            .arg(0)
            .arg(ids)
            .arg("JUSTID")
            .query_async(&mut c)
            .await?;
        Ok(())
    }

    /// The time an event was enqueued (ms since the Unix epoch), from its id.
    pub fn enqueued_ms(id: &str) -> Option<u64> {
        id.split('-').next().and_then(|ms| ms.parse().ok())
    }

    /// Take over up to `count` events another consumer took but has not
    /// acknowledged for `claim_after` (it died mid-send).
    pub async fn claim_stale(&self, count: usize) -> Result<Vec<QueuedEvent>, QueueError> {
        let mut c = self.conn.clone();
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.o.stream)
            .arg(&self.o.group)
            .arg(&self.o.consumer)
            .arg(self.o.claim_after.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(count.max(1))
            .query_async(&mut c)
            .await?;
        Ok(parse_entries(reply.claimed))
    }

    /// Events taken by some consumer and not yet acknowledged.
    pub async fn pending(&self) -> Result<u64, QueueError> {
        let mut c = self.conn.clone();
        let v: redis::Value = redis::cmd("XPENDING").arg(&self.o.stream).arg(&self.o.group).query_async(&mut c).await?;
        match v {
            redis::Value::Array(parts) => match parts.first() {
                Some(redis::Value::Int(n)) => Ok(*n as u64),
                _ => Err(QueueError("unexpected XPENDING reply".into())),
            },
            _ => Err(QueueError("unexpected XPENDING reply".into())),
        }
    }
}
