//! `EmbeddedBroker` over `SqliteStore`, end to end, across a restart.

mod common;

use std::sync::Arc;

use common::*;
use herald_core::{
    Broker, Direction, EmbeddedBroker, EmbeddedBrokerOptions, HistoryQuery, HistoryStore, Payload, PublishRequest,
};

fn request(channel: &str, n: u64) -> PublishRequest {
    PublishRequest {
        channel: ch(channel),
        data: Payload::from_json_text(format!(r#"{{"n":{n}}}"#)).unwrap(),
        retention: keep(1000),
        publisher: None,
        idempotency_key: None,
    }
}

fn all() -> HistoryQuery {
    HistoryQuery { since: None, before: None, limit: 1000, direction: Direction::Forward }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_history_survives_a_restart() {
    let dir = TempDir::new("broker");
    let c = ch("chat:e2e");

    let store: Arc<dyn HistoryStore> = Arc::new(open(&dir).await);
    let broker = EmbeddedBroker::new(store, EmbeddedBrokerOptions::default());
    // Concurrent publishes, so the writer commits them in batches.
    let tasks: Vec<_> = (1..=100)
        .map(|n| {
            let broker = broker.clone();
            tokio::spawn(async move { broker.publish(request("chat:e2e", n)).await.unwrap() })
        })
        .collect();
    let mut assigned = Vec::new();
    for t in tasks {
        assigned.push(t.await.unwrap().offset);
    }
    assigned.sort_unstable();
    assert_eq!(assigned, (1..=100).collect::<Vec<_>>());

    let page = broker.history(&c, all()).await.unwrap();
    assert_eq!(page.top.offset, 100);
    assert_eq!(offsets(&page.publications), (1..=100).collect::<Vec<_>>());
    let epoch = page.top.epoch.clone();
    assert!(page.publications.iter().all(|p| p.epoch == epoch));
    broker.close().await; // closes the store too
    drop(broker);

    let store: Arc<dyn HistoryStore> = Arc::new(open(&dir).await);
    let broker = EmbeddedBroker::new(store, EmbeddedBrokerOptions::default());
    let p = broker.publish(request("chat:e2e", 101)).await.unwrap();
    assert_eq!((p.offset, &p.epoch), (101, &epoch));
    let page = broker.history(&c, all()).await.unwrap();
    assert_eq!((page.top.offset, &page.top.epoch), (101, &epoch));
    assert_eq!(offsets(&page.publications), (1..=101).collect::<Vec<_>>());
    assert_eq!(page.publications[100].data.as_str(), r#"{"n":101}"#);
    broker.close().await;
}
