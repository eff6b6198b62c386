//! `FeedStatus`: what `/readyz` and `/metrics` say about the change feed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

/// The feed's health, shared by its task and the HTTP handlers.
pub struct FeedStatus {
    connected: AtomicBool,
    problem: Mutex<Option<String>>,
    lag_bytes: AtomicU64,
    max_lag_bytes: u64,
    confirmed_lsn: AtomicU64,
}

impl FeedStatus {
    /// A feed that has not connected yet.
    pub fn new(max_lag_bytes: u64) -> Self {
        Self {
            connected: AtomicBool::new(false),
            problem: Mutex::new(Some("change feed: connecting to PostgreSQL".to_string())),
            lag_bytes: AtomicU64::new(0),
            max_lag_bytes,
            confirmed_lsn: AtomicU64::new(0),
        }
    }

    /// Streaming (true) or not.
    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
        metrics::gauge!("herald_changes_connected").set(if connected { 1.0 } else { 0.0 });
        if connected {
            *self.problem.lock() = None;
        }
    }

    /// Why the feed is not running (with the fix).
    pub fn set_problem(&self, problem: String) {
        self.connected.store(false, Ordering::Release);
        metrics::gauge!("herald_changes_connected").set(0.0);
        *self.problem.lock() = Some(problem);
    }

    /// The slot's lag as last measured.
    pub fn set_lag(&self, bytes: u64) {
        self.lag_bytes.store(bytes, Ordering::Release);
        metrics::gauge!("herald_changes_lag_bytes").set(bytes as f64);
    }

    /// A position was confirmed to PostgreSQL.
    pub fn set_confirmed(&self, lsn: u64) {
        self.confirmed_lsn.store(lsn, Ordering::Release);
        metrics::gauge!("herald_changes_confirmed_lsn").set(lsn as f64);
    }

    /// The last confirmed position.
    pub fn confirmed(&self) -> u64 {
        self.confirmed_lsn.load(Ordering::Acquire)
    }

    /// `None` when ready, else why not.
    pub fn not_ready_reason(&self) -> Option<String> {
        if let Some(p) = self.problem.lock().clone() {
            return Some(p);
        }
        if !self.connected.load(Ordering::Acquire) {
            return Some("change feed: not connected to PostgreSQL".to_string());
        }
        let lag = self.lag_bytes.load(Ordering::Acquire);
        (lag > self.max_lag_bytes).then(|| {
            format!(
                "change feed: the slot holds back {lag} bytes of WAL (more than [changes] max_lag_bytes = {}); Herald is not keeping up, or publishing fails",
                self.max_lag_bytes
            )
        })
    }
}
