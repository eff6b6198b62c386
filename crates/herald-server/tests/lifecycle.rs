//! The server's life: restarts keep history and epochs, a wiped data
//! directory changes them, shutdown tells clients to reconnect, slow readers
//! are cut without slowing anyone else, and the operational endpoints.

mod common;

use std::time::Duration;

use common::{Server, close_code, connect, publications, temp_dir};
use herald_client::{Client, ConnectOptions, Position, Push};
use serde_json::json;

#[tokio::test]
async fn restart_keeps_history_and_epoch() {
    let mut server = Server::start("").await;
    let c = connect(&server).await;
    let sub = c.subscribe("chat:keep", None).await.unwrap();
    for i in 0..10 {
        server.publish("chat:keep", json!(i)).await;
    }
    publications(&c, "chat:keep", 10).await;
    let pos = Position { epoch: sub.epoch.clone(), offset: 4 };
    drop(c);
    server.restart().await;
    let c = connect(&server).await;
    let sub2 = c.subscribe("chat:keep", Some(pos)).await.unwrap();
    assert_eq!(sub2.epoch, sub.epoch, "a restart without data loss keeps the epoch");
    assert_eq!(sub2.recovered, Some(true));
    assert_eq!(sub2.publications.iter().map(|p| p.offset).collect::<Vec<_>>(), (5..=10).collect::<Vec<_>>());
    // Offsets continue after the restart.
    assert_eq!(server.publish("chat:keep", json!("after")).await, 11);
}

#[tokio::test]
async fn a_crash_loses_no_acknowledged_publication() {
    let mut server = Server::start("").await;
    for i in 0..50 {
        server.publish("chat:crash", json!(i)).await;
    }
    server.kill();
    server.restart().await;
    let r = server.get("/api/history/chat:crash?limit=100").await.unwrap();
    let offsets: Vec<u64> =
        r.json()["publications"].as_array().unwrap().iter().map(|p| p["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, (1..=50).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_wiped_data_dir_changes_the_epoch_and_recovery_says_so() {
    let dir = temp_dir("wipe");
    let mut server = Server::start_in(&dir, "").await;
    let c = connect(&server).await;
    let sub = c.subscribe("chat:w", None).await.unwrap();
    server.publish("chat:w", json!(1)).await;
    publications(&c, "chat:w", 1).await;
    drop(c);
    assert!(server.terminate().await);
    std::fs::remove_dir_all(&dir).unwrap();
    server.restart().await;
    server.publish("chat:w", json!(2)).await;
    let c = connect(&server).await;
    let sub2 = c.subscribe("chat:w", Some(Position { epoch: sub.epoch.clone(), offset: 1 })).await.unwrap();
    assert_ne!(sub2.epoch, sub.epoch);
    assert_eq!(sub2.recovered, Some(false));
}

#[tokio::test]
async fn shutdown_tells_every_client_to_reconnect() {
    let mut server = Server::start("").await;
    let clients: Vec<Client> = futures_util::future::join_all((0..5).map(|_| connect(&server))).await;
    for c in &clients {
        c.subscribe("chat:bye", None).await.unwrap();
    }
    server.signal_term();
    for c in &clients {
        let push = c.wait_push(Duration::from_secs(10), |p| matches!(p, Push::Disconnect { .. })).await.unwrap();
        assert!(matches!(push, Push::Disconnect { code: 4000, reconnect: true, .. }), "{push:?}");
        assert_eq!(close_code(c, Duration::from_secs(5)).await, Some(4000));
    }
    assert!(server.terminate().await, "herald exits cleanly after SIGTERM");
}

#[tokio::test]
async fn a_slow_reader_is_cut_while_fast_readers_keep_receiving() {
    let server = Server::start(
        "[connection.queue]\nmax_messages = 64\nmax_bytes = 65536\n[limits]\nmessages_per_conn_per_sec = 100000\n",
    )
    .await;
    let opts = ConnectOptions::default().recv_buffer_size(4096);
    let (slow, _) = Client::connect(&server.ws_url(), opts).await.unwrap();
    slow.subscribe("chat:flood", None).await.unwrap();
    let fast = connect(&server).await;
    fast.subscribe("chat:flood", None).await.unwrap();
    slow.pause_reading();

    // Enough bytes to fill both kernel socket buffers and then the queue.
    let payload = "y".repeat(30_000);
    let publisher = connect(&server).await;
    let total = 500;
    let reader = async {
        let got = publications(&fast, "chat:flood", total).await;
        assert_eq!(got.iter().map(|(o, _)| *o).collect::<Vec<_>>(), (1..=total as u64).collect::<Vec<_>>());
    };
    let writer = async {
        for i in 0..total {
            publisher.publish("chat:flood", &json!({ "i": i, "p": payload }), None).await.unwrap();
        }
    };
    tokio::join!(reader, writer);

    let r = server.get("/metrics").await.unwrap();
    assert!(r.body.contains("herald_slow_consumer_disconnects_total{door=\"native\"} 1"), "{}", r.body);
    slow.resume_reading();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.closed()).await.expect("slow reader was cut");
    assert!(closed.code.is_none_or(|c| c == 4001), "{closed:?}");
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = Server::start("").await;
    assert_eq!(server.get("/healthz").await.unwrap().status, 200);
    assert_eq!(server.get("/readyz").await.unwrap().status, 200);
    let c = connect(&server).await;
    c.subscribe("chat:m", None).await.unwrap();
    server.publish("chat:m", json!(1)).await;
    publications(&c, "chat:m", 1).await;
    let m = server.get("/metrics").await.unwrap().body;
    for name in [
        "herald_connections 1",
        "herald_subscriptions 1",
        "herald_messages_published_total 1",
        "herald_messages_delivered_total 1",
        "herald_publish_seconds_bucket",
    ] {
        assert!(m.contains(name), "metrics lack {name}:\n{m}");
    }
}
