//! The `recovery` scenario: a client subscribes and notes its position,
//! M messages are published, then a wave of N clients reconnects from that
//! position (`concurrency` at a time) and resubscribes with `since`, as after
//! a node restart or a network blip. Measured: time until every client has its M
//! missed publications (complete recoveries only: a `recovered:false` or a
//! short list counts as a failure), per-client time from reconnect to the
//! recovered reply, and the server CPU per recovered publication.
//!
//! Only Herald targets recover (the peers have no history), so the table
//! compares the embedded targets: `herald` (memory) and `herald-sqlite`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use hdrhistogram::Histogram;

use crate::clock::now_ns;
use crate::fanout::Percentiles;
use crate::procfs;
use crate::subscribers::{new_histogram, source_addr};
use crate::targets::Running;
use crate::wire::{self, CHANNEL, Conn, Dialect};

/// Parameters of one recovery run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecoveryParams {
    /// Clients that disconnect and recover.
    pub clients: usize,
    /// Messages published while they are away (at most the namespace's
    /// recovery window, 1000 by default).
    pub missed: usize,
    /// Approximate payload size, bytes.
    pub payload: usize,
    /// Connections opened concurrently.
    pub concurrency: usize,
}

/// What one recovery run against one target measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecoveryResult {
    /// Target name.
    pub target: String,
    /// Clients that subscribed before the disconnect.
    pub clients: usize,
    /// Clients that got every missed publication back (`recovered: true`, M publications).
    pub recovered: usize,
    /// Clients whose recovery failed or was incomplete.
    pub failed: usize,
    /// First failure, if any.
    pub first_error: Option<String>,
    /// Seconds from the first reconnect to the last complete recovery.
    pub time_to_all_s: f64,
    /// Recovered publications delivered per second over that time.
    pub recovered_per_s: f64,
    /// Per client: reconnect start → recovered reply, ms.
    pub latency: Percentiles,
    /// Server CPU seconds during the reconnect wave.
    pub server_cpu_s: f64,
    /// Server CPU ms per 1,000 recovered publications.
    pub server_cpu_ms_per_1k: f64,
}

fn subscribe_text(since: Option<(&str, u64)>) -> String {
    match since {
        Some((epoch, offset)) => format!(
            "{{\"id\":2,\"op\":\"subscribe\",\"channel\":\"{CHANNEL}\",\"since\":{{\"epoch\":\"{epoch}\",\"offset\":{offset}}}}}"
        ),
        None => format!("{{\"id\":2,\"op\":\"subscribe\",\"channel\":\"{CHANNEL}\"}}"),
    }
}

/// Connects, subscribes (recovering from `since`), returns the reply's `result`.
async fn subscribe(
    addr: std::net::SocketAddr,
    i: usize,
    since: Option<(&str, u64)>,
) -> anyhow::Result<serde_json::Value> {
    let mut conn = wire::open(addr, source_addr(i, 0), Dialect::Native.path()).await?;
    conn.send_text("{\"id\":1,\"op\":\"connect\",\"client\":\"herald-bench\"}").await?;
    conn.send_text(&subscribe_text(since)).await?;
    let reply =
        tokio::time::timeout(Duration::from_secs(60), conn.wait_for(Dialect::Native, |p| p.starts_with(b"{\"id\":2")))
            .await
            .context("subscribe timed out")??;
    let mut v: serde_json::Value = serde_json::from_slice(&reply)?;
    match v.get_mut("result") {
        Some(r) => Ok(r.take()),
        None => bail!("subscribe refused: {}", String::from_utf8_lossy(&reply)),
    }
}

async fn publish_missed(addr: std::net::SocketAddr, missed: usize, payload: usize) -> anyhow::Result<()> {
    let mut publisher: Conn = wire::open(addr, source_addr(0, 199), Dialect::Native.path()).await?;
    publisher.publisher_setup(Dialect::Native).await?;
    let pad = wire::padding(payload);
    for i in 0..missed {
        let now = now_ns();
        publisher.send_text(&wire::publish_text(Dialect::Native, CHANNEL, 10 + i as u64, now, now, &pad)).await?;
    }
    let (mut replies, mut errors) = (0, 0);
    while replies < missed as u64 {
        let (r, e) = publisher.publisher_drain(Dialect::Native).await?;
        replies += r;
        errors += e;
        if replies < missed as u64 && publisher.read_more().await? == 0 {
            bail!("publisher connection closed after {replies} replies");
        }
    }
    if errors > 0 {
        bail!("{errors} of {missed} publishes were refused");
    }
    Ok(())
}

/// Whether a recovering subscribe's reply holds exactly the `missed`
/// publications after `offset`, in order (`recovered: true`, offsets
/// `offset + 1 ..= offset + missed`): no loss, no duplicate, no extra.
fn exactly_the_missed(reply: &serde_json::Value, offset: u64, missed: usize) -> Result<(), String> {
    let offsets: Vec<Option<u64>> =
        reply["publications"].as_array().map_or_else(Vec::new, |a| a.iter().map(|p| p["offset"].as_u64()).collect());
    let want: Vec<Option<u64>> = (1..=missed as u64).map(|i| Some(offset + i)).collect();
    if reply["recovered"] == true && offsets == want {
        return Ok(());
    }
    let got: Vec<String> = offsets.iter().take(5).map(|o| o.map_or("?".into(), |o| o.to_string())).collect();
    Err(format!(
        "recovered {} with {} of {missed} publications (offsets {}…; expected {}..={})",
        reply["recovered"],
        offsets.len(),
        got.join(","),
        offset + 1,
        offset + missed as u64
    ))
}

/// Runs one recovery wave against a started target.
pub async fn run(target: &mut Running, p: &RecoveryParams) -> anyhow::Result<RecoveryResult> {
    let addr = target.addr;
    let pid = target.pid();
    // One client learns the position every client will resume from.
    let first = subscribe(addr, 0, None).await?;
    let epoch = first["epoch"].as_str().context("no epoch in the subscribe reply")?.to_string();
    let offset = first["offset"].as_u64().context("no offset in the subscribe reply")?;
    publish_missed(addr, p.missed, p.payload).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let cpu0 = procfs::cpu_seconds(pid).unwrap_or(0.0);
    let t0 = Instant::now();
    let epoch_ref = epoch.as_str();
    let outcomes: Vec<_> = futures_util::stream::iter(0..p.clients)
        .map(|i| async move {
            let started = Instant::now();
            let r = subscribe(addr, i + 1, Some((epoch_ref, offset))).await;
            (started.elapsed(), Instant::now(), r)
        })
        .buffer_unordered(p.concurrency.max(1))
        .collect()
        .await;
    let cpu1 = procfs::cpu_seconds(pid).unwrap_or(cpu0);
    let mut latency: Histogram<u64> = new_histogram();
    let (mut recovered, mut failed, mut first_error, mut last) = (0, 0, None, t0);
    for (took, at, r) in outcomes {
        let ok = match &r {
            Ok(v) => exactly_the_missed(v, offset, p.missed),
            Err(e) => Err(format!("{e:#}")),
        };
        match ok {
            Ok(()) => {
                recovered += 1;
                latency.record(took.as_micros() as u64).ok();
                last = last.max(at);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let time_to_all_s = (last - t0).as_secs_f64();
    let delivered = (recovered * p.missed) as f64;
    let server_cpu_s = cpu1 - cpu0;
    Ok(RecoveryResult {
        target: target.target.name().to_string(),
        clients: p.clients,
        recovered,
        failed,
        first_error,
        time_to_all_s,
        recovered_per_s: if time_to_all_s > 0.0 { delivered / time_to_all_s } else { 0.0 },
        latency: Percentiles::of(&latency),
        server_cpu_s,
        server_cpu_ms_per_1k: if delivered > 0.0 { server_cpu_s * 1e6 / delivered } else { 0.0 },
    })
}

/// A Markdown table of recovery results, each as a ratio to the first.
pub fn table(results: &[RecoveryResult]) -> String {
    let mut s = String::from(
        "| target | clients | recovered | failed | time to all (s) | recovered msgs/s | p50 / p99 / max (ms) | server CPU ms per 1k | ratio (CPU) |\n\
         |---|---:|---:|---:|---:|---:|---|---:|---:|\n",
    );
    let base = results.first().map_or(0.0, |r| r.server_cpu_ms_per_1k);
    for r in results {
        let ratio = if base > 0.0 { r.server_cpu_ms_per_1k / base } else { 0.0 };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {:.0} | {:.1} / {:.1} / {:.1} | {:.2} | {:.2}× |\n",
            r.target,
            r.clients,
            r.recovered,
            r.failed,
            r.time_to_all_s,
            r.recovered_per_s,
            r.latency.p50,
            r.latency.p99,
            r.latency.max,
            r.server_cpu_ms_per_1k,
            ratio
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_must_be_exactly_the_missed_offsets() {
        let reply = |recovered: bool, offsets: &[u64]| {
            let pubs: Vec<_> = offsets.iter().map(|o| serde_json::json!({"offset": o, "data": {}})).collect();
            serde_json::json!({"recovered": recovered, "publications": pubs})
        };
        assert!(exactly_the_missed(&reply(true, &[6, 7, 8]), 5, 3).is_ok());
        assert!(exactly_the_missed(&reply(false, &[6, 7, 8]), 5, 3).is_err(), "not recovered");
        assert!(exactly_the_missed(&reply(true, &[6, 8]), 5, 3).is_err(), "a gap");
        assert!(exactly_the_missed(&reply(true, &[6, 7, 7]), 5, 3).is_err(), "a duplicate");
        assert!(exactly_the_missed(&reply(true, &[6, 7, 8, 9]), 5, 3).is_err(), "an extra");
    }

    #[test]
    fn subscribe_frames_are_json() {
        let v: serde_json::Value = serde_json::from_str(&subscribe_text(Some(("abc", 7)))).unwrap();
        assert_eq!(v["since"]["offset"], 7);
        assert_eq!(v["since"]["epoch"], "abc");
        let v: serde_json::Value = serde_json::from_str(&subscribe_text(None)).unwrap();
        assert!(v.get("since").is_none());
    }
}
