//! Delivery through the native WebSocket door: fan-out in order, recovery,
//! history, idempotency, presence.

mod common;

use std::time::Duration;

use common::{Server, connect, publications};
use herald_client::{Direction, HistoryOptions, Position, Push};
use serde_json::json;

#[tokio::test]
async fn fanout_reaches_every_subscriber_in_order() {
    let server = Server::start("").await;
    let mut subscribers = Vec::new();
    for _ in 0..50 {
        let c = connect(&server).await;
        c.subscribe("chat:lobby", None).await.unwrap();
        subscribers.push(c);
    }
    let publisher = connect(&server).await;
    // Half through a client, half through the HTTP API, interleaved.
    for i in 0..100 {
        if i % 2 == 0 {
            publisher.publish("chat:lobby", &json!({ "n": i }), None).await.unwrap();
        } else {
            server.publish("chat:lobby", json!({ "n": i })).await;
        }
    }
    for c in &subscribers {
        let got = publications(c, "chat:lobby", 100).await;
        let ns: Vec<i64> = got.iter().map(|(_, d)| d["n"].as_i64().unwrap()).collect();
        assert_eq!(ns, (0..100).collect::<Vec<_>>());
        let offsets: Vec<u64> = got.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (1..=100).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn reconnect_with_position_recovers_exactly_what_was_missed() {
    let server = Server::start("").await;
    let c = connect(&server).await;
    let sub = c.subscribe("chat:room", None).await.unwrap();
    assert_eq!(sub.offset, 0);
    for i in 0..5 {
        server.publish("chat:room", json!(i)).await;
    }
    let seen = publications(&c, "chat:room", 5).await;
    let last = Position { epoch: sub.epoch.clone(), offset: seen.last().unwrap().0 };
    c.close().await.unwrap();

    for i in 5..35 {
        server.publish("chat:room", json!(i)).await;
    }
    let c = connect(&server).await;
    let sub = c.subscribe("chat:room", Some(last)).await.unwrap();
    assert_eq!(sub.recovered, Some(true));
    let recovered: Vec<i64> = sub.publications.iter().map(|p| p.data.as_i64().unwrap()).collect();
    assert_eq!(recovered, (5..35).collect::<Vec<_>>());
    assert_eq!(sub.offset, 35);
    // Live delivery continues right after the recovered ones, nothing twice.
    server.publish("chat:room", json!(35)).await;
    let live = publications(&c, "chat:room", 1).await;
    assert_eq!(live[0].0, 36);
    assert!(c.try_next_push().is_none_or(|p| !matches!(p, Push::Publication { .. })));
}

#[tokio::test]
async fn recovery_while_publishing_loses_and_duplicates_nothing() {
    let server = Server::start("").await;
    let c = connect(&server).await;
    let sub = c.subscribe("feed:x", None).await.unwrap();
    let start = Position { epoch: sub.epoch, offset: sub.offset };
    c.close().await.unwrap();
    for i in 0..200 {
        server.publish("feed:x", json!(i)).await;
    }
    // Publish concurrently with the recovering subscribe.
    let publisher = connect(&server).await;
    let burst = async {
        for i in 200..400 {
            publisher.publish("feed:x", &json!(i), None).await.unwrap();
        }
    };
    let c = connect(&server).await;
    let (sub, ()) = tokio::join!(c.subscribe("feed:x", Some(start)), burst);
    let sub = sub.unwrap();
    assert_eq!(sub.recovered, Some(true));
    let mut all: Vec<u64> = sub.publications.iter().map(|p| p.offset).collect();
    let remaining = 400 - all.len();
    all.extend(publications(&c, "feed:x", remaining).await.into_iter().map(|(o, _)| o));
    assert_eq!(all, (1..=400).collect::<Vec<_>>());
}

#[tokio::test]
async fn recovery_beyond_the_history_window_says_recovered_false() {
    let server = Server::start("[namespaces.short]\nhistory_size = 10\n").await;
    let c = connect(&server).await;
    let sub = c.subscribe("short:a", None).await.unwrap();
    let pos = Position { epoch: sub.epoch.clone(), offset: sub.offset };
    c.close().await.unwrap();
    for i in 0..20 {
        server.publish("short:a", json!(i)).await;
    }
    let c = connect(&server).await;
    let sub = c.subscribe("short:a", Some(pos)).await.unwrap();
    assert_eq!(sub.recovered, Some(false));
    assert!(sub.publications.is_empty(), "never a partial replay");
    assert_eq!(sub.offset, 20, "the reply says where the stream is now");
    // And a position inside the window still recovers.
    c.close().await.unwrap();
    let c = connect(&server).await;
    let sub = c.subscribe("short:a", Some(Position { epoch: sub.epoch, offset: 15 })).await.unwrap();
    assert_eq!(sub.recovered, Some(true));
    assert_eq!(sub.publications.iter().map(|p| p.offset).collect::<Vec<_>>(), vec![16, 17, 18, 19, 20]);
}

#[tokio::test]
async fn a_wrong_epoch_is_not_recovered() {
    let server = Server::start("").await;
    server.publish("chat:e", json!(1)).await;
    let c = connect(&server).await;
    let sub = c.subscribe("chat:e", Some(Position { epoch: "other".into(), offset: 0 })).await.unwrap();
    assert_eq!(sub.recovered, Some(false));
}

#[tokio::test]
async fn history_pages_backwards_and_forwards() {
    let server = Server::start("").await;
    for i in 1..=25 {
        server.publish("chat:h", json!(i)).await;
    }
    let c = connect(&server).await;
    let page = c
        .history(
            "chat:h",
            HistoryOptions { limit: Some(10), direction: Some(Direction::Backward), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(page.offset, 25);
    let offsets: Vec<u64> = page.publications.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, (16..=25).rev().collect::<Vec<_>>());
    let page = c
        .history(
            "chat:h",
            HistoryOptions {
                limit: Some(10),
                before: Some(16),
                direction: Some(Direction::Backward),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.publications.first().unwrap().offset, 15);
    let page = c.history("chat:h", HistoryOptions { since: Some(20), ..Default::default() }).await.unwrap();
    assert_eq!(page.publications.iter().map(|p| p.offset).collect::<Vec<_>>(), vec![21, 22, 23, 24, 25]);
}

#[tokio::test]
async fn idempotency_key_makes_a_retry_publish_nothing() {
    let server = Server::start("").await;
    let watcher = connect(&server).await;
    watcher.subscribe("chat:i", None).await.unwrap();
    let c = connect(&server).await;
    let a = c.publish("chat:i", &json!({"t": 1}), Some("k-1")).await.unwrap();
    let b = c.publish("chat:i", &json!({"t": 1}), Some("k-1")).await.unwrap();
    assert_eq!(a.offset, b.offset);
    let other = c.publish("chat:i", &json!({"t": 2}), Some("k-2")).await.unwrap();
    assert_eq!(other.offset, a.offset + 1);
    let got = publications(&watcher, "chat:i", 2).await;
    assert_eq!(got.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![1, 2]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(watcher.try_next_push().is_none(), "the retry was not delivered again");
}

#[tokio::test]
async fn presence_counts_members_and_pushes_join_and_leave() {
    let server = Server::start("[namespaces.room]\npresence = true\n").await;
    let a = connect(&server).await;
    a.subscribe("room:1", None).await.unwrap();
    let b = connect(&server).await;
    b.subscribe("room:1", None).await.unwrap();
    let join = a.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Join { .. })).await.unwrap();
    assert!(matches!(join, Push::Join { channel, .. } if channel == "room:1"));
    let members = a.presence("room:1").await.unwrap();
    assert_eq!(members.members.len(), 2);
    b.close().await.unwrap();
    let leave = a.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Leave { .. })).await.unwrap();
    assert!(matches!(leave, Push::Leave { .. }));
    assert_eq!(a.presence("room:1").await.unwrap().members.len(), 1);
    let r = server.get("/api/presence/room:1").await.unwrap();
    assert_eq!(r.json()["members"].as_array().unwrap().len(), 1);
    // Presence is refused where the namespace does not enable it.
    let err = a.presence("chat:1").await.unwrap_err();
    assert_eq!(err.server_code(), Some(103));
}
