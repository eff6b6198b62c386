//! Grant patterns × channel kinds × doors, with real tokens: a wildcard
//! grant (`*`, `room:*`, `doc:*`) never opens a private, presence or
//! server-to-user channel on `/ws`, `/sse` or `/yjs`; a pattern that names
//! the private prefix (`room:private-*`) does; a user's
//! `#server-to-user-{id}` opens only for the token whose `sub` is `{id}`.
//! (`herald_core`'s `grant_matrix` test checks the full matrix on the one
//! authorization function; this checks that every door goes through it.)

mod common;

use common::Server;
use common::sse::{Opts, SseStream};
use herald_client::{Client, ConnectOptions};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

const SECRET: &str = "test-secret-grants-0123456789";

/// Private names of every kind, bare and after a namespace.
const PRIVATE: [&str; 10] = [
    "private-x",
    "presence-x",
    "private:secret",
    "room:private-x",
    "room:presence-x",
    "pusher:private-x",
    "pusher:private-encrypted-x",
    "pusher:presence-x",
    "pusher:#server-to-user-u1",
    "#server-to-user-u1",
];

fn token(sub: &str, channels: &[&str]) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 300,
        "capabilities": [{ "channels": channels, "allow": ["subscribe", "publish", "presence", "history"] }]
    });
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

async fn start() -> Server {
    Server::start(&format!("{}[auth]\ntoken_secret = \"{SECRET}\"\n", common::cluster::FAST_LIMITS)).await
}

/// Percent-encodes what a URL path or query may not carry as is (`#`).
fn url_part(name: &str) -> String {
    name.replace('#', "%23")
}

/// Which doors let `token` subscribe to `channel`: (`/ws`, `/sse`, `/yjs`).
/// `/yjs` only for a name with a namespace (a room without one is put in
/// the `doc` namespace, another channel).
async fn doors(server: &Server, token: &str, channel: &str) -> (bool, bool, Option<bool>) {
    let ws = {
        let (client, _) = Client::connect(&server.ws_url(), ConnectOptions::default().token(token)).await.unwrap();
        match client.subscribe(channel, None).await {
            Ok(_) => true,
            Err(e) => {
                assert_eq!(e.server_code(), Some(103), "/ws {channel}: {e}");
                false
            }
        }
    };
    let sse = match SseStream::open(
        server.addr,
        &format!("/sse?channel={}&token={token}", url_part(channel)),
        Opts::default(),
    )
    .await
    {
        Ok(_) => true,
        Err(r) => {
            assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (403, Some(103)), "/sse {channel}: {}", r.body);
            false
        }
    };
    if !channel.contains(':') {
        return (ws, sse, None);
    }
    let url = format!("ws://{}/yjs/{}?token={token}", server.addr, url_part(channel));
    let yjs = match tokio_tungstenite::connect_async(url).await {
        Ok(_) => true,
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 403, "/yjs {channel}");
            false
        }
        Err(e) => panic!("/yjs {channel}: {e}"),
    };
    (ws, sse, Some(yjs))
}

async fn assert_doors(server: &Server, token: &str, grant: &str, channel: &str, open: bool) {
    let got = doors(server, token, channel).await;
    let want = (open, open, channel.contains(':').then_some(open));
    assert_eq!(got, want, "grant {grant:?} on {channel} (/ws, /sse, /yjs)");
}

#[tokio::test]
async fn wildcards_open_public_channels_only_on_every_door() {
    let server = start().await;
    for (grant, public) in [("*", "room:a"), ("room:*", "room:b"), ("pusher:*", "pusher:a")] {
        let t = token("u2", &[grant]);
        assert_doors(&server, &t, grant, public, true).await;
        for private in PRIVATE {
            assert_doors(&server, &t, grant, private, false).await;
        }
    }
    // `doc:*` (what the example app grants for /yjs) opens `doc:notes`,
    // not the private room `private-x` (= `doc:private-x`).
    let t = token("u2", &["doc:*"]);
    assert_doors(&server, &t, "doc:*", "doc:notes", true).await;
    assert_doors(&server, &t, "doc:*", "doc:private-x", false).await;
}

#[tokio::test]
async fn a_pattern_naming_the_private_prefix_opens_it() {
    let server = start().await;
    for (grant, channel) in [
        ("room:private-*", "room:private-x"),
        ("private-*", "private-x"),
        ("private:*", "private:secret"),
        ("pusher:presence-*", "pusher:presence-x"),
        ("pusher:private-x", "pusher:private-x"),
    ] {
        let t = token("u2", &[grant]);
        assert_doors(&server, &t, grant, channel, true).await;
    }
    // `room:private-*` names only `room:`'s private channels.
    let t = token("u2", &["room:private-*"]);
    assert_doors(&server, &t, "room:private-*", "private-x", false).await;
    assert_doors(&server, &t, "room:private-*", "room:presence-x", false).await;
}

#[tokio::test]
async fn a_users_own_channel_opens_only_for_that_sub() {
    let server = start().await;
    let grant = "pusher:#server-to-user-*";
    let u1 = token("u1", &[grant]);
    assert_doors(&server, &u1, grant, "pusher:#server-to-user-u1", true).await;
    assert_doors(&server, &u1, grant, "pusher:#server-to-user-u2", false).await;
    // Not even an exact grant on someone else's channel opens it.
    let exact = "pusher:#server-to-user-u1";
    assert_doors(&server, &token("u2", &[exact]), exact, exact, false).await;
}
