//! A slow consumer is cut visibly (issue 22, item 3): when its queue
//! overflows while a write is blocked, the write is allowed to finish and the
//! door's close code follows (native 4001, Pusher 4100), so a client that
//! starts reading again learns why it was cut; a write blocked past the write
//! timeout is cut too; every cut counts in
//! `herald_slow_consumer_disconnects_total{door=…}`.

mod common;

use std::time::Duration;

use common::pusher::{established, next, send};
use common::{Server, connect};
use futures_util::StreamExt;
use herald_client::{Client, ConnectOptions};
use serde_json::json;

const PUSHER_APP: &str = "[[pusher.apps]]\nid = \"1\"\nkey = \"key-1\"\nsecret = \"secret-1\"\n";

/// `herald_slow_consumer_disconnects_total` for `door` in /metrics (0 when absent).
async fn cuts(server: &Server, door: &str) -> u64 {
    let body = server.get("/metrics").await.expect("metrics").body;
    let prefix = format!("herald_slow_consumer_disconnects_total{{door=\"{door}\"}} ");
    body.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// Publish 30 KB messages on `channel` until `door` counts a cut (at most `max`).
async fn flood_until_cut(server: &Server, channel: &str, data: impl Fn(usize) -> serde_json::Value, door: &str) {
    let publisher = connect(server).await;
    for i in 0..2000 {
        publisher.publish(channel, &data(i), None).await.unwrap();
        if i % 10 == 9 && cuts(server, door).await == 1 {
            return;
        }
    }
    panic!("no slow consumer cut on {door} after 2,000 publications: {}", server.get("/metrics").await.unwrap().body);
}

#[tokio::test]
async fn a_native_reader_cut_for_overflow_gets_4001_once_it_reads_again() {
    let server = Server::start(
        "[connection.queue]\nmax_messages = 64\nmax_bytes = 65536\n[limits]\nmessages_per_conn_per_sec = 100000\n",
    )
    .await;
    let (slow, _) = Client::connect(&server.ws_url(), ConnectOptions::default().recv_buffer_size(4096)).await.unwrap();
    slow.subscribe("chat:slow", None).await.unwrap();
    slow.pause_reading();
    let payload = "y".repeat(30_000);
    flood_until_cut(&server, "chat:slow", |i| json!({ "i": i, "p": payload }), "native").await;

    slow.resume_reading();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.closed()).await.expect("slow reader was cut");
    assert_eq!(closed.code, Some(4001), "{closed:?}");
    assert_eq!(cuts(&server, "native").await, 1);
}

#[tokio::test]
async fn a_native_write_blocked_past_the_write_timeout_is_counted() {
    let server = Server::start(
        "[connection]\nwrite_timeout_secs = 1\n[connection.queue]\nmax_messages = 100000\nmax_bytes = 67108864\n\
         [limits]\nmessages_per_conn_per_sec = 100000\n",
    )
    .await;
    let (slow, _) = Client::connect(&server.ws_url(), ConnectOptions::default().recv_buffer_size(4096)).await.unwrap();
    slow.subscribe("chat:stall", None).await.unwrap();
    slow.pause_reading();
    let payload = "z".repeat(30_000);
    flood_until_cut(&server, "chat:stall", |i| json!({ "i": i, "p": payload }), "native").await;
    slow.resume_reading();
    tokio::time::timeout(Duration::from_secs(10), slow.closed()).await.expect("stalled reader was cut");
}

#[tokio::test]
async fn a_pusher_reader_cut_for_overflow_gets_4100_once_it_reads_again() {
    let server = Server::start(&format!(
        "ephemeral = true\n[connection.queue]\nmax_messages = 64\nmax_bytes = 65536\n{PUSHER_APP}"
    ))
    .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let url = format!("ws://{}/app/key-1?protocol=7", server.addr);
    let tcp = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
    let (mut ws, _) = tokio_tungstenite::client_async(url, tcp).await.expect("pusher socket");
    let ws = &mut ws;
    established(ws).await;
    send(ws, json!({"event": "pusher:subscribe", "data": {"channel": "flood"}})).await;
    assert_eq!(next(ws).await.unwrap()["event"], "pusher_internal:subscription_succeeded");

    let payload = "p".repeat(30_000);
    flood_until_cut(&server, "pusher:flood", |i| json!({"event": "e", "data": {"i": i, "p": payload}}), "pusher").await;
    let code = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(c))) => return c.map(|c| u16::from(c.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("slow Pusher reader was cut");
    assert_eq!(code, Some(4100));
}
