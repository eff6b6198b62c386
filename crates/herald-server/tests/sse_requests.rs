//! `POST /sse/request`: an SSE or long-poll client's history, presence,
//! read receipts and inbox requests over HTTP, answered exactly as on a
//! WebSocket, with its own token's rights, and pushing to the other
//! connections as the WebSocket requests do.

mod common;

use std::time::Duration;

use common::Server;
use common::sse::{Opts, request};
use herald_client::{Client, ConnectOptions};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const SECRET: &str = "sse-requests-secret-0123456789";

fn config() -> String {
    format!("[auth]\ntoken_secret = \"{SECRET}\"\n[namespaces.room]\npresence = true\nhistory_ttl_secs = 0\n")
}

fn token(sub: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 3600,
        "capabilities": [{ "channels": ["room:*"], "allow": ["subscribe", "publish", "presence", "history"] }]
    });
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

/// `POST /sse/request` as `sub` (or with no token): status and body.
async fn http_request(server: &Server, sub: Option<&str>, frame: Value) -> (u16, Value) {
    let opts = match sub {
        Some(s) => Opts::default().header("Authorization", &format!("Bearer {}", token(s))),
        None => Opts::default(),
    };
    let r = request(server.addr, "POST", "/sse/request", &opts, Some(frame.to_string().as_bytes())).await.unwrap();
    (r.status, r.json())
}

async fn ws_user(server: &Server, sub: &str) -> Client {
    Client::connect(&server.ws_url(), ConnectOptions::default().token(token(sub))).await.expect("connect").0
}

async fn push_named(c: &Client, name: &str) -> Value {
    match c.wait_push(Duration::from_secs(5), |p| p.to_json()["push"] == name).await {
        Ok(p) => p.to_json(),
        Err(e) => panic!("no {name} push: {e:?}"),
    }
}

#[tokio::test]
async fn http_requests_answer_as_the_websocket_does() {
    let server = Server::start(&config()).await;
    for n in 1..=3 {
        server.publish("room:1", json!({ "n": n })).await;
    }
    let bob = ws_user(&server, "bob").await;
    bob.request("subscribe", json!({ "channel": "room:1" })).await.unwrap();

    // History and presence: the very replies a WebSocket gets.
    for frame in
        [json!({ "op": "history", "channel": "room:1", "limit": 2 }), json!({ "op": "presence", "channel": "room:1" })]
    {
        let (status, over_http) = http_request(&server, Some("ada"), frame.clone()).await;
        assert_eq!(status, 200, "{over_http}");
        let op = frame["op"].as_str().unwrap();
        let mut fields = frame.clone();
        fields.as_object_mut().unwrap().remove("op");
        let over_ws = bob.request(op, fields).await.unwrap();
        assert_eq!(over_http["result"], over_ws, "{op}");
    }
    let (_, history) = http_request(&server, Some("ada"), json!({ "op": "history", "channel": "room:1" })).await;
    let offsets: Vec<u64> =
        history["result"]["publications"].as_array().unwrap().iter().map(|p| p["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, [1, 2, 3]);
    let (_, who) = http_request(&server, Some("ada"), json!({ "op": "presence", "channel": "room:1" })).await;
    assert_eq!(who["result"]["members"][0]["user"], "bob");

    // A read mark over HTTP is pushed to the channel's subscribers and listed.
    let (status, marked) =
        http_request(&server, Some("ada"), json!({ "op": "mark_read", "channel": "room:1", "offset": 2 })).await;
    assert_eq!((status, &marked["result"]["offset"]), (200, &json!(2)), "{marked}");
    let seen = push_named(&bob, "read").await;
    assert_eq!((seen["user"].as_str(), seen["offset"].as_u64()), (Some("ada"), Some(2)));
    let (_, positions) =
        http_request(&server, Some("ada"), json!({ "op": "read_positions", "channel": "room:1" })).await;
    assert_eq!(positions["result"]["members"][0]["user"], "ada");
    let (_, unread) = http_request(&server, Some("ada"), json!({ "op": "unread" })).await;
    assert_eq!(unread["result"]["channels"], json!([{ "channel": "room:1", "unread": 1, "offset": 2 }]));
}

#[tokio::test]
async fn the_inbox_over_http_stays_in_sync_with_the_users_sockets() {
    let server = Server::start(&config()).await;
    let tab = ws_user(&server, "nina").await;
    assert_eq!(push_named(&tab, "unread").await["unread"], 0);
    let r = server.post("/api/notifications", &json!({ "user": "nina", "title": "Deploy done" })).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(push_named(&tab, "notification").await["unread"], 1);

    let (status, page) = http_request(&server, Some("nina"), json!({ "op": "notifications" })).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["result"]["unread"], 1);
    let id = page["result"]["notifications"][0]["id"].as_u64().unwrap();
    assert_eq!(page["result"]["notifications"][0]["title"], "Deploy done");
    // Someone else cannot touch it (404), and the count is unchanged.
    let (status, _) =
        http_request(&server, Some("mallory"), json!({ "op": "notification_read", "notification": id })).await;
    assert_eq!(status, 404);
    let (_, read) = http_request(&server, Some("nina"), json!({ "op": "notification_read", "notification": id })).await;
    assert_eq!(read["result"]["unread"], 0);
    // The WebSocket tab's badge follows the HTTP request.
    assert_eq!(push_named(&tab, "unread").await["unread"], 0);
}

#[tokio::test]
async fn http_requests_are_refused_with_codes_a_client_can_act_on() {
    let server = Server::start(&config()).await;
    let cases: Vec<(&str, Option<&str>, Value, u16, u64)> = vec![
        ("no token", None, json!({ "op": "unread" }), 401, 101),
        (
            "channel outside the token's rights",
            Some("ada"),
            json!({ "op": "history", "channel": "secret:1" }),
            403,
            103,
        ),
        ("needs a connection", Some("ada"), json!({ "op": "typing", "channel": "room:1" }), 404, 104),
        ("subscribe is the stream's job", Some("ada"), json!({ "op": "subscribe", "channel": "room:1" }), 404, 104),
        (
            "publish has its own route",
            Some("ada"),
            json!({ "op": "publish", "channel": "room:1", "data": 1 }),
            400,
            107,
        ),
        ("unknown op", Some("ada"), json!({ "op": "dance" }), 404, 104),
        ("mark past the top", Some("ada"), json!({ "op": "mark_read", "channel": "room:1", "offset": 9 }), 400, 107),
    ];
    for (what, sub, frame, status, code) in cases {
        let (st, v) = http_request(&server, sub, frame).await;
        assert_eq!((st, v["error"]["code"].as_u64().unwrap_or(0)), (status, code), "{what}: {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {v}");
    }
    let r = request(server.addr, "POST", "/sse/request", &Opts::default(), Some(b"{nope")).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (400, Some(108)));
    // Nothing refused left a trace.
    let seen = server.get("/api/read/room:1").await.unwrap().json();
    assert_eq!(seen["members"], json!([]));
}
