//! The durable event queue against the real Redis on 127.0.0.1:6379
//! (a stream key of its own per run): at-least-once across a consumer that
//! dies mid-send.

use std::time::Duration;

use herald_redis::{EventQueue, EventQueueOptions};

async fn queue(stream: &str, consumer: &str, claim_after: Duration) -> EventQueue {
    let client = redis::Client::open("redis://127.0.0.1:6379").expect("url");
    let conn = client.get_connection_manager().await.expect("redis");
    let o = EventQueueOptions {
        stream: stream.to_string(),
        group: "webhooks".to_string(),
        consumer: consumer.to_string(),
        max_len: 1000,
        claim_after,
    };
    EventQueue::open(conn, o).await.expect("open queue")
}

async fn delete(stream: &str) {
    let client = redis::Client::open("redis://127.0.0.1:6379").expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let _: () = redis::cmd("DEL").arg(stream).query_async(&mut conn).await.expect("del");
}

#[tokio::test]
async fn events_a_dead_consumer_took_are_delivered_by_another_and_none_is_lost() {
    let stream = format!("herald-test-queue-{:x}:events", rand::random::<u64>());
    let claim_after = Duration::from_millis(300);
    let a = queue(&stream, "node-a", claim_after).await;
    let b = queue(&stream, "node-b", claim_after).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(a.enqueue(format!("{{\"n\":{i}}}").as_bytes()).await.expect("enqueue"));
    }
    // Node A takes all ten, delivers and acknowledges four, then dies.
    let taken = a.consume(10, Duration::from_millis(100)).await.expect("consume");
    assert_eq!(taken.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), ids);
    assert_eq!(a.ack(&ids[..4]).await.expect("ack"), 4);
    drop(a);
    assert_eq!(b.pending().await.expect("pending"), 6);
    // B gets nothing new, and cannot claim before the idle time.
    assert!(b.consume(10, Duration::from_millis(50)).await.expect("consume").is_empty());
    assert!(b.claim_stale(10).await.expect("claim").is_empty(), "claimed too early");
    tokio::time::sleep(claim_after + Duration::from_millis(100)).await;
    let claimed = b.claim_stale(10).await.expect("claim");
    assert_eq!(claimed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), ids[4..].to_vec());
    assert_eq!(claimed[0].payload, b"{\"n\":4}");
    assert_eq!(b.ack(&ids[4..]).await.expect("ack"), 6);
    assert_eq!(b.pending().await.expect("pending"), 0);
    // Acknowledging twice is harmless (at-least-once consumers retry).
    assert_eq!(b.ack(&ids[4..]).await.expect("ack"), 0);
    delete(&stream).await;
}
