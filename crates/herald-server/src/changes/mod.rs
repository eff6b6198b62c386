//! The database change feed (`[changes]`, `docs/changes.md`): a background
//! task that prepares PostgreSQL (checks, publication, permanent slot),
//! streams the slot, publishes each change through the hub on
//! `{namespace}:{schema}.{table}`, and confirms a transaction's end to
//! PostgreSQL only after every change of it was published (the broker
//! answers a publish once it is durably stored). A restart, crash or lost
//! connection resumes from the last confirmed position; replayed changes
//! already in history are skipped ([`publisher`]). Reconnects with backoff.

pub mod catalog;
pub mod publisher;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use herald_changes::setup::{AdminConnection, FeedSettings, SetupError};
use herald_changes::stream::{ReplicationStream, StreamItem, StreamOptions};
use herald_changes::url::PgUrl;
use herald_core::{Hub, NamespaceOptions};

use crate::config::ChangesConfig;
use catalog::TableCatalog;
use publisher::{ChangePublisher, Outcome};
use status::FeedStatus;

/// Shortest wait before reconnecting, ms.
const RECONNECT_MIN_DELAY_MS: u64 = 250;

/// A running change feed.
pub struct ChangeFeed {
    /// Health for `/readyz` and `/metrics`.
    pub status: Arc<FeedStatus>,
    /// Published tables' columns (the hub checks filters against it).
    pub catalog: Arc<TableCatalog>,
    task: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ChangeFeed {
    /// Start the feed's task for `config` (which has a `url`), publishing through `hub`.
    pub fn start(config: &ChangesConfig, url: String, hub: Arc<Hub>) -> Arc<ChangeFeed> {
        let status = Arc::new(FeedStatus::new(config.max_lag_bytes));
        let catalog = Arc::new(TableCatalog::new(&config.namespace));
        hub.set_column_catalog(catalog.clone());
        let feed = Arc::new(ChangeFeed { status, catalog, task: parking_lot::Mutex::new(None) });
        let task = tokio::spawn(run(config.clone(), url, Arc::downgrade(&hub), feed.clone()));
        *feed.task.lock() = Some(task);
        feed
    }

    /// Stop streaming (shutdown). Unconfirmed changes are replayed on the next start.
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
    }
}

/// The options of the change channels' namespace when the configuration
/// does not name it: history kept (recovery and replay detection need it),
/// clients may not publish (only the database does).
pub fn default_namespace_options() -> NamespaceOptions {
    NamespaceOptions { allow_client_publish: false, ..NamespaceOptions::default() }
}

/// Why one streaming session ended.
#[derive(Debug, thiserror::Error)]
enum FeedError {
    #[error("change feed: {0}")]
    Setup(#[from] SetupError),
    #[error("change feed: {0}")]
    Stream(#[from] herald_changes::stream::StreamError),
    #[error("change feed: publishing failed: {0}; reconnecting to replay from the last confirmed position")]
    Publish(herald_core::HeraldError),
    #[error(
        "change feed: replication slot {0} was dropped while Herald streamed; changes made until it is recreated are lost"
    )]
    SlotDropped(String),
    #[error("change feed: slot {0} is in use by another connection (another Herald node?); retrying")]
    SlotBusy(String),
    #[error("change feed: {0}")]
    Config(String),
}

async fn run(config: ChangesConfig, url: String, hub: std::sync::Weak<Hub>, feed: Arc<ChangeFeed>) {
    let mut delay = RECONNECT_MIN_DELAY_MS;
    loop {
        let Some(strong) = hub.upgrade() else { return };
        let result = session(&config, &url, strong, &feed).await;
        let streamed = match result {
            Ok(streamed) => {
                feed.status.set_problem("change feed: the replication stream ended; reconnecting".to_string());
                streamed
            }
            Err((e, streamed)) => {
                tracing::error!(error = %e, "change feed stopped");
                feed.status.set_problem(e.to_string());
                streamed
            }
        };
        if streamed {
            delay = RECONNECT_MIN_DELAY_MS;
        }
        tokio::time::sleep(Duration::from_millis(delay)).await;
        delay = (delay * 2).min(config.reconnect_max_delay_ms.max(RECONNECT_MIN_DELAY_MS));
    }
}

/// One connection: prepare, stream, publish, confirm. `Ok(true)`/`Err((_, true))`
/// when it got as far as streaming (the backoff restarts).
async fn session(
    config: &ChangesConfig,
    url: &str,
    hub: Arc<Hub>,
    feed: &ChangeFeed,
) -> Result<bool, (FeedError, bool)> {
    let early = |e: FeedError| (e, false);
    let pg = PgUrl::parse(url).map_err(|e| early(FeedError::Config(e)))?;
    let mut admin = AdminConnection::connect(url).await.map_err(|e| early(e.into()))?;
    admin.check().await.map_err(|e| early(e.into()))?;
    let settings = FeedSettings {
        publication: config.publication.clone(),
        slot: config.slot.clone(),
        tables: config.tables.clone(),
    };
    admin.ensure_publication(&settings).await.map_err(|e| early(e.into()))?;
    let slot = admin.ensure_slot(&config.slot).await.map_err(|e| early(e.into()))?;
    if slot.active {
        return Err(early(FeedError::SlotBusy(config.slot.clone())));
    }
    feed.catalog.replace(admin.published_tables(&config.publication).await.map_err(|e| early(e.into()))?);
    let options = StreamOptions {
        status_interval: Duration::from_millis(config.status_interval_ms.max(100)),
        ..StreamOptions::default()
    };
    let mut stream = ReplicationStream::start(&pg, &config.publication, &config.slot, slot.confirmed_flush, &options)
        .await
        .map_err(|e| early(e.into()))?;
    let span = tracing::info_span!("change_feed", slot = %config.slot, publication = %config.publication);
    tracing::info!(parent: &span, start = %herald_changes::setup::format_lsn(slot.confirmed_flush), "change feed streaming");
    feed.status.set_connected(true);
    feed.status.set_confirmed(slot.confirmed_flush);
    let mut publisher = ChangePublisher::new(hub, &config.namespace);
    let result = pump(config, &mut stream, &mut admin, &mut publisher, feed).await;
    stream.stop().await;
    result.map(|()| true).map_err(|e| (e, true))
}

async fn pump(
    config: &ChangesConfig,
    stream: &mut ReplicationStream,
    admin: &mut AdminConnection,
    publisher: &mut ChangePublisher,
    feed: &ChangeFeed,
) -> Result<(), FeedError> {
    let mut lag_check = tokio::time::interval(Duration::from_secs(config.lag_check_secs.max(1)));
    loop {
        tokio::select! {
            item = stream.next() => {
                let Some(item) = item? else { return Ok(()) };
                match item {
                    StreamItem::Relation(table) => feed.catalog.update(table),
                    StreamItem::Changes(changes) => {
                        for change in &changes {
                            match publisher.publish(change).await.map_err(FeedError::Publish)? {
                                Outcome::Published => metrics::counter!("herald_changes_events_total").increment(1),
                                Outcome::AlreadyPublished => {
                                    metrics::counter!("herald_changes_replayed_total").increment(1)
                                }
                                Outcome::Skipped => {}
                            }
                        }
                    }
                    // Every change before it was published (in order, awaited).
                    StreamItem::Committed { end_lsn: lsn } | StreamItem::Idle { wal_end: lsn } => {
                        if lsn > feed.status.confirmed() {
                            stream.confirm(lsn);
                            feed.status.set_confirmed(lsn);
                        }
                    }
                }
            }
            _ = lag_check.tick() => {
                match admin.lag_bytes(&config.slot).await? {
                    None => return Err(FeedError::SlotDropped(config.slot.clone())),
                    Some(lag) => {
                        feed.status.set_lag(lag);
                        if lag > config.max_lag_bytes {
                            tracing::error!(lag, max = config.max_lag_bytes, slot = %config.slot, "change feed slot lag is over max_lag_bytes");
                        }
                    }
                }
            }
        }
    }
}
