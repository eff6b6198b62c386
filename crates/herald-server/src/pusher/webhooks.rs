//! Webhooks: each app with a `webhook_url` gets a sender that POSTs
//! Pusher's webhook body (`{"time_ms", "events": […]}`) signed with
//! `X-Pusher-Key` and `X-Pusher-Signature` (hex HMAC-SHA256 of the body with
//! the app's secret), `Content-Type: application/json` exactly (the pusher
//! SDK's validator refuses anything else). Events are batched as they
//! queue; a failed batch is retried with exponential back-off (1 s doubling
//! to 60 s) for up to `webhook_retry_secs` (Pusher: 5 minutes).
//!
//! Two senders, one behaviour:
//! - in-process (one node): a bounded in-memory queue (`webhook_queue_max`;
//!   past it events are dropped and counted in
//!   `herald_pusher_webhooks_dropped_total`) and a task that delivers in order;
//! - durable (`[broker]` configured): events go to a Redis Stream every node
//!   consumes ([`super::webhook_queue`]), so an event outlives the node that
//!   produced it. At-least-once: after a crash a batch may arrive twice.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::sync::mpsc;

use super::config::{PusherAppConfig, PusherConfig};
use super::signature;
use super::webhook_queue::{self, DurableQueue};
use crate::http_client::HttpClient;

/// Queues one app's webhook events for its sender.
pub struct WebhookSender {
    tx: mpsc::Sender<serde_json::Value>,
}

impl WebhookSender {
    /// Start the sender for `app`, posting to `url`: through the durable
    /// queue when `durable` is given, in-process otherwise.
    pub fn start(
        cfg: &PusherConfig,
        app: &PusherAppConfig,
        url: &str,
        http: HttpClient,
        durable: Option<&DurableQueue>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(cfg.webhook_queue_max.max(1));
        let target = Arc::new(Target {
            url: url.to_string(),
            key: app.key.clone(),
            secret: app.secret.clone(),
            http,
            timeout: Duration::from_millis(cfg.webhook_timeout_ms.max(1)),
            retry_for: Duration::from_secs(cfg.webhook_retry_secs),
            batch_max: cfg.webhook_batch_max.max(1),
        });
        match durable {
            Some(d) => webhook_queue::start(d, cfg, &app.id, target, rx),
            None => {
                tokio::spawn(run_in_process(target, rx));
            }
        }
        Self { tx }
    }

    /// Queue an event (never blocks; dropped when the queue is full).
    pub fn send(&self, event: serde_json::Value) {
        if self.tx.try_send(event).is_err() {
            metrics::counter!("herald_pusher_webhooks_dropped_total").increment(1);
            tracing::warn!("pusher webhook queue full: event dropped");
        }
    }
}

/// Where and how one app's webhooks are posted.
pub(crate) struct Target {
    pub(crate) url: String,
    key: String,
    secret: String,
    http: HttpClient,
    timeout: Duration,
    pub(crate) retry_for: Duration,
    pub(crate) batch_max: usize,
}

/// The back-off before retry number `attempt` (0-based): 1 s doubling to 60 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(6)).min(Duration::from_secs(60))
}

/// One attempt's outcome.
pub(crate) enum Posted {
    /// 2xx.
    Accepted,
    /// Refused or failed: retry later.
    Failed,
    /// The URL cannot make a request: never retry.
    Unusable,
}

impl Target {
    /// The webhook body for `events`.
    pub(crate) fn body(events: &[serde_json::Value]) -> Bytes {
        let body = serde_json::json!({ "time_ms": herald_core::now_ms(), "events": events });
        Bytes::from(body.to_string())
    }

    /// POST `body` once.
    pub(crate) async fn post(&self, body: &Bytes) -> Posted {
        let req = http::Request::post(&self.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("X-Pusher-Key", &self.key)
            .header("X-Pusher-Signature", signature::sign(&self.secret, body))
            .body(Full::new(body.clone()));
        let req = match req {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, url = %self.url, "pusher webhook URL is unusable");
                return Posted::Unusable;
            }
        };
        match self.http.send(req, self.timeout).await {
            Ok((status, _)) if status.is_success() => {
                metrics::counter!("herald_pusher_webhooks_sent_total").increment(1);
                Posted::Accepted
            }
            Ok((status, _)) => {
                tracing::debug!(%status, url = %self.url, "pusher webhook refused; will retry");
                Posted::Failed
            }
            Err(e) => {
                tracing::debug!(error = %e, url = %self.url, "pusher webhook failed; will retry");
                Posted::Failed
            }
        }
    }

    /// POST `body` until it is accepted (2xx) or the retry time is over.
    async fn deliver(&self, body: Bytes) {
        let started = tokio::time::Instant::now();
        let mut attempt = 0;
        loop {
            match self.post(&body).await {
                Posted::Accepted | Posted::Unusable => return,
                Posted::Failed => {}
            }
            let wait = backoff(attempt);
            if started.elapsed() + wait > self.retry_for {
                metrics::counter!("herald_pusher_webhooks_failed_total").increment(1);
                tracing::warn!(url = %self.url, "pusher webhook given up after retries");
                return;
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// The in-process sender: batches as events queue, delivers in order.
async fn run_in_process(target: Arc<Target>, mut rx: mpsc::Receiver<serde_json::Value>) {
    let mut events = Vec::new();
    while rx.recv_many(&mut events, target.batch_max).await > 0 {
        target.deliver(Target::body(&events)).await;
        events.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute() {
        let secs: Vec<u64> = (0..8).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
