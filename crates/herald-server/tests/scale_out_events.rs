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
        .wait_push(Duration::from_secs(5), |p| match p {
            Push::Other(v) => v["push"] == name,
            Push::Join { .. } => name == "join",
            Push::Leave { .. } => name == "leave",
            _ => false,
        })
        .await
        .unwrap_or_else(|e| panic!("no {name} push: {e}"));
    match p {
        Push::Other(v) => v,
        Push::Join { channel, member } | Push::Leave { channel, member } => {
            json!({ "channel": channel, "user": member.user })
        }
        _ => unreachable!(),
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
