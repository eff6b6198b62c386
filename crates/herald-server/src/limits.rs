//! Rate limits (governor) and per-IP connection counts: new connections per
//! IP, requests/subscribes/client events per connection, publishes per user
//! across connections, HTTP API calls per key. A refusal is a temporary
//! `too_many_requests` error (112) with `retry_after_ms`; a connection that
//! keeps hitting limits is closed with 4006.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use herald_core::{ErrorCode, HeraldError};
use parking_lot::Mutex;

use crate::config::RateLimitConfig;

fn quota(per_sec: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(per_sec).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
}

fn retry_ms(not_until: &governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u64 {
    let ms = not_until.wait_time_from(DefaultClock::default().now()).as_millis() as u64;
    ms.max(1)
}

fn check_keyed<K: Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
    what: &str,
) -> Result<(), HeraldError> {
    limiter.check_key(key).map_err(|n| {
        metrics::counter!("herald_rate_limited_total", "limit" => what.to_string()).increment(1);
        HeraldError::rate_limited(what, retry_ms(&n))
    })
}

/// Server-wide limiters.
pub struct RateLimits {
    cfg: RateLimitConfig,
    connects: DefaultKeyedRateLimiter<IpAddr>,
    open_per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Accepted sockets per address that no door has taken over yet.
    pending_per_ip: Mutex<HashMap<IpAddr, usize>>,
    publishes: DefaultKeyedRateLimiter<Arc<str>>,
    /// `POST /sse/publish` and `/sse/request` per client address: the SSE
    /// client's upstream, held to the same rate as one WebSocket
    /// connection's requests.
    http_requests: DefaultKeyedRateLimiter<IpAddr>,
    api: DefaultKeyedRateLimiter<String>,
}

/// Holds one connection's place in its IP's count; released on drop.
pub struct IpSlot {
    limits: Arc<RateLimits>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        give_back(&self.limits.open_per_ip, self.ip);
    }
}

/// Holds an accepted socket's place in its address's count of sockets not
/// yet taken over by a door (`max_pending_connections_per_ip`); released on
/// drop.
pub struct PendingSlot {
    limits: Arc<RateLimits>,
    ip: IpAddr,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        give_back(&self.limits.pending_per_ip, self.ip);
    }
}

/// Take one of `max` places of `ip` in `counts`; false when all are taken.
fn take(counts: &Mutex<HashMap<IpAddr, usize>>, ip: IpAddr, max: usize) -> bool {
    let mut counts = counts.lock();
    let n = counts.entry(ip).or_insert(0);
    if *n >= max {
        return false;
    }
    *n += 1;
    true
}

fn give_back(counts: &Mutex<HashMap<IpAddr, usize>>, ip: IpAddr) {
    let mut counts = counts.lock();
    if let Some(n) = counts.get_mut(&ip) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&ip);
        }
    }
}

impl RateLimits {
    /// Limiters from the configuration.
    pub fn new(cfg: RateLimitConfig) -> Arc<Self> {
        Arc::new(Self {
            connects: RateLimiter::keyed(quota(cfg.connections_per_ip_per_sec, cfg.connections_per_ip_burst)),
            open_per_ip: Mutex::new(HashMap::new()),
            pending_per_ip: Mutex::new(HashMap::new()),
            publishes: RateLimiter::keyed(quota(cfg.publishes_per_user_per_sec, cfg.publishes_per_user_burst)),
            http_requests: RateLimiter::keyed(quota(cfg.messages_per_conn_per_sec, cfg.messages_per_conn_burst)),
            api: RateLimiter::keyed(quota(cfg.api_calls_per_sec, cfg.api_calls_burst)),
            cfg,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &RateLimitConfig {
        &self.cfg
    }

    /// Admit a raw TCP connection from `ip` before anything is read from
    /// it: it counts against the address's new-connection rate, and holds
    /// one of its `max_pending_connections_per_ip` places until a door takes
    /// it over (a WebSocket upgrade, an SSE stream) or it closes.
    pub fn admit_accept(self: &Arc<Self>, ip: IpAddr) -> Result<PendingSlot, HeraldError> {
        check_keyed(&self.connects, &ip, "new connections from this address")?;
        if !take(&self.pending_per_ip, ip, self.cfg.max_pending_connections_per_ip) {
            metrics::counter!("herald_rate_limited_total", "limit" => "pending connections per address").increment(1);
            return Err(HeraldError::new(
                ErrorCode::TooManyRequests,
                format!(
                    "this address already has {} connections that sent no complete request (the limit)",
                    self.cfg.max_pending_connections_per_ip
                ),
            ));
        }
        Ok(PendingSlot { limits: self.clone(), ip })
    }

    /// Admit a new connection from `ip`: rate (unless its socket was
    /// already counted when it was accepted) and concurrent count.
    pub fn admit_connection(self: &Arc<Self>, ip: IpAddr, rate_counted: bool) -> Result<IpSlot, HeraldError> {
        if !rate_counted {
            check_keyed(&self.connects, &ip, "new connections from this address")?;
        }
        if !take(&self.open_per_ip, ip, self.cfg.max_connections_per_ip) {
            metrics::counter!("herald_rate_limited_total", "limit" => "connections per address").increment(1);
            return Err(HeraldError::new(
                ErrorCode::TooManyRequests,
                format!("this address already has {} open connections (the limit)", self.cfg.max_connections_per_ip),
            ));
        }
        Ok(IpSlot { limits: self.clone(), ip })
    }

    /// A publish by `user` (across all their connections).
    pub fn check_publish(&self, user: &Arc<str>) -> Result<(), HeraldError> {
        check_keyed(&self.publishes, user, "publishes by this user")
    }

    /// A client's request over HTTP (`POST /sse/publish`, `/sse/request`)
    /// from `ip`: the address gets one WebSocket connection's request rate.
    pub fn check_http_request(&self, ip: IpAddr) -> Result<(), HeraldError> {
        check_keyed(&self.http_requests, &ip, "requests from this address")
    }

    /// An HTTP API call by `key` (the API key, or the caller's IP without one).
    pub fn check_api(&self, key: &str) -> Result<(), HeraldError> {
        check_keyed(&self.api, &key.to_string(), "HTTP API calls")
    }

    /// Forget idle keys (call periodically).
    pub fn housekeep(&self) {
        self.connects.retain_recent();
        self.publishes.retain_recent();
        self.http_requests.retain_recent();
        self.api.retain_recent();
    }

    /// Limiters for one new connection.
    pub fn for_connection(&self) -> ConnectionLimits {
        let c = &self.cfg;
        ConnectionLimits {
            requests: RateLimiter::direct(quota(c.messages_per_conn_per_sec, c.messages_per_conn_burst)),
            subscribes: RateLimiter::direct(quota(c.subscribes_per_conn_per_sec, c.subscribes_per_conn_burst)),
            events: RateLimiter::direct(quota(c.client_events_per_conn_per_sec, c.client_events_per_conn_burst)),
            refused: AtomicU32::new(0),
            abuse_threshold: c.abuse_threshold,
        }
    }
}

/// One connection's limiters.
pub struct ConnectionLimits {
    requests: DefaultDirectRateLimiter,
    subscribes: DefaultDirectRateLimiter,
    events: DefaultDirectRateLimiter,
    refused: AtomicU32,
    abuse_threshold: u32,
}

/// Which per-connection limit a request counts against.
#[derive(Debug, Clone, Copy)]
pub enum ConnectionLimit {
    /// Any request.
    Request,
    /// A subscribe.
    Subscribe,
    /// A client event.
    ClientEvent,
}

impl ConnectionLimits {
    /// Count one request of `kind`.
    pub fn check(&self, kind: ConnectionLimit) -> Result<(), HeraldError> {
        let (limiter, what) = self.limiter(kind);
        limiter.check().map_err(|n| {
            metrics::counter!("herald_rate_limited_total", "limit" => what).increment(1);
            HeraldError::rate_limited(what, retry_ms(&n))
        })
    }

    /// Count one request of `kind`, waiting for the limiter's next permit
    /// when over the rate, for a door that slows a client down rather than
    /// refuse it (y-websocket cannot resend a refused edit).
    pub async fn until_ready(&self, kind: ConnectionLimit) {
        let (limiter, what) = self.limiter(kind);
        if limiter.check().is_err() {
            metrics::counter!("herald_rate_limited_total", "limit" => what).increment(1);
            limiter.until_ready().await;
        }
    }

    fn limiter(&self, kind: ConnectionLimit) -> (&DefaultDirectRateLimiter, &'static str) {
        match kind {
            ConnectionLimit::Request => (&self.requests, "requests on this connection"),
            ConnectionLimit::Subscribe => (&self.subscribes, "subscribe attempts on this connection"),
            ConnectionLimit::ClientEvent => (&self.events, "client events on this connection"),
        }
    }

    /// Record a refused request; true when the connection should be closed for abuse.
    pub fn record_refusal(&self) -> bool {
        self.refused.fetch_add(1, Ordering::Relaxed) + 1 >= self.abuse_threshold
    }
}
