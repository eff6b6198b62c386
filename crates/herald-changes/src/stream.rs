//! The replication stream: `START_REPLICATION SLOT … LOGICAL … (pgoutput)`
//! through `pgwire-replication`, whose worker task keeps the connection,
//! answers keepalives and sends standby status updates with the position we
//! confirm. Each XLogData body goes through the [`ChangeDecoder`].
//!
//! Confirming: the caller calls [`ReplicationStream::confirm`] with a
//! transaction's end LSN only after every change of it is durable; PostgreSQL
//! then may recycle the WAL before it, and a restart resumes right after it.

use std::time::Duration;

use pgwire_replication::client::{ReplicationClient, ReplicationEvent};
use pgwire_replication::config::{ReplicationConfig, TlsConfig};
use pgwire_replication::lsn::Lsn as WireLsn;

use crate::decoder::{ChangeDecoder, ChangeError, ChangeEvent, Decoded, TableColumns};
use crate::pgoutput::{Lsn, Message};
use crate::url::PgUrl;

/// What the stream produced.
#[derive(Debug)]
pub enum StreamItem {
    /// A table's description (new, or changed by DDL).
    Relation(TableColumns),
    /// Changes to publish, in order.
    Changes(Vec<ChangeEvent>),
    /// A transaction ended at `end_lsn`: confirm it once its changes are durable.
    Committed {
        /// End of the commit record.
        end_lsn: Lsn,
    },
    /// No transaction is open and the server has sent everything before
    /// `wal_end` (a keepalive): confirm it once every earlier change is durable,
    /// so that WAL of tables outside the publication does not pile up.
    Idle {
        /// The server's send position.
        wal_end: Lsn,
    },
}

/// Why the stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The replication connection failed or PostgreSQL ended it.
    #[error("replication connection: {0}")]
    Connection(String),
    /// A message could not be decoded.
    #[error(transparent)]
    Decode(#[from] ChangeError),
}

/// Replication stream options. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// How often the confirmed position is reported to PostgreSQL. Default 1 s.
    pub status_interval: Duration,
    /// Events buffered between the connection task and the consumer. Default 1024.
    pub buffer_events: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self { status_interval: Duration::from_secs(1), buffer_events: 1024 }
    }
}

/// A running replication stream.
pub struct ReplicationStream {
    client: ReplicationClient,
    decoder: ChangeDecoder,
}

impl ReplicationStream {
    /// Start streaming `slot` for `publication`, from `start` (the slot's
    /// confirmed position).
    pub async fn start(
        url: &PgUrl,
        publication: &str,
        slot: &str,
        start: Lsn,
        options: &StreamOptions,
    ) -> Result<ReplicationStream, StreamError> {
        // TLS on the replication connection is not built in yet (see docs/changes.md).
        if !matches!(url.sslmode.as_str(), "disable" | "allow" | "prefer") {
            return Err(StreamError::Connection(format!(
                "sslmode={} is not supported by the change feed yet (the replication connection is plaintext); use sslmode=disable on a trusted network",
                url.sslmode
            )));
        }
        let tls = TlsConfig::disabled();
        let cfg = ReplicationConfig::new(
            url.host.clone(),
            url.user.clone(),
            url.password.clone(),
            url.database.clone(),
            slot.to_string(),
            publication.to_string(),
        )
        .with_port(url.port)
        .with_tls(tls)
        .with_start_lsn(WireLsn::from_u64(start))
        .with_status_interval(options.status_interval)
        .with_buffer_size(options.buffer_events.max(1))
        // Timestamps in ISO form and UTC, whatever the server's defaults.
        .with_options("-c DateStyle=ISO -c TimeZone=UTC -c extra_float_digits=3");
        let client = ReplicationClient::connect(cfg).await.map_err(|e| StreamError::Connection(e.to_string()))?;
        Ok(ReplicationStream { client, decoder: ChangeDecoder::new() })
    }

    /// The next item; `Ok(None)` when the stream ended normally.
    pub async fn next(&mut self) -> Result<Option<StreamItem>, StreamError> {
        loop {
            let event = self.client.recv().await.map_err(|e| StreamError::Connection(e.to_string()))?;
            let Some(event) = event else { return Ok(None) };
            let decoded = match event {
                ReplicationEvent::Begin { final_lsn, commit_time_micros, xid } => self
                    .decoder
                    .handle(Message::Begin { final_lsn: final_lsn.as_u64(), commit_time: commit_time_micros, xid })?,
                ReplicationEvent::Commit { lsn, end_lsn, commit_time_micros } => {
                    self.decoder.handle(Message::Commit {
                        commit_lsn: lsn.as_u64(),
                        end_lsn: end_lsn.as_u64(),
                        commit_time: commit_time_micros,
                    })?
                }
                ReplicationEvent::XLogData { data, .. } => self.decoder.decode(&data)?,
                ReplicationEvent::KeepAlive { wal_end, .. } if !self.decoder.in_transaction() => {
                    return Ok(Some(StreamItem::Idle { wal_end: wal_end.as_u64() }));
                }
                _ => continue,
            };
            match decoded {
                Decoded::Nothing => continue,
                Decoded::Relation(t) => return Ok(Some(StreamItem::Relation(t))),
                Decoded::Changes(c) if c.is_empty() => continue,
                Decoded::Changes(c) => return Ok(Some(StreamItem::Changes(c))),
                Decoded::Committed { end_lsn } => return Ok(Some(StreamItem::Committed { end_lsn })),
            }
        }
    }

    /// Everything before `lsn` is durable: PostgreSQL may release it (sent
    /// with the next status update).
    pub fn confirm(&self, lsn: Lsn) {
        self.client.update_applied_lsn(WireLsn::from_u64(lsn));
    }

    /// End the stream (CopyDone), waiting briefly for the worker.
    pub async fn stop(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.shutdown()).await;
    }
}
