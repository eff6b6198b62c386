//! `POST /api/disconnect {"user"}` closes every connection of that user on
//! every door that knows users from a token's `sub`: the native `/ws` (close
//! code 4005), the SSE stream (an `event: disconnect` with code 4005, then
//! the stream ends) and `/yjs/{room}` (close code 4005); the answer counts
//! them. Another user's connections stay open.
//!
//! A Pusher socket signed in with `pusher:signin` is a user of the Pusher
//! app (signed by the app's secret), not a Herald token user: it is not
//! counted or closed here; Pusher's own `POST
//! /apps/{id}/users/{user}/terminate_connections` closes it (code 4009).

mod common;

use std::time::Duration;

use common::pusher::{established, next, open as pusher_open, send, signed_path};
use common::sse::{Opts, SseStream};
use common::{Server, close_code, http};
use futures_util::StreamExt;
use herald_client::{Client, ConnectOptions};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "test-secret-disconnect-0123456789";
const DISCONNECTED: u16 = 4005;

fn token(sub: &str) -> String {
    let now = herald_core::now_ms() / 1000;
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 300,
        "capabilities": [{ "channels": ["room:*", "doc:*"], "allow": ["subscribe", "publish", "presence"] }]
    });
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

type Yjs = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The close code a y-websocket connection gets, reading past sync messages.
async fn yjs_close_code(ws: &mut Yjs, within: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.ok()? {
            Some(Ok(Message::Close(c))) => return Some(c.map_or(1005, |c| u16::from(c.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Some(1006),
        }
    }
}

/// One connection of `user` on each token door, each known to be live.
struct Doors {
    native: Client,
    sse: SseStream,
    yjs: Yjs,
}

async fn connect_every_door(server: &Server, user: &str) -> Doors {
    let t = token(user);
    let (native, _) = Client::connect(&server.ws_url(), ConnectOptions::default().token(&t)).await.unwrap();
    native.subscribe("room:a", None).await.unwrap();
    let mut sse = SseStream::open(server.addr, &format!("/sse?channel=room:a&token={t}"), Opts::default())
        .await
        .unwrap_or_else(|r| panic!("SSE refused: {}", r.body));
    sse.expect("connected").await;
    let url = format!("ws://{}/yjs/doc:notes-{user}?token={t}", server.addr);
    let (yjs, _) = tokio_tungstenite::connect_async(url).await.expect("y-websocket upgrade");
    Doors { native, sse, yjs }
}

#[tokio::test]
async fn disconnect_closes_the_users_connections_on_every_door() {
    let config = format!(
        "{}[auth]\ntoken_secret = \"{SECRET}\"\n[[pusher.apps]]\nid = \"1\"\nkey = \"key-1\"\nsecret = \"secret-1\"\n",
        common::cluster::FAST_LIMITS
    );
    let server = Server::start(&config).await;
    let mut u1 = connect_every_door(&server, "u1").await;
    let mut u2 = connect_every_door(&server, "u2").await;
    // A Pusher socket signed in as the same user id.
    let mut pusher = pusher_open(&server, "key-1", "?protocol=7").await;
    let socket = established(&mut pusher).await;
    let user_data = json!({"id": "u1"}).to_string();
    let sig = herald_server::pusher::signature::sign("secret-1", format!("{socket}::user::{user_data}").as_bytes());
    send(
        &mut pusher,
        json!({"event": "pusher:signin", "data": {"auth": format!("key-1:{sig}"), "user_data": user_data}}),
    )
    .await;
    assert_eq!(next(&mut pusher).await.unwrap()["event"], "pusher:signin_success");

    let r = server.post("/api/disconnect", &json!({"user": "u1"})).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["disconnected"], 3, "/ws, /sse and /yjs: {}", r.body);

    let within = Duration::from_secs(5);
    assert_eq!(close_code(&u1.native, within).await, Some(DISCONNECTED), "/ws");
    let ev = u1.sse.expect("disconnect").await.json();
    assert_eq!(ev["code"], DISCONNECTED, "/sse: {ev}");
    assert!(u1.sse.ends_within(within).await, "/sse stream ends");
    assert_eq!(yjs_close_code(&mut u1.yjs, within).await, Some(DISCONNECTED), "/yjs");

    // The other user is untouched on every door.
    server.publish("room:a", json!("still here")).await;
    assert_eq!(u2.sse.publications(1).await[0].2, json!("still here"));
    assert!(close_code(&u2.native, Duration::from_millis(300)).await.is_none(), "u2 /ws stays");
    assert!(yjs_close_code(&mut u2.yjs, Duration::from_millis(300)).await.is_none(), "u2 /yjs stays");

    // The Pusher app's user is closed by the Pusher API, not by /api/disconnect.
    send(&mut pusher, json!({"event": "pusher:ping", "data": {}})).await;
    assert_eq!(next(&mut pusher).await.unwrap()["event"], "pusher:pong", "the Pusher socket stays open");
    let path = signed_path("key-1", "secret-1", "POST", "/apps/1/users/u1/terminate_connections", "{}", &[]);
    let r = http(server.addr, "POST", &path, Some(b"{}"), None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(next(&mut pusher).await.unwrap()["data"]["code"], 4009, "pusher:error before the close");
    assert_eq!(next(&mut pusher).await, Err(4009), "terminated by the Pusher API");

    // Nothing of u1 is left to disconnect.
    let r = server.post("/api/disconnect", &json!({"user": "u1"})).await.unwrap();
    assert_eq!(r.json()["disconnected"], 0, "{}", r.body);
}
