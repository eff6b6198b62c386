//! Connections that can be resumed: each connection's `connectionKey`
//! names its Ably `connectionId` for `connectionStateTtl` after its
//! transport dropped. A client that comes back with `resume=<key>` in time
//! keeps its `connectionId`; its channels then re-attach from their
//! `channelSerial` and get exactly the messages they missed (`attach.rs`).
//! With a `[broker]` the dropped connection's state is left in Redis
//! (`herald_redis::Handoffs`), so the client may come back through any
//! node; taking it there removes it, so it is resumed at most once.
//! Anything else — unknown or expired key, another clientId, a key still
//! in use, Redis unreachable — is a new connection with error 80008: never
//! a false resume.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use herald_redis::Handoffs;
use parking_lot::Mutex;
use rand::Rng;

/// The handoff kind of a dropped connection: value `connectionId\nclientId`.
const KIND: &str = "ably-resume";

/// One connection of this node.
struct Entry {
    connection_id: String,
    client_id: Option<String>,
    /// `None` while a transport holds it; else until when it can be resumed.
    until: Option<Instant>,
}

/// The resumable connections: this node's, and with a broker the cluster's.
pub struct Resumes {
    entries: Mutex<HashMap<String, Entry>>,
    cluster: Option<Handoffs>,
}

/// What a connection got at its start.
pub struct Resumed {
    /// Its Ably connectionId.
    pub connection_id: String,
    /// Its connectionKey.
    pub key: String,
    /// Whether it continues an earlier connection.
    pub resumed: bool,
}

impl Resumes {
    /// Resumable connections on this node, and through `cluster` on every node.
    pub fn new(cluster: Option<Handoffs>) -> Self {
        Self { entries: Mutex::new(HashMap::new()), cluster }
    }

    /// Start a connection: resume `asked` when it can be, else a new id
    /// (`fresh_id`: the hub connection's) and key.
    pub async fn start(&self, asked: Option<&str>, client_id: Option<&str>, fresh_id: &str) -> Resumed {
        let earlier = match asked {
            Some(key) => self.take(key).await.filter(|(_, c)| c.as_deref() == client_id),
            None => None,
        };
        let (connection_id, key, resumed) = match (earlier, asked) {
            (Some((id, _)), Some(key)) => (id, key.to_string(), true),
            _ => {
                let secret: String =
                    rand::rng().sample_iter(rand::distr::Alphanumeric).take(16).map(char::from).collect();
                (fresh_id.to_string(), format!("{fresh_id}!{secret}"), false)
            }
        };
        let entry =
            Entry { connection_id: connection_id.clone(), client_id: client_id.map(str::to_string), until: None };
        self.entries.lock().insert(key.clone(), entry);
        Resumed { connection_id, key, resumed }
    }

    /// The dropped connection of `key` (connectionId, clientId), taken.
    async fn take(&self, key: &str) -> Option<(String, Option<String>)> {
        let local = {
            let now = Instant::now();
            let mut entries = self.entries.lock();
            entries.retain(|_, e| e.until.is_none_or(|t| t > now));
            match entries.get(key) {
                // Still held by a transport: not resumable.
                Some(e) if e.until.is_none() => return None,
                Some(_) => entries.remove(key),
                None => None,
            }
        };
        if let Some(e) = local {
            // With a cluster, Redis decides: another node may have taken it already.
            return match &self.cluster {
                None => Some((e.connection_id, e.client_id)),
                Some(c) => c.take(KIND, key).await.ok().flatten().map(|_| (e.connection_id, e.client_id)),
            };
        }
        let value = self.cluster.as_ref()?.take(KIND, key).await.ok()??;
        let (id, client) = value.split_once('\n')?;
        Some((id.to_string(), Some(client.to_string()).filter(|c| !c.is_empty())))
    }

    /// The transport of `key` dropped: resumable for `ttl`.
    pub async fn dropped(&self, key: &str, ttl: Duration) {
        let value = {
            let mut entries = self.entries.lock();
            let Some(e) = entries.get_mut(key) else { return };
            e.until = Some(Instant::now() + ttl);
            format!("{}\n{}", e.connection_id, e.client_id.as_deref().unwrap_or(""))
        };
        if let Some(c) = &self.cluster
            && let Err(e) = c.put(KIND, key, &value, ttl).await
        {
            tracing::warn!(error = %e.message, "cannot leave an Ably connection's resume state in Redis");
        }
    }

    /// The connection of `key` closed for good (CLOSE) or failed.
    pub async fn closed(&self, key: &str) {
        self.entries.lock().remove(key);
        if let Some(c) = &self.cluster {
            let _ = c.remove(KIND, key).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resumes_only_a_dropped_connection_of_the_same_client_in_time() {
        let r = Resumes::new(None);
        let a = r.start(None, Some("ann"), "n-1").await;
        assert!(!a.resumed);
        assert!(!r.start(Some(&a.key), Some("ann"), "n-2").await.resumed, "still in use");
        r.dropped(&a.key, Duration::from_secs(60)).await;
        assert!(!r.start(Some(&a.key), Some("eve"), "n-3").await.resumed, "another client");
        let a = r.start(None, Some("ann"), "n-1").await;
        r.dropped(&a.key, Duration::from_secs(60)).await;
        let b = r.start(Some(&a.key), Some("ann"), "n-4").await;
        assert!(b.resumed);
        assert_eq!(b.connection_id, "n-1");
        r.dropped(&b.key, Duration::ZERO).await;
        assert!(!r.start(Some(&b.key), Some("ann"), "n-5").await.resumed, "expired");
        let c = r.start(None, None, "n-6").await;
        r.closed(&c.key).await;
        assert!(!r.start(Some(&c.key), None, "n-7").await.resumed, "closed");
    }
}
