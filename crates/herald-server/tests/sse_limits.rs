//! Abuse limits on the SSE door (`/sse`, `/poll`, `/sse/publish`): the same
//! per-address connection limits as the WebSocket door, and publish rates
//! per address and per user. A flooding client is refused with a temporary
//! 429 (code 112, `Retry-After`) while a neighbour's traffic keeps flowing.
//! Clients are told apart by `X-Forwarded-For` from a trusted proxy (the
//! loopback address), as behind a real load balancer.

mod common;

use std::time::Duration;

use common::Server;
use common::sse::{Opts, SseStream, request};
use serde_json::json;

fn from(ip: &str) -> Opts {
    Opts::default().header("X-Forwarded-For", ip)
}

const PROXY: &str = "[auth]\ntrusted_proxies = [\"127.0.0.1\"]\n";

async fn post_publish(server: &Server, ip: &str, channel: &str, i: u64) -> (u16, serde_json::Value, Option<String>) {
    let body = json!({ "channel": channel, "data": i }).to_string();
    let r = request(server.addr, "POST", "/sse/publish", &from(ip), Some(body.as_bytes())).await.unwrap();
    let retry_after = r.header("retry-after").map(str::to_string);
    (r.status, r.json(), retry_after)
}

#[tokio::test]
async fn a_flooding_publisher_is_throttled_while_its_neighbour_flows() {
    let server = Server::start(&format!(
        "{PROXY}[limits]\nmessages_per_conn_per_sec = 5\nmessages_per_conn_burst = 10\n\
         publishes_per_user_per_sec = 1000\npublishes_per_user_burst = 1000\n"
    ))
    .await;
    let mut reader = SseStream::open(server.addr, "/sse?channel=chat:calm", from("10.0.0.2")).await.unwrap();
    reader.expect("connected").await;

    // The flooder sends as fast as it can: past the burst it is refused.
    let mut accepted = 0;
    let mut refusal = None;
    for i in 0..60 {
        let (status, body, retry_after) = post_publish(&server, "10.0.0.66", "chat:flood", i).await;
        match status {
            200 => accepted += 1,
            429 => {
                refusal = Some((body, retry_after));
                break;
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    let (body, retry_after) = refusal.expect("the flooder was never throttled");
    assert!((10..60).contains(&accepted), "accepted {accepted} before the first refusal");
    assert_eq!(body["error"]["code"], 112, "{body}");
    assert_eq!(body["error"]["temporary"], true, "{body}");
    assert!(body["error"]["retry_after_ms"].as_u64().unwrap() >= 1, "{body}");
    assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1, "Retry-After in whole seconds");

    // Its neighbour, from another address, publishes and receives every message.
    for i in 0..5 {
        let (status, body, _) = post_publish(&server, "10.0.0.2", "chat:calm", i).await;
        assert_eq!(status, 200, "{body}");
    }
    let got: Vec<_> = reader.publications(5).await.into_iter().map(|(_, _, d)| d).collect();
    assert_eq!(got, (0..5).map(|i| json!(i)).collect::<Vec<_>>());

    // The flooder is admitted again once the bucket refills.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(post_publish(&server, "10.0.0.66", "chat:flood", 99).await.0, 200);
    let m = server.get("/metrics").await.unwrap().body;
    assert!(m.contains("herald_rate_limited_total{limit=\"requests from this address\"}"), "{m}");
}

#[tokio::test]
async fn streams_and_polls_count_against_the_address_connection_limits() {
    let server = Server::start(&format!(
        "{PROXY}[limits]\nmax_connections_per_ip = 2\nconnections_per_ip_per_sec = 1000\nconnections_per_ip_burst = 1000\n"
    ))
    .await;
    let mut a = SseStream::open(server.addr, "/sse?channel=chat:x", from("10.0.0.7")).await.unwrap();
    a.expect("connected").await;
    let mut b = SseStream::open(server.addr, "/sse?channel=chat:x", from("10.0.0.7")).await.unwrap();
    b.expect("connected").await;
    // A third stream and a poll from the same address are refused…
    let r = SseStream::open(server.addr, "/sse?channel=chat:x", from("10.0.0.7")).await.err().expect("third stream");
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (429, Some(112)));
    let r = request(server.addr, "GET", "/poll?channel=chat:x", &from("10.0.0.7"), None).await.unwrap();
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (429, Some(112)));
    // …while another address connects, and receives what is published.
    let mut other = SseStream::open(server.addr, "/sse?channel=chat:x", from("10.0.0.8")).await.unwrap();
    other.expect("connected").await;
    server.publish("chat:x", json!("hello")).await;
    assert_eq!(other.publications(1).await[0].2, json!("hello"));
    assert_eq!(a.publications(1).await[0].2, json!("hello"));
    // Closing a stream frees its slot.
    drop(b);
    let mut again = None;
    for _ in 0..50 {
        if let Ok(s) = SseStream::open(server.addr, "/sse?channel=chat:x", from("10.0.0.7")).await {
            again = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    again.expect("a slot is free after a stream closed").expect("connected").await;
}

#[tokio::test]
async fn a_burst_of_new_streams_from_one_address_is_refused_with_retry_after() {
    let server =
        Server::start(&format!("{PROXY}[limits]\nconnections_per_ip_per_sec = 2\nconnections_per_ip_burst = 3\n"))
            .await;
    let mut refused = None;
    let mut kept = Vec::new();
    for _ in 0..10 {
        match SseStream::open(server.addr, "/sse?channel=chat:y", from("10.0.0.9")).await {
            Ok(s) => kept.push(s),
            Err(r) => {
                refused = Some(r);
                break;
            }
        }
    }
    let r = refused.expect("never refused");
    assert!(kept.len() >= 3, "the burst is admitted ({} were)", kept.len());
    assert_eq!((r.status, r.json()["error"]["code"].as_u64()), (429, Some(112)));
    assert!(r.header("retry-after").is_some());
    // Another address is not affected.
    let mut s = SseStream::open(server.addr, "/sse?channel=chat:y", from("10.0.0.10")).await.unwrap();
    s.expect("connected").await;
}

#[tokio::test]
async fn one_users_publishes_are_limited_across_addresses() {
    use jsonwebtoken::{EncodingKey, Header, encode};
    const SECRET: &str = "sse-limits-secret-0123456789";
    let server = Server::start(&format!(
        "[auth]\ntoken_secret = \"{SECRET}\"\ntrusted_proxies = [\"127.0.0.1\"]\n\
         [limits]\npublishes_per_user_per_sec = 2\npublishes_per_user_burst = 4\n"
    ))
    .await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let token = |sub: &str| {
        let claims = json!({ "sub": sub, "iat": now, "exp": now + 300,
            "capabilities": [{ "channels": ["chat:*"], "allow": ["subscribe", "publish"] }] });
        encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
    };
    let publish = |sub: &'static str, ip: &'static str, i: u64| {
        let path = format!("/sse/publish?token={}", token(sub));
        let addr = server.addr;
        async move {
            let body = json!({ "channel": "chat:u", "data": i }).to_string();
            let r = request(addr, "POST", &path, &from(ip), Some(body.as_bytes())).await.unwrap();
            (r.status, r.json()["error"]["code"].as_u64())
        }
    };
    // One user spreading publishes over several addresses still hits the user's limit.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let ip = ["10.1.0.1", "10.1.0.2", "10.1.0.3"][i % 3];
        statuses.push(publish("mallory", ip, i as u64).await);
    }
    let ok = statuses.iter().filter(|s| s.0 == 200).count();
    assert!((4..12).contains(&ok), "{statuses:?}");
    assert!(statuses.contains(&(429, Some(112))), "{statuses:?}");
    // Another user on one of those addresses is not limited by mallory's count.
    assert_eq!(publish("alice", "10.1.0.1", 0).await, (200, None));
}
