//! Bad input on the native door: each case gets its documented error code,
//! the connection survives where the protocol allows, and a neighbour
//! connection is never affected.

mod common;

use std::time::Duration;

use common::{Server, close_code, connect, publications};
use herald_client::{Client, ConnectOptions, Push};
use serde_json::json;

/// The error code of the next `error` push or reply for a frame sent raw.
async fn error_code_after(client: &Client, frame: &str) -> u16 {
    client.send_raw_text(frame).unwrap();
    let push = client
        .wait_push(Duration::from_secs(5), |p| matches!(p, Push::Error(_) | Push::Reply { result: Err(_), .. }))
        .await
        .unwrap_or_else(|e| panic!("no error for {frame}: {e}"));
    match push {
        Push::Error(e) => e.code,
        Push::Reply { result: Err(e), .. } => e.code,
        other => panic!("{other:?}"),
    }
}

/// Proves a connection still works: subscribe to a fresh channel and receive a publication.
async fn still_works(server: &Server, client: &Client, tag: &str) {
    let channel = format!("chat:alive-{tag}");
    client.subscribe(&channel, None).await.unwrap_or_else(|e| panic!("{tag}: connection broken: {e}"));
    server.publish(&channel, json!(tag)).await;
    assert_eq!(publications(client, &channel, 1).await[0].1, json!(tag));
}

#[tokio::test]
async fn each_bad_frame_gets_its_code_and_the_connection_survives() {
    let server = Server::start(
        "[namespaces.readonly]\nallow_client_publish = false\n[namespaces.small]\nmax_message_size = 1000\n",
    )
    .await;
    let neighbour = connect(&server).await;
    neighbour.subscribe("chat:neighbour", None).await.unwrap();
    let c = connect(&server).await;

    let cases: &[(&str, &str, u16)] = &[
        ("malformed", "{not json", 108),
        ("not-object", "[1,2,3]", 107),
        ("unknown-op", r#"{"id":10,"op":"dance"}"#, 104),
        ("no-op", r#"{"id":11}"#, 107),
        ("unknown-field", r#"{"id":12,"op":"subscribe","channel":"a","colour":"red"}"#, 107),
        ("no-id", r#"{"op":"subscribe","channel":"a"}"#, 107),
        ("bad-channel", r#"{"id":13,"op":"subscribe","channel":"has space"}"#, 109),
        ("long-channel", &format!(r#"{{"id":14,"op":"subscribe","channel":"{}"}}"#, "x".repeat(201)), 109),
        ("readonly-publish", r#"{"id":15,"op":"publish","channel":"readonly:x","data":1}"#, 103),
        ("connect-twice", r#"{"id":16,"op":"connect"}"#, 115),
        ("unsubscribe-unknown", r#"{"id":17,"op":"unsubscribe","channel":"never"}"#, 111),
        ("bad-since", r#"{"id":18,"op":"subscribe","channel":"a","since":5}"#, 107),
    ];
    for (tag, frame, code) in cases {
        assert_eq!(error_code_after(&c, frame).await, *code, "{tag}: {frame}");
    }
    still_works(&server, &c, "after-frames").await;

    // Subscribing twice.
    c.subscribe("chat:twice", None).await.unwrap();
    let err = c.subscribe("chat:twice", None).await.unwrap_err();
    assert_eq!(err.server_code(), Some(105));

    // Data larger than the namespace allows (but within the frame limit).
    let big = "x".repeat(2000);
    let err = c.publish("small:big", &json!(big), None).await.unwrap_err();
    assert_eq!(err.server_code(), Some(110));

    // A binary frame.
    c.send_raw_binary(vec![1, 2, 3]).unwrap();
    let push = c.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Error(_))).await.unwrap();
    assert!(matches!(push, Push::Error(e) if e.code == 113));
    still_works(&server, &c, "after-binary").await;

    // Nothing reached the neighbour but its own channel's traffic.
    server.publish("chat:neighbour", json!("ok")).await;
    assert_eq!(publications(&neighbour, "chat:neighbour", 1).await[0].1, json!("ok"));
}

#[tokio::test]
async fn an_oversized_frame_closes_with_4503_and_spares_the_neighbour() {
    let server = Server::start("[connection]\nmax_message_size = 4096\n").await;
    let neighbour = connect(&server).await;
    neighbour.subscribe("chat:n", None).await.unwrap();
    let c = connect(&server).await;
    c.send_raw_text(format!(r#"{{"id":1,"op":"publish","channel":"chat:n","data":"{}"}}"#, "x".repeat(8000))).unwrap();
    assert_eq!(close_code(&c, Duration::from_secs(5)).await, Some(4503));
    server.publish("chat:n", json!("still here")).await;
    assert_eq!(publications(&neighbour, "chat:n", 1).await[0].1, json!("still here"));
}

#[tokio::test]
async fn requests_before_connect_are_refused_then_connect_times_out() {
    let server = Server::start("[connection]\nconnect_timeout_secs = 1\n").await;
    let c = Client::connect_raw(&server.ws_url()).await.unwrap();
    assert_eq!(error_code_after(&c, r#"{"id":1,"op":"subscribe","channel":"a"}"#).await, 114);
    assert_eq!(close_code(&c, Duration::from_secs(5)).await, Some(4007));
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_ping_timeout() {
    let server = Server::start("[connection]\nping_interval_secs = 1\npong_timeout_secs = 1\n").await;
    let opts = ConnectOptions::default().auto_pong(false);
    let (silent, _) = Client::connect(&server.ws_url(), opts).await.unwrap();
    let answering = connect(&server).await;
    assert_eq!(close_code(&silent, Duration::from_secs(6)).await, Some(4002));
    assert!(!answering.is_closed(), "a client that answers pings stays connected");
    still_works(&server, &answering, "pinged").await;
}

#[tokio::test]
async fn invalid_websocket_upgrades_get_a_json_400() {
    let server = Server::start("").await;
    let r = server.get("/ws").await.unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], 107);
}
