//! The durable webhook sender (with a `[broker]`): an app's webhook events
//! go to a Redis Stream (`{key_prefix}:webhooks:{app id}`, consumer group
//! `webhooks`) and every node consumes it as consumer `{node id}`. A batch
//! is acknowledged (and deleted) only after a 2xx, or when its oldest event
//! is older than `webhook_retry_secs` (given up, counted). While a node
//! retries a batch it keeps claiming it, so nobody else takes it; a batch a
//! node took and never finished (killed) is claimed by another node once
//! idle for `webhook_claim_after_secs`, and sent again: at-least-once.
//!
//! The stream holds at most about `webhook_queue_max` undelivered events
//! (the oldest are trimmed past it). Order holds per node, not across
//! nodes: two nodes may deliver batches of one app at the same time.

use std::sync::Arc;
use std::time::Duration;

use herald_redis::{EventQueue, EventQueueOptions, QueuedEvent, RedisBroker};
use tokio::sync::{Notify, mpsc};

use super::config::PusherConfig;
use super::webhooks::{Posted, Target, backoff};

/// What the durable senders share: the broker's Redis connection (for
/// non-blocking commands only), key prefix and node id (the consumer name).
#[derive(Clone)]
pub struct DurableQueue {
    /// The cluster's broker.
    pub broker: Arc<RedisBroker>,
}

/// Start app `app_id`'s durable sender: the enqueuer (events from `rx` into
/// the stream) and the consumer (stream → POSTs).
pub(crate) fn start(
    d: &DurableQueue,
    cfg: &PusherConfig,
    app_id: &str,
    target: Arc<Target>,
    rx: mpsc::Receiver<serde_json::Value>,
) {
    let o = EventQueueOptions {
        stream: d.broker.keys().webhooks(app_id),
        group: "webhooks".to_string(),
        consumer: d.broker.node_id().to_string(),
        max_len: cfg.webhook_queue_max.max(1),
        claim_after: Duration::from_secs(cfg.webhook_claim_after_secs.max(1)),
    };
    let poll = Duration::from_millis(cfg.webhook_poll_ms.max(10));
    let broker = d.broker.clone();
    tokio::spawn(async move {
        let queue = Arc::new(open(&broker, o).await);
        let wake = Arc::new(Notify::new());
        tokio::spawn(enqueue(queue.clone(), rx, wake.clone()));
        consume(queue, target, wake, poll).await;
    });
}

/// Open the queue, retrying until Redis answers.
async fn open(broker: &RedisBroker, o: EventQueueOptions) -> EventQueue {
    let mut attempt = 0;
    loop {
        match EventQueue::open(broker.connection(), o.clone()).await {
            Ok(q) => return q,
            Err(e) => tracing::warn!(error = %e, stream = %o.stream, "webhook queue unavailable; retrying"),
        }
        tokio::time::sleep(backoff(attempt).min(Duration::from_secs(5))).await;
        attempt += 1;
    }
}

/// Move events from this node into the stream, in order; while Redis is
/// away they wait in the (bounded) channel.
async fn enqueue(queue: Arc<EventQueue>, mut rx: mpsc::Receiver<serde_json::Value>, wake: Arc<Notify>) {
    let mut events = Vec::new();
    while rx.recv_many(&mut events, 256).await > 0 {
        for event in events.drain(..) {
            let payload = event.to_string();
            let mut attempt = 0;
            while let Err(e) = queue.enqueue(payload.as_bytes()).await {
                tracing::warn!(error = %e, "webhook event not queued in Redis yet; retrying");
                tokio::time::sleep(backoff(attempt).min(Duration::from_secs(5))).await;
                attempt += 1;
            }
        }
        wake.notify_one();
    }
}

/// Take batches (first those a dead node left, then new ones) and deliver them.
async fn consume(queue: Arc<EventQueue>, target: Arc<Target>, wake: Arc<Notify>, poll: Duration) {
    loop {
        let batch = match next_batch(&queue, target.batch_max).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "webhook queue unavailable");
                Vec::new()
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
            continue;
        }
        deliver(&queue, &target, batch).await;
    }
}

async fn next_batch(queue: &EventQueue, max: usize) -> Result<Vec<QueuedEvent>, herald_redis::event_queue::QueueError> {
    let claimed = queue.claim_stale(max).await?;
    if !claimed.is_empty() {
        tracing::info!(events = claimed.len(), "webhook events of a stopped node taken over");
        return Ok(claimed);
    }
    queue.consume(max, Duration::ZERO).await
}

/// POST one batch until a 2xx or until its oldest event is past the retry
/// time; then remove it from the stream.
async fn deliver(queue: &EventQueue, target: &Target, batch: Vec<QueuedEvent>) {
    let ids: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
    let events: Vec<serde_json::Value> = batch.iter().filter_map(|e| serde_json::from_slice(&e.payload).ok()).collect();
    let oldest = ids.iter().filter_map(|id| EventQueue::enqueued_ms(id)).min().unwrap_or_else(herald_core::now_ms);
    let body = Target::body(&events);
    let mut attempt = 0;
    loop {
        match target.post(&body).await {
            Posted::Accepted | Posted::Unusable => break,
            Posted::Failed => {}
        }
        let wait = backoff(attempt);
        let age = Duration::from_millis(herald_core::now_ms().saturating_sub(oldest));
        if age + wait > target.retry_for {
            metrics::counter!("herald_pusher_webhooks_failed_total").increment(1);
            tracing::warn!(url = %target.url, events = ids.len(), "pusher webhook given up after retries");
            break;
        }
        keep_while_waiting(queue, &ids, wait).await;
        attempt += 1;
    }
    if let Err(e) = queue.remove(&ids).await {
        // Left pending: another node (or this one) may send it again later.
        tracing::warn!(error = %e, "delivered webhook events not acknowledged");
    }
}

/// Sleep `wait`, re-claiming `ids` often enough that no other node takes them.
async fn keep_while_waiting(queue: &EventQueue, ids: &[String], wait: Duration) {
    let step = queue_claim_step(queue);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Err(e) = queue.keep(ids).await {
            tracing::debug!(error = %e, "could not renew the claim on webhook events");
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return;
        }
        tokio::time::sleep((deadline - now).min(step)).await;
    }
}

/// A third of the claim time: renewals well before anyone may claim.
fn queue_claim_step(queue: &EventQueue) -> Duration {
    (queue.claim_after() / 3).max(Duration::from_millis(100))
}
