//! The server side of chat, end to end against the real binary: presence
//! (tabs, reload grace, dead connections, member state, snapshot in the
//! subscribe reply), typing indicators, read receipts across a restart,
//! the notification inbox, and history that outlives the recovery window.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use herald_client::{Client, ConnectOptions, Push};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const SECRET: &str = "chat-test-secret-0123456789";
/// Presence grace, typing throttle and timeout in the test config, ms.
const GRACE_MS: u64 = 800;
const THROTTLE_MS: u64 = 400;
const TYPING_TIMEOUT_MS: u64 = 900;

fn config() -> String {
    format!(
        "[auth]\ntoken_secret = \"{SECRET}\"\n\
         [connection]\nping_interval_secs = 1\npong_timeout_secs = 1\n\
         [chat]\ninbox_max_per_user = 5\n\
         [namespaces.room]\npresence = true\npresence_grace_ms = {GRACE_MS}\npresence_state_max_bytes = 64\n\
         typing_throttle_ms = {THROTTLE_MS}\ntyping_timeout_ms = {TYPING_TIMEOUT_MS}\nhistory_ttl_secs = 0\n\
         [namespaces.ro]\npresence = true\n\
         [namespaces.hist]\nhistory_size = 100000\nhistory_ttl_secs = 0\nrecovery_max = 2\n"
    )
}

fn token(sub: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 3600, "info": { "name": sub.to_uppercase() },
        "capabilities": [
            { "channels": ["room:*", "hist:*"], "allow": ["subscribe", "publish", "presence", "history"] },
            { "channels": ["ro:*"], "allow": ["subscribe", "presence", "history"] }
        ]
    });
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

async fn user(server: &Server, sub: &str) -> Client {
    Client::connect(&server.ws_url(), ConnectOptions::default().token(token(sub))).await.expect("connect").0
}

/// The next push named `name`, in its wire shape.
async fn push_named(c: &Client, name: &str, within: Duration) -> Value {
    let p =
        c.wait_push(within, |p| p.to_json()["push"] == name).await.unwrap_or_else(|e| panic!("no {name} push: {e}"));
    p.to_json()
}

/// Everything pushed within `d`, by kind name, in its wire shape.
async fn pushes_during(c: &Client, d: Duration) -> Vec<(String, Value)> {
    let deadline = Instant::now() + d;
    let mut out = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match c.next_push_timeout(left).await {
            Ok(p) => {
                let v = p.to_json();
                out.push((v["push"].as_str().unwrap_or("?").to_string(), v));
            }
            Err(_) => break,
        }
    }
    out
}

async fn subscribe(c: &Client, channel: &str) -> Value {
    c.request("subscribe", json!({ "channel": channel })).await.expect("subscribe")
}

fn code(e: herald_client::ClientError) -> Option<u16> {
    e.server_code()
}

#[tokio::test]
async fn presence_counts_users_survives_a_reload_and_carries_state() {
    let server = Server::start(&config()).await;
    let a1 = user(&server, "u1").await;
    subscribe(&a1, "room:1").await;
    let b = user(&server, "u2").await;
    // The subscribe reply carries the members: no second request needed.
    let reply = subscribe(&b, "room:1").await;
    let members = reply["presence"]["members"].as_array().expect("presence snapshot");
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["user"], "u1");
    assert_eq!(members[0]["info"]["name"], "U1");
    let a2 = user(&server, "u1").await;
    subscribe(&a2, "room:1").await;

    // Three connections of two users are two members.
    let p = b.presence("room:1").await.unwrap();
    assert_eq!(p.members.len(), 2);
    let u1 = p.members.iter().find(|m| m.user.as_deref() == Some("u1")).unwrap();
    assert_eq!(u1.connections, 2);

    // Closing one of u1's two tabs is no leave.
    a2.close().await.unwrap();
    let seen = pushes_during(&b, Duration::from_millis(GRACE_MS + 600)).await;
    assert!(!seen.iter().any(|(k, _)| k == "leave"), "{seen:?}");

    // A reload (close, reconnect within the grace) is neither leave nor join.
    a1.close().await.unwrap();
    let a3 = user(&server, "u1").await;
    subscribe(&a3, "room:1").await;
    let seen = pushes_during(&b, Duration::from_millis(GRACE_MS + 600)).await;
    assert!(!seen.iter().any(|(k, _)| k == "leave" || k == "join"), "{seen:?}");

    // Member state: pushed to the others, returned by presence queries.
    a3.request("presence_state", json!({ "channel": "room:1", "state": { "status": "idle", "viewing": 42 } }))
        .await
        .unwrap();
    let up = push_named(&b, "presence_update", Duration::from_secs(5)).await;
    assert_eq!(up["channel"], "room:1");
    assert_eq!(up["member"]["user"], "u1");
    assert_eq!(up["member"]["state"]["viewing"], 42);
    let r = server.get("/api/presence/room:1").await.unwrap().json();
    let m = r["members"].as_array().unwrap().iter().find(|m| m["user"] == "u1").cloned().unwrap();
    assert_eq!(m["state"]["status"], "idle");

    // A state over the limit is refused (110) and changes nothing.
    let big = "x".repeat(100);
    let err = a3.request("presence_state", json!({ "channel": "room:1", "state": { "s": big } })).await.unwrap_err();
    assert_eq!(code(err), Some(110));
    let p = b.presence("room:1").await.unwrap();
    let u1 = p.members.iter().find(|m| m.user.as_deref() == Some("u1")).unwrap();
    assert_eq!(u1.info.as_ref().map(|i| i["name"].clone()), Some(json!("U1")));
    let r = server.get("/api/presence/room:1").await.unwrap().json();
    let m = r["members"].as_array().unwrap().iter().find(|m| m["user"] == "u1").cloned().unwrap();
    assert_eq!(m["state"]["status"], "idle");
    // State needs a subscription in a presence namespace.
    let err = a3.request("presence_state", json!({ "channel": "room:2", "state": 1 })).await.unwrap_err();
    assert_eq!(code(err), Some(111));

    // Leaving for good: a leave after the grace.
    let left_at = Instant::now();
    a3.close().await.unwrap();
    let leave = b.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Leave { .. })).await.unwrap();
    assert!(matches!(leave, Push::Leave { member, .. } if member.user.as_deref() == Some("u1")));
    assert!(left_at.elapsed() >= Duration::from_millis(GRACE_MS - 100), "leave came before the grace");
    assert_eq!(b.presence("room:1").await.unwrap().members.len(), 1);
}

#[tokio::test]
async fn a_connection_dropped_without_a_close_frame_leaves_within_the_bound() {
    let server = Server::start(&config()).await;
    let watcher = user(&server, "w").await;
    subscribe(&watcher, "room:dead").await;
    let opts = ConnectOptions::default().token(token("ghost")).auto_pong(false);
    let (ghost, _) = Client::connect(&server.ws_url(), opts).await.unwrap();
    subscribe(&ghost, "room:dead").await;
    watcher.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Join { .. })).await.unwrap();
    // The ghost stops reading and never answers a ping nor closes.
    ghost.pause_reading();
    let since = Instant::now();
    // Documented bound: 2 × ping_interval + pong_timeout + presence grace (here 1 + 1 + 1 s + 0.8 s).
    let bound = Duration::from_millis(2 * 1000 + 1000 + GRACE_MS);
    let leave = watcher
        .wait_push(bound + Duration::from_millis(1500), |p| matches!(p, Push::Leave { .. }))
        .await
        .expect("leave within the bound");
    assert!(matches!(leave, Push::Leave { member, .. } if member.user.as_deref() == Some("ghost")));
    assert!(since.elapsed() >= Duration::from_secs(1), "left too early: {:?}", since.elapsed());
    drop(ghost);
}

#[tokio::test]
async fn typing_starts_throttles_expires_and_stops_on_publish_and_disconnect() {
    let server = Server::start(&config()).await;
    let a = user(&server, "ann").await;
    let b = user(&server, "bob").await;
    subscribe(&a, "room:t").await;
    subscribe(&b, "room:t").await;
    let _ = pushes_during(&a, Duration::from_millis(200)).await;

    // Start: the others see it, the sender does not.
    a.request("typing", json!({ "channel": "room:t" })).await.unwrap();
    let t = push_named(&b, "typing", Duration::from_secs(5)).await;
    assert_eq!(
        (t["user"].as_str(), t["typing"].as_bool(), t["channel"].as_str()),
        (Some("ann"), Some(true), Some("room:t"))
    );
    // Within the throttle: refreshes, sends nothing.
    a.request("typing", json!({ "channel": "room:t" })).await.unwrap();
    // Silence: an automatic typing:false after the timeout (and nothing in between).
    let started = Instant::now();
    let stop = push_named(&b, "typing", Duration::from_millis(TYPING_TIMEOUT_MS + 2000)).await;
    assert_eq!(stop["typing"], false, "the repeated typing was throttled, so the next push is the stop");
    assert!(started.elapsed() >= Duration::from_millis(TYPING_TIMEOUT_MS - 300));

    // Publishing ends the indicator.
    a.request("typing", json!({ "channel": "room:t" })).await.unwrap();
    assert_eq!(push_named(&b, "typing", Duration::from_secs(5)).await["typing"], true);
    a.publish("room:t", &json!({ "text": "hi" }), None).await.unwrap();
    assert_eq!(push_named(&b, "typing", Duration::from_millis(TYPING_TIMEOUT_MS / 2)).await["typing"], false);

    // Refused: no publish right (103), not subscribed (111). Nothing is pushed.
    subscribe(&a, "ro:1").await;
    subscribe(&b, "ro:1").await;
    assert_eq!(code(a.request("typing", json!({ "channel": "ro:1" })).await.unwrap_err()), Some(103));
    assert_eq!(code(a.request("typing", json!({ "channel": "room:other" })).await.unwrap_err()), Some(111));

    // Disconnecting ends it.
    a.request("typing", json!({ "channel": "room:t" })).await.unwrap();
    assert_eq!(push_named(&b, "typing", Duration::from_secs(5)).await["typing"], true);
    let mine = pushes_during(&a, Duration::from_millis(100)).await;
    assert!(!mine.iter().any(|(k, _)| k == "typing"), "typing echoed to its sender: {mine:?}");
    a.close().await.unwrap();
    assert_eq!(push_named(&b, "typing", Duration::from_millis(TYPING_TIMEOUT_MS / 2)).await["typing"], false);
    let rest = pushes_during(&b, Duration::from_millis(300)).await;
    assert!(!rest.iter().any(|(k, v)| k == "typing" && v["channel"] == "ro:1"), "{rest:?}");
}

#[tokio::test]
async fn read_receipts_persist_across_a_restart_and_unread_counts_follow_messages() {
    let mut server = Server::start(&config()).await;
    for i in 1..=5 {
        server.publish("room:r", json!({ "n": i })).await;
    }
    let reader = user(&server, "rita").await;
    let sender = user(&server, "sam").await;
    subscribe(&sender, "room:r").await;

    let r = reader.request("mark_read", json!({ "channel": "room:r", "offset": 3 })).await.unwrap();
    assert_eq!(r["offset"], 3);
    let seen = push_named(&sender, "read", Duration::from_secs(5)).await;
    assert_eq!((seen["user"].as_str(), seen["offset"].as_u64()), (Some("rita"), Some(3)));
    // Older: a no-op answering the current mark.
    let r = reader.request("mark_read", json!({ "channel": "room:r", "offset": 2 })).await.unwrap();
    assert_eq!(r["offset"], 3);
    reader.request("mark_read", json!({ "channel": "room:r", "offset": 3 })).await.unwrap();
    let echoes = pushes_during(&sender, Duration::from_millis(300)).await;
    assert!(!echoes.iter().any(|(k, _)| k == "read"), "a mark that did not move was pushed: {echoes:?}");
    // Beyond the top: refused (107), nothing stored.
    let err = reader.request("mark_read", json!({ "channel": "room:r", "offset": 99 })).await.unwrap_err();
    assert_eq!(code(err), Some(107));
    let u = reader.request("unread", json!({})).await.unwrap();
    assert_eq!(u["channels"], json!([{ "channel": "room:r", "unread": 2, "offset": 3 }]));
    // Anonymous: no read state (101).
    let anon = Client::connect(&server.ws_url(), ConnectOptions::default()).await.unwrap().0;
    let err = anon.request("mark_read", json!({ "channel": "room:r", "offset": 1 })).await.unwrap_err();
    assert_eq!(code(err), Some(101));
    assert_eq!(code(anon.request("unread", json!({})).await.unwrap_err()), Some(101));
    drop((reader, sender, anon));

    server.restart().await;
    server.publish("room:r", json!({ "n": 6 })).await;
    server.publish("room:r", json!({ "n": 7 })).await;
    let reader = user(&server, "rita").await;
    let u = reader.request("unread", json!({})).await.unwrap();
    assert_eq!(u["channels"], json!([{ "channel": "room:r", "unread": 4, "offset": 3 }]));
    let http = server.get("/api/users/rita/unread").await.unwrap().json();
    assert_eq!(http["channels"], u["channels"]);
    let seen_by = server.get("/api/read/room:r").await.unwrap().json();
    assert_eq!(seen_by["offset"], 7);
    assert_eq!(seen_by["members"][0]["user"], "rita");
    assert_eq!(seen_by["members"][0]["offset"], 3);
    // The same list over the socket (the SDK's initial "seen by"), for those allowed to subscribe.
    let native = reader.request("read_positions", json!({ "channel": "room:r" })).await.unwrap();
    assert_eq!(native, seen_by);
    let err = reader.request("read_positions", json!({ "channel": "secret:r" })).await.unwrap_err();
    assert_eq!(code(err), Some(103));
    reader.request("mark_read", json!({ "channel": "room:r", "offset": 7 })).await.unwrap();
    let u = reader.request("unread", json!({})).await.unwrap();
    assert_eq!(u["channels"][0]["unread"], 0);
}

async fn notify(server: &Server, body: Value) -> common::HttpResponse {
    server.post("/api/notifications", &body).await.unwrap()
}

#[tokio::test]
async fn notifications_reach_offline_users_and_stay_in_sync_across_connections() {
    let server = Server::start(&config()).await;
    // Sent while u1 is offline; a retried POST with the same key is not a duplicate.
    let first = json!({ "user": "nina", "kind": "mention", "title": "Hi", "body": "you were mentioned",
                        "data": { "room": "room:1", "offset": 4 }, "dedupe_key": "mention-4" });
    let r1 = notify(&server, first.clone()).await;
    assert_eq!(r1.status, 200, "{}", r1.body);
    let id1 = r1.json()["notifications"][0]["id"].as_u64().unwrap();
    // Same content (keys reordered) → the existing notification.
    let retry = json!({ "dedupe_key": "mention-4", "user": "nina", "kind": "mention", "title": "Hi",
                        "body": "you were mentioned", "data": { "offset": 4, "room": "room:1" } });
    let r2 = notify(&server, retry).await.json();
    assert_eq!(r2["notifications"][0]["id"].as_u64(), Some(id1));
    assert_eq!(r2["notifications"][0]["created"], false);
    // Same key, different content → 409 conflict (119), nothing stored.
    let mut changed = first.clone();
    changed["title"] = json!("Changed");
    let r3 = notify(&server, changed).await;
    assert_eq!(r3.status, 409, "{}", r3.body);
    assert_eq!(r3.json()["error"]["code"], 119);
    // All or nothing: "aaron" is stored first, then "nina" conflicts, so neither changes.
    let mut both = first.clone();
    both.as_object_mut().unwrap().remove("user");
    both["users"] = json!(["aaron", "nina"]);
    both["title"] = json!("Changed");
    assert_eq!(notify(&server, both).await.status, 409);
    assert_eq!(server.get("/api/users/aaron/unread").await.unwrap().json()["notifications"], 0);
    let r = notify(&server, json!({ "users": ["nina", "omar"], "title": "Deploy done" })).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // On connect: the unread count at once, then the inbox page by page.
    let phone = user(&server, "nina").await;
    let hello = push_named(&phone, "unread", Duration::from_secs(5)).await;
    assert_eq!(hello["unread"], 2);
    let page = phone.request("notifications", json!({ "limit": 1 })).await.unwrap();
    assert_eq!(page["unread"], 2);
    assert_eq!(page["notifications"][0]["title"], "Deploy done");
    let before = page["notifications"][0]["id"].as_u64().unwrap();
    let page2 = phone.request("notifications", json!({ "limit": 10, "before": before })).await.unwrap();
    assert_eq!(page2["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(page2["notifications"][0]["id"].as_u64(), Some(id1));
    assert_eq!(page2["notifications"][0]["data"]["offset"], 4);
    assert_eq!(page2["notifications"][0]["read"], false);

    // Live: every connection of the user gets it.
    let laptop = user(&server, "nina").await;
    push_named(&laptop, "unread", Duration::from_secs(5)).await;
    notify(&server, json!({ "user": "nina", "kind": "invite", "title": "Join room:9", "data": { "room": "room:9" } }))
        .await;
    for c in [&phone, &laptop] {
        let n = push_named(c, "notification", Duration::from_secs(5)).await;
        assert_eq!(n["notification"]["kind"], "invite");
        assert_eq!(n["notification"]["read"], false);
        assert_eq!(n["unread"], 3);
    }

    // Mark read on the phone clears the laptop at once.
    let r = phone.request("notification_read", json!({ "notification": id1 })).await.unwrap();
    assert_eq!(r["unread"], 2);
    for c in [&laptop, &phone] {
        assert_eq!(push_named(c, "unread", Duration::from_secs(5)).await["unread"], 2);
    }

    // Another user's notification id: not found (118), nothing changes.
    let omar = user(&server, "omar").await;
    let omar_unread = push_named(&omar, "unread", Duration::from_secs(5)).await["unread"].clone();
    let newest = phone.request("notifications", json!({})).await.unwrap()["notifications"][0]["id"].as_u64().unwrap();
    for op in ["notification_read", "notification_delete"] {
        let err = omar.request(op, json!({ "notification": newest })).await.unwrap_err();
        assert_eq!(code(err), Some(118), "{op}");
    }
    assert_eq!(phone.request("notifications", json!({})).await.unwrap()["unread"], 2);
    assert_eq!(omar.request("notifications", json!({})).await.unwrap()["unread"], omar_unread);

    // Delete, then all read.
    let r = laptop.request("notification_delete", json!({ "notification": newest })).await.unwrap();
    assert_eq!(r["unread"], 1);
    assert_eq!(push_named(&phone, "unread", Duration::from_secs(5)).await["unread"], 1);
    let r = laptop.request("notification_read", json!({ "all": true })).await.unwrap();
    assert_eq!(r["unread"], 0);
    assert_eq!(push_named(&phone, "unread", Duration::from_secs(5)).await["unread"], 0);

    // Retention: the inbox keeps the newest `inbox_max_per_user` (5 here).
    for i in 0..7 {
        notify(&server, json!({ "user": "nina", "title": format!("n{i}") })).await;
    }
    let all = phone.request("notifications", json!({ "limit": 50 })).await.unwrap();
    let titles: Vec<_> = all["notifications"].as_array().unwrap().iter().map(|n| n["title"].clone()).collect();
    assert_eq!(titles, vec![json!("n6"), json!("n5"), json!("n4"), json!("n3"), json!("n2")]);

    // Anonymous connections have no inbox.
    let anon = Client::connect(&server.ws_url(), ConnectOptions::default()).await.unwrap().0;
    assert_eq!(code(anon.request("notifications", json!({})).await.unwrap_err()), Some(101));
}

#[tokio::test]
async fn history_outlives_the_recovery_window_across_a_restart() {
    let mut server = Server::start(&config()).await;
    for i in 1..=10 {
        server.publish("hist:lobby", json!({ "n": i })).await;
    }
    server.restart().await;
    // A Server Component's first paint: the newest page, newest first.
    let page = server.get("/api/history/hist:lobby?direction=backward&limit=50").await.unwrap().json();
    let offsets: Vec<u64> =
        page["publications"].as_array().unwrap().iter().map(|p| p["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, (1..=10).rev().collect::<Vec<_>>());
    let older = server.get("/api/history/hist:lobby?direction=backward&limit=4&before=5").await.unwrap().json();
    assert_eq!(older["publications"][0]["offset"], 4);
    // Recovery is bounded (recovery_max = 2), history is not.
    let c = user(&server, "h").await;
    let since = json!({ "epoch": page["epoch"], "offset": 1 });
    let r = c.request("subscribe", json!({ "channel": "hist:lobby", "since": since })).await.unwrap();
    assert_eq!(r["recovered"], false);
}

#[tokio::test]
async fn read_receipts_and_inbox_work_in_memory_with_ephemeral() {
    let server = Server::start(&format!("ephemeral = true\n{}", config())).await;
    server.publish("room:e", json!({ "n": 1 })).await;
    server.publish("room:e", json!({ "n": 2 })).await;
    let c = user(&server, "eve").await;
    assert_eq!(push_named(&c, "unread", Duration::from_secs(5)).await["unread"], 0);
    assert_eq!(c.request("mark_read", json!({ "channel": "room:e", "offset": 1 })).await.unwrap()["offset"], 1);
    assert_eq!(c.request("mark_read", json!({ "channel": "room:e", "offset": 0 })).await.unwrap()["offset"], 1);
    let err = c.request("mark_read", json!({ "channel": "room:e", "offset": 3 })).await.unwrap_err();
    assert_eq!(code(err), Some(107));
    assert_eq!(c.request("unread", json!({})).await.unwrap()["channels"][0]["unread"], 1);

    let body = json!({ "user": "eve", "title": "t", "data": { "a": 1, "b": 2 }, "dedupe_key": "k" });
    let id = notify(&server, body.clone()).await.json()["notifications"][0]["id"].as_u64().unwrap();
    assert_eq!(push_named(&c, "notification", Duration::from_secs(5)).await["unread"], 1);
    let again = notify(&server, body).await.json();
    assert_eq!(
        (again["notifications"][0]["id"].as_u64(), again["notifications"][0]["created"].as_bool()),
        (Some(id), Some(false))
    );
    let clash = notify(&server, json!({ "user": "eve", "title": "other", "dedupe_key": "k" })).await;
    assert_eq!((clash.status, clash.json()["error"]["code"].as_u64()), (409, Some(119)));
    // A multi-user request that conflicts for one user stores nothing for the others.
    let clash = notify(&server, json!({ "users": ["adam", "eve"], "title": "other", "dedupe_key": "k" })).await;
    assert_eq!(clash.status, 409);
    assert_eq!(server.get("/api/users/adam/unread").await.unwrap().json()["notifications"], 0);
    let mallory = user(&server, "mallory").await;
    let err = mallory.request("notification_read", json!({ "notification": id })).await.unwrap_err();
    assert_eq!(code(err), Some(118));
    assert_eq!(c.request("notifications", json!({})).await.unwrap()["unread"], 1);
    assert_eq!(c.request("notification_read", json!({ "notification": id })).await.unwrap()["unread"], 0);
}
