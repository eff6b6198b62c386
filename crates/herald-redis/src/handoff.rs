//! `Handoffs`: short-lived values one node leaves for any node of the
//! cluster to take, once. The Ably door leaves a dropped connection's
//! resume state here, so a client that comes back through another node
//! keeps its connectionId; taking it removes it (MULTI GET + DEL), so a
//! connection is resumed at most once.

use std::sync::Arc;
use std::time::Duration;

use herald_core::HeraldError;

use crate::RedisBroker;

/// Values handed from node to node, expiring.
#[derive(Clone)]
pub struct Handoffs {
    broker: Arc<RedisBroker>,
}

impl Handoffs {
    /// Handoffs on `broker`'s Redis, under its prefix.
    pub fn new(broker: Arc<RedisBroker>) -> Self {
        Self { broker }
    }

    /// Leave `value` as `kind`/`id` for `ttl`.
    pub async fn put(&self, kind: &str, id: &str, value: &str, ttl: Duration) -> Result<(), HeraldError> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut pipe = redis::pipe();
        pipe.cmd("SET").arg(self.broker.keys().handoff(kind, id)).arg(value).arg("PX").arg(ms).ignore();
        self.broker.query::<()>(pipe).await
    }

    /// Take `kind`/`id`: its value, if it is there and has not expired; it is gone afterwards.
    pub async fn take(&self, kind: &str, id: &str) -> Result<Option<String>, HeraldError> {
        let key = self.broker.keys().handoff(kind, id);
        let mut pipe = redis::pipe();
        pipe.atomic().get(&key).del(&key).ignore();
        let (value,): (Option<String>,) = self.broker.query(pipe).await?;
        Ok(value)
    }

    /// Remove `kind`/`id`.
    pub async fn remove(&self, kind: &str, id: &str) -> Result<(), HeraldError> {
        let mut pipe = redis::pipe();
        pipe.del(self.broker.keys().handoff(kind, id)).ignore();
        self.broker.query::<()>(pipe).await
    }
}
