//! The `connect` scenario: connect and subscribe clients at a fixed rate in
//! steps (e.g. 1k, 10k, 19k), and after each step measure the server's idle
//! memory per connection = (RSS now − RSS before any client) / clients.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::procfs;
use crate::subscribers::{self, Shared};
use crate::targets::Running;

/// One step of a connect run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectStep {
    /// Clients connected and subscribed so far.
    pub connections: usize,
    /// Clients that failed during this step.
    pub failed: usize,
    /// Seconds this step's connections took.
    pub seconds: f64,
    /// Server RSS after the step settled, bytes.
    pub rss: u64,
    /// (rss − idle rss) / connections, bytes.
    pub bytes_per_conn: f64,
    /// Server CPU seconds spent during the step (accepts, handshakes, subscribes).
    pub server_cpu_s: f64,
}

/// What a connect run against one target measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectResult {
    /// Target name.
    pub target: String,
    /// Server RSS before any client, bytes.
    pub rss_idle: u64,
    /// The steps.
    pub steps: Vec<ConnectStep>,
    /// First error seen, if any.
    pub first_error: Option<String>,
    /// Connections that ended before the run did.
    pub closed_during_run: u64,
}

impl ConnectResult {
    /// Everything that makes this run not "every connection of every step
    /// opened, subscribed and stayed open". Empty when it is.
    pub fn problems(&self, steps: &[usize]) -> Vec<String> {
        let mut out = Vec::new();
        let want = steps.iter().copied().max().unwrap_or(0);
        let got = self.steps.last().map_or(0, |s| s.connections);
        let failed: usize = self.steps.iter().map(|s| s.failed).sum();
        if got < want || failed > 0 {
            out.push(format!(
                "{got} of {want} connections opened and subscribed, {failed} failed (first error: {})",
                self.first_error.as_deref().unwrap_or("none recorded")
            ));
        }
        if self.closed_during_run > 0 {
            out.push(format!("{} connections were closed during the run", self.closed_during_run));
        }
        out
    }
}

/// Connects clients step by step at `rate` per second.
pub async fn run(
    target: &mut Running,
    steps: &[usize],
    rate: u64,
    concurrency: usize,
    rotate: usize,
) -> anyhow::Result<ConnectResult> {
    let dialect = target.target.dialect();
    let pid = target.pid();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = procfs::rss_bytes(pid).unwrap_or(0);
    let shared = Shared::new(Duration::from_secs(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut groups = Vec::new();
    let mut total = 0usize;
    let mut out = ConnectResult {
        target: target.target.name().to_string(),
        rss_idle,
        steps: Vec::new(),
        first_error: None,
        closed_during_run: 0,
    };
    for &step in steps {
        if step <= total {
            continue;
        }
        let cpu0 = procfs::cpu_seconds(pid).unwrap_or(0.0);
        let t0 = Instant::now();
        let (conns, errors) = subscribers::connect_many(
            target.addr,
            dialect,
            subscribers::ConnectPlan { first: total, count: step - total, channels: 1, concurrency, rate, rotate },
        )
        .await;
        let seconds = t0.elapsed().as_secs_f64();
        total += conns.len();
        if out.first_error.is_none() {
            out.first_error = errors.first().cloned();
        }
        groups.extend(subscribers::spawn_groups(conns, 1000, dialect, &shared, &stop_rx));
        // Let the server settle (allocator, queues) before reading RSS.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = procfs::rss_bytes(pid).unwrap_or(0);
        let cpu1 = procfs::cpu_seconds(pid).unwrap_or(cpu0);
        let per = if total > 0 { rss.saturating_sub(rss_idle) as f64 / total as f64 } else { 0.0 };
        eprintln!(
            "  {}: {total} connections ({} failed) in {seconds:.1}s, RSS {:.1} MB, {:.1} KB/conn",
            target.target.name(),
            errors.len(),
            rss as f64 / 1e6,
            per / 1e3
        );
        out.steps.push(ConnectStep {
            connections: total,
            failed: errors.len(),
            seconds,
            rss,
            bytes_per_conn: per,
            server_cpu_s: cpu1 - cpu0,
        });
        if !target.alive() {
            anyhow::bail!("{} exited:\n{}", target.target.name(), target.log_tail());
        }
    }
    out.closed_during_run = shared.closed.load(std::sync::atomic::Ordering::Relaxed);
    let _ = stop_tx.send(true);
    for g in groups {
        let _ = g.await;
    }
    Ok(out)
}
