//! Redis goes away mid-stream (a private `redis-server`, killed and
//! restarted): clients stay connected, publishes fail with a temporary
//! error, subscribers are told their stream was interrupted, `/readyz`
//! says not ready; after the restart nothing reported published is lost
//! (persistent Redis) or clients learn `recovered: false` (Redis without
//! persistence, which comes back empty).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::cluster::{Cluster, FAST_LIMITS, PrivateRedis};
use herald_client::{Client, ConnectOptions, Position, Push};
use serde_json::json;
use tokio::sync::Mutex;

const HISTORY: &str = "[default_namespace]\nhistory_size = 100000\nrecovery_max = 100000\nhistory_ttl_secs = 600\n";

/// What the publisher saw.
#[derive(Default)]
struct Outcomes {
    ok: BTreeSet<u64>,
    failed_temporary: u64,
    failed_other: Vec<String>,
}

async fn wait_ready(node: &common::Server, ready: bool) {
    let want = if ready { 200 } else { 503 };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if node.get("/readyz").await.map(|r| r.status).unwrap_or(0) == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "/readyz never answered {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Subscribe with `since`, retrying while the broker is unavailable.
async fn resubscribe(c: &Client, since: Option<Position>) -> herald_client::SubscribeResult {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match c.subscribe("live", since.clone()).await {
            Ok(r) => return r,
            Err(e) => {
                assert_eq!(e.server_code(), Some(116), "only `unavailable` while Redis is away: {e}");
                assert!(tokio::time::Instant::now() < deadline, "resubscribe kept failing: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn outage(persistent: bool) {
    let mut redis = PrivateRedis::start(persistent).await;
    let cluster = Cluster::start_on(&redis.url(), redis.port, "outage", 2, &format!("{FAST_LIMITS}{HISTORY}")).await;
    let sub = Client::connect(&cluster.nodes[0].ws_url(), ConnectOptions::default()).await.expect("connect").0;
    let first = sub.subscribe("live", None).await.expect("subscribe");
    let (publisher, _) =
        Client::connect(&cluster.nodes[1].ws_url(), ConnectOptions::default()).await.expect("connect publisher");
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let pub_task = {
        let (outcomes, stop) = (outcomes.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                match publisher.publish("live", &json!({ "n": n }), None).await {
                    Ok(r) => {
                        outcomes.lock().await.ok.insert(r.offset);
                    }
                    Err(e) if e.server_code() == Some(116) => {
                        outcomes.lock().await.failed_temporary += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => outcomes.lock().await.failed_other.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            publisher
        })
    };
    let mut received: Vec<u64> = Vec::new();
    let mut last = Position { epoch: first.epoch.clone(), offset: 0 };
    // Live stream until 200 publications arrived.
    while received.len() < 200 {
        match sub.next_push_timeout(Duration::from_secs(10)).await.expect("push") {
            Push::Publication { offset, .. } => {
                received.push(offset);
                last.offset = offset;
            }
            other => panic!("unexpected push before the outage: {other:?}"),
        }
    }
    redis.kill();
    // The subscriber is told; its connection stays.
    let told = loop {
        match sub.next_push_timeout(Duration::from_secs(10)).await.expect("a push after Redis died") {
            Push::Publication { offset, .. } => {
                received.push(offset);
                last.offset = offset;
            }
            Push::Unsubscribed { error, .. } => break error,
            other => panic!("unexpected push during the outage: {other:?}"),
        }
    };
    assert!(told.temporary, "the interruption is temporary: {told:?}");
    for node in &cluster.nodes {
        wait_ready(node, false).await;
    }
    // A publish in flight when Redis died fails once the node gives up on it:
    // wait for the first refusal rather than guessing how long that takes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while outcomes.lock().await.failed_temporary == 0 {
        assert!(tokio::time::Instant::now() < deadline, "publishes during the outage must fail (temporarily)");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!sub.is_closed(), "clients stay connected while Redis is away");
    redis.restart().await;
    for node in &cluster.nodes {
        wait_ready(node, true).await;
    }
    let rec = resubscribe(&sub, Some(last.clone())).await;
    let before_resume = outcomes.lock().await.ok.len();
    // Let the publisher go on a little, then stop it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while outcomes.lock().await.ok.len() < before_resume + 100 {
        assert!(tokio::time::Instant::now() < deadline, "publishing never resumed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let _publisher = pub_task.await.expect("publisher");
    let out = outcomes.lock().await;
    assert!(out.failed_other.is_empty(), "publish failures other than `unavailable`: {:?}", out.failed_other);
    if persistent {
        // Nothing acknowledged was lost: recovery returns everything missed.
        assert_eq!(rec.recovered, Some(true), "Redis kept its data: recovery must succeed");
        assert_eq!(rec.epoch, first.epoch);
        received.extend(rec.publications.iter().map(|p| p.offset));
        let top = *out.ok.last().expect("some publishes succeeded");
        while received.last().copied().unwrap_or(0) < top {
            match sub.next_push_timeout(Duration::from_secs(10)).await.expect("push") {
                Push::Publication { offset, .. } => received.push(offset),
                other => panic!("unexpected push after recovery: {other:?}"),
            }
        }
        let expected: Vec<u64> = (1..=top).collect();
        assert_eq!(received, expected, "gap-free, in order, no duplicates");
        let got: BTreeSet<u64> = received.iter().copied().collect();
        assert!(out.ok.is_subset(&got), "a publish reported successful was lost");
    } else {
        // Redis came back empty: the channel has a new epoch and the client is told.
        assert_eq!(rec.recovered, Some(false), "history is gone: recovery must be refused");
        assert_ne!(rec.epoch, first.epoch, "lost history means a new epoch");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_loses_nothing_acknowledged_and_clients_are_told() {
    outage(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_comes_back_empty_is_reported_as_unrecoverable() {
    outage(false).await;
}
