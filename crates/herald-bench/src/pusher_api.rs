//! The publisher's side of Pusher's HTTP API: the benchmark app's
//! credentials (given to every Pusher-protocol target), REST request
//! signing, and a lean HTTP/1.1 client that pipelines signed
//! `POST /apps/{id}/events` requests on one keep-alive connection (or, for
//! a server that closes each connection after its response, sends each on
//! a connection of its own without waiting for the previous one), as the
//! WebSocket publishers pipeline their publishes, so a slow reply cannot
//! slow the schedule.

use std::io;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Buf, BytesMut};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::wire::{contains, find_u64};

/// The benchmark app's id (REST paths `/apps/{id}/…`).
pub const APP_ID: &str = "1000";
/// Its public key (WebSocket path `/app/{key}`).
pub const APP_KEY: &str = "herald-bench-key";
/// Its secret (signs the REST requests).
pub const APP_SECRET: &str = "herald-bench-secret";

/// `hex(HMAC-SHA256(secret, data))`.
fn hmac_sha256_hex(secret: &str, data: &[u8]) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// The signed query string of a REST request with `body` (Pusher's
/// `auth_key`, `auth_timestamp`, `auth_version`, `body_md5`, then
/// `auth_signature` over `"METHOD\nPATH\nsorted query"`).
pub fn signed_query(method: &str, path: &str, body: &[u8], key: &str, secret: &str, timestamp: u64) -> String {
    // Already in the sorted order the signature needs.
    let query = format!(
        "auth_key={key}&auth_timestamp={timestamp}&auth_version=1.0&body_md5={}",
        hex::encode(Md5::digest(body))
    );
    let signature = hmac_sha256_hex(secret, format!("{method}\n{path}\n{query}").as_bytes());
    format!("{query}&auth_signature={signature}")
}

/// How requests reach the server.
#[derive(Debug)]
enum Transport {
    /// One keep-alive connection; requests are pipelined on it.
    KeepAlive { stream: TcpStream, buf: BytesMut },
    /// A connection per request, for servers that answer `Connection: close`
    /// (Sockudo 5 does): each request runs on a task of its own and reports
    /// its response's status line (and body, when refused) here.
    PerRequest {
        done_tx: mpsc::UnboundedSender<io::Result<Response>>,
        done_rx: mpsc::UnboundedReceiver<io::Result<Response>>,
    },
}

/// A response: status, and the whole text when refused.
type Response = (u16, Option<String>);

/// A client triggering events on the benchmark app through Pusher's HTTP API.
#[derive(Debug)]
pub struct TriggerClient {
    server: SocketAddr,
    path: String,
    transport: Transport,
    /// Responses of the per-request transport not yet counted.
    finished: Vec<Response>,
    /// The first refused request's response (status line, headers, body), kept for the report.
    pub first_error: Option<String>,
}

impl TriggerClient {
    /// Connects to the server's HTTP port and sends one probe trigger (to a
    /// channel nobody subscribes to): a refusal (a wrong signature, a limit)
    /// fails here with the server's answer, and a server that closes the
    /// connection after each response gets a connection per request.
    pub async fn connect(server: SocketAddr) -> io::Result<Self> {
        let path = format!("/apps/{APP_ID}/events");
        let mut stream = TcpStream::connect(server).await?;
        stream.set_nodelay(true)?;
        let probe = r#"{"name":"bench-probe","channel":"bench-probe","data":"{}"}"#;
        stream.write_all(&request(server, &path, probe)).await?;
        let mut buf = BytesMut::with_capacity(4096);
        let (status, len) = loop {
            if let Some(r) = response_at_front(&buf)? {
                break r;
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(io::Error::other("the server closed the connection before answering the probe trigger"));
            }
        };
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        if !(200..300).contains(&status) {
            return Err(io::Error::other(format!("the probe trigger was refused: {text}")));
        }
        let transport = if text.to_ascii_lowercase().contains("\r\nconnection: close\r\n") {
            let (done_tx, done_rx) = mpsc::unbounded_channel();
            Transport::PerRequest { done_tx, done_rx }
        } else {
            buf.advance(len);
            Transport::KeepAlive { stream, buf }
        };
        Ok(Self { server, path, transport, finished: Vec::new(), first_error: None })
    }

    /// Sends one signed trigger request with `body` (see
    /// [`crate::wire::publish_text`]) without waiting for its response.
    pub async fn trigger(&mut self, body: &str) -> io::Result<()> {
        let req = request(self.server, &self.path, body);
        match &mut self.transport {
            Transport::KeepAlive { stream, .. } => stream.write_all(&req).await,
            Transport::PerRequest { done_tx, .. } => {
                let (server, done) = (self.server, done_tx.clone());
                tokio::spawn(async move {
                    let _ = done.send(one_request(server, &req).await);
                });
                Ok(())
            }
        }
    }

    /// Waits for more responses; cancel-safe. `Ok(0)` on EOF.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        match &mut self.transport {
            Transport::KeepAlive { stream, buf } => {
                if buf.capacity() - buf.len() < 2048 {
                    buf.reserve(8192);
                }
                stream.read_buf(buf).await
            }
            Transport::PerRequest { done_rx, .. } => {
                // The client holds a sender: the channel never closes.
                let Some(done) = done_rx.recv().await else { return Ok(0) };
                self.finished.push(done?);
                Ok(1)
            }
        }
    }

    /// Counts every complete response: (responses, refused).
    pub fn drain(&mut self) -> io::Result<(u64, u64)> {
        let (mut replies, mut errors) = (0, 0);
        let mut count = |status: u16, text: Option<String>, first: &mut Option<String>| {
            replies += 1;
            if !(200..300).contains(&status) {
                errors += 1;
                if first.is_none() {
                    *first = text;
                }
            }
        };
        match &mut self.transport {
            Transport::KeepAlive { buf, .. } => {
                while let Some((status, len)) = response_at_front(buf)? {
                    let text = String::from_utf8_lossy(&buf[..len.min(600)]).into_owned();
                    count(status, Some(text), &mut self.first_error);
                    buf.advance(len);
                }
            }
            Transport::PerRequest { .. } => {
                for (status, text) in self.finished.drain(..) {
                    count(status, text, &mut self.first_error);
                }
            }
        }
        Ok((replies, errors))
    }
}

/// A signed trigger request with `body`.
fn request(server: SocketAddr, path: &str, body: &str) -> Vec<u8> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let query = signed_query("POST", path, body.as_bytes(), APP_KEY, APP_SECRET, now);
    format!(
        "POST {path}?{query} HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends `req` on a connection of its own and reads its response.
async fn one_request(server: SocketAddr, req: &[u8]) -> io::Result<Response> {
    let mut stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    stream.write_all(req).await?;
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if let Some((status, len)) = response_at_front(&buf)? {
            let refused = !(200..300).contains(&status);
            return Ok((status, refused.then(|| String::from_utf8_lossy(&buf[..len.min(600)]).into_owned())));
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::other("the server closed the connection before answering a trigger"));
        }
    }
}

/// The status and total length of the complete response at the front of
/// `buf`, or `None` when more bytes are needed. Bodies are sized by
/// `Content-Length` or chunked.
fn response_at_front(buf: &[u8]) -> io::Result<Option<(u16, usize)>> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
        return Ok(None);
    };
    let head = buf[..head_end].to_ascii_lowercase();
    let status = head
        .strip_prefix(b"http/1.1 ")
        .and_then(|rest| std::str::from_utf8(rest.get(..3)?).ok()?.parse::<u16>().ok())
        .ok_or_else(|| io::Error::other(format!("not an HTTP response: {:?}", String::from_utf8_lossy(&head))))?;
    if let Some(len) = find_u64(&head, b"content-length: ") {
        let total = head_end + usize::try_from(len).map_err(io::Error::other)?;
        return Ok((buf.len() >= total).then_some((status, total)));
    }
    if contains(&head, b"transfer-encoding: chunked") {
        let body = &buf[head_end..];
        return Ok(body.windows(5).position(|w| w == b"0\r\n\r\n").map(|i| (status, head_end + i + 5)));
    }
    // No body (204, 304) or one closed by EOF, which a keep-alive server does not send.
    Ok(Some((status, head_end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_pusher_documents() {
        // The example of Pusher's REST authentication documentation.
        let body = r#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        let q = signed_query(
            "POST",
            "/apps/3/events",
            body.as_bytes(),
            "278d425bdf160c739803",
            "7ad3773142a6692b25b8",
            1353088179,
        );
        assert_eq!(
            q,
            "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0\
             &body_md5=ec365a775a4cd0599faeb73354201b6f\
             &auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
        );
    }

    #[test]
    fn splits_pipelined_responses() {
        let two = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}\
HTTP/1.1 401 Unauthorized\r\nContent-Length: 3\r\n\r\nbad";
        let (s, n) = response_at_front(two).unwrap().unwrap();
        assert_eq!((s, &two[n..n + 8]), (200, &b"HTTP/1.1"[..]));
        assert_eq!(response_at_front(&two[n..]).unwrap(), Some((401, two.len() - n)));
        assert_eq!(response_at_front(&two[..n - 1]).unwrap(), None);
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert_eq!(response_at_front(chunked).unwrap(), Some((200, chunked.len())));
        assert!(response_at_front(b"SSH-2.0\r\n\r\n").is_err());
    }
}
