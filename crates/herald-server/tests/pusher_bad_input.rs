//! The Pusher door refuses bad input the way Pusher does, with the codes
//! pusher-js acts on, and without harming the connection or others: unknown
//! key (4001), unsupported protocol (4007), over the app's connection quota
//! (4004), an unanswered `pusher:ping` (4201), malformed frames and channel
//! names, a full presence channel; and REST requests with a stale
//! timestamp, a wrong body hash, an unknown app or bad parameters.

mod common;

use common::pusher::{established, next, next_raw, open, presence_subscribe, send};
use common::{Server, http};
use futures_util::SinkExt;
use herald_server::pusher::signature;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

const CONFIG: &str = r#"
ephemeral = true
[pusher]
activity_timeout_secs = 1
pong_timeout_secs = 1
[[pusher.apps]]
id = "1"
key = "key-1"
secret = "secret-1"
max_presence_members = 1
[[pusher.apps]]
id = "2"
key = "key-2"
secret = "secret-2"
namespace = "two"
max_connections = 1
"#;

#[tokio::test]
async fn refused_sockets_get_the_codes_pusher_js_acts_on() {
    let server = Server::start(CONFIG).await;
    for (key, query, code) in [("nope", "?protocol=7", 4001u16), ("key-1", "?protocol=3", 4007), ("key-1", "", 4007)] {
        let mut ws = open(&server, key, query).await;
        let err = next(&mut ws).await.expect("pusher:error first");
        assert_eq!(
            (err["event"].as_str(), err["data"]["code"].as_u64()),
            (Some("pusher:error"), Some(u64::from(code)))
        );
        assert_eq!(next(&mut ws).await, Err(code), "{key}{query}");
    }
    let mut first = open(&server, "key-2", "?protocol=7").await;
    established(&mut first).await;
    let mut second = open(&server, "key-2", "?protocol=7").await;
    assert_eq!(next(&mut second).await.expect("error")["data"]["code"], 4004);
    assert_eq!(next(&mut second).await, Err(4004));

    // A socket that never answers pusher:ping is closed with 4201 (reconnect).
    let mut silent = open(&server, "key-1", "?protocol=7").await;
    established(&mut silent).await;
    assert_eq!(next_raw(&mut silent).await.expect("ping")["event"], "pusher:ping");
    loop {
        match next_raw(&mut silent).await {
            Ok(f) => assert_eq!(f["event"], "pusher:error"),
            Err(code) => {
                assert_eq!(code, 4201);
                break;
            }
        }
    }
}

#[tokio::test]
async fn bad_frames_and_channels_are_answered_and_the_socket_stays() {
    let server = Server::start(CONFIG).await;
    let mut ws = open(&server, "key-1", "?protocol=7").await;
    let socket = established(&mut ws).await;
    ws.send(Message::text("not json")).await.unwrap();
    assert_eq!(next(&mut ws).await.unwrap()["event"], "pusher:error");
    send(&mut ws, json!({"event": "pusher:subscribe", "data": {"channel": "has space"}})).await;
    let e = next(&mut ws).await.unwrap();
    assert_eq!((e["event"].as_str(), e["data"]["status"].as_u64()), (Some("pusher:subscription_error"), Some(400)));
    send(&mut ws, json!({"event": "pusher:subscribe", "data": {"channel": "presence-a", "auth": "key-1:00"}})).await;
    assert_eq!(next(&mut ws).await.unwrap()["data"]["status"], 400, "presence without channel_data");
    send(&mut ws, json!({"event": "pusher:subscribe", "data": {"channel": "#server-to-user-1"}})).await;
    assert_eq!(next(&mut ws).await.unwrap()["data"]["status"], 403, "server-to-user without sign-in");
    send(&mut ws, json!({"event": "client-x", "channel": "private-a", "data": {}})).await;
    assert_eq!(next(&mut ws).await.unwrap()["event"], "pusher:error", "client event before subscribing");
    send(&mut ws, json!({"event": "pusher:ping", "data": {}})).await;
    assert_eq!(next(&mut ws).await.unwrap()["event"], "pusher:pong", "the socket still works");

    // A full presence channel (max 1 member) refuses a second user, not a second tab of the first.
    let join =
        |socket: &str, user: &str| presence_subscribe("key-1", "secret-1", socket, "presence-full", user, json!(null));
    send(&mut ws, join(&socket, "u1")).await;
    let ok = next(&mut ws).await.unwrap();
    assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(ok["data"]["presence"]["ids"], json!(["u1"]));
    let mut other = open(&server, "key-1", "?protocol=7").await;
    let other_socket = established(&mut other).await;
    send(&mut other, join(&other_socket, "u2")).await;
    assert_eq!(next(&mut other).await.unwrap()["data"]["status"], 403);
    send(&mut other, join(&other_socket, "u1")).await;
    assert_eq!(next(&mut other).await.unwrap()["event"], "pusher_internal:subscription_succeeded");
}

/// A signed REST request (as the pusher SDK signs it), with `ts` as the timestamp.
fn signed(method: &str, path: &str, body: &str, extra: &[(&str, &str)], ts: u64) -> String {
    let mut params: Vec<(String, String)> = vec![
        ("auth_key".into(), "key-1".into()),
        ("auth_timestamp".into(), ts.to_string()),
        ("auth_version".into(), "1.0".into()),
    ];
    if !body.is_empty() {
        params.push(("body_md5".into(), signature::body_md5(body.as_bytes())));
    }
    params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let sig = signature::sign("secret-1", signature::rest_string_to_sign(method, path, &params).as_bytes());
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{path}?{}&auth_signature={sig}", query.join("&"))
}

#[tokio::test]
async fn rest_requests_are_checked_like_pushers() {
    let server = Server::start(CONFIG).await;
    let now = herald_core::now_ms() / 1000;
    let post = |path: String, body: &'static str| {
        let addr = server.addr;
        async move { http(addr, "POST", &path, Some(body.as_bytes()), None).await.unwrap() }
    };
    let event = r#"{"name":"e","channels":["a"],"data":"{}"}"#;
    assert_eq!(post(signed("POST", "/apps/1/events", event, &[], now), event).await.status, 200);
    let stale = post(signed("POST", "/apps/1/events", event, &[], now - 601), event).await;
    assert_eq!(stale.status, 401);
    assert!(stale.body.contains("Timestamp"), "{}", stale.body);
    let other = r#"{"name":"e","channels":["b"],"data":"{}"}"#;
    let tampered = post(signed("POST", "/apps/1/events", event, &[], now), other).await;
    assert_eq!(tampered.status, 401, "a body that does not match body_md5");
    assert_eq!(post(signed("POST", "/apps/9/events", event, &[], now), event).await.status, 404);
    let bad_socket = r#"{"name":"e","channels":["a"],"data":"{}","socket_id":"abc"}"#;
    assert_eq!(post(signed("POST", "/apps/1/events", bad_socket, &[], now), bad_socket).await.status, 400);
    let mixed = r#"{"name":"e","channels":["private-encrypted-a","b"],"data":"{}"}"#;
    assert_eq!(post(signed("POST", "/apps/1/events", mixed, &[], now), mixed).await.status, 400);
    let chans: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    let too_many: &'static str =
        Box::leak(json!({"name": "e", "channels": chans, "data": "{}"}).to_string().into_boxed_str());
    assert_eq!(post(signed("POST", "/apps/1/events", too_many, &[], now), too_many).await.status, 400);
    let get = |path: String| {
        let addr = server.addr;
        async move { http(addr, "GET", &path, None, None).await.unwrap() }
    };
    let no_prefix = get(signed("GET", "/apps/1/channels", "", &[("info", "user_count")], now)).await;
    assert_eq!(no_prefix.status, 400, "user_count needs filter_by_prefix=presence-");
    let r = get(signed("GET", "/apps/1/channels/a/users", "", &[], now)).await;
    assert_eq!(r.status, 400, "users only for presence channels");
    let r = get(signed("GET", "/apps/1/channels", "", &[], now)).await;
    assert_eq!((r.status, r.json()), (200, json!({"channels": {}})));
}

#[tokio::test]
async fn a_flooding_socket_is_told_then_closed_with_4100() {
    let server = Server::start(&format!(
        "{CONFIG}\n[limits]\nmessages_per_conn_per_sec = 5\nmessages_per_conn_burst = 5\nabuse_threshold = 3\n"
    ))
    .await;
    let mut ws = open(&server, "key-1", "?protocol=7").await;
    established(&mut ws).await;
    for _ in 0..20 {
        send(&mut ws, json!({"event": "pusher:ping", "data": {}})).await;
    }
    let mut errors = 0;
    let code = loop {
        match next(&mut ws).await {
            Ok(f) if f["event"] == "pusher:error" => errors += 1,
            Ok(f) => assert_eq!(f["event"], "pusher:pong"),
            Err(code) => break code,
        }
    };
    assert!(errors >= 3, "each refused frame is answered ({errors})");
    assert_eq!(code, 4100, "over capacity: pusher-js backs off, then reconnects");
}

/// Issue 22: a huge channel or event name is never echoed back whole, and
/// every `pusher:error` carries one of Pusher's codes, never `null`.
#[tokio::test]
async fn huge_names_are_not_echoed_and_errors_carry_pusher_codes() {
    let server = Server::start(CONFIG).await;
    let mut ws = open(&server, "key-1", "?protocol=7").await;
    established(&mut ws).await;
    let huge = "c".repeat(100_000);
    send(&mut ws, json!({"event": "pusher:subscribe", "data": {"channel": huge}})).await;
    let e = next(&mut ws).await.unwrap();
    assert_eq!((e["event"].as_str(), e["data"]["status"].as_u64()), (Some("pusher:subscription_error"), Some(400)));
    let echoed = e["channel"].as_str().expect("channel");
    assert!(echoed.len() <= 210 && echoed.starts_with("ccc"), "echoed {} bytes of the name", echoed.len());

    let code_of = |e: &serde_json::Value| {
        assert_eq!(e["event"], "pusher:error", "{e}");
        e["data"]["code"].as_u64().unwrap_or_else(|| panic!("pusher:error without a code: {e}"))
    };
    ws.send(Message::text("not json")).await.unwrap();
    assert_eq!(code_of(&next(&mut ws).await.unwrap()), 4300);
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(code_of(&next(&mut ws).await.unwrap()), 4300);
    send(&mut ws, json!({"event": format!("pusher:{huge}"), "data": {}})).await;
    let e = next(&mut ws).await.unwrap();
    assert_eq!(code_of(&e), 4300);
    assert!(e.to_string().len() < 1000, "the event name is not echoed whole");
    send(&mut ws, json!({"event": "client-x", "channel": huge, "data": {}})).await;
    let e = next(&mut ws).await.unwrap();
    assert_eq!(code_of(&e), 4300);
    assert!(e.to_string().len() < 1000, "the channel name is not echoed whole");
    send(&mut ws, json!({"event": "client-x", "channel": "private-a", "data": {}})).await;
    assert!(matches!(code_of(&next(&mut ws).await.unwrap()), 4009 | 4300), "client event before subscribing");
    send(&mut ws, json!({"event": "pusher:subscribe"})).await;
    assert_eq!(code_of(&next(&mut ws).await.unwrap()), 4300);
}
