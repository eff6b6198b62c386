//! Idle and half-open connections (issue 22, item 1): a socket that sends
//! nothing, or a request head one byte at a time, or idles between
//! keep-alive requests, is closed after `header_read_timeout_secs`; one
//! address holds at most `max_pending_connections_per_ip` sockets that no
//! door has taken over, and its raw accepts count against its
//! new-connection rate. Meanwhile `/healthz` and a real client from another
//! address are served as usual. (Loopback: the attack comes from 127.0.0.1,
//! the real client from 127.0.0.2.)

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::Server;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A TCP connection to `server` from `from`.
async fn tcp_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::new(from, 0)).unwrap();
    s.connect(to).await.unwrap()
}

/// `GET /healthz` from `from`: the status line, within 2 s.
async fn healthz_from(from: IpAddr, to: SocketAddr) -> String {
    let mut s = tcp_from(from, to).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut out)).await.expect("healthz answered").unwrap();
    String::from_utf8_lossy(&out).lines().next().unwrap_or("").to_string()
}

/// Publish `data` on `channel` through the HTTP API from `from`.
async fn publish_from(from: IpAddr, to: SocketAddr, channel: &str, data: Value) {
    let body = json!({"channel": channel, "data": data}).to_string();
    let mut s = tcp_from(from, to).await;
    let req = format!(
        "POST /api/publish HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await.expect("publish answered").unwrap();
    assert!(out.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&out));
}

/// Whether the server closed `s` (EOF, a reset, or a refusal) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// A native client from `from`: connects, subscribes to `channel`, and
/// returns the socket once subscribed.
async fn native_client_from(
    from: IpAddr,
    server: &Server,
    channel: &str,
) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let tcp = tcp_from(from, server.addr).await;
    let (mut ws, _) = tokio_tungstenite::client_async(server.ws_url(), tcp).await.expect("upgrade");
    ws.send(Message::text(json!({"id": 1, "op": "connect"}).to_string())).await.unwrap();
    reply(&mut ws, 1).await;
    ws.send(Message::text(json!({"id": 2, "op": "subscribe", "channel": channel}).to_string())).await.unwrap();
    reply(&mut ws, 2).await;
    ws
}

/// The next frame that `pred` accepts, within 5 s.
async fn next_matching(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>, pred: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("socket ended") };
            let v: Value = serde_json::from_str(&t).unwrap();
            if pred(&v) {
                return v;
            }
        }
    })
    .await
    .expect("frame in time")
}

async fn reply(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>, id: u64) -> Value {
    let v = next_matching(ws, |v| v["id"] == id).await;
    assert!(v.get("error").is_none(), "{v}");
    v
}

#[tokio::test]
async fn slowloris_sockets_are_capped_and_timed_out_while_others_are_served() {
    let server = Server::start(
        "[connection]\nheader_read_timeout_secs = 2\n\
         [limits]\nmax_pending_connections_per_ip = 100\nconnections_per_ip_per_sec = 1000\nconnections_per_ip_burst = 5000\n",
    )
    .await;
    // 2,000 sockets from one address, each sending half a request head.
    let mut attack = Vec::new();
    for _ in 0..2000 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: h\r\n").await;
        attack.push(s);
    }
    let started = Instant::now();

    // Another address is served at once: /healthz, and a real client end to end.
    assert_eq!(healthz_from(ELSEWHERE, server.addr).await, "HTTP/1.1 200 OK");
    let mut client = native_client_from(ELSEWHERE, &server, "chat:loris").await;
    publish_from(ELSEWHERE, server.addr, "chat:loris", json!({"ok": true})).await;
    let p = next_matching(&mut client, |v| v["push"] == "publication").await;
    assert_eq!(p["data"], json!({"ok": true}), "{p}");

    // At most 100 were kept; the others were refused at once.
    let mut held = Vec::new();
    for mut s in attack {
        if !closed_within(&mut s, Duration::from_millis(1)).await {
            held.push(s);
        }
    }
    assert!(held.len() <= 100, "{} sockets from one address are held open", held.len());
    assert!(!held.is_empty(), "the first sockets are accepted");

    // The held ones trickle one more byte a second; the header-read timeout ends them all the same.
    for s in &mut held {
        let _ = s.write_all(b"X").await;
    }
    for mut s in held {
        assert!(closed_within(&mut s, Duration::from_secs(5)).await, "a slowloris socket is still open");
    }
    assert!(started.elapsed() < Duration::from_secs(8));
    // The client from the other address is still connected and served.
    publish_from(ELSEWHERE, server.addr, "chat:loris", json!({"ok": 2})).await;
    assert_eq!(next_matching(&mut client, |v| v["push"] == "publication").await["data"], json!({"ok": 2}));
    // And once the sockets are gone, the attacking address is served again too.
    assert_eq!(healthz_from(IpAddr::V4(Ipv4Addr::LOCALHOST), server.addr).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn an_idle_socket_and_an_idle_keep_alive_connection_are_closed() {
    let server = Server::start("[connection]\nheader_read_timeout_secs = 1\n").await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "keep-alive answered");
    assert!(closed_within(&mut silent, Duration::from_secs(4)).await, "a socket that never sent a byte is closed");
    assert!(closed_within(&mut kept, Duration::from_secs(4)).await, "an idle keep-alive connection is closed");
}

#[tokio::test]
async fn raw_accepts_count_against_the_addresss_connection_rate() {
    let server = Server::start("[limits]\nconnections_per_ip_per_sec = 1\nconnections_per_ip_burst = 30\n").await;
    let mut refused = 0;
    let mut open = Vec::new();
    for _ in 0..60 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        if closed_within(&mut s, Duration::from_millis(50)).await {
            refused += 1;
        } else {
            open.push(s);
        }
    }
    assert!(refused >= 20, "only {refused} of 60 raw connections in a burst of 30 were refused");
    assert_eq!(healthz_from(ELSEWHERE, server.addr).await, "HTTP/1.1 200 OK", "another address is not affected");
}
