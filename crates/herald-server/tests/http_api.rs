//! The HTTP API: API-key auth, publish/broadcast/channels/history/disconnect,
//! and JSON errors with the protocol's codes.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Server, close_code, connect, http, http_with, publications};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONFIG: &str = "api_key = \"s3cret\"\n";

#[tokio::test]
async fn the_api_key_is_required_when_configured() {
    let server = Server::start(CONFIG).await;
    let body = json!({"channel": "chat:a", "data": 1}).to_string();
    let r = http(server.addr, "POST", "/api/publish", Some(body.as_bytes()), None).await.unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], 101);
    let r = http(server.addr, "POST", "/api/publish", Some(body.as_bytes()), Some("wrong")).await.unwrap();
    assert_eq!(r.status, 401);
    let r = http(server.addr, "POST", "/api/publish", Some(body.as_bytes()), Some("s3cret")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["offset"], 1);
}

#[tokio::test]
async fn publish_broadcast_and_channel_queries() {
    let server = Server::start(CONFIG).await;
    let c = connect(&server).await;
    c.subscribe("user:1", None).await.unwrap();
    c.subscribe("user:2", None).await.unwrap();
    let r =
        server.post("/api/broadcast", &json!({"channels": ["user:1", "user:2"], "data": {"k": "v"}})).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|x| x["offset"] == 1));
    assert_eq!(publications(&c, "user:1", 1).await[0].1, json!({"k": "v"}));

    let r = server.post("/api/publish", &json!({"channels": ["user:1", "user:2"], "data": 2})).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["results"].as_array().unwrap().iter().all(|x| x["offset"] == 2));
    assert_eq!(publications(&c, "user:1", 1).await[0].1, json!(2));

    let r = server.get("/api/channels?prefix=user:").await.unwrap();
    let list = r.json()["channels"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["subscribers"], 1);
    let r = server.get("/api/channels/user:1").await.unwrap();
    assert_eq!(r.json()["offset"], 2);
    assert_eq!(r.json()["subscribers"], 1);
    let r = server.get("/api/history/user:1?direction=backward&limit=5").await.unwrap();
    assert_eq!(r.json()["publications"][1]["data"], json!({"k": "v"}));
}

#[tokio::test]
async fn idempotent_publish_over_http() {
    let server = Server::start(CONFIG).await;
    let body = json!({"channel": "chat:idem", "data": 1, "idempotency_key": "x"});
    let a = server.post("/api/publish", &body).await.unwrap().json();
    let b = server.post("/api/publish", &body).await.unwrap().json();
    assert_eq!(a["offset"], b["offset"]);
    let r = server.get("/api/channels/chat:idem").await.unwrap();
    assert_eq!(r.json()["offset"], 1);
}

#[tokio::test]
async fn bad_requests_get_json_errors_with_codes() {
    let server = Server::start(CONFIG).await;
    let key = Some("s3cret");
    let cases: &[(&str, &str, &str, u16, u16)] = &[
        ("POST", "/api/publish", "{oops", 400, 108),
        ("POST", "/api/publish", r#"{"channel":"a"}"#, 400, 107),
        ("POST", "/api/publish", r#"{"channel":"bad name","data":1}"#, 400, 109),
        ("POST", "/api/broadcast", r#"{"channels":[],"data":1}"#, 400, 107),
        ("POST", "/api/publish", r#"{"channel":"a","channels":["b"],"data":1}"#, 400, 107),
        ("GET", "/api/history/bad%20name", "", 400, 109),
        ("GET", "/api/history/chat:a?limit=lots", "", 400, 107),
    ];
    for (method, path, body, status, code) in cases {
        let b = (!body.is_empty()).then_some(body.as_bytes());
        let r = http(server.addr, method, path, b, key).await.unwrap();
        assert_eq!(r.status, *status, "{method} {path}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], *code, "{method} {path}: {}", r.body);
        assert!(r.json()["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let big = json!({"channel": "chat:big", "data": "x".repeat(70_000)});
    let r = server.post("/api/publish", &big).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (413, Some(110)));
}

#[tokio::test]
async fn disconnect_closes_a_users_connections() {
    let server = Server::start("").await;
    // Users come from tokens (auth issue); an anonymous connection has none,
    // so disconnecting an unknown user closes nothing.
    let c = connect(&server).await;
    let r = server.post("/api/disconnect", &json!({"user": "nobody"})).await.unwrap();
    assert_eq!(r.json()["disconnected"], 0);
    assert!(close_code(&c, Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // No API key: only loopback callers. Behind a trusted proxy on loopback,
    // the forwarded client address decides.
    let server = Server::start("[auth]\ntrusted_proxies = [\"127.0.0.1\"]\n").await;
    let body = json!({"channel": "chat:p", "data": 1}).to_string();
    let remote = [("X-Forwarded-For", "203.0.113.5")];
    let r = http_with(server.addr, "POST", "/api/publish", Some(body.as_bytes()), None, &remote).await.unwrap();
    assert_eq!(r.status, 401, "a remote client behind the proxy is not loopback");
    let r = http(server.addr, "POST", "/api/publish", Some(body.as_bytes()), None).await.unwrap();
    assert_eq!(r.status, 200);
    // Without trusted proxies the header is ignored.
    let open = Server::start("").await;
    let r = http_with(open.addr, "POST", "/api/publish", Some(body.as_bytes()), None, &remote).await.unwrap();
    assert_eq!(r.status, 200);
}

/// Not JSON at all (broken, truncated, empty, trailing garbage) is 108;
/// JSON of the wrong shape is 107 — as `docs/http-api.md` and the protocol's
/// code table say, and as the native door answers a frame.
#[tokio::test]
async fn malformed_json_is_108_and_a_wrong_shape_is_107() {
    let server = Server::start(CONFIG).await;
    let cases: &[(&str, u64)] = &[
        ("{oops", 108),
        (r#"{"channel":"chat:a","data":"#, 108),
        (r#"{"channel":"chat:a","data":{"text":"hi"}"#, 108),
        (r#"{"channel":"chat:a","data":1} trailing"#, 108),
        ("channel=chat:a&data=1", 108),
        ("", 108),
        ("[1,2]", 107),
        (r#""chat:a""#, 107),
        (r#"{"channel":"chat:a"}"#, 107),
    ];
    for (body, code) in cases {
        let r = http(server.addr, "POST", "/api/publish", Some(body.as_bytes()), Some("s3cret")).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (400, Some(*code)), "{body:?}: {}", r.body);
    }
    let r = server.get("/api/channels/chat:a").await.unwrap();
    assert_eq!(r.json()["offset"], 0, "nothing was published");
}

/// `POST path` with this `Content-Type` (or none): the status and the error code.
async fn post_typed(addr: SocketAddr, path: &str, content_type: Option<&str>, body: &str) -> (u16, Option<u64>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let declared = content_type.map(|c| format!("Content-Type: {c}\r\n")).unwrap_or_default();
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{declared}");
    let req = format!("{head}Content-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let code = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| v["error"]["code"].as_u64());
    (status, code)
}

/// Every JSON endpoint takes only `application/json`: in development mode a
/// page in the developer's browser could otherwise publish with a
/// `text/plain` POST, which browsers send cross-site without a preflight
/// (issue 22 item 4).
#[tokio::test]
async fn json_endpoints_refuse_other_content_types_with_415() {
    let server = Server::start("").await;
    let publish = r#"{"channel":"chat:ct","data":1}"#;
    let cases = [
        ("/api/publish", Some("text/plain"), publish),
        ("/api/publish", Some("text/plain;charset=UTF-8"), publish),
        ("/api/publish", None, publish),
        ("/api/broadcast", Some("application/x-www-form-urlencoded"), r#"{"channels":["chat:ct"],"data":1}"#),
        ("/api/disconnect", Some("multipart/form-data; boundary=x"), r#"{"user":"u1"}"#),
        ("/api/notifications", Some("text/plain"), r#"{"user":"u1","title":"hi"}"#),
        ("/api/docs/doc:ct/records", Some("text/plain"), r#"{"id":"a","expect_version":0,"fields":{}}"#),
    ];
    for (path, content_type, body) in cases {
        assert_eq!(
            post_typed(server.addr, path, content_type, body).await,
            (415, Some(107)),
            "{path} {content_type:?}"
        );
    }
    let r = server.get("/api/channels/chat:ct").await.unwrap();
    assert_eq!(r.json()["offset"], 0, "nothing was published");
    for content_type in ["application/json", "application/json; charset=utf-8", "Application/JSON"] {
        assert_eq!(post_typed(server.addr, "/api/publish", Some(content_type), publish).await.0, 200, "{content_type}");
    }
}

/// Browsers send `Origin`, back ends do not: the API serves a browser only
/// from an origin listed in `auth.allowed_origins`, and none when the list is
/// empty (development mode trusts loopback, and a browser tab is loopback).
#[tokio::test]
async fn browsers_from_unlisted_origins_are_refused() {
    let body = json!({"channel": "chat:o", "data": 1}).to_string();
    let post = |addr, origin: &'static str| {
        let body = body.clone();
        async move {
            let headers = [("Origin", origin)];
            let r = http_with(addr, "POST", "/api/publish", Some(body.as_bytes()), None, &headers).await.unwrap();
            (r.status, r.json()["error"]["code"].as_u64())
        }
    };
    let dev = Server::start("").await;
    assert_eq!(post(dev.addr, "http://localhost:3000").await, (403, Some(103)));
    assert_eq!(post(dev.addr, "null").await, (403, Some(103)));
    let r =
        http_with(dev.addr, "GET", "/api/channels", None, None, &[("Origin", "https://evil.example")]).await.unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(dev.get("/api/channels/chat:o").await.unwrap().json()["offset"], 0, "nothing was published");
    assert_eq!(http(dev.addr, "POST", "/api/publish", Some(body.as_bytes()), None).await.unwrap().status, 200);

    let listed = Server::start("[auth]\nallowed_origins = [\"https://app.example.com\"]\n").await;
    assert_eq!(post(listed.addr, "https://app.example.com").await, (200, None));
    assert_eq!(post(listed.addr, "https://evil.example").await, (403, Some(103)));
}
