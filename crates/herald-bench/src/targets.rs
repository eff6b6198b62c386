//! Targets: the servers under test, each started as its own process on a
//! free loopback port and stopped afterwards, so its CPU and memory can be
//! read from `/proc/<pid>`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::pusher_api;
use crate::wire::Dialect;

/// A server the bench can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// The release `herald` binary with `--ephemeral` (in-memory history).
    Herald,
    /// `herald` with the embedded SQLite store in a temporary data dir.
    HeraldSqlite,
    /// Two `herald` nodes on the Redis at `$HERALD_BENCH_REDIS` (default
    /// `redis://127.0.0.1:6379`, own key prefix): subscribers on one node,
    /// the publisher on the other, so every delivery crosses Redis. CPU and
    /// memory are the subscribers' node's.
    #[value(name = "herald+redis")]
    #[serde(rename = "herald+redis")]
    HeraldRedis,
    /// `herald-bench raw-server`: same WebSocket stack, no features.
    Raw,
    /// Node `ws` 8 broadcast server (`bench/peers/ws-server.js`).
    Ws,
    /// Socket.IO 4.8 room broadcast (`bench/peers/socketio-server.js`).
    Socketio,
    /// `herald` (as the `herald` target) with one Pusher app, driven through
    /// the Pusher door: subscribers on `/app/{key}`, the publisher on the
    /// signed HTTP API `POST /apps/{id}/events`.
    HeraldPusher,
    /// `herald` (as the `herald` target) driven through its Socket.IO door
    /// (`/socket.io/`, WebSocket transport), publisher on the same door.
    HeraldSocketio,
    /// `herald` (as the `herald` target) driven through its Supabase Realtime
    /// door (`/realtime/v1/websocket`, vsn 1.0.0): subscribers and the
    /// publisher join `realtime:{channel}`, the publisher sends broadcasts.
    HeraldSupabase,
    /// `herald` (as the `herald` target) with one Ably key, driven through
    /// its Ably door in JSON (`/?key=…&format=json`): subscribers ATTACH, the
    /// publisher sends MESSAGEs with a msgSerial (ACKed).
    HeraldAbly,
    /// Sockudo (Rust, Pusher protocol), driven as `herald-pusher`: the binary
    /// at `$SOCKUDO_BIN`, else `bench/peers/sockudo/bin/sockudo`, else
    /// `sockudo` on the `PATH` (see `bench/peers/README.md`); skipped when
    /// none exists.
    Sockudo,
}

impl Target {
    /// The name shown in tables.
    pub fn name(self) -> &'static str {
        match self {
            Target::Herald => "herald",
            Target::HeraldSqlite => "herald-sqlite",
            Target::HeraldRedis => "herald+redis",
            Target::Raw => "raw",
            Target::Ws => "ws",
            Target::Socketio => "socketio",
            Target::HeraldPusher => "herald-pusher",
            Target::HeraldSocketio => "herald-socketio",
            Target::HeraldSupabase => "herald-supabase",
            Target::HeraldAbly => "herald-ably",
            Target::Sockudo => "sockudo",
        }
    }

    /// The protocol the generator speaks to it.
    pub fn dialect(self) -> Dialect {
        match self {
            Target::Socketio => Dialect::SocketIo,
            Target::HeraldSocketio => Dialect::HeraldSocketIo,
            Target::HeraldSupabase => Dialect::Supabase,
            Target::HeraldAbly => Dialect::Ably,
            Target::HeraldPusher | Target::Sockudo => Dialect::Pusher,
            _ => Dialect::Native,
        }
    }
}

/// Where to find things the targets need.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The `herald` binary, if given.
    pub herald_bin: Option<PathBuf>,
    /// `bench/peers` (Node scripts).
    pub peers_dir: PathBuf,
    /// Directory for server logs and temporary data.
    pub work_dir: PathBuf,
}

/// A started target.
pub struct Running {
    /// Which target.
    pub target: Target,
    /// Its WebSocket address.
    pub addr: SocketAddr,
    /// Where the publisher connects (another node for `herald+redis`).
    pub publish_addr: SocketAddr,
    /// The server process.
    child: Child,
    /// Other processes of the target (the second node).
    others: Vec<Child>,
    /// Redis URL and key prefix to delete when the target stops.
    redis_keys: Option<(String, String)>,
    log: PathBuf,
}

impl Running {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Asks the server to stop (SIGTERM, so profilers wrapped around it can
    /// write their output), then kills it after 10 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for c in &mut self.others {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for c in &mut self.others {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some((url, prefix)) = self.redis_keys.take() {
            delete_redis_keys(&url, &prefix);
        }
    }
}

/// Delete every key under `prefix` (with `redis-cli`; best effort).
fn delete_redis_keys(url: &str, prefix: &str) {
    let Ok(out) = Command::new("redis-cli").args(["-u", url, "--scan", "--pattern", &format!("{prefix}:*")]).output()
    else {
        return;
    };
    let keys: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    for chunk in keys.chunks(500) {
        let _ = Command::new("redis-cli").args(["-u", url, "DEL"]).args(chunk).stdout(Stdio::null()).status();
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Why a target cannot run here, if it cannot (the caller skips it).
pub fn unavailable(target: Target, paths: &Paths) -> Option<String> {
    match target {
        Target::Sockudo if sockudo_binary(paths).is_none() => Some(format!(
            "sockudo is not installed (no $SOCKUDO_BIN, {}, or sockudo on the PATH; \
             see bench/peers/README.md: `cargo install sockudo` needs protoc and ~20 min on 2 cores); skipped",
            paths.peers_dir.join(SOCKUDO_IN_PEERS).display()
        )),
        Target::Ws | Target::Socketio if which("node").is_none() => Some("node is not installed; skipped".into()),
        Target::Ws | Target::Socketio if !paths.peers_dir.join("package.json").exists() => {
            Some(format!("{} has no package.json; skipped", paths.peers_dir.display()))
        }
        _ => None,
    }
}

/// Where `cargo install sockudo --root bench/peers/sockudo` puts the binary.
const SOCKUDO_IN_PEERS: &str = "sockudo/bin/sockudo";

/// The Sockudo binary: `$SOCKUDO_BIN`, `bench/peers/sockudo/bin/sockudo`, or on the `PATH`.
fn sockudo_binary(paths: &Paths) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SOCKUDO_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    Some(paths.peers_dir.join(SOCKUDO_IN_PEERS)).filter(|p| p.is_file()).or_else(|| which("sockudo"))
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// Finds the `herald` binary: `--herald-bin`, then next to this executable,
/// then `cargo build --release -p herald-server`.
fn herald_binary(paths: &Paths) -> anyhow::Result<PathBuf> {
    if let Some(p) = &paths.herald_bin {
        return Ok(p.clone());
    }
    let exe = std::env::current_exe()?;
    if let Some(sibling) = exe.parent().map(|d| d.join("herald")).filter(|p| p.is_file()) {
        return Ok(sibling);
    }
    eprintln!("building herald: cargo build --release -p herald-server");
    let status = Command::new("cargo").args(["build", "--release", "-p", "herald-server"]).status()?;
    if !status.success() {
        bail!("cargo build --release -p herald-server failed");
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    Ok(dir.join("release/herald"))
}

/// Installs the Node peers' dependencies if `node_modules` is missing.
fn ensure_node_modules(dir: &Path) -> anyhow::Result<()> {
    if dir.join("node_modules").is_dir() {
        return Ok(());
    }
    let sub = if dir.join("package-lock.json").exists() { "ci" } else { "install" };
    eprintln!("installing Node peers: npm {sub} in {}", dir.display());
    let status = Command::new("npm").arg(sub).arg("--no-audit").arg("--no-fund").current_dir(dir).status()?;
    if !status.success() {
        bail!("npm {sub} failed in {}", dir.display());
    }
    Ok(())
}

/// Starts `target` and waits until it accepts TCP connections.
pub fn start(target: Target, paths: &Paths) -> anyhow::Result<Running> {
    start_with(target, paths, "")
}

/// [`start`], with `extra_config` (TOML) appended to a Herald target's
/// benchmark configuration (e.g. a namespace's options for one scenario).
pub fn start_with(target: Target, paths: &Paths, extra_config: &str) -> anyhow::Result<Running> {
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    std::fs::create_dir_all(&paths.work_dir)?;
    let log = paths.work_dir.join(format!("{}.log", target.name()));
    let mut others = Vec::new();
    let mut redis_keys = None;
    let mut publish_addr = addr;
    let mut cmd = match target {
        Target::HeraldRedis => {
            // The publisher's node first; the measured (subscribers') node below.
            let url = std::env::var("HERALD_BENCH_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string());
            let config = paths.work_dir.join("bench-herald-redis.toml");
            let prefix = format!("herald-bench-{:x}-{port}", std::process::id());
            redis_keys = Some((url.clone(), prefix.clone()));
            std::fs::write(
                &config,
                format!("{BENCH_HERALD_CONFIG}[broker]\nurl = \"{url}\"\nkey_prefix = \"{prefix}\"\n"),
            )?;
            let node = |port: u16| -> anyhow::Result<Command> {
                let mut c = Command::new(herald_binary(paths)?);
                c.args(["serve", "--listen", &format!("127.0.0.1:{port}")]).env("RUST_LOG", "warn");
                c.arg("--data-dir").arg(paths.work_dir.join(format!("herald-data-{port}")));
                c.arg("--config").arg(&config);
                Ok(c)
            };
            let pub_port = free_port()?;
            publish_addr = SocketAddr::from(([127, 0, 0, 1], pub_port));
            let out = std::fs::File::create(paths.work_dir.join("herald+redis-publisher-node.log"))?;
            let mut c = node(pub_port)?;
            c.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
            others.push(c.spawn().context("cannot start the publisher's herald node")?);
            wait_listening(publish_addr)?;
            node(port)?
        }
        Target::Herald
        | Target::HeraldSqlite
        | Target::HeraldPusher
        | Target::HeraldSocketio
        | Target::HeraldSupabase
        | Target::HeraldAbly => {
            let mut c = Command::new(herald_binary(paths)?);
            c.args(["serve", "--listen", &addr.to_string()]).env("RUST_LOG", "warn");
            if target == Target::HeraldPusher {
                c.env("HERALD_PUSHER_APP_ID", pusher_api::APP_ID)
                    .env("HERALD_PUSHER_APP_KEY", pusher_api::APP_KEY)
                    .env("HERALD_PUSHER_APP_SECRET", pusher_api::APP_SECRET);
            }
            if target == Target::HeraldAbly {
                c.env("HERALD_ABLY_KEY", crate::ably::KEY);
            }
            if target != Target::HeraldSqlite {
                c.arg("--ephemeral");
            } else {
                let data = paths.work_dir.join(format!("herald-data-{port}"));
                c.arg("--data-dir").arg(data);
            }
            // Never pick up a herald.toml from the current directory. The
            // load generator is one trusted client opening thousands of
            // connections and publishing fast from loopback: lift the abuse
            // limits meant for the public internet so they are not measured.
            let config = paths.work_dir.join("bench-herald.toml");
            std::fs::write(&config, format!("{BENCH_HERALD_CONFIG}{extra_config}"))?;
            c.arg("--config").arg(config);
            c
        }
        Target::Raw => {
            let mut c = Command::new(std::env::current_exe()?);
            c.args(["raw-server", "--listen", &addr.to_string()]);
            c
        }
        Target::Ws | Target::Socketio => {
            ensure_node_modules(&paths.peers_dir)?;
            let script = if target == Target::Ws { "ws-server.js" } else { "socketio-server.js" };
            let mut c = Command::new("node");
            c.arg(paths.peers_dir.join(script)).arg(port.to_string());
            c
        }
        Target::Sockudo => {
            let bin = sockudo_binary(paths).context("sockudo is not installed")?;
            let mut c = Command::new(bin);
            let port = port.to_string();
            // Its working directory is the bench's own, so no config/config.json
            // is picked up: everything comes from the environment. As for
            // Herald, the limits meant for the public internet are lifted (the
            // default app allows 100 connections and 100 backend events/s, the
            // rate limiter 20 connections a minute per IP); the local adapter,
            // memory app manager and cache, no queue (no webhooks), no metrics
            // listener (its fixed port 9601 could clash).
            c.current_dir(&paths.work_dir).env("RUST_LOG", "warn").envs([
                ("HOST", "127.0.0.1"),
                ("PORT", port.as_str()),
                ("SOCKUDO_DEFAULT_APP_ID", pusher_api::APP_ID),
                ("SOCKUDO_DEFAULT_APP_KEY", pusher_api::APP_KEY),
                ("SOCKUDO_DEFAULT_APP_SECRET", pusher_api::APP_SECRET),
                ("SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS", "1000000"),
                ("SOCKUDO_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SECOND", "1000000"),
                ("SOCKUDO_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SECOND", "1000000"),
                ("SOCKUDO_DEFAULT_APP_MAX_READ_REQUESTS_PER_SECOND", "1000000"),
                ("RATE_LIMITER_ENABLED", "false"),
                ("ADAPTER_DRIVER", "local"),
                ("APP_MANAGER_DRIVER", "memory"),
                ("CACHE_DRIVER", "memory"),
                ("QUEUE_DRIVER", "none"),
                ("METRICS_ENABLED", "false"),
                ("SHUTDOWN_GRACE_PERIOD", "1"),
            ]);
            c
        }
    };
    let out = std::fs::File::create(&log)?;
    cmd.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
    let child = cmd.spawn().with_context(|| format!("cannot start {}", target.name()))?;
    let mut running = Running { target, addr, publish_addr, child, others, redis_keys, log };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(running);
        }
        if !running.alive() || Instant::now() > deadline {
            bail!("{} did not start listening on {addr}:\n{}", target.name(), running.log_tail());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_listening(addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listening on {addr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Herald's configuration for benchmark runs: rate limits lifted (see above).
const BENCH_HERALD_CONFIG: &str = "[limits]\nconnections_per_ip_per_sec = 1000000\nconnections_per_ip_burst = 1000000\n\
max_connections_per_ip = 1000000\nmessages_per_conn_per_sec = 1000000\nmessages_per_conn_burst = 1000000\n\
publishes_per_user_per_sec = 1000000\npublishes_per_user_burst = 1000000\nsubscribes_per_conn_per_sec = 1000000\n\
subscribes_per_conn_burst = 1000000\napi_calls_per_sec = 1000000\napi_calls_burst = 1000000\n";
