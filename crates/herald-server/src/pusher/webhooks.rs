//! Webhooks: each app with a `webhook_url` gets a sender task that POSTs
//! Pusher's webhook body (`{"time_ms", "events": […]}`) signed with
//! `X-Pusher-Key` and `X-Pusher-Signature` (hex HMAC-SHA256 of the body with
//! the app's secret), `Content-Type: application/json` exactly (the pusher
//! SDK's validator refuses anything else). Events are batched as they
//! queue; a failed batch is retried with exponential back-off (1 s doubling
//! to 60 s) for up to `webhook_retry_secs` (Pusher: 5 minutes), in order.
//! The queue is bounded (`webhook_queue_max`): past it events are dropped
//! and counted in `herald_pusher_webhooks_dropped_total`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::sync::mpsc;

use super::config::{PusherAppConfig, PusherConfig};
use super::signature;
use crate::http_client::HttpClient;

/// Queues one app's webhook events for its sender task.
pub struct WebhookSender {
    tx: mpsc::Sender<serde_json::Value>,
}

impl WebhookSender {
    /// Start the sender task for `app`, posting to `url`.
    pub fn start(cfg: &PusherConfig, app: &PusherAppConfig, url: &str, http: HttpClient) -> Self {
        let (tx, rx) = mpsc::channel(cfg.webhook_queue_max.max(1));
        let target = Target {
            url: url.to_string(),
            key: app.key.clone(),
            secret: app.secret.clone(),
            http,
            timeout: Duration::from_millis(cfg.webhook_timeout_ms.max(1)),
            retry_for: Duration::from_secs(cfg.webhook_retry_secs),
            batch_max: cfg.webhook_batch_max.max(1),
        };
        tokio::spawn(target.run(rx));
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

struct Target {
    url: String,
    key: String,
    secret: String,
    http: HttpClient,
    timeout: Duration,
    retry_for: Duration,
    batch_max: usize,
}

impl Target {
    async fn run(self, mut rx: mpsc::Receiver<serde_json::Value>) {
        let mut events = Vec::new();
        while rx.recv_many(&mut events, self.batch_max).await > 0 {
            let body = serde_json::json!({ "time_ms": herald_core::now_ms(), "events": events });
            self.deliver(Bytes::from(body.to_string())).await;
            events.clear();
        }
    }

    /// POST `body` until it is accepted (2xx) or the retry time is over.
    async fn deliver(&self, body: Bytes) {
        let signature = signature::sign(&self.secret, &body);
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_secs(1);
        loop {
            let req = http::Request::post(&self.url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header("X-Pusher-Key", &self.key)
                .header("X-Pusher-Signature", &signature)
                .body(Full::new(body.clone()));
            let req = match req {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, url = %self.url, "pusher webhook URL is unusable");
                    return;
                }
            };
            match self.http.send(req, self.timeout).await {
                Ok((status, _)) if status.is_success() => {
                    metrics::counter!("herald_pusher_webhooks_sent_total").increment(1);
                    return;
                }
                Ok((status, _)) => tracing::debug!(%status, "pusher webhook refused; will retry"),
                Err(e) => tracing::debug!(error = %e, "pusher webhook failed; will retry"),
            }
            if started.elapsed() + backoff > self.retry_for {
                metrics::counter!("herald_pusher_webhooks_failed_total").increment(1);
                tracing::warn!(url = %self.url, "pusher webhook given up after retries");
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
}
