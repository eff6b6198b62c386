//! Connections that can be resumed: each connection's `connectionKey`
//! names its Ably `connectionId` for `connectionStateTtl` after its
//! transport dropped. A client that comes back with `resume=<key>` in time
//! keeps its `connectionId`; its channels then re-attach from their
//! `channelSerial` and get exactly the messages they missed (`attach.rs`).
//! Anything else — unknown or expired key, another clientId, a key still
//! in use, another node — is a new connection with error 80008: never a
//! false resume.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;

/// One resumable connection.
struct Entry {
    connection_id: String,
    client_id: Option<String>,
    /// `None` while a transport holds it; else until when it can be resumed.
    until: Option<Instant>,
}

/// The node's resumable connections, by connectionKey.
#[derive(Default)]
pub struct Resumes {
    entries: Mutex<HashMap<String, Entry>>,
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
    /// Start a connection: resume `asked` when it can be, else a new id
    /// (`fresh_id`: the hub connection's) and key.
    pub fn start(&self, asked: Option<&str>, client_id: Option<&str>, fresh_id: &str) -> Resumed {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        entries.retain(|_, e| e.until.is_none_or(|t| t > now));
        if let Some(key) = asked
            && let Some(e) = entries.get_mut(key)
            && e.until.is_some()
            && e.client_id.as_deref() == client_id
        {
            e.until = None;
            return Resumed { connection_id: e.connection_id.clone(), key: key.to_string(), resumed: true };
        }
        let secret: String = rand::rng().sample_iter(rand::distr::Alphanumeric).take(16).map(char::from).collect();
        let key = format!("{fresh_id}!{secret}");
        let entry =
            Entry { connection_id: fresh_id.to_string(), client_id: client_id.map(str::to_string), until: None };
        entries.insert(key.clone(), entry);
        Resumed { connection_id: fresh_id.to_string(), key, resumed: false }
    }

    /// The transport of `key` dropped: resumable for `ttl`.
    pub fn dropped(&self, key: &str, ttl: Duration) {
        if let Some(e) = self.entries.lock().get_mut(key) {
            e.until = Some(Instant::now() + ttl);
        }
    }

    /// The connection of `key` closed for good (CLOSE) or failed.
    pub fn closed(&self, key: &str) {
        self.entries.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_only_a_dropped_connection_of_the_same_client_in_time() {
        let r = Resumes::default();
        let a = r.start(None, Some("ann"), "n-1");
        assert!(!a.resumed);
        assert!(!r.start(Some(&a.key), Some("ann"), "n-2").resumed, "still in use");
        r.dropped(&a.key, Duration::from_secs(60));
        assert!(!r.start(Some(&a.key), Some("eve"), "n-3").resumed, "another client");
        let b = r.start(Some(&a.key), Some("ann"), "n-4");
        assert!(b.resumed);
        assert_eq!(b.connection_id, "n-1");
        r.dropped(&b.key, Duration::ZERO);
        assert!(!r.start(Some(&b.key), Some("ann"), "n-5").resumed, "expired");
        let c = r.start(None, None, "n-6");
        r.closed(&c.key);
        assert!(!r.start(Some(&c.key), None, "n-7").resumed, "closed");
    }
}
