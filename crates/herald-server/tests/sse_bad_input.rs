//! Bad input on the SSE door and its upstream: each case is refused before
//! any stream starts, with the HTTP status and protocol error code a client
//! can act on.

mod common;

use common::Server;
use common::sse::{Opts, SseStream, request};
use serde_json::json;

/// Status and error code of a refused `GET /sse`.
async fn refused(server: &Server, path: &str, opts: Opts) -> (u16, u64) {
    match SseStream::open(server.addr, path, opts).await {
        Ok(_) => panic!("{path} was accepted"),
        Err(r) => {
            assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
            (r.status, r.json()["error"]["code"].as_u64().unwrap_or(0))
        }
    }
}

#[tokio::test]
async fn each_bad_request_gets_its_status_and_code_before_the_stream() {
    let server = Server::start("strict_namespaces = true\n[connection]\nmax_channels = 2\n[namespaces.chat]\n").await;
    let mut s = SseStream::open(server.addr, "/sse?channel=chat:a&channel=chat:b", Opts::default()).await.unwrap();
    let id = s.expect("connected").await.id.unwrap();
    let (ea, eb) = {
        let (a, b) = id.split_once('~').unwrap();
        (a.split_once('.').unwrap().0.to_string(), b.split_once('.').unwrap().0.to_string())
    };
    drop(s);
    let two = "/sse?channel=chat:a&channel=chat:b";
    let cases: Vec<(&str, String, Option<String>, u16, u64)> = vec![
        ("no channel", "/sse".into(), None, 400, 107),
        ("unknown namespace", "/sse?channel=nope:a".into(), None, 404, 102),
        ("invalid channel", "/sse?channel=has%20space".into(), None, 400, 109),
        ("too long channel", format!("/sse?channel={}", "x".repeat(201)), None, 400, 109),
        ("too many channels", "/sse?channel=chat:a&channel=chat:b&channel=chat:c".into(), None, 400, 106),
        ("private channel", "/sse?channel=chat:a&channel=private-x".into(), None, 403, 103),
        ("subscribed twice", "/sse?channel=chat:a&channel=chat:a".into(), None, 409, 105),
        ("malformed id", two.into(), Some("garbage".into()), 400, 107),
        ("id for one channel", two.into(), Some(format!("{ea}.0")), 400, 107),
        ("id with a bad offset", two.into(), Some(format!("{ea}.x~{eb}.0")), 400, 107),
        ("id with a bad epoch", two.into(), Some(format!("e/1.0~{eb}.0")), 400, 107),
        ("forged id ahead of the channel", two.into(), Some(format!("{ea}.5~{eb}.0")), 400, 107),
        ("malformed lastEventId", format!("{two}&lastEventId=a.1~~"), None, 400, 107),
    ];
    for (what, path, last_id, status, code) in cases {
        let opts = match &last_id {
            Some(id) => Opts::default().header("Last-Event-ID", id),
            None => Opts::default(),
        };
        assert_eq!(refused(&server, &path, opts).await, (status, code), "{what}: {path} {last_id:?}");
    }
    // Nothing refused stayed registered.
    assert_eq!(server.get("/api/channels").await.unwrap().json()["channels"], json!([]));
    // A well-formed id from another epoch is not refused: it is a failed recovery.
    let opts = Opts::default().header("Last-Event-ID", "zzzzzzzz.3~zzzzzzzz.0");
    let mut s = SseStream::open(server.addr, two, opts).await.unwrap();
    assert_eq!(s.expect("connected").await.json()["channels"][0]["recovered"], false);
    assert_eq!(s.expect("recovery-failed").await.json()["channel"], "chat:a");
}

#[tokio::test]
async fn long_polling_refuses_the_same_bad_input() {
    let server = Server::start("strict_namespaces = true\n[namespaces.chat]\n").await;
    for (path, status, code) in [
        ("/poll?channel=nope:a", 404, 102),
        ("/poll?channel=chat:a&since=nonsense", 400, 107),
        ("/poll?channel=chat:a&since=a.1&since=a.2", 400, 107),
        ("/poll?channel=bad%2Fname", 400, 109),
    ] {
        let r = request(server.addr, "GET", path, &Opts::default(), None).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["code"].as_u64().unwrap()), (status, code), "{path}");
    }
}

async fn sse_publish(server: &Server, path: &str, opts: Opts, body: &str) -> (u16, serde_json::Value) {
    let r = request(server.addr, "POST", path, &opts, Some(body.as_bytes())).await.unwrap();
    (r.status, r.json())
}

#[tokio::test]
async fn sse_publish_publishes_as_the_client_and_refuses_bad_input() {
    let server = Server::start("[namespaces.readonly]\nallow_client_publish = false\n").await;
    let mut s = SseStream::open(server.addr, "/sse?channel=chat:up", Opts::default()).await.unwrap();
    s.expect("connected").await;

    let (status, v) =
        sse_publish(&server, "/sse/publish?token=dev", Opts::default(), r#"{"channel":"chat:up","data":{"t":"hi"}}"#)
            .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["offset"], 1);
    assert!(v["epoch"].as_str().is_some_and(|e| !e.is_empty()));
    let ev = s.expect("publication").await.json();
    assert_eq!(ev["data"], json!({"t": "hi"}));
    assert_eq!(ev["publisher"]["client"], "http");

    // Bearer token and an idempotency key: a retry publishes nothing new.
    let body = r#"{"channel":"chat:up","data":2,"idempotency_key":"k-1"}"#;
    let bearer = Opts::default().header("Authorization", "Bearer dev");
    let (_, first) = sse_publish(&server, "/sse/publish", bearer.clone(), body).await;
    let (_, again) = sse_publish(&server, "/sse/publish", bearer, body).await;
    assert_eq!(first["offset"], 2);
    assert_eq!(again, first);

    let cases: &[(&str, Opts, &str, u16, u64)] = &[
        ("not json", Opts::default(), "{nope", 400, 108),
        ("no data", Opts::default(), r#"{"channel":"chat:up"}"#, 400, 107),
        ("unknown field", Opts::default(), r#"{"channel":"chat:up","data":1,"colour":"red"}"#, 400, 107),
        ("invalid channel", Opts::default(), r#"{"channel":"a b","data":1}"#, 400, 109),
        ("read-only namespace", Opts::default(), r#"{"channel":"readonly:x","data":1}"#, 403, 103),
        ("private channel", Opts::default(), r#"{"channel":"private-x","data":1}"#, 403, 103),
        (
            "bad authorization",
            Opts::default().header("Authorization", "Basic abc"),
            r#"{"channel":"chat:up","data":1}"#,
            401,
            101,
        ),
    ];
    for (what, opts, body, status, code) in cases {
        let (st, v) = sse_publish(&server, "/sse/publish", opts.clone(), body).await;
        assert_eq!((st, v["error"]["code"].as_u64().unwrap_or(0)), (*status, *code), "{what}: {v}");
    }
    // The refused ones published nothing.
    let info = server.get("/api/channels/chat:up").await.unwrap().json();
    assert_eq!(info["offset"], 2);
}
