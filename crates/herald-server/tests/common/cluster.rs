//! Several `herald` nodes sharing one Redis (scale-out tests), each test
//! run under its own key prefix, removed when the cluster is dropped.

use super::Server;

/// The shared Redis of the machine.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Limits high enough for tests that publish and connect fast.
pub const FAST_LIMITS: &str = "[limits]
messages_per_conn_per_sec = 1000000
messages_per_conn_burst = 1000000
publishes_per_user_per_sec = 1000000
publishes_per_user_burst = 1000000
api_calls_per_sec = 1000000
api_calls_burst = 1000000
connections_per_ip_per_sec = 100000
connections_per_ip_burst = 100000
";

/// A fresh key prefix for one test run.
pub fn fresh_prefix(tag: &str) -> String {
    let n: u64 = rand::random();
    format!("herald-test-{tag}-{n:x}")
}

/// A fresh Redis key prefix (on 127.0.0.1:6379) owned by one test: its
/// keys are removed when it is dropped, even by a panic.
pub struct OwnedPrefix(pub String);

impl OwnedPrefix {
    /// A fresh prefix tagged `tag`.
    pub fn new(tag: &str) -> Self {
        OwnedPrefix(fresh_prefix(tag))
    }
}

impl Drop for OwnedPrefix {
    fn drop(&mut self) {
        delete_prefix(6379, &self.0);
    }
}

/// The `[broker]` section for `url` and `prefix`, with short timers.
pub fn broker_section(url: &str, prefix: &str) -> String {
    format!(
        "[broker]\nurl = \"{url}\"\nkey_prefix = \"{prefix}\"\ncommand_timeout_ms = 1000\npubsub_ping_interval_ms = 500\n\
         reconnect_max_delay_ms = 500\nnode_heartbeat_secs = 1\nnode_ttl_secs = 3\n"
    )
}

/// Nodes of one Herald cluster.
pub struct Cluster {
    pub nodes: Vec<Server>,
    pub prefix: String,
    redis_port: u16,
}

impl Cluster {
    /// Start `n` nodes on the shared Redis with `extra` config (TOML, without `[broker]`).
    pub async fn start(tag: &str, n: usize, extra: &str) -> Cluster {
        Self::start_on(REDIS_URL, 6379, tag, n, extra).await
    }

    /// Start `n` nodes on the Redis at `url` (listening on `port`).
    pub async fn start_on(url: &str, port: u16, tag: &str, n: usize, extra: &str) -> Cluster {
        let prefix = fresh_prefix(tag);
        let config = Self::config_for(url, &prefix, extra);
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            nodes.push(Server::start(&config).await);
        }
        Cluster { nodes, prefix, redis_port: port }
    }

    /// The config every node of a cluster runs with.
    pub fn config_for(url: &str, prefix: &str, extra: &str) -> String {
        format!("{}{}", broker_section(url, prefix), extra)
    }
}

/// Delete every key under `prefix` on the Redis at `port`.
pub fn delete_prefix(port: u16, prefix: &str) {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--scan", "--pattern", &format!("{prefix}:*")])
        .output();
    let Ok(out) = out else { return };
    let keys: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    for chunk in keys.chunks(500) {
        let _ = std::process::Command::new("redis-cli")
            .args(["-p", &port.to_string(), "DEL"])
            .args(chunk)
            .stdout(std::process::Stdio::null())
            .status();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
        delete_prefix(self.redis_port, &self.prefix);
    }
}

/// A private `redis-server` a test may kill and restart without disturbing
/// the shared one.
pub struct PrivateRedis {
    pub port: u16,
    dir: std::path::PathBuf,
    persistent: bool,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    /// Start on a free port. `persistent`: append-only file with fsync on
    /// every write (a restart keeps everything acknowledged); otherwise no
    /// persistence at all (a restart loses everything).
    pub async fn start(persistent: bool) -> PrivateRedis {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
        let mut r = PrivateRedis { port, dir: super::temp_dir("redis"), persistent, child: None };
        r.launch().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) {
        let mut cmd = std::process::Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""]).arg("--dir").arg(&self.dir);
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let child = cmd.stdout(std::process::Stdio::null()).spawn().expect("spawn redis-server");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let ok = std::process::Command::new("redis-cli")
                .args(["-p", &self.port.to_string(), "PING"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("PONG"))
                .unwrap_or(false);
            if ok {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("private redis-server did not start");
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same port and directory.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
