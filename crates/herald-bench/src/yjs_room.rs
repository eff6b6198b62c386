//! The `yjs-room` scenario: N y-websocket clients in one room
//! (`/yjs/{room}`), as `y-websocket` clients behave: each connects, sends
//! sync step 1 and its awareness state (a cursor), then sends an awareness
//! update every `interval`. The server relays each update to every client
//! of the room, the sender included. Three phases are measured on the
//! server: the join (connect, sync, first awareness), the steady state
//! (server CPU per delivered awareness message, latency from the update's
//! send time to each receipt) and the leave (every client closes).
//!
//! With `presence` the room's namespace tracks presence, so each client is
//! also a presence member of the room's channel ("who is viewing"): every
//! join and leave is a hub event for every other connection of the room.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::watch;

use crate::clock::{instant_of, now_ns};
use crate::fanout::Percentiles;
use crate::procfs::{self, GeneratorCpu, SelfCpu};
use crate::subscribers::{new_histogram, source_addr};
use crate::targets::Running;
use crate::wire::{self, Conn};

/// The room every client joins.
pub const ROOM: &str = "bench-room";

/// y-websocket message types (the first varint of a message).
const MESSAGE_SYNC: u8 = 0;
const MESSAGE_AWARENESS: u8 = 1;
/// Sync message types (the second varint of a sync message).
const SYNC_STEP_2: u8 = 1;

/// WebSocket opcodes the clients handle.
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// The extra Herald configuration of a run with presence: the room's
/// namespace (the `[yjs] namespace`, `doc`) tracks presence.
pub const PRESENCE_CONFIG: &str = "[namespaces.doc]\npresence = true\n";

/// Parameters of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct YjsRoomParams {
    /// Clients in the room.
    pub clients: usize,
    /// Seconds between two awareness updates of one client.
    pub interval_s: f64,
    /// Measured duration, seconds.
    pub duration_s: f64,
    /// Warm-up before measuring, seconds.
    pub warmup_s: f64,
    /// Whether the room's namespace tracks presence.
    pub presence: bool,
    /// Connections opened concurrently during the join.
    pub connect_concurrency: usize,
}

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct YjsRoomResult {
    /// Target name.
    pub target: String,
    /// Clients that joined (connected and synced).
    pub joined: usize,
    /// Clients that failed to join.
    pub join_errors: usize,
    /// First join error, if any.
    pub first_error: Option<String>,
    /// Seconds until every client had joined.
    pub join_s: f64,
    /// Server CPU seconds for the join (until its relays settled).
    pub join_server_cpu_s: f64,
    /// Server CPU milliseconds per joining client.
    pub join_cpu_ms_per_client: f64,
    /// Measured awareness updates sent.
    pub sent: u64,
    /// Deliveries expected (measured updates × joined clients).
    pub expected: u64,
    /// Measured deliveries received.
    pub delivered: u64,
    /// Delivered per second over the measured window.
    pub delivered_per_s: f64,
    /// Latency from each update's send time to its receipt.
    pub latency: Percentiles,
    /// Server CPU seconds over the measured window.
    pub server_cpu_s: f64,
    /// Server CPU microseconds per delivered awareness message.
    pub server_cpu_us_per_delivery: f64,
    /// Server CPU seconds from the clients' close until the server settled
    /// (leaves, awareness removals, presence grace included).
    pub leave_server_cpu_s: f64,
    /// Server RSS with every client in, bytes.
    pub server_rss: u64,
    /// Client connections that ended during the run.
    pub closed_during_run: u64,
    /// The generator's own CPU over the measured window.
    pub generator: GeneratorCpu,
}

/// Figures shared by the clients and the driver.
struct Shared {
    /// Updates sent at or after this time (ns on [`now_ns`]'s clock) are
    /// measured; `u64::MAX` until the schedule is set.
    measure_from_ns: AtomicU64,
    /// Updates sent before this time are measured.
    measure_to_ns: AtomicU64,
    /// Measured updates sent.
    sent: AtomicU64,
    /// Measured deliveries received.
    measured: AtomicU64,
    /// Awareness messages received (any).
    received: AtomicU64,
    /// Latest receive time of a measured delivery.
    last_recv_ns: AtomicU64,
    /// Connections that ended before the stop.
    closed: AtomicU64,
}

/// The room's send schedule: client `i` of `clients` sends its first update
/// at `first_ns + i × every_ns / clients` (spread evenly over one
/// interval), then every `every_ns`, until `end_ns`.
#[derive(Debug, Clone, Copy, Default)]
struct Schedule {
    first_ns: u64,
    every_ns: u64,
    end_ns: u64,
    clients: u64,
}

/// `n` as a y-protocols variable-length unsigned integer.
fn write_var_uint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Sync step 1 with an empty state vector: "send me everything".
fn sync_step_1() -> Vec<u8> {
    vec![MESSAGE_SYNC, 0, 1, 0]
}

/// An awareness message carrying one client's state.
fn awareness_message(client_id: u32, clock: u64, state: &str) -> Vec<u8> {
    let mut update = Vec::with_capacity(state.len() + 16);
    write_var_uint(&mut update, 1);
    write_var_uint(&mut update, u64::from(client_id));
    write_var_uint(&mut update, clock);
    write_var_uint(&mut update, state.len() as u64);
    update.extend_from_slice(state.as_bytes());
    let mut msg = Vec::with_capacity(update.len() + 8);
    msg.push(MESSAGE_AWARENESS);
    write_var_uint(&mut msg, update.len() as u64);
    msg.extend_from_slice(&update);
    msg
}

/// A cursor state stamped with the send and scheduled times.
fn cursor_state(client: usize, sent_ns: u64, sched_ns: u64) -> String {
    format!(
        "{{\"user\":{{\"name\":\"bench-{client}\"}},\"cursor\":{{\"anchor\":{client},\"head\":{client}}},\"ts\":{sent_ns},\"sch\":{sched_ns}}}"
    )
}

/// Connects client `i`: handshake, sync step 1 and its first awareness
/// state, then waits for the server's sync step 2.
async fn join(server: std::net::SocketAddr, i: usize, rotate: usize) -> std::io::Result<Conn> {
    let path = format!("/yjs/{ROOM}");
    let mut conn = wire::open(server, source_addr(i, rotate), &path).await?;
    conn.send(OP_BINARY, &sync_step_1()).await?;
    conn.send(OP_BINARY, &awareness_message(client_id(i), 1, &cursor_state(i, 0, 0))).await?;
    let synced = async {
        loop {
            while let Some((op, payload)) = conn.take_frame()? {
                match op {
                    OP_BINARY if payload.starts_with(&[MESSAGE_SYNC, SYNC_STEP_2]) => return Ok(()),
                    OP_PING => conn.send(OP_PONG, &payload).await?,
                    OP_CLOSE => return Err(std::io::Error::other("closed during the join")),
                    _ => {}
                }
            }
            if conn.read_more().await? == 0 {
                return Err(std::io::Error::other("connection closed during the join"));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), synced)
        .await
        .map_err(|_| std::io::Error::other("no sync step 2 within 30 s"))??;
    Ok(conn)
}

/// The awareness client id of client `i` (never 0).
fn client_id(i: usize) -> u32 {
    (i as u32).wrapping_add(1)
}

/// Runs client `i` until `stop`: reads every frame (recording the latency of
/// measured awareness updates), answers pings, and sends its updates on the
/// schedule once `schedule` is set. Returns its latencies, µs.
async fn run_client(
    mut conn: Conn,
    i: usize,
    shared: Arc<Shared>,
    mut schedule: watch::Receiver<Option<Schedule>>,
    mut stop: watch::Receiver<bool>,
) -> Vec<u64> {
    let mut latencies = Vec::new();
    let mut clock = 1u64;
    let mut next: Option<u64> = None;
    let mut plan = Schedule::default();
    loop {
        let due = next.filter(|&n| n < plan.end_ns);
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            changed = schedule.changed(), if next.is_none() => {
                if changed.is_err() {
                    break;
                }
                if let Some(p) = *schedule.borrow_and_update() {
                    plan = p;
                    next = Some(p.first_ns + p.every_ns * i as u64 / p.clients.max(1));
                }
            }
            _ = tokio::time::sleep_until(instant_of(due.unwrap_or(0)).into()), if due.is_some() => {
                let sched = due.unwrap_or(0);
                clock += 1;
                let msg = awareness_message(client_id(i), clock, &cursor_state(i, now_ns(), sched));
                if conn.send(OP_BINARY, &msg).await.is_err() {
                    shared.closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                if sched >= shared.measure_from_ns.load(Ordering::Relaxed)
                    && sched < shared.measure_to_ns.load(Ordering::Relaxed)
                {
                    shared.sent.fetch_add(1, Ordering::Relaxed);
                }
                next = Some(sched + plan.every_ns);
            }
            read = conn.read_more() => {
                if !matches!(read, Ok(n) if n > 0) || handle_frames(&mut conn, &shared, &mut latencies).await.is_err() {
                    shared.closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
    latencies
}

/// Handles the complete frames in `conn`'s buffer.
async fn handle_frames(conn: &mut Conn, shared: &Shared, latencies: &mut Vec<u64>) -> std::io::Result<()> {
    let now = now_ns();
    while let Some((op, payload)) = conn.take_frame()? {
        match op {
            OP_BINARY if payload.first() == Some(&MESSAGE_AWARENESS) => {
                shared.received.fetch_add(1, Ordering::Relaxed);
                let (Some(sent), Some(sched)) =
                    (wire::find_u64(&payload, b"\"ts\":"), wire::find_u64(&payload, b"\"sch\":"))
                else {
                    continue;
                };
                if sched >= shared.measure_from_ns.load(Ordering::Relaxed)
                    && sched < shared.measure_to_ns.load(Ordering::Relaxed)
                {
                    shared.measured.fetch_add(1, Ordering::Relaxed);
                    shared.last_recv_ns.fetch_max(now, Ordering::Relaxed);
                    latencies.push(now.saturating_sub(sent) / 1000);
                }
            }
            OP_PING => conn.send(OP_PONG, &payload).await?,
            OP_CLOSE => return Err(std::io::Error::other("server closed the connection")),
            _ => {}
        }
    }
    Ok(())
}

/// Waits until `counter` stops moving for `quiet` (at most `max`).
async fn settle(counter: &AtomicU64, quiet: Duration, max: Duration) {
    let deadline = Instant::now() + max;
    let mut last = (counter.load(Ordering::Relaxed), Instant::now());
    while Instant::now() < deadline && last.1.elapsed() < quiet {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counter.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
}

/// Waits until the server's CPU use stays under 2% of a core for 1 s (at
/// most `max`), no sooner than `min`.
async fn settle_cpu(pid: u32, min: Duration, max: Duration) {
    let start = Instant::now();
    tokio::time::sleep(min).await;
    let mut prev = procfs::cpu_seconds(pid).unwrap_or(0.0);
    while start.elapsed() < max {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = procfs::cpu_seconds(pid).unwrap_or(prev);
        if now - prev < 0.02 {
            return;
        }
        prev = now;
    }
}

/// Runs the scenario against a started Herald.
pub async fn run(target: &mut Running, p: &YjsRoomParams, rotate: usize) -> anyhow::Result<YjsRoomResult> {
    let pid = target.pid();
    let server = target.addr;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shared = Arc::new(Shared {
        measure_from_ns: AtomicU64::new(u64::MAX),
        measure_to_ns: AtomicU64::new(u64::MAX),
        sent: AtomicU64::new(0),
        measured: AtomicU64::new(0),
        received: AtomicU64::new(0),
        last_recv_ns: AtomicU64::new(0),
        closed: AtomicU64::new(0),
    });
    let (schedule_tx, schedule_rx) = watch::channel(None::<Schedule>);
    let (stop_tx, stop_rx) = watch::channel(false);

    // Join: each client starts reading as soon as it is in.
    let cpu0 = procfs::cpu_seconds(pid).unwrap_or(0.0);
    let t0 = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(0..p.clients)
        .map(|i| {
            let (shared, schedule, stop) = (shared.clone(), schedule_rx.clone(), stop_rx.clone());
            async move {
                let conn = join(server, i, rotate).await?;
                Ok::<_, std::io::Error>(tokio::spawn(run_client(conn, i, shared, schedule, stop)))
            }
        })
        .buffer_unordered(p.connect_concurrency.max(1))
        .collect()
        .await;
    let join_s = t0.elapsed().as_secs_f64();
    let mut tasks = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(t) => tasks.push(t),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let joined = tasks.len();
    // The join's relays (each first awareness to everyone already in) settle.
    settle(&shared.received, Duration::from_millis(500), Duration::from_secs(30)).await;
    let cpu1 = procfs::cpu_seconds(pid).unwrap_or(cpu0);
    eprintln!(
        "  {}: {joined} joined in {join_s:.1}s ({} failed), server CPU {:.2}s",
        target.target.name(),
        errors.len(),
        cpu1 - cpu0
    );
    let server_rss = procfs::rss_bytes(pid).unwrap_or(0);

    // Steady state: client i's updates are spread evenly over the interval.
    let every_ns = (p.interval_s * 1e9) as u64;
    let start_ns = now_ns() + 300_000_000;
    let measure_from = start_ns + (p.warmup_s * 1e9) as u64;
    let end_ns = measure_from + (p.duration_s * 1e9) as u64;
    shared.measure_from_ns.store(measure_from, Ordering::Relaxed);
    shared.measure_to_ns.store(end_ns, Ordering::Relaxed);
    let _ = schedule_tx.send(Some(Schedule { first_ns: start_ns, every_ns, end_ns, clients: p.clients as u64 }));
    tokio::time::sleep_until(instant_of(measure_from).into()).await;
    let cpu_m0 = procfs::cpu_seconds(pid).unwrap_or(0.0);
    let gen0 = SelfCpu::now();
    let wall0 = Instant::now();
    tokio::time::sleep_until(instant_of(end_ns).into()).await;
    // Drain: until every expected delivery arrived, or nothing more for 2 s.
    let expected_now = || shared.sent.load(Ordering::Relaxed) * joined as u64;
    let drain_deadline = Instant::now() + Duration::from_secs(10);
    let mut last = (shared.measured.load(Ordering::Relaxed), Instant::now());
    loop {
        let got = shared.measured.load(Ordering::Relaxed);
        if got >= expected_now() || Instant::now() > drain_deadline || last.1.elapsed() > Duration::from_secs(2) {
            break;
        }
        if got != last.0 {
            last = (got, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu_m1 = procfs::cpu_seconds(pid).unwrap_or(cpu_m0);
    let generator = gen0.since(wall0.elapsed().as_secs_f64());
    let closed_during_run = shared.closed.load(Ordering::Relaxed);

    // Leave: every client closes; the server handles the leaves.
    let cpu_l0 = procfs::cpu_seconds(pid).unwrap_or(0.0);
    let _ = stop_tx.send(true);
    let mut latency = new_histogram();
    for t in tasks {
        for us in t.await.unwrap_or_default() {
            latency.saturating_record(us.max(1));
        }
    }
    settle_cpu(pid, Duration::from_secs(4), Duration::from_secs(30)).await;
    let cpu_l1 = procfs::cpu_seconds(pid).unwrap_or(cpu_l0);

    let delivered = shared.measured.load(Ordering::Relaxed);
    let last_recv = shared.last_recv_ns.load(Ordering::Relaxed).max(end_ns);
    let window = (last_recv - measure_from) as f64 / 1e9;
    let server_cpu_s = cpu_m1 - cpu_m0;
    Ok(YjsRoomResult {
        target: target.target.name().to_string(),
        joined,
        join_errors: errors.len(),
        first_error: errors.into_iter().next(),
        join_s,
        join_server_cpu_s: cpu1 - cpu0,
        join_cpu_ms_per_client: if joined > 0 { (cpu1 - cpu0) * 1e3 / joined as f64 } else { 0.0 },
        sent: shared.sent.load(Ordering::Relaxed),
        expected: expected_now(),
        delivered,
        delivered_per_s: delivered as f64 / window.max(1e-3),
        latency: Percentiles::of(&latency),
        server_cpu_s,
        server_cpu_us_per_delivery: if delivered > 0 { server_cpu_s * 1e6 / delivered as f64 } else { 0.0 },
        leave_server_cpu_s: cpu_l1 - cpu_l0,
        server_rss,
        closed_during_run,
        generator,
    })
}

/// The results as a Markdown table.
pub fn table(results: &[YjsRoomResult]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| target | clients | join s | join CPU ms/client | deliv/s | delivered/expected | p50 ms | p99 ms | CPU µs/delivery | leave CPU s | RSS MB | gen CPU |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in results {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.2} | {:.0} | {}/{} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.0}%{} |",
            r.target,
            r.joined,
            r.join_s,
            r.join_cpu_ms_per_client,
            r.delivered_per_s,
            r.delivered,
            r.expected,
            r.latency.p50,
            r.latency.p99,
            r.server_cpu_us_per_delivery,
            r.leave_server_cpu_s,
            r.server_rss as f64 / 1e6,
            r.generator.cores * 100.0,
            if r.generator.saturated { " SATURATED" } else { "" }
        );
        if let Some(e) = &r.first_error {
            let _ = writeln!(s, "\n{}: {} client(s) failed to join, first error: {e}", r.target, r.join_errors);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_uints_and_awareness_messages() {
        let mut v = Vec::new();
        write_var_uint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        let state = cursor_state(7, 123, 45);
        let msg = awareness_message(8, 2, &state);
        assert_eq!(msg[0], MESSAGE_AWARENESS);
        // [1, len, count=1, id=8, clock=2, state len, state…]
        assert_eq!(&msg[2..5], &[1, 8, 2]);
        assert!(msg.ends_with(state.as_bytes()));
        assert_eq!(wire::find_u64(&msg, b"\"ts\":"), Some(123));
        assert_eq!(wire::find_u64(&msg, b"\"sch\":"), Some(45));
        let _: serde_json::Value = serde_json::from_str(&state).unwrap();
    }
}
