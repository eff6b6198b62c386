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
