//! Pusher channels and Herald channels are one hub: a native client whose
//! token grants `pusher:presence-room` sits in the same presence as Pusher
//! sockets (with its `sub` and `info`), and client events cross between the
//! two protocols in both directions.

mod common;

use std::time::Duration;

use common::Server;
use common::pusher::{established, next, open, presence_subscribe, send};
use herald_client::{Client, ConnectOptions, Push};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

const SECRET: &str = "interop-secret-0123456789";

#[tokio::test]
async fn native_and_pusher_members_share_presence_and_client_events() {
    let config = format!(
        "ephemeral = true\n[auth]\ntoken_secret = \"{SECRET}\"\n\
         [[pusher.apps]]\nid = \"1\"\nkey = \"key-1\"\nsecret = \"secret-1\"\n"
    );
    let server = Server::start(&config).await;
    let exp = herald_core::now_ms() / 1000 + 300;
    let claims = json!({
        "sub": "natalie", "exp": exp, "info": {"name": "Natalie"},
        "capabilities": [{ "channels": ["pusher:presence-room"], "allow": ["subscribe", "presence", "publish"] }]
    });
    let token = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
    let (native, _) = Client::connect(&server.ws_url(), ConnectOptions::default().token(token)).await.unwrap();
    native.subscribe("pusher:presence-room", None).await.unwrap();

    let mut ws = open(&server, "key-1", "?protocol=7").await;
    let socket = established(&mut ws).await;
    send(&mut ws, presence_subscribe("key-1", "secret-1", &socket, "presence-room", "pat", json!({"name": "Pat"})))
        .await;
    let ok = next(&mut ws).await.unwrap();
    assert_eq!(ok["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(ok["data"]["presence"]["count"], 2);
    assert_eq!(ok["data"]["presence"]["hash"]["natalie"], json!({"name": "Natalie"}));
    assert_eq!(ok["data"]["presence"]["hash"]["pat"], json!({"name": "Pat"}));

    let joined = native.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Join { .. })).await.unwrap();
    let Push::Join { member, .. } = joined else { unreachable!() };
    assert_eq!((member.user.as_deref(), member.info), (Some("pat"), Some(json!({"name": "Pat"}))));

    send(&mut ws, json!({"event": "client-wave", "channel": "presence-room", "data": {"hi": 1}})).await;
    let event = native.wait_push(Duration::from_secs(5), |p| matches!(p, Push::Event { .. })).await;
    let Push::Event { event, data, .. } = event.unwrap() else { unreachable!() };
    assert_eq!((event.as_str(), data), ("client-wave", json!({"hi": 1})));

    native
        .request("event", json!({"channel": "pusher:presence-room", "event": "client-nod", "data": {"ok": true}}))
        .await
        .unwrap();
    let nod = next(&mut ws).await.unwrap();
    assert_eq!((nod["event"].as_str(), nod["channel"].as_str()), (Some("client-nod"), Some("presence-room")));
    assert_eq!((nod["data"].clone(), nod["user_id"].as_str()), (json!({"ok": true}), Some("natalie")));

    native.unsubscribe("pusher:presence-room").await.unwrap();
    let left = next(&mut ws).await.unwrap();
    assert_eq!(
        (left["event"].as_str(), left["data"]["user_id"].as_str()),
        (Some("pusher_internal:member_removed"), Some("natalie"))
    );
}
