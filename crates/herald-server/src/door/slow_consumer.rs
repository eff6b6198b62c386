//! A slow consumer cut, made visible: every cut counts in
//! `herald_slow_consumer_disconnects_total{door}` and is logged, one line
//! per cut but at most one line per [`LOG_EVERY_MS`] for the whole process
//! (a stalled network can cut thousands at once); the next line says how
//! many cuts were not logged meanwhile.

use std::sync::atomic::{AtomicU64, Ordering};

use herald_core::now_ms;

/// The shortest time between two slow-consumer log lines.
pub const LOG_EVERY_MS: u64 = 1000;

static LAST_LOGGED_MS: AtomicU64 = AtomicU64::new(0);
static NOT_LOGGED: AtomicU64 = AtomicU64::new(0);

/// Why a connection was cut as a slow consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Its outbound queue overflowed (`connection.queue`).
    QueueFull,
    /// One socket write blocked past `connection.write_timeout_secs`.
    WriteTimeout,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::QueueFull => "outbound queue full",
            Cause::WriteTimeout => "socket write timed out",
        }
    }
}

/// One connection's cut, recorded once however many places notice it.
#[derive(Debug)]
pub struct Cut {
    door: &'static str,
    recorded: bool,
}

impl Cut {
    /// Not cut yet, on `door`.
    pub fn new(door: &'static str) -> Self {
        Cut { door, recorded: false }
    }

    /// Record the cut of connection `id` (once).
    pub fn record(&mut self, id: &str, cause: Cause) {
        if !std::mem::replace(&mut self.recorded, true) {
            record(self.door, id, cause);
        }
    }
}

/// Count and log the cut of connection `id` on `door`.
pub fn record(door: &'static str, id: &str, cause: Cause) {
    metrics::counter!("herald_slow_consumer_disconnects_total", "door" => door).increment(1);
    let now = now_ms();
    let last = LAST_LOGGED_MS.load(Ordering::Relaxed);
    let due = now.saturating_sub(last) >= LOG_EVERY_MS
        && LAST_LOGGED_MS.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok();
    if !due {
        NOT_LOGGED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let not_logged = NOT_LOGGED.swap(0, Ordering::Relaxed);
    tracing::warn!(
        door,
        connection = id,
        cause = cause.as_str(),
        other_cuts_not_logged = not_logged,
        "slow consumer cut: the client did not read fast enough"
    );
}
