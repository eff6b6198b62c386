//! `herald-bench`: drives the same load against Herald and its peers on
//! loopback and compares them — delivered messages per second, end-to-end
//! latency, server CPU per delivery, and memory per connection.
//!
//! ```text
//! herald-bench fanout --subscribers 10000 --rate 50 --duration 30s --targets herald,raw,ws,socketio
//! herald-bench connect --steps 1000,10000,19000 --targets herald,raw,ws
//! herald-bench many-channels --subscribers 10000 --rate 2000 --targets herald,raw,ws,socketio
//! herald-bench recovery --clients 5000 --missed 100 --targets herald,herald-sqlite
//! herald-bench fanout --subscribers 1000 --rate 100 --targets herald-pusher,sockudo,herald
//! herald-bench fanout --quick          # under a minute, a smoke test for CI
//! herald-bench yjs-room --clients 1000 --interval 15s --duration 30s
//! herald-bench raw-server --listen 127.0.0.1:9000
//! ```
//!
//! See `BENCHMARKS.md` at the repository root for method and results.

mod ably;
mod clock;
mod connect;
mod fanout;
mod phoenix;
mod plot;
mod procfs;
mod publisher;
mod pusher_api;
mod raw_server;
mod recovery;
mod report;
mod subscribers;
mod targets;
mod verdict;
mod wire;
mod yjs_room;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Parser, Subcommand};

use targets::{Paths, Target};

/// One process may hold 20,000 open files on these machines (hard limit):
/// the generator needs one per subscriber and the server one per client.
const MAX_CONNECTIONS: usize = 19_000;

#[derive(Parser)]
#[command(name = "herald-bench", version, about = "Fan-out and connection benchmarks: Herald against its peers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// N subscribers on one channel, one publisher at a fixed rate.
    Fanout(FanoutArgs),
    /// Many small chats: subscribers in pairs on N/2 channels, publications
    /// spread over the channels (a fan-out with `--channels subscribers/2`).
    ManyChannels(FanoutArgs),
    /// Connect and subscribe clients in steps; report idle memory per connection.
    Connect(ConnectArgs),
    /// A wave of clients reconnects and recovers missed messages (Herald targets only).
    Recovery(RecoveryArgs),
    /// N y-websocket clients in one room, each sending awareness updates
    /// at a fixed interval (Herald only: its `/yjs/{room}` door).
    YjsRoom(YjsRoomArgs),
    /// The minimal broadcaster on herald-ws (the "raw" target).
    RawServer {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7800")]
        listen: SocketAddr,
    },
}

#[derive(Args, Clone)]
struct Common {
    /// Targets, in order: herald, herald-sqlite, herald+redis, herald-pusher,
    /// herald-socketio, herald-supabase, herald-ably, raw, ws, socketio, sockudo.
    #[arg(long, value_delimiter = ',', default_value = "herald,raw,ws,socketio")]
    targets: Vec<Target>,
    /// Generator worker threads (the server gets the other cores).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Output prefix: PREFIX.json, PREFIX.md and SVG plots.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The herald binary (default: next to herald-bench, else built in release).
    #[arg(long)]
    herald_bin: Option<PathBuf>,
    /// Directory of the Node peers.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/peers"))]
    peers_dir: PathBuf,
    /// Small and short: a smoke test that the tool works (not a measurement).
    #[arg(long)]
    quick: bool,
}

#[derive(Args, Clone)]
struct FanoutArgs {
    #[command(flatten)]
    common: Common,
    /// Subscribers (at most 19,000: the 20,000 open files limit per process).
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Channels the subscribers are spread over; publications rotate over
    /// them. Default: 1 for `fanout`, subscribers / 2 for `many-channels`.
    #[arg(long)]
    channels: Option<usize>,
    /// Publications per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Approximate payload (`data`) size in bytes.
    #[arg(long, default_value_t = 100)]
    payload: usize,
    /// Measured duration (e.g. 30s, 500ms, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Warm-up before measuring.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
}

#[derive(Args, Clone)]
struct ConnectArgs {
    #[command(flatten)]
    common: Common,
    /// Cumulative connection counts at which memory is measured.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,19000")]
    steps: Vec<usize>,
    /// New connections per second.
    #[arg(long, default_value_t = 2000)]
    connect_rate: u64,
}

#[derive(Args, Clone)]
struct RecoveryArgs {
    #[command(flatten)]
    common: Common,
    /// Clients in the reconnect wave.
    #[arg(long, default_value_t = 2000)]
    clients: usize,
    /// Messages published while they were away (≤ the recovery window, 1000).
    #[arg(long, default_value_t = 100)]
    missed: usize,
    /// Approximate payload (`data`) size in bytes.
    #[arg(long, default_value_t = 100)]
    payload: usize,
    /// Reconnections in flight at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
}

#[derive(Args, Clone)]
struct YjsRoomArgs {
    #[command(flatten)]
    common: Common,
    /// Clients in the room (at most 19,000: the open files limit).
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Time between two awareness updates of one client (y-protocols renews
    /// a state every 15 s; a moving cursor sends more often).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    interval: Duration,
    /// Measured duration.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Warm-up before measuring.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Without presence in the room's namespace (by default each client is
    /// also a presence member of the room's channel, "who is viewing").
    #[arg(long)]
    no_presence: bool,
}

/// Parses `30s`, `500ms`, `2m` or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.find(|c: char| c.is_ascii_alphabetic()).map_or((s, "s"), |i| s.split_at(i));
    let v: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return Err(format!("unknown unit in {s:?} (use ms, s or m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::RawServer { listen } => {
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(raw_server::serve(listen))
        }
        Command::Fanout(mut a) => {
            if a.common.quick {
                a.subscribers = 200;
                a.rate = 20.0;
                a.duration = Duration::from_secs(3);
                a.warmup = Duration::from_millis(500);
            }
            runtime(a.common.threads)?.block_on(run_fanout(a, "fanout"))
        }
        Command::ManyChannels(mut a) => {
            if a.common.quick {
                a.subscribers = 200;
                a.rate = 200.0;
                a.duration = Duration::from_secs(3);
                a.warmup = Duration::from_millis(500);
            }
            a.channels = Some(a.channels.unwrap_or(a.subscribers / 2));
            runtime(a.common.threads)?.block_on(run_fanout(a, "many-channels"))
        }
        Command::Recovery(mut a) => {
            if a.common.quick {
                a.clients = 100;
                a.missed = 20;
            }
            runtime(a.common.threads)?.block_on(run_recovery(a))
        }
        Command::YjsRoom(mut a) => {
            if a.common.quick {
                a.clients = 100;
                a.interval = Duration::from_secs(1);
                a.duration = Duration::from_secs(3);
                a.warmup = Duration::from_millis(500);
            }
            runtime(a.common.threads)?.block_on(run_yjs_room(a))
        }
        Command::Connect(mut a) => {
            if a.common.quick {
                a.steps = vec![100, 500];
            }
            runtime(a.common.threads)?.block_on(run_connect(a))
        }
    }
}

fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build()
}

fn paths(c: &Common) -> Paths {
    Paths {
        herald_bin: c.herald_bin.clone(),
        peers_dir: c.peers_dir.clone(),
        work_dir: std::env::temp_dir().join(format!("herald-bench-{}", std::process::id())),
    }
}

/// The targets that can run here; prints why the others are skipped.
fn runnable(c: &Common, paths: &Paths) -> Vec<Target> {
    c.targets
        .iter()
        .copied()
        .filter(|&t| match targets::unavailable(t, paths) {
            Some(why) => {
                eprintln!("{}: {why}", t.name());
                false
            }
            None => true,
        })
        .collect()
}

/// Starts each target in turn, runs `scenario` against it (with the
/// target's number, which picks a fresh range of source addresses) and
/// stops it. A target that does not start or whose run fails (a
/// connection or scenario error) is reported with the server's log, the
/// other targets still run, and then the whole run is an error: a broken
/// target never passes unnoticed. No result at all is an error too.
async fn each_target<R>(
    targets: Vec<Target>,
    paths: &Paths,
    mut scenario: impl AsyncFnMut(usize, &mut targets::Running) -> anyhow::Result<R>,
) -> anyhow::Result<Vec<R>> {
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for (i, t) in targets.into_iter().enumerate() {
        eprintln!("== {}", t.name());
        let mut running = match targets::start(t, paths) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("FAILED {}: could not start: {e:#}", t.name());
                failures.push(format!("{}: could not start: {e:#}", t.name()));
                continue;
            }
        };
        match scenario(i, &mut running).await {
            Ok(r) => results.push(r),
            Err(e) => {
                eprintln!("FAILED {}: run failed: {e:#}\n{}", t.name(), running.log_tail());
                failures.push(format!("{}: run failed: {e:#}", t.name()));
            }
        }
        running.stop();
        // Let the kernel reap the closed sockets before the next target.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !failures.is_empty() {
        bail!("{} target(s) failed: {}", failures.len(), failures.join("; "));
    }
    if results.is_empty() {
        bail!("no target produced a result");
    }
    Ok(results)
}

/// Refuses a run that would exceed the open files limit (one descriptor
/// per connection in the generator and in the server, plus some spare).
fn check_fd_limit(connections: usize) -> anyhow::Result<()> {
    if let Some(limit) = procfs::open_files_limit()
        && (connections as u64 + 200) > limit
    {
        bail!("{connections} connections need more than the open files limit of {limit} (raise `ulimit -n`)");
    }
    Ok(())
}

fn with_ext(prefix: &std::path::Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

async fn run_fanout(a: FanoutArgs, scenario: &'static str) -> anyhow::Result<()> {
    let channels = a.channels.unwrap_or(1).max(1);
    if !a.subscribers.is_multiple_of(channels) {
        bail!("--subscribers {} must be a multiple of --channels {channels}", a.subscribers);
    }
    if a.subscribers > MAX_CONNECTIONS {
        bail!(
            "--subscribers {} is over {MAX_CONNECTIONS}: one process may hold 20,000 open files here, \
             so a single-node run is capped at {MAX_CONNECTIONS} connections",
            a.subscribers
        );
    }
    check_fd_limit(a.subscribers)?;
    let paths = paths(&a.common);
    let params = fanout::FanoutParams {
        subscribers: a.subscribers,
        channels,
        rate: a.rate,
        payload: a.payload,
        duration_s: a.duration.as_secs_f64(),
        warmup_s: a.warmup.as_secs_f64(),
        per_group: 500,
        connect_concurrency: 200,
    };
    println!(
        "{scenario}: {} subscribers on {channels} channel(s) × {}/s × {} B for {:.1}s (+{:.1}s warm-up), generator threads {}",
        a.subscribers, a.rate, a.payload, params.duration_s, params.warmup_s, a.common.threads
    );
    let targets = runnable(&a.common, &paths);
    let results = each_target(targets, &paths, async |i, running| fanout::run(running, &params, i * 5).await).await?;
    let table = report::fanout_table(&results);
    println!("\n{table}");
    let out = a
        .common
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("bench/results/{scenario}-{}x{}", a.subscribers, a.rate as u64)));
    #[derive(serde::Serialize)]
    struct Out<'a> {
        scenario: &'static str,
        params: &'a fanout::FanoutParams,
        results: &'a [fanout::FanoutResult],
    }
    report::write_json(&with_ext(&out, ".json"), &Out { scenario, params: &params, results: &results })?;
    std::fs::write(with_ext(&out, ".md"), &table)?;
    let title = format!("{scenario} {} subs / {channels} ch × {}/s × {} B", a.subscribers, a.rate, a.payload);
    plot::latency(&with_ext(&out, "-latency.svg"), &title, &results)?;
    plot::throughput(&with_ext(&out, "-throughput.svg"), &title, &results)?;
    println!("wrote {}.json, .md, -latency.svg, -throughput.svg", out.display());
    verdict::check(scenario, results.iter().map(|r| (r.target.as_str(), r.problems(a.subscribers))))
}

async fn run_connect(a: ConnectArgs) -> anyhow::Result<()> {
    if let Some(&too_many) = a.steps.iter().find(|&&s| s > MAX_CONNECTIONS) {
        bail!("step {too_many} is over {MAX_CONNECTIONS}: the 20,000 open files limit per process caps a run here");
    }
    check_fd_limit(a.steps.iter().copied().max().unwrap_or(0))?;
    let paths = paths(&a.common);
    println!("connect: steps {:?} at {}/s", a.steps, a.connect_rate);
    let targets = runnable(&a.common, &paths);
    let results = each_target(targets, &paths, async |i, running| {
        connect::run(running, &a.steps, a.connect_rate, 200, i * 5).await
    })
    .await?;
    let table = report::connect_table(&results);
    println!("\n{table}");
    let out = a.common.out.clone().unwrap_or_else(|| PathBuf::from("bench/results/connect"));
    report::write_json(&with_ext(&out, ".json"), &results)?;
    std::fs::write(with_ext(&out, ".md"), &table)?;
    println!("wrote {}.json, .md", out.display());
    verdict::check("connect", results.iter().map(|r| (r.target.as_str(), r.problems(&a.steps))))
}

async fn run_recovery(a: RecoveryArgs) -> anyhow::Result<()> {
    let paths = paths(&a.common);
    let params = recovery::RecoveryParams {
        clients: a.clients,
        missed: a.missed,
        payload: a.payload,
        concurrency: a.concurrency,
    };
    println!("recovery: {} clients recover {} missed messages, {} at a time", a.clients, a.missed, a.concurrency);
    let targets: Vec<Target> = runnable(&a.common, &paths)
        .into_iter()
        .filter(|t| {
            let herald = matches!(t, Target::Herald | Target::HeraldSqlite);
            if !herald {
                eprintln!("{}: skipped (no history to recover from)", t.name());
            }
            herald
        })
        .collect();
    let results = each_target(targets, &paths, async |_, running| recovery::run(running, &params).await).await?;
    let table = recovery::table(&results);
    println!("\n{table}");
    let out = a.common.out.clone().unwrap_or_else(|| PathBuf::from("bench/results/recovery"));
    #[derive(serde::Serialize)]
    struct Out<'a> {
        scenario: &'static str,
        params: &'a recovery::RecoveryParams,
        results: &'a [recovery::RecoveryResult],
    }
    report::write_json(&with_ext(&out, ".json"), &Out { scenario: "recovery", params: &params, results: &results })?;
    std::fs::write(with_ext(&out, ".md"), &table)?;
    println!("wrote {}.json, .md", out.display());
    if let Some(r) = results.iter().find(|r| r.failed > 0) {
        bail!("{}: {} recoveries failed: {}", r.target, r.failed, r.first_error.as_deref().unwrap_or(""));
    }
    Ok(())
}

async fn run_yjs_room(a: YjsRoomArgs) -> anyhow::Result<()> {
    if a.clients > MAX_CONNECTIONS {
        bail!("--clients {} is over {MAX_CONNECTIONS}: the open files limit caps a run here", a.clients);
    }
    check_fd_limit(a.clients)?;
    let paths = paths(&a.common);
    let params = yjs_room::YjsRoomParams {
        clients: a.clients,
        interval_s: a.interval.as_secs_f64(),
        duration_s: a.duration.as_secs_f64(),
        warmup_s: a.warmup.as_secs_f64(),
        presence: !a.no_presence,
        connect_concurrency: 200,
    };
    println!(
        "yjs-room: {} y-websocket clients in one room, an awareness update each every {:.1}s, {:.1}s measured (+{:.1}s warm-up), presence {}",
        params.clients,
        params.interval_s,
        params.duration_s,
        params.warmup_s,
        if params.presence { "on" } else { "off" }
    );
    let extra = if params.presence { yjs_room::PRESENCE_CONFIG } else { "" };
    eprintln!("== herald");
    let mut running = targets::start_with(Target::Herald, &paths, extra)?;
    let result = yjs_room::run(&mut running, &params, 0).await;
    if result.is_err() {
        eprintln!("{}", running.log_tail());
    }
    running.stop();
    let result = result?;
    let table = yjs_room::table(std::slice::from_ref(&result));
    println!("\n{table}");
    let out = a.common.out.clone().unwrap_or_else(|| PathBuf::from(format!("bench/results/yjs-room-{}", a.clients)));
    #[derive(serde::Serialize)]
    struct Out<'a> {
        scenario: &'static str,
        params: &'a yjs_room::YjsRoomParams,
        results: &'a [yjs_room::YjsRoomResult],
    }
    let results = std::slice::from_ref(&result);
    report::write_json(&with_ext(&out, ".json"), &Out { scenario: "yjs-room", params: &params, results })?;
    std::fs::write(with_ext(&out, ".md"), &table)?;
    println!("wrote {}.json, .md", out.display());
    if result.delivered < result.expected || result.joined < a.clients {
        bail!(
            "{} of {} clients joined, {} of {} expected deliveries arrived",
            result.joined,
            a.clients,
            result.delivered,
            result.expected
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("3h").is_err());
    }
}
