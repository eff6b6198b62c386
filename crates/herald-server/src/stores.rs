//! The durable store the configuration names: `MemoryStore` with
//! `--ephemeral`, `PostgresStore` with a `[store] url` (state shared by every
//! node on the same database and schema), `SqliteStore` in `data_dir`
//! otherwise. One store backs history, read marks, inboxes and
//! collaborative documents.

use std::sync::Arc;
use std::time::Duration;

use herald_core::{DocumentStore, HistoryStore, HubStores, MemoryStore};
use herald_store::{PostgresOptions, PostgresStore, SqliteOptions, SqliteStore};

use crate::app::StartError;
use crate::config::Config;

/// The opened store, seen through each trait its users need.
pub struct OpenedStores {
    /// History, for the broker.
    pub history: Arc<dyn HistoryStore>,
    /// Read state and inboxes, for the hub.
    pub hub: HubStores,
    /// Collaborative documents.
    pub documents: Arc<dyn DocumentStore>,
}

/// Open the configured store.
pub async fn open(config: &Config) -> Result<OpenedStores, StartError> {
    if let Some(url) = &config.store.url {
        if config.ephemeral {
            return Err(StartError::Config(
                "--ephemeral keeps state in memory and cannot be combined with a PostgreSQL store ([store] url, \
                 --store, HERALD_STORE)"
                    .into(),
            ));
        }
        let opts = PostgresOptions {
            schema: config.store.schema.clone(),
            max_connections: config.store.max_connections.max(1),
            acquire_timeout: Duration::from_secs(config.store.acquire_timeout_secs.max(1)),
            statement_timeout: Duration::from_secs(config.store.statement_timeout_secs.max(1)),
        };
        let store = Arc::new(PostgresStore::connect(url, opts).await.map_err(|e| StartError::Postgres(e.0))?);
        let hub = HubStores { read_state: store.clone(), inbox: store.clone() };
        return Ok(OpenedStores { history: store.clone(), hub, documents: store });
    }
    if config.ephemeral {
        let m = Arc::new(MemoryStore::new());
        let hub = HubStores { read_state: m.clone(), inbox: m.clone() };
        return Ok(OpenedStores { history: m.clone(), hub, documents: m });
    }
    let store = SqliteStore::open(&config.data_dir, SqliteOptions::default())
        .await
        .map_err(|e| StartError::Store { dir: config.data_dir.display().to_string(), message: e.to_string() })?;
    let s = Arc::new(store);
    let hub = HubStores { read_state: s.clone(), inbox: s.clone() };
    Ok(OpenedStores { history: s.clone(), hub, documents: s })
}

/// Where state lives, for the startup log (no password).
pub fn describe(config: &Config) -> String {
    match (&config.store.url, config.ephemeral) {
        (Some(url), _) => format!("{} (schema {})", redact_password(url), config.store.schema),
        (None, true) => "memory (ephemeral)".to_string(),
        (None, false) => config.data_dir.display().to_string(),
    }
}

/// `url` with the password (if any) replaced by `***`, for logs and `Debug`.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_string() };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_password("postgres://h:s3cret@db:5432/app"), "postgres://h:***@db:5432/app");
        assert_eq!(redact_password("postgres://h:p@ss@db/app"), "postgres://h:***@db/app");
        assert_eq!(redact_password("postgres://h@db/app?sslmode=disable"), "postgres://h@db/app?sslmode=disable");
        assert_eq!(redact_password("postgres://db/app"), "postgres://db/app");
        assert_eq!(redact_password("not a url"), "not a url");
    }
}
