//! The door runtime (`src/door/`), tested once for every door rather than
//! once per door: the shared admission gate (origin, the per-address
//! connection slots that every door counts against, permessage-deflate only
//! where a door offers it), the keep-alive styles, and shutdown through each
//! door's close-code table.
//!
//! Covered elsewhere on the native door and not repeated here: the slow
//! consumer cut (4001, `lifecycle::a_slow_reader_is_cut_while_fast_readers_keep_receiving`),
//! the interval keep-alive (4002, `ws_bad_input::a_silent_client_is_dropped_after_ping_timeout`),
//! shutdown with 4000 (`lifecycle::shutdown_tells_every_client_to_reconnect`),
//! deflate on and off (`ws_compression`), the origin refusal with a token
//! (`auth::cross_origin_upgrades_are_refused_before_the_upgrade`), the
//! Pusher idle keep-alive (4201, `pusher_bad_input::refused_sockets_get_the_codes_pusher_js_acts_on`)
//! and the slots of SSE streams and polls
//! (`sse_limits::streams_and_polls_count_against_the_address_connection_limits`).

mod common;

use std::time::Duration;

use common::sse::{Opts, request};
use common::{Server, connect};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

const PUSHER_APP: &str = "[pusher]\n[[pusher.apps]]\nid = \"1\"\nkey = \"key-1\"\nsecret = \"secret-1\"\n";

/// The WebSocket doors, by the path a client opens.
const WS_DOORS: [&str; 6] = [
    "/ws",
    "/app/key-1?protocol=7",
    "/yjs/runtime",
    "/socket.io/?EIO=4&transport=websocket",
    "/realtime/v1/websocket?apikey=k&vsn=2.0.0",
    "/?format=json",
];

/// The doors admitted by a plain HTTP request (a polling session holds its slot as a socket does).
const HTTP_DOORS: [&str; 2] = ["/sse?channel=chat:x", "/socket.io/?EIO=4&transport=polling"];

/// The response head of a WebSocket upgrade for `path` with `headers`, lower-cased.
async fn handshake(server: &Server, path: &str, headers: &[(&str, &str)]) -> String {
    common::ws::handshake(server.addr, path, headers).await.1.to_ascii_lowercase()
}

fn status(head: &str) -> u16 {
    head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

type Ws = common::pusher::Ws;

async fn open_yjs(server: &Server, room: &str) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{}/yjs/{room}", server.addr)).await.expect("yjs upgrade").0
}

/// Read until the close frame; its code (1006 when the socket just ended).
async fn close_code(ws: &mut Ws, within: Duration) -> u16 {
    let read = async {
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Close(c)) => return c.map(|c| u16::from(c.code)).unwrap_or(1005),
                Ok(_) => continue,
                Err(_) => return 1006,
            }
        }
        1006
    };
    tokio::time::timeout(within, read).await.expect("closed in time")
}

#[tokio::test]
async fn every_door_refuses_a_foreign_origin_before_the_upgrade() {
    let config = format!("ephemeral = true\n[auth]\nallowed_origins = [\"https://app.example.com\"]\n{PUSHER_APP}");
    let server = Server::start(&config).await;
    for path in WS_DOORS {
        let refused = handshake(&server, path, &[("Origin", "https://evil.test")]).await;
        assert_eq!(status(&refused), 403, "{path}: {refused}");
        let allowed = handshake(&server, path, &[("Origin", "https://app.example.com")]).await;
        assert_eq!(status(&allowed), 101, "{path}: {allowed}");
    }
    let opts = Opts::default().header("Origin", "https://evil.test");
    for path in HTTP_DOORS {
        let r = request(server.addr, "GET", path, &opts, None).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (403, Some(103)), "{path}: {:?}", r.json());
    }
}

#[tokio::test]
async fn one_address_connection_slots_are_counted_across_every_door() {
    let limits =
        "[limits]\nmax_connections_per_ip = 2\nconnections_per_ip_per_sec = 1000\nconnections_per_ip_burst = 1000\n";
    let server = Server::start(&format!("ephemeral = true\n{limits}{PUSHER_APP}")).await;
    let native = connect(&server).await;
    let mut pusher = common::pusher::open(&server, "key-1", "?protocol=7").await;
    common::pusher::established(&mut pusher).await;
    for path in WS_DOORS {
        let refused = handshake(&server, path, &[]).await;
        assert_eq!(status(&refused), 429, "{path}: {refused}");
    }
    for path in HTTP_DOORS {
        let r = request(server.addr, "GET", path, &Opts::default(), None).await.unwrap();
        assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (429, Some(112)), "{path}");
    }
    // A closed connection gives its slot back, to any door.
    drop(native);
    let mut admitted = 0;
    for _ in 0..50 {
        admitted = status(&handshake(&server, "/yjs/runtime", &[]).await);
        if admitted == 101 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(admitted, 101, "a slot is free once a connection closed");
}

#[tokio::test]
async fn a_socket_io_polling_session_holds_its_address_slot() {
    let limits =
        "[limits]\nmax_connections_per_ip = 1\nconnections_per_ip_per_sec = 1000\nconnections_per_ip_burst = 1000\n";
    let server = Server::start(&format!("ephemeral = true\n{limits}")).await;
    let polling = "/socket.io/?EIO=4&transport=polling";
    let open = request(server.addr, "GET", polling, &Opts::default(), None).await.unwrap();
    assert_eq!(open.status, 200);
    // No request of that session is in flight, yet its slot stays taken.
    let again = request(server.addr, "GET", polling, &Opts::default(), None).await.unwrap();
    assert_eq!(again.status, 429);
    let ws = handshake(&server, "/ws", &[]).await;
    assert_eq!(status(&ws), 429, "{ws}");
}

#[tokio::test]
async fn only_the_native_door_negotiates_permessage_deflate() {
    let config = format!("ephemeral = true\n[websocket]\ncompression = true\n{PUSHER_APP}");
    let server = Server::start(&config).await;
    let offer = [("Sec-WebSocket-Extensions", "permessage-deflate")];
    for path in WS_DOORS {
        let head = handshake(&server, path, &offer).await;
        assert_eq!(status(&head), 101, "{path}: {head}");
        let negotiated = head.contains("sec-websocket-extensions: permessage-deflate");
        assert_eq!(negotiated, path == "/ws", "{path}: {head}");
    }
}

#[tokio::test]
async fn a_silent_yjs_peer_is_dropped_by_websocket_pings() {
    let server = Server::start("ephemeral = true\n[connection]\nping_interval_secs = 1\npong_timeout_secs = 1\n").await;
    // tungstenite answers a ping only while it is read: this peer is silent
    // (dropped after ping_interval + pong_timeout, at the 2 s or 3 s ping).
    let mut silent = open_yjs(&server, "quiet").await;
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert_eq!(close_code(&mut silent, Duration::from_secs(5)).await, 4002);
}

#[tokio::test]
async fn shutdown_closes_each_door_with_its_reconnect_code() {
    let mut server = Server::start(&format!("ephemeral = true\n{PUSHER_APP}")).await;
    let mut yjs = open_yjs(&server, "bye").await;
    let mut pusher = common::pusher::open(&server, "key-1", "?protocol=7").await;
    common::pusher::established(&mut pusher).await;
    server.signal_term();
    // y-websocket gets Herald's 4000; Pusher's table maps it to 4200 (reconnect now).
    assert_eq!(close_code(&mut yjs, Duration::from_secs(10)).await, 4000);
    let error = common::pusher::next(&mut pusher).await.expect("pusher:error before the close");
    assert_eq!((error["event"].as_str(), error["data"]["code"].as_u64()), (Some("pusher:error"), Some(4200)));
    assert_eq!(common::pusher::next(&mut pusher).await, Err(4200));
    assert!(server.terminate().await, "herald exits cleanly after SIGTERM");
}
