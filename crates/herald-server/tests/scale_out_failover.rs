//! A node dies (`kill -9`) mid-stream: its clients reconnect to the other
//! nodes and recover every publication they missed, none twice. Needs the
//! Redis on 127.0.0.1:6379 (own key prefix).

mod common;

use std::time::Duration;

use common::cluster::{Cluster, FAST_LIMITS};
use herald_client::{Client, ConnectOptions, Position, Push};
use serde_json::json;

const TOTAL: u64 = 12_000;
const CHANNEL: &str = "firehose";

/// Follow `CHANNEL` from `urls[start]` until offset `TOTAL`, reconnecting to
/// the next URL whenever the connection closes and resubscribing (with the
/// position held) whenever the server ends the subscription. Returns every
/// offset received, in arrival order, and how many reconnects it took.
async fn follow(urls: Vec<String>, start: usize, ready: tokio::sync::mpsc::Sender<()>) -> (Vec<u64>, usize) {
    let mut received = Vec::with_capacity(TOTAL as usize);
    let mut position: Option<Position> = None;
    let mut node = start;
    let mut reconnects = 0;
    let mut first = true;
    'connection: loop {
        let client = loop {
            match Client::connect(&urls[node % urls.len()], ConnectOptions::default()).await {
                Ok((c, _)) => break c,
                Err(_) => {
                    node += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        'subscription: loop {
            let reply = match client.subscribe(CHANNEL, position.clone()).await {
                Ok(r) => r,
                Err(e) if e.is_closed() => {
                    node += 1;
                    reconnects += 1;
                    continue 'connection;
                }
                Err(e) => panic!("subscribe failed: {e}"),
            };
            if position.is_some() {
                assert_eq!(reply.recovered, Some(true), "recovery refused after {} publications", received.len());
            }
            for p in &reply.publications {
                received.push(p.offset);
            }
            position = Some(Position { epoch: reply.epoch.clone(), offset: reply.offset.max(last(&received)) });
            if first {
                first = false;
                let _ = ready.send(()).await;
            }
            loop {
                if last(&received) >= TOTAL {
                    return (received, reconnects);
                }
                let push = client.next_push_timeout(Duration::from_secs(30)).await.expect("a push within 30 s");
                match push {
                    Push::Publication { channel, offset, .. } if channel == CHANNEL => {
                        received.push(offset);
                        if let Some(p) = position.as_mut() {
                            p.offset = offset;
                        }
                    }
                    Push::Unsubscribed { channel, error } if channel == CHANNEL => {
                        assert!(error.temporary, "a permanent unsubscribe: {error:?}");
                        continue 'subscription;
                    }
                    Push::Closed { .. } | Push::Disconnect { .. } => {
                        node += 1;
                        reconnects += 1;
                        continue 'connection;
                    }
                    _ => {}
                }
            }
        }
    }
}

fn last(v: &[u64]) -> u64 {
    v.last().copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_mid_stream_loses_and_duplicates_nothing() {
    let extra = format!(
        "{FAST_LIMITS}[default_namespace]\nhistory_size = 50000\nrecovery_max = 50000\nhistory_ttl_secs = 600\n\
         [connection]\nrecovery_buffer_max = 100000\n"
    );
    let mut cluster = Cluster::start("failover", 3, &extra).await;
    let urls: Vec<String> = cluster.nodes.iter().map(|n| n.ws_url()).collect();
    // Three followers per node; the ones on node 2 (index 1) will lose their node.
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(16);
    let mut followers = Vec::new();
    for node in 0..3 {
        for _ in 0..3 {
            followers.push((node, tokio::spawn(follow(urls.clone(), node, ready_tx.clone()))));
        }
    }
    for _ in 0..followers.len() {
        ready_rx.recv().await.expect("follower subscribed");
    }
    // Two publishers, on the nodes that stay up, each with 32 publishes in flight.
    let published = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut publishers = Vec::new();
    for (i, node) in [0usize, 2].into_iter().enumerate() {
        let (client, _) = Client::connect(&urls[node], ConnectOptions::default()).await.expect("publisher connects");
        let published = published.clone();
        publishers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while n < TOTAL / 2 {
                let batch: Vec<_> = (n..(n + 32).min(TOTAL / 2))
                    .map(|k| client.publish(CHANNEL, &json!({ "p": i, "k": k }), None))
                    .collect();
                for r in futures_util::future::join_all(batch).await {
                    r.expect("publish through a live node succeeds");
                    n += 1;
                    published.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    // Kill node 2 once a quarter of the stream is out.
    while published.load(std::sync::atomic::Ordering::Relaxed) < TOTAL / 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.nodes[1].kill();
    for p in publishers {
        p.await.expect("publisher");
    }
    for (node, f) in followers {
        let (got, reconnects) =
            tokio::time::timeout(Duration::from_secs(120), f).await.expect("follower finished").expect("follower task");
        assert_eq!(got.len() as u64, TOTAL, "follower on node {} received {} publications", node + 1, got.len());
        let expected: Vec<u64> = (1..=TOTAL).collect();
        assert!(got == expected, "follower on node {}: missed or duplicated publications", node + 1);
        if node == 1 {
            assert!(reconnects >= 1, "a follower of the killed node did not notice");
        }
    }
}
