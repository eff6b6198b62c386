//! `ChangePublisher`: each change becomes an ordinary publication on
//! `{namespace}:{schema}.{table}`, published as the server through the hub
//! (so through the broker: stored, then delivered). Its idempotency key is
//! the change's position (`pg:<commit LSN>:<index>`), and the last position
//! published on each channel is read back from history the first time the
//! channel is touched after a (re)connect: a change PostgreSQL replays
//! because its confirmation had not reached it before a crash is skipped,
//! so no offset is used twice for one change.

use std::collections::HashMap;
use std::sync::Arc;

use herald_changes::{ChangeEvent, ChangeId};
use herald_core::{Caller, ChannelName, Direction, HeraldError, HistoryQuery, Hub, Payload};

/// What happened to one change.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Published now.
    Published,
    /// Already in history (a replay after a crash).
    AlreadyPublished,
    /// Could not be published for good (name not a valid channel, too large…).
    Skipped,
}

/// Publishes changes through the hub, once each.
pub struct ChangePublisher {
    hub: Arc<Hub>,
    namespace: String,
    last: HashMap<ChannelName, Option<ChangeId>>,
}

impl ChangePublisher {
    /// A publisher on `namespace`'s channels.
    pub fn new(hub: Arc<Hub>, namespace: &str) -> Self {
        Self { hub, namespace: namespace.to_string(), last: HashMap::new() }
    }

    /// The channel of `schema.table`.
    pub fn channel(&self, schema: &str, table: &str) -> Result<ChannelName, HeraldError> {
        ChannelName::new(&format!("{}:{schema}.{table}", self.namespace))
    }

    /// Publish `change` unless it already is. A temporary error (store or
    /// broker unavailable) is returned: the caller reconnects and PostgreSQL
    /// replays from the last confirmed position.
    pub async fn publish(&mut self, change: &ChangeEvent) -> Result<Outcome, HeraldError> {
        let channel = match self.channel(&change.schema, &change.table) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(schema = %change.schema, table = %change.table, error = %e, "table name is not a valid channel name; change skipped");
                return Ok(Outcome::Skipped);
            }
        };
        let last = match self.last.get(&channel) {
            Some(last) => *last,
            None => {
                let last = self.last_published(&channel).await?;
                self.last.insert(channel.clone(), last);
                last
            }
        };
        if last.is_some_and(|l| change.id <= l) {
            return Ok(Outcome::AlreadyPublished);
        }
        let payload = Payload::from_value(&change.body);
        let key: Arc<str> = Arc::from(change.id.key());
        match self.hub.publish(Caller::Server, channel.clone(), payload, Some(key)).await {
            Ok(_) => {
                self.last.insert(channel, Some(change.id));
                Ok(Outcome::Published)
            }
            Err(e) if e.code.temporary() => Err(e),
            Err(e) => {
                tracing::error!(%channel, error = %e, "change cannot be published; skipped");
                metrics::counter!("herald_changes_skipped_total").increment(1);
                Ok(Outcome::Skipped)
            }
        }
    }

    /// The position of the newest change in `channel`'s history.
    async fn last_published(&self, channel: &ChannelName) -> Result<Option<ChangeId>, HeraldError> {
        let query = HistoryQuery { since: None, before: None, limit: 1, direction: Direction::Backward };
        let page = self.hub.history(Caller::Server, channel, query).await?;
        Ok(page.publications.first().and_then(|p| p.idempotency_key.as_deref()).and_then(ChangeId::from_key))
    }
}
