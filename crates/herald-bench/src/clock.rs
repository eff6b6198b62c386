//! One monotonic clock for the whole generator: publisher and subscribers
//! run in the same process, so a publish time stamped into a payload can be
//! compared with the receive time directly.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the generator's epoch (never 0 after the first call).
pub fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64 + 1
}

/// The [`Instant`] of a [`now_ns`] value.
pub fn instant_of(ns: u64) -> Instant {
    epoch() + Duration::from_nanos(ns.saturating_sub(1))
}
