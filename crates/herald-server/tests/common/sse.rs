//! A small Server-Sent Events reader over a raw TCP stream: sends the
//! request, decodes the chunked body as it arrives, and parses `id`,
//! `event`, `data`, `retry` and comments, the way a browser would.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::HttpResponse;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event: String,
    pub data: String,
    /// The `id:` field of this event, if it had one.
    pub id: Option<String>,
}

impl Event {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("data is not JSON ({e}): {}", self.data))
    }
}

/// What the stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Event(Event),
    Comment(String),
    Retry(u64),
}

/// An open event stream.
pub struct SseStream {
    stream: TcpStream,
    pub headers: Vec<(String, String)>,
    raw: Vec<u8>,
    decoded: Vec<u8>,
    ended: bool,
    /// The last event id seen (what a browser would send as Last-Event-ID).
    pub last_id: Option<String>,
    pending: Vec<Item>,
}

/// Request options.
#[derive(Default, Clone)]
pub struct Opts {
    pub headers: Vec<(String, String)>,
    /// A small receive buffer makes a reader that stops reading block the server quickly.
    pub recv_buffer: Option<u32>,
}

impl Opts {
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

async fn send_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    opts: &Opts,
    body: Option<&[u8]>,
) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(n) = opts.recv_buffer {
        socket.set_recv_buffer_size(n)?;
    }
    let mut s = socket.connect(addr).await?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in &opts.headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await?;
    if let Some(b) = body {
        s.write_all(b).await?;
    }
    Ok(s)
}

/// A plain request with custom headers (e.g. POST /sse/publish with a Bearer token).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    opts: &Opts,
    body: Option<&[u8]>,
) -> std::io::Result<HttpResponse> {
    let mut opts = opts.clone();
    if body.is_none() {
        opts.headers.push(("Connection".into(), "close".into()));
    }
    let mut s = send_request(addr, method, path, &opts, body).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(40), s.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "http timeout"))??;
    Ok(parse_response(&raw))
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let (status, headers) = parse_head(head);
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { super::dechunk(rest) } else { rest.to_string() };
    HttpResponse { status, headers, body }
}

fn parse_head(head: &str) -> (u16, Vec<(String, String)>) {
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    (status, headers)
}

impl SseStream {
    /// `GET path`; `Err` holds the complete response when it is not a 200.
    pub async fn open(addr: SocketAddr, path: &str, opts: Opts) -> Result<SseStream, HttpResponse> {
        let mut opts = opts;
        opts.headers.push(("Accept".into(), "text/event-stream".into()));
        let mut stream = send_request(addr, "GET", path, &opts, None).await.expect("connect");
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf))
                .await
                .expect("response head in time")
                .expect("read");
            assert!(n > 0, "connection closed before the response head");
            raw.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
        let (status, headers) = parse_head(&head);
        if status != 200 {
            let len = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            while raw.len() < head_end + 4 + len {
                match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => raw.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            return Err(parse_response(&raw));
        }
        let rest = raw[head_end + 4..].to_vec();
        Ok(SseStream {
            stream,
            headers,
            raw: rest,
            decoded: Vec::new(),
            ended: false,
            last_id: None,
            pending: Vec::new(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn dechunk(&mut self) {
        loop {
            let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") else { return };
            let size_text = String::from_utf8_lossy(&self.raw[..line_end]).to_string();
            let size = usize::from_str_radix(size_text.trim(), 16).expect("chunk size");
            if size == 0 {
                self.ended = true;
                self.raw.clear();
                return;
            }
            let start = line_end + 2;
            if self.raw.len() < start + size + 2 {
                return;
            }
            self.decoded.extend_from_slice(&self.raw[start..start + size]);
            self.raw.drain(..start + size + 2);
        }
    }

    /// Parse complete blocks out of the decoded text.
    fn parse(&mut self) {
        while let Some(end) = self.decoded.windows(2).position(|w| w == b"\n\n") {
            let block = String::from_utf8_lossy(&self.decoded[..end]).to_string();
            self.decoded.drain(..end + 2);
            let (mut event, mut data, mut id, mut retry) = (None::<String>, Vec::<String>::new(), None, None);
            for line in block.split('\n') {
                if let Some(c) = line.strip_prefix(':') {
                    self.pending.push(Item::Comment(c.trim().to_string()));
                    continue;
                }
                let (field, value) =
                    line.split_once(':').map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
                match field {
                    "event" => event = Some(value.to_string()),
                    "data" => data.push(value.to_string()),
                    "id" => id = Some(value.to_string()),
                    "retry" => retry = value.parse().ok(),
                    _ => {}
                }
            }
            if let Some(r) = retry {
                self.pending.push(Item::Retry(r));
            }
            if let Some(id) = &id {
                self.last_id = Some(id.clone());
            }
            if !data.is_empty() {
                let ev = Event { event: event.unwrap_or_else(|| "message".into()), data: data.join("\n"), id };
                self.pending.push(Item::Event(ev));
            }
        }
    }

    /// The next item, or `None` at the end of the stream or after `within`.
    pub async fn next_item(&mut self, within: Duration) -> Option<Item> {
        let deadline = tokio::time::Instant::now() + within;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            // Bytes read with the response head, or with the previous event, may hold whole events.
            self.dechunk();
            self.parse();
            if !self.pending.is_empty() {
                return Some(self.pending.remove(0));
            }
            if self.ended {
                return None;
            }
            let n = match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Err(_)) | Ok(Ok(0)) => {
                    self.ended = true;
                    continue;
                }
                Ok(Ok(n)) => n,
            };
            self.raw.extend_from_slice(&buf[..n]);
        }
    }

    /// The next event (skipping comments and retry), or `None`.
    pub async fn next_event(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_item(left).await? {
                Item::Event(e) => return Some(e),
                _ => continue,
            }
        }
    }

    /// The next event, which must be named `name`.
    pub async fn expect(&mut self, name: &str) -> Event {
        let ev = self.next_event(Duration::from_secs(15)).await.unwrap_or_else(|| panic!("no {name:?} event"));
        assert_eq!(ev.event, name, "expected {name:?}, got {ev:?}");
        ev
    }

    /// `n` publication events as (channel, offset, data).
    pub async fn publications(&mut self, n: usize) -> Vec<(String, u64, serde_json::Value)> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let ev = self.expect("publication").await;
            let v = ev.json();
            out.push((v["channel"].as_str().unwrap().to_string(), v["offset"].as_u64().unwrap(), v["data"].clone()));
        }
        out
    }

    /// Whether the stream has ended (reads until it does, up to `within`).
    pub async fn ends_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.next_item(deadline.saturating_duration_since(tokio::time::Instant::now())).await.is_none() {
                return self.ended;
            }
        }
        self.ended
    }
}
