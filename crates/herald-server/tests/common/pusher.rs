//! A Pusher protocol 7 test client over tokio-tungstenite: open
//! `/app/{key}`, read frames (with `data` decoded), answer the server's
//! `pusher:ping`, and sign subscriptions as the app's back end would.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

use super::Server;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn open(server: &Server, key: &str, query: &str) -> Ws {
    let url = format!("ws://{}/app/{key}{query}", server.addr);
    tokio_tungstenite::connect_async(url).await.expect("connect").0
}

/// The next Pusher frame other than `pusher:ping` (answered with
/// `pusher:pong`: the tests run with a 1 s activity timeout), or the close code.
pub async fn next(ws: &mut Ws) -> Result<Value, u16> {
    loop {
        let f = next_raw(ws).await?;
        if f["event"] != "pusher:ping" {
            return Ok(f);
        }
        send(ws, json!({"event": "pusher:pong", "data": {}})).await;
    }
}

/// The next Pusher frame (with `data` decoded when it is a string), or the close code.
pub async fn next_raw(ws: &mut Ws) -> Result<Value, u16> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time");
        match msg {
            Some(Ok(Message::Text(t))) => {
                let mut v: Value = serde_json::from_str(&t).expect("JSON frame");
                if let Some(s) = v["data"].as_str() {
                    v["data"] = serde_json::from_str(s).unwrap_or(Value::String(s.to_string()));
                }
                return Ok(v);
            }
            Some(Ok(Message::Close(c))) => return Err(c.map(|c| u16::from(c.code)).unwrap_or(1005)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(1006),
        }
    }
}

pub async fn established(ws: &mut Ws) -> String {
    let f = next(ws).await.expect("connection_established");
    assert_eq!(f["event"], "pusher:connection_established");
    f["data"]["socket_id"].as_str().expect("socket_id").to_string()
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.expect("send");
}

/// A `pusher:subscribe` for a presence channel as `user` (with `info`), signed with `secret`.
pub fn presence_subscribe(key: &str, secret: &str, socket: &str, channel: &str, user: &str, info: Value) -> Value {
    let cd = json!({"user_id": user, "user_info": info}).to_string();
    let sig = herald_server::pusher::signature::sign(secret, format!("{socket}:{channel}:{cd}").as_bytes());
    json!({"event": "pusher:subscribe", "data": {"channel": channel, "auth": format!("{key}:{sig}"), "channel_data": cd}})
}
