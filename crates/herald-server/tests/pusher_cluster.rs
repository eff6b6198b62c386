//! The Pusher door on several nodes sharing one Redis (own key prefix):
//! channel_occupied / channel_vacated fire once for the cluster, also when
//! the node holding the last subscriber is killed; the REST API answers
//! for every node; webhooks go through the durable queue and survive the
//! kill (`-9`) of the node that produced them; a trigger's socket_id excludes
//! its socket on either node. A webhook endpoint in the
//! test checks every request's signature.

mod common;

use std::time::Duration;

use common::Server;
use common::cluster::{Cluster, FAST_LIMITS, REDIS_URL, fresh_prefix};
use common::pusher::{WebhookReceiver, Ws, established, next, open, presence_subscribe, send, signed_path};
use serde_json::{Value, json};

const KEY: &str = "key-1";
const SECRET: &str = "secret-1";

/// Pusher app and webhook settings for every node (short claim and poll times).
fn extra(webhook_url: &str) -> String {
    format!(
        "{FAST_LIMITS}[pusher]\nwebhook_claim_after_secs = 2\nwebhook_poll_ms = 200\nwebhook_timeout_ms = 1000\n\
         [[pusher.apps]]\nid = \"1\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\nwebhook_url = \"{webhook_url}\"\n"
    )
}

/// How long anything in these tests may take to converge (node TTL is 3 s).
const PATIENCE: Duration = Duration::from_secs(20);

async fn socket(node: &Server) -> (Ws, String) {
    let mut ws = open(node, KEY, "?protocol=7").await;
    let id = established(&mut ws).await;
    (ws, id)
}

async fn subscribe(ws: &mut Ws, channel: &str) {
    send(ws, json!({"event": "pusher:subscribe", "data": {"channel": channel}})).await;
    let ok = next(ws).await.expect("subscribed");
    assert_eq!(ok["event"], "pusher_internal:subscription_succeeded", "{ok}");
}

async fn unsubscribe(ws: &mut Ws, channel: &str) {
    send(ws, json!({"event": "pusher:unsubscribe", "data": {"channel": channel}})).await;
}

/// A signed `GET` of the Pusher REST API on `node`.
async fn rest(node: &Server, path: &str, extra: &[(&str, &str)]) -> Value {
    let p = signed_path(KEY, SECRET, "GET", path, "", extra);
    let r = common::http(node.addr, "GET", &p, None, None).await.expect("REST");
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

/// Ask `node` until `ok` holds for the answer (the nodes' writes reach Redis
/// asynchronously); returns the last answer.
async fn rest_until(node: &Server, path: &str, extra: &[(&str, &str)], ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let v = rest(node, path, extra).await;
        if ok(&v) || tokio::time::Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn occupied_and_vacated_fire_once_for_the_cluster_and_rest_counts_every_node() {
    let hooks = WebhookReceiver::start(KEY, SECRET).await;
    let cluster = Cluster::start("pusher-occupancy", 2, &extra(&hooks.url)).await;
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);

    let (mut on_a, a_id) = socket(a).await;
    let (mut on_b, b_id) = socket(b).await;
    subscribe(&mut on_a, "room-1").await;
    subscribe(&mut on_b, "room-1").await;
    for (ws, id, user) in [(&mut on_a, &a_id, "ann"), (&mut on_b, &b_id, "bob")] {
        send(ws, presence_subscribe(KEY, SECRET, id, "presence-lobby", user, json!({}))).await;
        // Nothing about the channel comes before its subscription_succeeded,
        // not even Ann's join crossing nodes while Bob subscribes (pusher-js
        // would lose it: the member list is replaced on subscription_succeeded).
        let ok = next(ws).await.expect("presence subscribed");
        assert_eq!(ok["event"], "pusher_internal:subscription_succeeded", "{ok}");
    }
    assert_eq!(hooks.wait_for("channel_occupied", "room-1", 1, PATIENCE).await, 1);

    // Node A counts node B's subscriber too, and lists both channels.
    let info = [("info", "subscription_count")];
    let room = rest_until(a, "/apps/1/channels/room-1", &info, |v| v["subscription_count"] == 2).await;
    assert_eq!(room, json!({"occupied": true, "subscription_count": 2}));
    let lobby = rest_until(b, "/apps/1/channels/presence-lobby", &[("info", "user_count,subscription_count")], |v| {
        v["user_count"] == 2
    })
    .await;
    assert_eq!(lobby, json!({"occupied": true, "subscription_count": 2, "user_count": 2}));
    let all = rest(a, "/apps/1/channels", &[]).await;
    assert_eq!(all, json!({"channels": {"presence-lobby": {}, "room-1": {}}}));
    let presence = rest(b, "/apps/1/channels", &[("filter_by_prefix", "presence-"), ("info", "user_count")]).await;
    assert_eq!(presence, json!({"channels": {"presence-lobby": {"user_count": 2}}}));
    let users = rest(a, "/apps/1/channels/presence-lobby/users", &[]).await;
    assert_eq!(users, json!({"users": [{"id": "ann"}, {"id": "bob"}]}));

    // One subscriber leaves: still occupied, no vacated.
    unsubscribe(&mut on_a, "room-1").await;
    let room = rest_until(b, "/apps/1/channels/room-1", &info, |v| v["subscription_count"] == 1).await;
    assert_eq!(room, json!({"occupied": true, "subscription_count": 1}));
    // The other leaves: exactly one vacated, from whichever node saw it.
    unsubscribe(&mut on_b, "room-1").await;
    assert_eq!(hooks.wait_for("channel_vacated", "room-1", 1, PATIENCE).await, 1);
    let room = rest(a, "/apps/1/channels/room-1", &info).await;
    assert_eq!(room, json!({"occupied": false, "subscription_count": 0}));
    assert_eq!(rest(b, "/apps/1/channels", &[]).await, json!({"channels": {"presence-lobby": {}}}));

    // Give a duplicate every chance to show up (both nodes poll every 200 ms).
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hooks.count("channel_occupied", "room-1"), 1, "one occupied for two subscribers on two nodes");
    assert_eq!(hooks.count("channel_vacated", "room-1"), 1, "one vacated when the last one left");
    assert_eq!(hooks.count("channel_occupied", "presence-lobby"), 1);
    assert_eq!(hooks.count("member_added", "presence-lobby"), 2);
    assert_eq!(hooks.badly_signed(), 0);
}

#[tokio::test]
async fn a_killed_node_holding_the_last_subscriber_vacates_the_channel_after_its_ttl() {
    let hooks = WebhookReceiver::start(KEY, SECRET).await;
    let mut cluster = Cluster::start("pusher-kill", 2, &extra(&hooks.url)).await;

    let (mut on_a, _) = socket(&cluster.nodes[0]).await;
    let (mut on_b, _) = socket(&cluster.nodes[1]).await;
    subscribe(&mut on_a, "room-2").await;
    subscribe(&mut on_b, "room-2").await;
    assert_eq!(hooks.wait_for("channel_occupied", "room-2", 1, PATIENCE).await, 1);
    let info = [("info", "subscription_count")];
    rest_until(&cluster.nodes[0], "/apps/1/channels/room-2", &info, |v| v["subscription_count"] == 2).await;

    // A's subscriber leaves; B, holding the last one, dies without a word.
    unsubscribe(&mut on_a, "room-2").await;
    rest_until(&cluster.nodes[0], "/apps/1/channels/room-2", &info, |v| v["subscription_count"] == 1).await;
    cluster.nodes[1].kill();
    drop(on_b);
    assert_eq!(
        hooks.wait_for("channel_vacated", "room-2", 1, PATIENCE).await,
        1,
        "the surviving node reports the channel vacated once the dead node's TTL passed"
    );
    let room = rest(&cluster.nodes[0], "/apps/1/channels/room-2", &info).await;
    assert_eq!(room, json!({"occupied": false, "subscription_count": 0}));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hooks.count("channel_vacated", "room-2"), 1);
    assert_eq!(hooks.count("channel_occupied", "room-2"), 1);
}

/// `XPENDING {stream} webhooks - + 10` on the shared Redis: (id, consumer) of events taken and not acknowledged.
fn pending(stream: &str) -> Vec<(String, String)> {
    let out = std::process::Command::new("redis-cli")
        .args(["XPENDING", stream, "webhooks", "-", "+", "10"])
        .output()
        .expect("redis-cli");
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    // Four lines per entry: id, consumer, idle ms, deliveries.
    lines.chunks(4).filter(|c| c.len() == 4).map(|c| (c[0].clone(), c[1].clone())).collect()
}

#[tokio::test]
async fn a_webhook_survives_the_kill_of_the_node_that_took_it() {
    let hooks = WebhookReceiver::start(KEY, SECRET).await;
    hooks.set_down(true);
    let prefix = fresh_prefix("pusher-durable");
    let config = Cluster::config_for(REDIS_URL, &prefix, &extra(&hooks.url));
    let mut nodes = vec![Server::start(&config).await, Server::start(&config).await];
    let stream = format!("{prefix}:webhooks:1");

    let (mut ws, _) = socket(&nodes[0]).await;
    subscribe(&mut ws, "room-3").await;
    // The event is in the stream and a node took it (and is retrying: the endpoint is down).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let taken = loop {
        let p = pending(&stream);
        if !p.is_empty() && hooks.refused() > 0 {
            break p;
        }
        assert!(tokio::time::Instant::now() < deadline, "no node took the webhook event");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let holder = &taken[0].1;
    let mut ids = Vec::new();
    for n in &nodes {
        let r = n.get("/api/nodes").await.expect("nodes");
        let me = r.json()["nodes"].as_array().cloned().unwrap_or_default();
        ids.push(me.iter().find(|x| x["this_node"] == true).and_then(|x| x["id"].as_str()).unwrap_or("").to_string());
    }
    let victim = ids.iter().position(|id| id == holder).expect("the consumer is one of the nodes");
    nodes[victim].kill();
    drop(ws);
    hooks.set_down(false);

    assert!(
        hooks.wait_for("channel_occupied", "room-3", 1, PATIENCE).await >= 1,
        "the other node delivered the event the killed one had taken"
    );
    // Acknowledged once delivered: nothing left pending.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !pending(&stream).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "delivered events stay pending: {:?}", pending(&stream));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(hooks.badly_signed(), 0);
    for n in &mut nodes {
        n.kill();
    }
    common::cluster::delete_prefix(6379, &prefix);
}

/// A signed trigger of `event` on `channel` through `node`, excluding `socket_id`.
async fn trigger(node: &Server, channel: &str, event: &str, socket_id: Option<&str>) {
    let mut body = json!({"name": event, "channels": [channel], "data": "{}"});
    if let Some(s) = socket_id {
        body["socket_id"] = json!(s);
    }
    let body = body.to_string();
    let p = signed_path(KEY, SECRET, "POST", "/apps/1/events", &body, &[]);
    let r = common::http(node.addr, "POST", &p, Some(body.as_bytes()), None).await.expect("trigger");
    assert_eq!(r.status, 200, "{event}: {}", r.body);
}

/// The event names `ws` receives on `channel` until `last` arrives.
async fn events_until(ws: &mut Ws, channel: &str, last: &str) -> Vec<String> {
    let mut names = Vec::new();
    loop {
        let f = tokio::time::timeout(PATIENCE, next(ws)).await.expect("events in time").expect("open");
        if f["channel"] != channel {
            continue;
        }
        let name = f["event"].as_str().unwrap_or_default().to_string();
        names.push(name.clone());
        if name == last {
            return names;
        }
    }
}

#[tokio::test]
async fn a_triggers_socket_id_excludes_its_socket_on_whichever_node_it_is() {
    let hooks = WebhookReceiver::start(KEY, SECRET).await;
    let cluster = Cluster::start("pusher-exclude", 2, &extra(&hooks.url)).await;
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    let (mut on_a, a_id) = socket(a).await;
    let (mut on_b, b_id) = socket(b).await;
    subscribe(&mut on_a, "room-x").await;
    subscribe(&mut on_b, "room-x").await;
    // Triggered through the other node than the excluded socket's, then through its own.
    trigger(b, "room-x", "not-for-a", Some(&a_id)).await;
    trigger(a, "room-x", "not-for-b", Some(&b_id)).await;
    trigger(a, "room-x", "also-not-for-a", Some(&a_id)).await;
    trigger(b, "room-x", "for-all", None).await;
    assert_eq!(events_until(&mut on_a, "room-x", "for-all").await, ["not-for-b", "for-all"]);
    assert_eq!(events_until(&mut on_b, "room-x", "for-all").await, ["not-for-a", "also-not-for-a", "for-all"]);
}
