//! Collaborative documents over the native protocol (`doc_open`, `doc`,
//! `doc_close`): the y-websocket messages in base64 inside JSON frames, on
//! the same documents as the `/yjs` door and the HTTP API, with the same
//! rights (subscribe reads, publish writes) and clear errors.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::Server;
use herald_client::{Client, ConnectOptions, Push};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use yrs::sync::protocol::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

const SECRET: &str = "native-docs-secret-0123456789";

fn config() -> String {
    format!("[auth]\ntoken_secret = \"{SECRET}\"\n[namespaces.doc]\n")
}

fn token(sub: &str, allow: &[&str]) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({ "sub": sub, "iat": now, "exp": now + 3600,
                         "capabilities": [{ "channels": ["doc:*"], "allow": allow }] });
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

async fn user(server: &Server, sub: &str, allow: &[&str]) -> Client {
    Client::connect(&server.ws_url(), ConnectOptions::default().token(token(sub, allow))).await.expect("connect").0
}

/// The next `doc` push's y-websocket message.
async fn doc_push(c: &Client) -> Message {
    let push = c.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Doc { .. })).await.expect("a doc push");
    let Push::Doc { channel, data } = push else { unreachable!() };
    assert_eq!(channel, "doc:spec");
    let bytes = B64.decode(data).unwrap();
    Message::decode_v1(&bytes).unwrap()
}

/// Pushes until a sync update or step 2 arrives; applied to `doc`.
async fn apply_next_update(c: &Client, doc: &Doc) {
    loop {
        match doc_push(c).await {
            Message::Sync(SyncMessage::SyncStep2(u)) | Message::Sync(SyncMessage::Update(u)) => {
                doc.transact_mut().apply_update(Update::decode_v1(&u).unwrap()).unwrap();
                return;
            }
            _ => continue,
        }
    }
}

fn text(doc: &Doc) -> String {
    let body = doc.get_or_insert_text("body");
    body.get_string(&doc.transact())
}

/// Type `s` at the end of `doc`'s text; returns the y-websocket update message.
fn type_at_end(doc: &Doc, s: &str) -> String {
    let body = doc.get_or_insert_text("body");
    let before = doc.transact().state_vector();
    {
        let mut txn = doc.transact_mut();
        let len = body.len(&txn);
        body.insert(&mut txn, len, s);
    }
    let update = doc.transact().encode_state_as_update_v1(&before);
    B64.encode(Message::Sync(SyncMessage::Update(update)).encode_v1())
}

#[tokio::test]
async fn native_editors_share_a_document_with_the_http_api() {
    let server = Server::start(&config()).await;
    let ann = user(&server, "ann", &["subscribe", "publish"]).await;
    let r = ann.request("doc_open", json!({ "channel": "doc:spec" })).await.unwrap();
    assert_eq!(r, json!({ "channel": "doc:spec", "writable": true }));
    // The greeting follows the reply: the server's state vector.
    assert!(matches!(doc_push(&ann).await, Message::Sync(SyncMessage::SyncStep1(_))));

    let ann_doc = Doc::with_client_id(1);
    let msg = type_at_end(&ann_doc, "hello");
    assert_eq!(ann.request("doc", json!({ "channel": "doc:spec", "data": msg })).await.unwrap(), json!({}));
    let state = server.get("/api/docs/doc:spec?format=json").await.unwrap().json();
    assert_eq!(state["roots"]["body"], "hello", "{state}");

    // A second editor catches up with sync step 1 → step 2, then gets live updates.
    let bob = user(&server, "bob", &["subscribe", "publish"]).await;
    bob.request("doc_open", json!({ "channel": "doc:spec" })).await.unwrap();
    let step1 = Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1();
    bob.request("doc", json!({ "channel": "doc:spec", "data": B64.encode(step1) })).await.unwrap();
    let bob_doc = Doc::with_client_id(2);
    apply_next_update(&bob, &bob_doc).await;
    assert_eq!(text(&bob_doc), "hello");
    let msg = type_at_end(&ann_doc, " world");
    ann.request("doc", json!({ "channel": "doc:spec", "data": msg })).await.unwrap();
    apply_next_update(&bob, &bob_doc).await;
    assert_eq!(text(&bob_doc), "hello world");

    // Closed: further messages are refused, the document stays.
    bob.request("doc_close", json!({ "channel": "doc:spec" })).await.unwrap();
    let err = bob.request("doc", json!({ "channel": "doc:spec", "data": msg_of(&bob_doc) })).await.unwrap_err();
    assert_eq!(err.server_code(), Some(111), "{err}");
    assert_eq!(server.get("/api/docs/doc:spec?format=json").await.unwrap().json()["roots"]["body"], "hello world");
}

fn msg_of(doc: &Doc) -> String {
    type_at_end(doc, "!")
}

#[tokio::test]
async fn read_only_editors_and_bad_input_get_clear_errors() {
    let server = Server::start(&config()).await;
    let reader = user(&server, "rita", &["subscribe"]).await;
    let r = reader.request("doc_open", json!({ "channel": "doc:spec" })).await.unwrap();
    assert_eq!(r["writable"], false);
    let doc = Doc::with_client_id(3);
    let err = reader.request("doc", json!({ "channel": "doc:spec", "data": type_at_end(&doc, "vandal") })).await;
    let err = err.unwrap_err();
    assert_eq!(err.server_code(), Some(103), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
    let state: Value = server.get("/api/docs/doc:spec?format=json").await.unwrap().json();
    assert_ne!(state["roots"]["body"], "vandal", "{state}");

    let cases: Vec<(Value, u16)> = vec![
        (json!({ "channel": "doc:spec" }), 105), // open twice
        (json!({ "channel": "secret:x" }), 103), // no rights
    ];
    for (fields, code) in cases {
        let e = reader.request("doc_open", fields.clone()).await.unwrap_err();
        assert_eq!(e.server_code(), Some(code), "doc_open {fields}: {e}");
    }
    for (fields, code) in [
        (json!({ "channel": "doc:other", "data": "AAA=" }), 111), // not open
        (json!({ "channel": "doc:spec", "data": "not base64!" }), 107),
        (json!({ "channel": "doc:spec", "data": 5 }), 107),
        (json!({ "channel": "doc:spec" }), 107),
        (json!({ "channel": "doc:spec", "data": B64.encode([0x07, 0x01]) }), 107), // not a y-websocket message
    ] {
        let e = reader.request("doc", fields.clone()).await.unwrap_err();
        assert_eq!(e.server_code(), Some(code), "doc {fields}: {e}");
    }
    // The connection is still fine.
    assert_eq!(reader.request("doc_close", json!({ "channel": "doc:spec" })).await.unwrap(), json!({}));
}
