//! The `fanout` scenario: N subscribers on one channel, one publisher at R
//! messages per second with S-byte payloads, published through the target's
//! own WebSocket publish path (for Herald: the native `publish` op on a
//! WebSocket connection, the same path the peers offer).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use tokio::sync::watch;

use crate::clock::{instant_of, now_ns};
use crate::procfs::{self, GeneratorCpu, SelfCpu};
use crate::publisher::{PublishStats, Publisher};
use crate::subscribers::{self, BUCKET_NS, Shared, new_histogram};
use crate::targets::Running;

/// Parameters of one fan-out run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FanoutParams {
    /// Subscribers.
    pub subscribers: usize,
    /// Channels the subscribers are spread over (1: every subscriber on one
    /// channel; `subscribers / 2`: pairs, as in many small chats). Message `k`
    /// goes to channel `k % channels`.
    pub channels: usize,
    /// Publications per second.
    pub rate: f64,
    /// Approximate `data` size, bytes.
    pub payload: usize,
    /// Measured duration, seconds.
    pub duration_s: f64,
    /// Warm-up before measuring, seconds.
    pub warmup_s: f64,
    /// Connections per generator group task.
    pub per_group: usize,
    /// Connections opened concurrently during set-up.
    pub connect_concurrency: usize,
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
    /// Samples.
    pub count: u64,
}

impl Percentiles {
    /// From a histogram in µs.
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Self {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1000.0,
            count: h.len(),
        }
    }
}

/// What one fan-out run against one target measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FanoutResult {
    /// Target name.
    pub target: String,
    /// Subscribers that were connected and subscribed.
    pub subscribed: usize,
    /// Subscriber connections that failed during set-up (first error kept).
    pub connect_errors: usize,
    /// First set-up error, if any.
    pub first_error: Option<String>,
    /// Subscriber connections that ended during the run.
    pub closed_during_run: u64,
    /// Publisher figures.
    pub publisher: PublishStats,
    /// Deliveries expected (each subscriber: the measured publications to its channel).
    pub expected: u64,
    /// Measured deliveries received.
    pub delivered: u64,
    /// Subscribers that received fewer measured publications than were
    /// published to their channel.
    pub subscribers_short: usize,
    /// Subscribers that received more (duplicates).
    pub subscribers_over: usize,
    /// The subscriber furthest from its share: (received, expected).
    pub worst_subscriber: Option<(u64, u64)>,
    /// Delivered per second, over the measured window (until the last receipt).
    pub delivered_per_s: f64,
    /// Latency from each message's actual send time.
    pub latency_sent: Percentiles,
    /// Latency from each message's scheduled send time (includes publisher stalls).
    pub latency_sched: Percentiles,
    /// Server CPU seconds over the window.
    pub server_cpu_s: f64,
    /// Of which in user space (the rest is the kernel: mostly socket writes).
    pub server_cpu_user_s: f64,
    /// Server CPU milliseconds per 1,000 deliveries (= µs per delivery).
    pub server_cpu_ms_per_1k: f64,
    /// Server RSS once every subscriber was in, bytes.
    pub server_rss: u64,
    /// Server RSS before any subscriber, bytes.
    pub server_rss_idle: u64,
    /// The generator's own CPU over the window.
    pub generator: GeneratorCpu,
    /// Deliveries per 100 ms bucket from the measurement start.
    pub timeline: Vec<u64>,
    /// Latency histogram (scheduled → received) as (µs, cumulative fraction).
    pub latency_cdf: Vec<(f64, f64)>,
}

/// Percentile curve points for plotting: quantiles 0 … 0.99999.
fn cdf(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in 0..=100 {
        // Quantiles spaced towards the tail: 1 - 10^(-5 i / 100).
        let q = 1.0 - 10f64.powf(-5.0 * i as f64 / 100.0);
        out.push((h.value_at_quantile(q) as f64, q));
    }
    out
}

/// Runs the publisher on a thread and runtime of its own, so the subscriber
/// load on the generator's worker threads cannot delay its schedule.
fn spawn_publisher(
    addr: std::net::SocketAddr,
    dialect: crate::wire::Dialect,
    rate: f64,
    payload: usize,
    channels: usize,
    [start_ns, end_ns, measure_from]: [u64; 3],
) -> tokio::task::JoinHandle<std::thread::Result<anyhow::Result<PublishStats>>> {
    let thread = std::thread::Builder::new().name("publisher".into()).spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async move {
            let publisher = Publisher::connect(addr, dialect).await?;
            publisher.run(rate, payload, start_ns, end_ns, measure_from, channels).await
        })
    });
    tokio::task::spawn_blocking(move || match thread {
        Ok(t) => t.join(),
        Err(e) => Ok(Err(e.into())),
    })
}

/// Runs one fan-out against a started target.
pub async fn run(target: &mut Running, p: &FanoutParams, rotate: usize) -> anyhow::Result<FanoutResult> {
    let dialect = target.target.dialect();
    let pid = target.pid();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server_rss_idle = procfs::rss_bytes(pid).unwrap_or(0);

    let t0 = Instant::now();
    let (conns, errors) = subscribers::connect_many(
        target.addr,
        dialect,
        subscribers::ConnectPlan {
            first: 0,
            count: p.subscribers,
            channels: p.channels,
            concurrency: p.connect_concurrency,
            rate: 0,
            rotate,
        },
    )
    .await;
    eprintln!(
        "  {}: {} subscribed in {:.1}s ({} failed)",
        target.target.name(),
        conns.len(),
        t0.elapsed().as_secs_f64(),
        errors.len()
    );
    let subscribed = conns.len();
    let subscriber_channels: Vec<usize> = conns.iter().map(|c| c.channel).collect();
    let span = Duration::from_secs_f64(p.warmup_s + p.duration_s + 30.0);
    let shared = Shared::new(span);
    let (stop_tx, stop_rx) = watch::channel(false);
    let groups = subscribers::spawn_groups(conns, p.per_group, dialect, &shared, &stop_rx);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let server_rss = procfs::rss_bytes(pid).unwrap_or(0);

    let start_ns = now_ns() + 300_000_000;
    let measure_from = start_ns + (p.warmup_s * 1e9) as u64;
    let end_ns = measure_from + (p.duration_s * 1e9) as u64;
    shared.measure_from_ns.store(measure_from, Ordering::Relaxed);
    let pub_task =
        spawn_publisher(target.publish_addr, dialect, p.rate, p.payload, p.channels, [start_ns, end_ns, measure_from]);

    tokio::time::sleep_until(instant_of(measure_from).into()).await;
    let cpu0 = procfs::cpu_split(pid).unwrap_or_default();
    let gen0 = SelfCpu::now();
    let wall0 = Instant::now();
    let publisher = pub_task.await.context("publisher task")?.map_err(|_| anyhow::anyhow!("publisher panicked"))??;

    // Drain: wait until every expected delivery arrived, or nothing more
    // arrives for 2 s (10 s at most).
    // Each message reaches the subscribers of one channel.
    let per_channel = |ch: usize| publisher.measured_per_channel.get(ch).copied().unwrap_or(0);
    let expected: u64 = subscriber_channels.iter().map(|&ch| per_channel(ch)).sum();
    let drain_deadline = Instant::now() + Duration::from_secs(10);
    let mut last = (shared.measured.load(Ordering::Relaxed), Instant::now());
    loop {
        let got = shared.measured.load(Ordering::Relaxed);
        if got >= expected || Instant::now() > drain_deadline || last.1.elapsed() > Duration::from_secs(2) {
            break;
        }
        if got != last.0 {
            last = (got, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu1 = procfs::cpu_split(pid).unwrap_or(cpu0);
    let generator = gen0.since(wall0.elapsed().as_secs_f64());
    let _ = stop_tx.send(true);
    let mut sent_h = new_histogram();
    let mut sched_h = new_histogram();
    let mut each = Vec::with_capacity(subscribed);
    for g in groups {
        let s = g.await.context("subscriber group")?;
        sent_h.add(&s.sent_to_recv).ok();
        sched_h.add(&s.sched_to_recv).ok();
        each.extend(s.per_connection.into_iter().map(|(ch, got)| (got, per_channel(ch))));
    }
    let subscribers_short = each.iter().filter(|(got, want)| got < want).count();
    let subscribers_over = each.iter().filter(|(got, want)| got > want).count();
    let worst_subscriber =
        each.into_iter().filter(|(got, want)| got != want).max_by_key(|(got, want)| got.abs_diff(*want));
    let delivered = shared.measured.load(Ordering::Relaxed);
    let last_recv = shared.last_recv_ns.load(Ordering::Relaxed).max(end_ns);
    let window = (last_recv - measure_from) as f64 / 1e9;
    let buckets = ((last_recv - measure_from) / BUCKET_NS + 1) as usize;
    let server_cpu_user_s = cpu1.0 - cpu0.0;
    let server_cpu_s = server_cpu_user_s + (cpu1.1 - cpu0.1);
    Ok(FanoutResult {
        target: target.target.name().to_string(),
        subscribed,
        connect_errors: errors.len(),
        first_error: errors.into_iter().next(),
        closed_during_run: shared.closed.load(Ordering::Relaxed),
        publisher,
        expected,
        delivered,
        subscribers_short,
        subscribers_over,
        worst_subscriber,
        delivered_per_s: delivered as f64 / window.max(1e-3),
        latency_sent: Percentiles::of(&sent_h),
        latency_sched: Percentiles::of(&sched_h),
        server_cpu_s,
        server_cpu_user_s,
        server_cpu_ms_per_1k: if delivered > 0 { server_cpu_s * 1e3 / delivered as f64 * 1000.0 } else { 0.0 },
        server_rss,
        server_rss_idle,
        generator,
        timeline: shared.timeline.iter().take(buckets).map(|b| b.load(Ordering::Relaxed)).collect(),
        latency_cdf: cdf(&sched_h),
    })
}

impl FanoutResult {
    /// Everything that makes this run not a faithful fan-out of `requested`
    /// subscribers: failed connections, connections cut during the run,
    /// refused publishes, and any subscriber that did not receive exactly
    /// the measured publications of its channel. Empty when delivery was exact.
    pub fn problems(&self, requested: usize) -> Vec<String> {
        let mut out = Vec::new();
        if self.subscribed < requested {
            out.push(format!(
                "{} of {requested} subscribers failed to connect or subscribe (first error: {})",
                requested - self.subscribed,
                self.first_error.as_deref().unwrap_or("none recorded")
            ));
        }
        if self.closed_during_run > 0 {
            out.push(format!("{} subscriber connections were closed during the run", self.closed_during_run));
        }
        if self.publisher.errors > 0 {
            out.push(format!(
                "{} of {} publishes were refused{}",
                self.publisher.errors,
                self.publisher.sent,
                self.publisher.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default()
            ));
        }
        if self.publisher.measured == 0 {
            out.push("no publication was measured".into());
        }
        if self.delivered != self.expected || self.subscribers_short > 0 || self.subscribers_over > 0 {
            let worst =
                self.worst_subscriber.map(|(got, want)| format!("; worst: {got} of {want}")).unwrap_or_default();
            out.push(format!(
                "delivered {} of {} expected: {} subscribers missed messages, {} got duplicates{worst}",
                self.delivered, self.expected, self.subscribers_short, self.subscribers_over
            ));
        }
        out
    }
}
