//! Test harness: runs the real `herald` binary on a free loopback port with
//! its own data directory, and talks to it over HTTP and WebSocket.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub mod cluster;
pub mod logical_pg;
pub mod postgres;
pub mod pusher;
pub mod sse;
pub mod ws;

/// A running herald process.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    config_path: PathBuf,
    pub api_key: Option<String>,
    /// Health is checked over TLS (no plain HTTP is served).
    tls: bool,
}

/// A fresh, unique temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n: u64 = rand::random();
    let dir = std::env::temp_dir().join(format!("herald-test-{tag}-{n:x}"));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

impl Server {
    /// Start with `config` (TOML) in a new data directory.
    pub async fn start(config: &str) -> Server {
        Self::start_in(&temp_dir("data"), config).await
    }

    /// Start with `config` (TOML) on `data_dir`.
    pub async fn start_in(data_dir: &Path, config: &str) -> Server {
        let config_path = data_dir.with_extension("toml");
        std::fs::write(&config_path, config).expect("write config");
        let api_key =
            config.lines().find_map(|l| l.trim().strip_prefix("api_key = ")).map(|v| v.trim_matches('"').to_string());
        let mut server = Server {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_path_buf(),
            config_path,
            api_key,
            tls: false,
        };
        server.launch().await;
        server
    }

    /// Start a server configured for TLS; health is judged by the port accepting.
    pub async fn start_tls(config: &str) -> Server {
        let data_dir = temp_dir("tls");
        let config_path = data_dir.with_extension("toml");
        std::fs::write(&config_path, config).expect("write config");
        let mut server = Server {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            config_path,
            api_key: None,
            tls: true,
        };
        server.launch().await;
        server
    }

    async fn launch(&mut self) {
        for _attempt in 0..5 {
            let port = free_port();
            self.addr = SocketAddr::from(([127, 0, 0, 1], port));
            let child = Command::new(env!("CARGO_BIN_EXE_herald"))
                .arg("serve")
                .arg("--config")
                .arg(&self.config_path)
                .arg("--listen")
                .arg(self.addr.to_string())
                .arg("--data-dir")
                .arg(&self.data_dir)
                .env("RUST_LOG", "error")
                .env_remove("HERALD_API_KEY")
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn herald");
            self.child = Some(child);
            if self.wait_healthy(Duration::from_secs(20)).await {
                return;
            }
            self.kill();
        }
        panic!("herald did not become healthy");
    }

    async fn wait_healthy(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                return false;
            }
            if self.tls {
                if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                    return true;
                }
            } else if let Ok(r) = self.get("/healthz").await
                && r.status == 200
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Start again on the same data directory (and a new port).
    pub async fn restart(&mut self) {
        self.terminate().await;
        self.launch().await;
    }

    /// The WebSocket URL of the native door.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// SIGKILL, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the process to exit; returns its exit status success.
    pub async fn terminate(&mut self) -> bool {
        let Some(mut c) = self.child.take() else { return true };
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Send SIGTERM without waiting.
    pub fn signal_term(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        }
    }

    pub async fn get(&self, path: &str) -> std::io::Result<HttpResponse> {
        http(self.addr, "GET", path, None, self.api_key.as_deref()).await
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> std::io::Result<HttpResponse> {
        http(self.addr, "POST", path, Some(body.to_string().as_bytes()), self.api_key.as_deref()).await
    }

    /// Publish through the HTTP API; returns the offset.
    pub async fn publish(&self, channel: &str, data: serde_json::Value) -> u64 {
        let r =
            self.post("/api/publish", &serde_json::json!({"channel": channel, "data": data})).await.expect("publish");
        assert_eq!(r.status, 200, "publish failed: {}", r.body);
        r.json()["offset"].as_u64().expect("offset")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        let _ = std::fs::remove_file(&self.config_path);
    }
}

/// A minimal HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with `Connection: close`.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    bearer: Option<&str>,
) -> std::io::Result<HttpResponse> {
    http_with(addr, method, path, body, bearer, &[]).await
}

/// One HTTP/1.1 request with extra headers.
pub async fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    bearer: Option<&str>,
    headers: &[(&str, &str)],
) -> std::io::Result<HttpResponse> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(k) = bearer {
        req.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await?;
    if let Some(b) = body {
        s.write_all(b).await?;
    }
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "http timeout"))??;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    Ok(HttpResponse { status, headers, body })
}

pub fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A connected native-protocol client.
pub async fn connect(server: &Server) -> herald_client::Client {
    let (client, _) = herald_client::Client::connect(&server.ws_url(), herald_client::ConnectOptions::default())
        .await
        .expect("connect");
    client
}

/// Wait for `n` publications on `channel`, returning (offset, data) in arrival order.
pub async fn publications(client: &herald_client::Client, channel: &str, n: usize) -> Vec<(u64, serde_json::Value)> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let push = client
            .wait_push(Duration::from_secs(15), |p| matches!(p, herald_client::Push::Publication { .. }))
            .await
            .unwrap_or_else(|e| panic!("waiting for publication {} of {n} on {channel}: {e}", out.len() + 1));
        if let herald_client::Push::Publication { channel: c, offset, data, .. } = push
            && c == channel
        {
            out.push((offset, data));
        }
    }
    out
}

/// The close code the client saw, waiting up to `within`.
pub async fn close_code(client: &herald_client::Client, within: Duration) -> Option<u16> {
    tokio::time::timeout(within, client.closed()).await.ok().and_then(|c| c.code)
}

/// Run `node FILE` in the JavaScript test package `tests/DIR` against the
/// built herald (`HERALD_BIN`), after `npm ci` when its dependencies are
/// missing; fails the test when node fails. When `node` is not installed
/// the test fails under `CI=true` and is skipped loudly elsewhere (see
/// [`missing_tool`]).
pub fn run_node_test(dir: &str, file: &str) {
    run_node_test_with(dir, file, &[]);
}

/// [`run_node_test`] with extra environment variables for the script.
pub fn run_node_test_with(dir: &str, file: &str, env: &[(&str, String)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(dir);
    if Command::new("node").arg("--version").output().is_err() {
        missing_tool("node", &format!("{}/{file}", dir.display()));
        return;
    }
    if !dir.join("node_modules").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "`npm ci` failed in {}", dir.display());
    }
    // `--test-force-exit`: a node:test file ends when its tests do, even if a
    // client library leaves a timer behind (pusher-js's faye-websocket does).
    let status = Command::new("node")
        .args(["--test-force-exit", file])
        .current_dir(&dir)
        .env("HERALD_BIN", env!("CARGO_BIN_EXE_herald"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .status()
        .expect("run node");
    assert!(status.success(), "{}/{file} failed", dir.display());
}

/// Whether this is a CI run (`CI` set to anything but `false`/`0`/empty),
/// where a test may never pass by skipping itself.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE" | "False"))
}

/// A tool a test needs is not installed: under CI the test fails with a
/// message naming the tool; elsewhere it is skipped with a banner written
/// straight to the terminal's stderr (not through `eprintln!`, which the
/// test harness captures and hides for a passing test).
pub fn missing_tool(tool: &str, what: &str) {
    if in_ci() {
        panic!("`{tool}` is not installed, so {what} cannot run; under CI=true a missing tool fails the test");
    }
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED (NOT TESTED): `{tool}` is not installed, so {what} did not run.\n\
         !!!!!!!! This test passes only because CI is not set; under CI=true it fails.\n"
    );
}
