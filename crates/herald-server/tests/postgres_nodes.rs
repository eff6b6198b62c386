//! Two herald processes on one PostgreSQL schema (`[store] url`): durable
//! chat state is shared, so either node answers for it. Each node runs its
//! own embedded broker here; live pushes across nodes are the Redis
//! broker's job. Shown over each node's real HTTP API and native protocol:
//! a notification POSTed to node 1 is listed, with the right unread count,
//! by node 2; a read mark set through node 2 is in node 1's unread answer;
//! a dedupe key retried against both nodes (one after the other and at the
//! same moment) stores one notification.

mod common;

use std::time::Duration;

use common::postgres::{Schema, url as postgres_url};
use common::{HttpResponse, Server};
use herald_client::{Client, ConnectOptions, Push};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const SECRET: &str = "postgres-nodes-secret-0123456789";

fn config(schema: &Schema) -> String {
    format!(
        "[auth]\ntoken_secret = \"{SECRET}\"\n\
         [store]\nurl = \"{}\"\nschema = \"{}\"\nmax_connections = 4\n",
        postgres_url(),
        schema.0
    )
}

fn token(sub: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 3600,
        "capabilities": [{ "channels": ["room:*"], "allow": ["subscribe", "publish", "history"] }]
    });
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

async fn user(server: &Server, sub: &str) -> Client {
    Client::connect(&server.ws_url(), ConnectOptions::default().token(token(sub))).await.expect("connect").0
}

async fn notify(server: &Server, body: &Value) -> HttpResponse {
    server.post("/api/notifications", body).await.expect("POST /api/notifications")
}

async fn unread(server: &Server, user: &str) -> Value {
    let r = server.get(&format!("/api/users/{user}/unread")).await.expect("GET unread");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// `(id, created)` of the one notification a POST answered with.
fn stored(r: &HttpResponse) -> (u64, bool) {
    assert_eq!(r.status, 200, "{}", r.body);
    let n = &r.json()["notifications"][0];
    (n["id"].as_u64().expect("id"), n["created"].as_bool().expect("created"))
}

#[tokio::test]
async fn two_nodes_share_inboxes_read_marks_and_dedupe_keys() {
    let schema = Schema::new("nodes");
    let node1 = Server::start(&config(&schema)).await;
    let node2 = Server::start(&config(&schema)).await;

    // A notification POSTed to node 1 is in node 2's answers, with its unread count.
    let mention = json!({ "user": "nora", "kind": "mention", "title": "Ada mentioned you",
                          "data": { "room": "room:r", "offset": 2 }, "dedupe_key": "mention-2" });
    let (id, created) = stored(&notify(&node1, &mention).await);
    assert!(created);
    assert_eq!(unread(&node2, "nora").await["notifications"], 1);
    let phone = user(&node2, "nora").await;
    let hello = phone.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Unread { .. })).await;
    assert!(matches!(hello, Ok(Push::Unread { unread: 1 })), "{hello:?}");
    let page = phone.request("notifications", json!({ "limit": 10 })).await.unwrap();
    assert_eq!(page["unread"], 1);
    assert_eq!(page["notifications"][0]["id"].as_u64(), Some(id));
    assert_eq!(page["notifications"][0]["title"], "Ada mentioned you");

    // The same key retried against node 2, then node 1: the notification node 1 stored.
    assert_eq!(stored(&notify(&node2, &mention).await), (id, false));
    assert_eq!(stored(&notify(&node1, &mention).await), (id, false));
    // The same key with other content is a conflict on either node.
    let mut changed = mention.clone();
    changed["title"] = json!("Changed");
    let r = notify(&node2, &changed).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (409, Some(119)), "{}", r.body);
    // One request sent to both nodes at the same moment: stored once.
    let deploy = json!({ "user": "nora", "title": "Deploy done", "dedupe_key": "deploy-77" });
    for _ in 0..5 {
        let (a, b) = tokio::join!(notify(&node1, &deploy), notify(&node2, &deploy));
        let (a, b) = (stored(&a), stored(&b));
        assert_eq!(a.0, b.0, "both nodes answer with the one notification");
    }
    let both = phone.request("notifications", json!({ "limit": 10 })).await.unwrap();
    let titles: Vec<_> = both["notifications"].as_array().unwrap().iter().map(|n| n["title"].clone()).collect();
    assert_eq!(titles, [json!("Deploy done"), json!("Ada mentioned you")]);
    assert_eq!(unread(&node1, "nora").await["notifications"], 2);

    // Read through node 2 (a mark on history node 1 published) → node 1's unread answer.
    for n in 1..=5 {
        node1.publish("room:r", json!({ "n": n })).await;
    }
    let r = phone.request("mark_read", json!({ "channel": "room:r", "offset": 3 })).await.unwrap();
    assert_eq!(r["offset"], 3);
    assert_eq!(unread(&node1, "nora").await["channels"], json!([{ "channel": "room:r", "unread": 2, "offset": 3 }]));
    let seen_by = node1.get("/api/read/room:r").await.unwrap().json();
    assert_eq!((seen_by["offset"].as_u64(), &seen_by["members"][0]["user"]), (Some(5), &json!("nora")));
    // A mark through node 1 moves it on for node 2; an older one through node 2 moves nothing.
    let laptop = user(&node1, "nora").await;
    laptop.request("mark_read", json!({ "channel": "room:r", "offset": 5 })).await.unwrap();
    let r = phone.request("mark_read", json!({ "channel": "room:r", "offset": 4 })).await.unwrap();
    assert_eq!(r["offset"], 5, "the stored mark, set through the other node");
    let u = phone.request("unread", json!({})).await.unwrap();
    assert_eq!(u["channels"], json!([{ "channel": "room:r", "unread": 0, "offset": 5 }]));

    // Reading the inbox on node 1 changes node 2's count.
    laptop.request("notification_read", json!({ "all": true })).await.unwrap();
    assert_eq!(unread(&node2, "nora").await["notifications"], 0);
}

#[tokio::test]
async fn a_bad_store_url_stops_the_server_with_a_clear_message() {
    let dir = common::temp_dir("bad-store");
    let config_path = dir.join("herald.toml");
    std::fs::write(&config_path, "[store]\nurl = \"postgres://herald:s3cret@127.0.0.1:1/nowhere\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config_path)
        .env("RUST_LOG", "error")
        .output()
        .expect("run herald");
    let _ = std::fs::remove_dir_all(&dir);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("cannot open the PostgreSQL store"), "{text}");
    assert!(text.contains("127.0.0.1:1/nowhere"), "{text}");
    assert!(!text.contains("s3cret"), "the password is never printed: {text}");
}

/// PostgreSQL text cannot hold NUL: such notifications and user ids are
/// refused as bad input (never a temporary "unavailable" a client would
/// retry forever), and nothing is stored.
#[tokio::test]
async fn nul_in_stored_text_is_bad_input() {
    let schema = Schema::new("nodes");
    let node = Server::start(&config(&schema)).await;
    for body in [
        json!({ "user": "nora", "title": "a\u{0}b" }),
        json!({ "users": ["nora", "no\u{0}ra"], "title": "hi" }),
        json!({ "user": "nora", "title": "hi", "dedupe_key": "k\u{0}" }),
    ] {
        let r = notify(&node, &body).await;
        assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (400, Some(107)), "{}", r.body);
    }
    assert_eq!(unread(&node, "nora").await["notifications"], 0);
    // Looking up such a user finds nothing (it cannot have stored state), rather than failing.
    assert_eq!(unread(&node, "no%00ra").await, json!({ "channels": [], "notifications": 0 }));
    let refused = Client::connect(&node.ws_url(), ConnectOptions::default().token(token("no\u{0}ra"))).await;
    assert!(refused.is_err(), "a token whose sub holds NUL is refused");
}
