//! Ephemeral events cross nodes: presence join/leave/update, typing, client
//! events, read receipts, notifications and unread counts reach connections
//! on every node. Needs the Redis on 127.0.0.1:6379 (own key prefix).

mod common;

use std::time::Duration;

use common::cluster::{Cluster, FAST_LIMITS};
use herald_client::{Client, ConnectOptions, Push};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const SECRET: &str = "scale-out-events-secret-0123456789";

fn config() -> String {
    format!(
        "{FAST_LIMITS}[auth]\ntoken_secret = \"{SECRET}\"\n\
         [namespaces.room]\npresence = true\npresence_grace_ms = 0\ntyping_throttle_ms = 0\n"
    )
}

fn token(sub: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 3600, "info": { "name": sub.to_uppercase() },
        "capabilities": [{ "channels": ["room:*"], "allow": ["subscribe", "publish", "presence", "history"] }]
    });
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

async fn user(server: &common::Server, sub: &str) -> Client {
    Client::connect(&server.ws_url(), ConnectOptions::default().token(token(sub))).await.expect("connect").0
}

async fn push_named(c: &Client, name: &str) -> Value {
    let p = c
        .wait_push(Duration::from_secs(5), |p| p.kind() == name || matches!(p, Push::Other(v) if v["push"] == name))
        .await
        .unwrap_or_else(|e| panic!("no {name} push: {e}"));
    match p {
        Push::Join { channel, member } | Push::Leave { channel, member } => {
            json!({ "channel": channel, "user": member.user })
        }
        other => other.to_json(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_events_reach_subscribers_on_other_nodes() {
    let cluster = Cluster::start("events", 2, &config()).await;
    let ann = user(&cluster.nodes[0], "ann").await;
    let bob = user(&cluster.nodes[1], "bob").await;
    ann.subscribe("room:1", None).await.expect("ann subscribes");
    bob.subscribe("room:1", None).await.expect("bob subscribes");
    // Bob's join (node 2) reaches Ann (node 1).
    let j = push_named(&ann, "join").await;
    assert_eq!((j["channel"].as_str(), j["user"].as_str()), (Some("room:1"), Some("bob")));

    bob.request("typing", json!({ "channel": "room:1" })).await.expect("typing");
    let t = push_named(&ann, "typing").await;
    assert_eq!((t["user"].as_str(), t["typing"].as_bool()), (Some("bob"), Some(true)));

    bob.request("event", json!({ "channel": "room:1", "event": "poke", "data": { "x": 1 } })).await.expect("event");
    let e = push_named(&ann, "event").await;
    assert_eq!((e["event"].as_str(), e["data"]["x"].as_u64()), (Some("poke"), Some(1)));
    assert_eq!(e["from"]["user"].as_str(), Some("bob"), "the sender is the one the server knows");

    bob.request("presence_state", json!({ "channel": "room:1", "state": { "status": "away" } })).await.expect("state");
    let u = push_named(&ann, "presence_update").await;
    assert_eq!(u["member"]["state"]["status"].as_str(), Some("away"));

    let p = ann.publish("room:1", &json!({ "text": "hi" }), None).await.expect("publish");
    bob.request("mark_read", json!({ "channel": "room:1", "offset": p.offset })).await.expect("mark_read");
    let r = push_named(&ann, "read").await;
    assert_eq!((r["user"].as_str(), r["offset"].as_u64()), (Some("bob"), Some(p.offset)));

    bob.close().await.expect("close");
    let l = push_named(&ann, "leave").await;
    assert_eq!(l["user"].as_str(), Some("bob"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_and_unread_counts_reach_the_users_connections_on_every_node() {
    let cluster = Cluster::start("notify", 3, &config()).await;
    let phone = user(&cluster.nodes[0], "nina").await;
    let laptop = user(&cluster.nodes[1], "nina").await;
    // Sent through node 3, where Nina has no connection.
    let r = cluster.nodes[2]
        .post("/api/notifications", &json!({ "user": "nina", "kind": "mention", "title": "Hi", "body": "b" }))
        .await
        .expect("notify");
    assert_eq!(r.status, 200, "{}", r.body);
    for c in [&phone, &laptop] {
        let n = push_named(c, "notification").await;
        assert_eq!(n["notification"]["title"].as_str(), Some("Hi"));
        assert_eq!(n["unread"].as_u64(), Some(1));
    }
}

/// Sorted `(user, connections)` of `channel`'s presence as `node` answers it.
async fn presence_of(node: &common::Server, channel: &str) -> Vec<(String, u64)> {
    let r = node.get(&format!("/api/presence/{channel}")).await.expect("presence");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let members = v["members"].as_array().cloned().unwrap_or_default();
    let mut out: Vec<(String, u64)> = members
        .iter()
        .map(|m| (m["user"].as_str().unwrap_or("?").to_string(), m["connections"].as_u64().unwrap_or(0)))
        .collect();
    out.sort();
    out
}

async fn live_nodes(node: &common::Server) -> Vec<Value> {
    let r = node.get("/api/nodes").await.expect("nodes");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["nodes"].as_array().cloned().unwrap_or_default()
}

/// Node TTL + one heartbeat, as configured by `common::cluster::broker_section`
/// (node_ttl_secs = 3, node_heartbeat_secs = 1): the documented bound.
const CONVERGENCE_BOUND: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_spans_nodes_and_converges_after_a_node_is_killed() {
    let mut cluster = Cluster::start("presence", 3, &config()).await;
    let ann = user(&cluster.nodes[0], "ann").await;
    let bob_a = user(&cluster.nodes[1], "bob").await;
    let bob_b = user(&cluster.nodes[2], "bob").await;
    let cid = user(&cluster.nodes[1], "cid").await;
    for c in [&ann, &bob_a, &bob_b, &cid] {
        c.subscribe("room:p", None).await.expect("subscribe");
    }
    let everyone = vec![("ann".to_string(), 1), ("bob".to_string(), 2), ("cid".to_string(), 1)];
    // Every node answers with every member, each counted once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for node in &cluster.nodes {
        while presence_of(node, "room:p").await != everyone {
            assert!(tokio::time::Instant::now() < deadline, "presence on {} never showed everyone", node.addr);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let m = ann.presence("room:p").await.expect("presence over the socket");
    assert_eq!(m.members.len(), 3);
    // Nodes list each other with their connection counts (as of their last heartbeat).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let nodes = live_nodes(&cluster.nodes[2]).await;
        assert_eq!(nodes.len(), 3, "{nodes:?}");
        assert_eq!(nodes.iter().filter(|n| n["this_node"] == true).count(), 1);
        let mut counts: Vec<u64> = nodes.iter().map(|n| n["connections"].as_u64().unwrap_or(0)).collect();
        counts.sort();
        if counts == vec![1, 1, 2] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "connection counts never matched: {counts:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Node 2 dies without a word: cid (only there) leaves, bob stays (still on node 3).
    cluster.nodes[1].kill();
    let killed = tokio::time::Instant::now();
    let after = vec![("ann".to_string(), 1), ("bob".to_string(), 1)];
    // Allow the bound plus a margin for this shared machine.
    let limit = killed + CONVERGENCE_BOUND + Duration::from_secs(3);
    while presence_of(&cluster.nodes[0], "room:p").await != after {
        assert!(tokio::time::Instant::now() < limit, "presence did not converge after the kill");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left = push_named(&ann, "leave").await;
    assert_eq!(left["user"].as_str(), Some("cid"), "the dead node's member is announced as gone");
    while live_nodes(&cluster.nodes[0]).await.len() != 2 {
        assert!(tokio::time::Instant::now() < limit, "the dead node is still listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(presence_of(&cluster.nodes[2], "room:p").await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_connected_on_two_nodes_joins_once_and_leaves_once() {
    let cluster = Cluster::start("joinonce", 3, &config()).await;
    let ann = user(&cluster.nodes[0], "ann").await;
    ann.subscribe("room:j", None).await.expect("subscribe");
    let bob1 = user(&cluster.nodes[1], "bob").await;
    bob1.subscribe("room:j", None).await.expect("subscribe");
    assert_eq!(push_named(&ann, "join").await["user"].as_str(), Some("bob"));
    let bob2 = user(&cluster.nodes[2], "bob").await;
    bob2.subscribe("room:j", None).await.expect("subscribe");
    wait_presence(&cluster.nodes[0], "room:j", &[("ann", 1), ("bob", 2)]).await;
    bob1.close().await.expect("close");
    wait_presence(&cluster.nodes[0], "room:j", &[("ann", 1), ("bob", 1)]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A marker after both changes: nothing about bob's presence may come before it.
    bob2.request("typing", json!({ "channel": "room:j" })).await.expect("typing");
    loop {
        match ann.next_push_timeout(Duration::from_secs(5)).await.expect("push") {
            Push::Join { member, .. } => panic!("a second join for {:?}: bob was already present", member.user),
            Push::Leave { member, .. } => panic!("leave for {:?} while bob is still on node 3", member.user),
            Push::Typing { .. } => break,
            _ => {}
        }
    }
    bob2.close().await.expect("close");
    assert_eq!(push_named(&ann, "leave").await["user"].as_str(), Some("bob"));
    wait_presence(&cluster.nodes[1], "room:j", &[("ann", 1)]).await;
}

async fn wait_presence(node: &common::Server, channel: &str, want: &[(&str, u64)]) {
    let want: Vec<(String, u64)> = want.iter().map(|(u, n)| (u.to_string(), *n)).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = presence_of(node, channel).await;
        if got == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "presence is {got:?}, expected {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
