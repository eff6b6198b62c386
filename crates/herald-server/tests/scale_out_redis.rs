//! Scale-out on Redis: several `herald` processes on one Redis behave as one
//! system. Needs the Redis on 127.0.0.1:6379; every test uses its own key prefix.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::cluster::{Cluster, FAST_LIMITS};
use common::connect;
use serde_json::json;

const HISTORY: &str = "[default_namespace]\nhistory_size = 20000\nrecovery_max = 20000\nhistory_ttl_secs = 600\n";

fn config() -> String {
    format!("{FAST_LIMITS}{HISTORY}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_through_any_node_reaches_subscribers_on_every_node_in_order() {
    let cluster = Cluster::start("delivery", 3, &config()).await;
    let subs = [connect(&cluster.nodes[0]).await, connect(&cluster.nodes[1]).await];
    for s in &subs {
        let r = s.subscribe("news", None).await.expect("subscribe");
        assert_eq!(r.offset, 0, "a new channel starts at offset 0");
    }
    // Alternate the publishing node: 3, 2, 1, 3, …
    for i in 0..60u64 {
        let node = &cluster.nodes[2 - (i as usize % 3)];
        let offset = node.publish("news", json!({ "n": i })).await;
        assert_eq!(offset, i + 1);
    }
    for s in &subs {
        let got = publications(s, "news", 60).await;
        let offsets: Vec<u64> = got.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (1..=60).collect::<Vec<_>>());
        let ns: Vec<u64> = got.iter().map(|(_, d)| d["n"].as_u64().expect("n")).collect();
        assert_eq!(ns, (0..60).collect::<Vec<_>>());
    }
    // History is shared: node 3 (which served no subscriber) reads it all.
    let r = cluster.nodes[2].get("/api/history/news?limit=100").await.expect("history");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["publications"].as_array().map(Vec::len), Some(60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_through_three_nodes_get_strictly_increasing_gap_free_offsets() {
    let cluster = Cluster::start("offsets", 3, &config()).await;
    let watchers =
        [connect(&cluster.nodes[0]).await, connect(&cluster.nodes[1]).await, connect(&cluster.nodes[2]).await];
    for w in &watchers {
        w.subscribe("race", None).await.expect("subscribe");
    }
    const PER_PUBLISHER: u64 = 300;
    let mut tasks = Vec::new();
    for (i, node) in cluster.nodes.iter().enumerate() {
        for p in 0..2 {
            let client = connect(node).await;
            tasks.push(tokio::spawn(async move {
                let mut offsets = Vec::new();
                let mut pending = Vec::new();
                for n in 0..PER_PUBLISHER {
                    pending.push(client.publish("race", &json!({ "from": format!("{i}.{p}"), "n": n }), None));
                    if pending.len() == 20 {
                        for r in futures_join(std::mem::take(&mut pending)).await {
                            offsets.push(r.expect("publish").offset);
                        }
                    }
                }
                for r in futures_join(pending).await {
                    offsets.push(r.expect("publish").offset);
                }
                offsets
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("publisher task"));
    }
    let total = PER_PUBLISHER * 6;
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(distinct.len() as u64, total, "two publishes got the same offset");
    assert_eq!(distinct.iter().copied().collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>(), "offsets have gaps");
    // Every node delivers the same gap-free sequence, in order.
    for w in &watchers {
        let got = publications(w, "race", total as usize).await;
        let offsets: Vec<u64> = got.iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, (1..=total).collect::<Vec<_>>());
    }
}

/// `n` publications of `channel` in arrival order; any other push about the channel fails the test.
async fn publications(client: &herald_client::Client, channel: &str, n: usize) -> Vec<(u64, serde_json::Value)> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let push = client
            .next_push_timeout(Duration::from_secs(15))
            .await
            .unwrap_or_else(|e| panic!("waiting for publication {} of {n} on {channel}: {e}", out.len() + 1));
        match push {
            herald_client::Push::Publication { channel: c, offset, data, .. } if c == channel => {
                out.push((offset, data))
            }
            other if other.channel() == Some(channel) || other.is_closed() => panic!("unexpected push {other:?}"),
            _ => {}
        }
    }
    out
}

async fn futures_join<F: std::future::Future>(fs: Vec<F>) -> Vec<F::Output> {
    futures_util::future::join_all(fs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_recovers_on_another_node_from_shared_history() {
    let cluster = Cluster::start("recover", 2, &config()).await;
    let a = connect(&cluster.nodes[0]).await;
    let r = a.subscribe("room", None).await.expect("subscribe");
    for i in 0..5 {
        cluster.nodes[1].publish("room", json!({ "i": i })).await;
    }
    let seen = publications(&a, "room", 5).await;
    assert_eq!(seen.last().map(|(o, _)| *o), Some(5));
    drop(a);
    for i in 5..12 {
        cluster.nodes[0].publish("room", json!({ "i": i })).await;
    }
    // Reconnect to the other node with the position held.
    let b = connect(&cluster.nodes[1]).await;
    let since = herald_client::Position { epoch: r.epoch.clone(), offset: 5 };
    let rec = b.subscribe("room", Some(since)).await.expect("resubscribe");
    assert_eq!(rec.recovered, Some(true));
    let offsets: Vec<u64> = rec.publications.iter().map(|p| p.offset).collect();
    assert_eq!(offsets, (6..=12).collect::<Vec<_>>());
    // A position from another epoch is not recovered.
    let wrong = herald_client::Position { epoch: "nope".into(), offset: 3 };
    let c = connect(&cluster.nodes[0]).await;
    assert_eq!(c.subscribe("room", Some(wrong)).await.expect("subscribe").recovered, Some(false));
    let _ = Duration::from_secs(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_returns_the_first_result_on_any_node() {
    let cluster = Cluster::start("idem", 2, &config()).await;
    let a = connect(&cluster.nodes[0]).await;
    let b = connect(&cluster.nodes[1]).await;
    let first = a.publish("orders", &json!({"x": 1}), Some("order-7")).await.expect("publish");
    let again = b.publish("orders", &json!({"x": 1}), Some("order-7")).await.expect("publish again");
    assert_eq!(first, again, "a retry through another node returns the first result");
    let other = b.publish("orders", &json!({"x": 2}), Some("order-8")).await.expect("publish");
    assert_eq!(other.offset, first.offset + 1);
}

#[tokio::test]
async fn a_node_refuses_to_start_without_its_redis_and_says_why() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
    let dir = common::temp_dir("noredis");
    let url = format!("redis://:secret@127.0.0.1:{port}");
    let data_dir = dir.clone();
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["serve", "--listen", "127.0.0.1:0", "--broker", &url])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("RUST_LOG", "error")
            .output()
    });
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("herald exits")
        .expect("join")
        .expect("run herald");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "herald started without Redis");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("cannot reach Redis"), "no clear reason: {text}");
    assert!(!text.contains("secret"), "the password leaked into the error: {text}");
}
