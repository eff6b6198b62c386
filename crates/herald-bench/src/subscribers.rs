//! Subscribers: opening many connections, and reading them from a few
//! tasks. Each group task owns a set of connections and polls them through
//! a `FuturesUnordered`; it records latencies into its own histograms, so
//! the hot path shares nothing but a few atomic counters.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use tokio::sync::watch;

use crate::clock::now_ns;
use crate::wire::{self, Conn, Dialect};

/// Connections per source address before moving to the next one. Each
/// address in 127.0.0.0/8 has its own ~28k ephemeral ports; spreading keeps
/// a run (and the TIME_WAIT sockets of previous runs) far from that limit.
const PER_SOURCE: usize = 4000;

/// The source address for connection number `i`: 127.0.0.2, 127.0.0.3, …
pub fn source_addr(i: usize, rotate: usize) -> IpAddr {
    let n = (i / PER_SOURCE + rotate) % 200;
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + n as u8))
}

/// Which connections [`connect_many`] opens, and how fast.
#[derive(Debug, Clone, Copy)]
pub struct ConnectPlan {
    /// Number of the first connection (picks source addresses).
    pub first: usize,
    /// Connections to open.
    pub count: usize,
    /// Connection `n` subscribes to channel `n % channels`.
    pub channels: usize,
    /// Connections opened at once.
    pub concurrency: usize,
    /// Most new connections per second (0 = unlimited).
    pub rate: u64,
    /// Shifts the source addresses (a fresh range per target).
    pub rotate: usize,
}

/// Opens and subscribes the connections of `plan`. Failures are counted, not fatal.
pub async fn connect_many(server: SocketAddr, dialect: Dialect, plan: ConnectPlan) -> (Vec<Conn>, Vec<String>) {
    let ConnectPlan { first, count, channels, concurrency, rate, rotate } = plan;
    let start = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(0..count)
        .map(|k| async move {
            if rate > 0 {
                tokio::time::sleep_until((start + Duration::from_secs_f64(k as f64 / rate as f64)).into()).await;
            }
            let mut conn = wire::open(server, source_addr(first + k, rotate), dialect.path()).await?;
            conn.channel = (first + k) % channels.max(1);
            tokio::time::timeout(Duration::from_secs(30), conn.subscribe(dialect, &wire::channel_name(conn.channel)))
                .await
                .map_err(|_| std::io::Error::other("subscribe timed out"))??;
            Ok::<_, std::io::Error>(conn)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut conns = Vec::with_capacity(count);
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(c) => conns.push(c),
            Err(e) => errors.push(e.to_string()),
        }
    }
    (conns, errors)
}

/// Figures shared by the publisher, the subscribers and the driver.
#[derive(Debug)]
pub struct Shared {
    /// Publications scheduled at or after this instant (ns on [`now_ns`]'s
    /// clock) are measured; earlier ones are warm-up.
    pub measure_from_ns: AtomicU64,
    /// Measured publications received (summed over subscribers).
    pub measured: AtomicU64,
    /// Latest receive time of a measured publication.
    pub last_recv_ns: AtomicU64,
    /// Connections that ended during the run.
    pub closed: AtomicU64,
    /// Deliveries per [`BUCKET_NS`] after `measure_from_ns`.
    pub timeline: Vec<AtomicU64>,
}

/// Width of one throughput bucket: 100 ms.
pub const BUCKET_NS: u64 = 100_000_000;

impl Shared {
    /// Shared figures with a timeline long enough for `span`.
    pub fn new(span: Duration) -> Arc<Self> {
        let buckets = (span.as_nanos() as u64 / BUCKET_NS + 1) as usize;
        Arc::new(Self {
            measure_from_ns: AtomicU64::new(u64::MAX),
            measured: AtomicU64::new(0),
            last_recv_ns: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            timeline: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
        })
    }
}

/// What one group of subscribers measured.
#[derive(Debug)]
pub struct GroupStats {
    /// Latency from the publisher's send time to receipt, µs.
    pub sent_to_recv: Histogram<u64>,
    /// Latency from the message's scheduled send time to receipt, µs.
    pub sched_to_recv: Histogram<u64>,
    /// Every publication received, warm-up included.
    pub received: u64,
    /// Per connection of the group: (its channel number, measured
    /// publications it received), so a loss or a duplicate on one
    /// subscriber cannot hide in a total.
    pub per_connection: Vec<(usize, u64)>,
}

/// A histogram of 1 µs to 10 min at 3 significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Reads `conns` until `stop` turns true, recording every publication.
pub async fn run_group(
    conns: Vec<Conn>,
    dialect: Dialect,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> GroupStats {
    let mut stats = GroupStats {
        sent_to_recv: new_histogram(),
        sched_to_recv: new_histogram(),
        received: 0,
        per_connection: conns.iter().map(|c| (c.channel, 0)).collect(),
    };
    let mut reading: FuturesUnordered<_> =
        conns.into_iter().enumerate().map(|(i, c)| read_one(i, c, dialect)).collect();
    if *stop.borrow() {
        return stats;
    }
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            next = reading.next() => {
                let Some((i, conn, result)) = next else {
                    // Every connection ended: wait for the stop signal.
                    let _ = stop.changed().await;
                    break;
                };
                if result.is_err() {
                    shared.closed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let measured = record(&mut stats, &conn.stamps, &shared);
                stats.per_connection[i].1 += measured;
                reading.push(read_one(i, conn, dialect));
            }
        }
    }
    stats
}

async fn read_one(i: usize, mut conn: Conn, dialect: Dialect) -> (usize, Conn, std::io::Result<()>) {
    let r = conn.read_batch(dialect).await;
    (i, conn, r)
}

/// Records a batch's stamps; returns how many were measured publications.
fn record(stats: &mut GroupStats, stamps: &[(u64, u64)], shared: &Shared) -> u64 {
    if stamps.is_empty() {
        return 0;
    }
    let now = now_ns();
    let from = shared.measure_from_ns.load(Ordering::Relaxed);
    let mut measured = 0;
    for &(sent, sched) in stamps {
        stats.received += 1;
        if sched < from {
            continue;
        }
        measured += 1;
        stats.sent_to_recv.saturating_record(now.saturating_sub(sent) / 1000);
        stats.sched_to_recv.saturating_record(now.saturating_sub(sched) / 1000);
    }
    if measured > 0 {
        shared.measured.fetch_add(measured, Ordering::Relaxed);
        shared.last_recv_ns.fetch_max(now, Ordering::Relaxed);
        let bucket = (now.saturating_sub(from) / BUCKET_NS) as usize;
        if let Some(b) = shared.timeline.get(bucket) {
            b.fetch_add(measured, Ordering::Relaxed);
        }
    }
    measured
}

/// Starts group tasks over `conns` (about `per_group` each).
pub fn spawn_groups(
    conns: Vec<Conn>,
    per_group: usize,
    dialect: Dialect,
    shared: &Arc<Shared>,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<GroupStats>> {
    let mut handles = Vec::new();
    let mut conns = conns;
    while !conns.is_empty() {
        let rest = conns.split_off(conns.len().min(per_group.max(1)));
        let group = std::mem::replace(&mut conns, rest);
        handles.push(tokio::spawn(run_group(group, dialect, shared.clone(), stop.clone())));
    }
    handles
}
