//! permessage-deflate on the native door: negotiated when enabled and
//! offered, client messages may be compressed, and a publication's
//! compressed frame is identical for every subscriber (encoded once).

mod common;

use std::time::Duration;

use common::Server;
use herald_ws::client::{TestClient, inflate};
use herald_ws::frame::OP_TEXT;
use serde_json::{Value, json};
use tokio::net::TcpStream;

const CONFIG: &str = "[websocket]\ncompression = true\ncompression_threshold = 64\n";

/// Upgrade a raw socket; returns the client and the negotiated extensions header.
async fn upgrade(server: &Server, offer: Option<&str>) -> (TestClient<TcpStream>, Option<String>) {
    let offer: Vec<_> = offer.map(|o| ("Sec-WebSocket-Extensions", o)).into_iter().collect();
    let (s, head) = common::ws::handshake(server.addr, "/ws", &offer).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let ext = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("sec-websocket-extensions:").map(|v| v.trim().to_string()));
    (TestClient::new(s), ext)
}

/// Read the next text message (decompressing if needed) as JSON, skipping pings.
async fn next_json(c: &mut TestClient<TcpStream>) -> Value {
    loop {
        let (op, payload) =
            tokio::time::timeout(Duration::from_secs(10), c.read_message()).await.unwrap().unwrap().unwrap();
        if op == OP_TEXT {
            return serde_json::from_slice(&payload).unwrap();
        }
    }
}

#[tokio::test]
async fn deflate_is_negotiated_and_one_compressed_frame_serves_every_subscriber() {
    let server = Server::start(CONFIG).await;
    let mut compressed = Vec::new();
    for _ in 0..2 {
        let (mut c, ext) = upgrade(&server, Some("permessage-deflate; client_max_window_bits")).await;
        let ext = ext.expect("extension accepted");
        assert!(ext.contains("permessage-deflate") && ext.contains("server_no_context_takeover"), "{ext}");
        // Client messages may be compressed too.
        c.send_message(OP_TEXT, br#"{"id":1,"op":"connect"}"#, true, &[]).await.unwrap();
        assert!(next_json(&mut c).await["result"]["client"].is_string());
        c.send_message(OP_TEXT, br#"{"id":2,"op":"subscribe","channel":"chat:z"}"#, true, &[7]).await.unwrap();
        assert_eq!(next_json(&mut c).await["id"], 2);
        compressed.push(c);
    }
    let (mut plain, ext) = upgrade(&server, None).await;
    assert!(ext.is_none());
    plain.send_message(OP_TEXT, br#"{"id":1,"op":"connect"}"#, false, &[]).await.unwrap();
    next_json(&mut plain).await;
    plain.send_message(OP_TEXT, br#"{"id":2,"op":"subscribe","channel":"chat:z"}"#, false, &[]).await.unwrap();
    next_json(&mut plain).await;

    let text = "all work and no play makes jack a dull boy ".repeat(50);
    server.publish("chat:z", json!({ "text": text })).await;

    let mut frames = Vec::new();
    for c in compressed.iter_mut() {
        let f = loop {
            let f = c.read_frame().await.unwrap().unwrap();
            if f.opcode == OP_TEXT {
                break f;
            }
        };
        assert!(f.rsv1, "publication frame is compressed");
        assert!(f.payload.len() < text.len() / 4, "{} bytes for {}", f.payload.len(), text.len());
        let v: Value = serde_json::from_slice(&inflate(&f.payload).unwrap()).unwrap();
        assert_eq!(v["data"]["text"], json!(text));
        frames.push(f.payload);
    }
    assert_eq!(frames[0], frames[1], "the same compressed bytes go to every subscriber");
    let v = next_json(&mut plain).await;
    assert_eq!(v["data"]["text"], json!(text), "a client without deflate gets plain frames");
}

#[tokio::test]
async fn deflate_is_not_negotiated_when_disabled() {
    let server = Server::start("").await;
    let (_c, ext) = upgrade(&server, Some("permessage-deflate")).await;
    assert!(ext.is_none());
}
