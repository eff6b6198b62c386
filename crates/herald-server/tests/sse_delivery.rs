//! Delivery through the SSE door: several channels on one stream, recovery
//! with Last-Event-ID (complete, or an explicit `recovery-failed`),
//! heartbeats, the slow-reader cut, and long-polling seeing the same
//! sequence as the stream.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use common::sse::{Item, Opts, SseStream, request};
use serde_json::json;

async fn open(server: &Server, path: &str) -> SseStream {
    SseStream::open(server.addr, path, Opts::default())
        .await
        .unwrap_or_else(|r| panic!("{path}: {} {}", r.status, r.body))
}

#[tokio::test]
async fn one_stream_follows_several_channels() {
    let server = Server::start("").await;
    let mut s = open(&server, "/sse?channel=chat:a&channel=chat:b").await;
    assert_eq!(s.header("content-type"), Some("text/event-stream"));
    assert_eq!(s.header("cache-control"), Some("no-cache, no-transform"));
    assert_eq!(s.header("x-accel-buffering"), Some("no"));
    assert_eq!(s.header("access-control-allow-origin"), Some("*"));
    assert_eq!(s.header("content-encoding"), None);
    assert_eq!(s.next_item(Duration::from_secs(5)).await, Some(Item::Retry(2000)));
    let connected = s.expect("connected").await;
    let v = connected.json();
    assert!(v["client"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(v["channels"][0]["channel"], "chat:a");
    assert_eq!(v["channels"][1]["channel"], "chat:b");
    assert_eq!(v["channels"][0]["offset"], 0);
    let (ea, eb) = (v["channels"][0]["epoch"].as_str().unwrap(), v["channels"][1]["epoch"].as_str().unwrap());
    assert_eq!(connected.id.as_deref(), Some(format!("{ea}.0~{eb}.0").as_str()));

    server.publish("chat:a", json!({"n": 1})).await;
    server.publish("chat:b", json!({"n": 2})).await;
    server.publish("chat:a", json!({"n": 3})).await;
    server.publish("chat:other", json!("not followed")).await;
    let got = s.publications(3).await;
    assert_eq!(
        got,
        vec![
            ("chat:a".to_string(), 1, json!({"n": 1})),
            ("chat:b".to_string(), 1, json!({"n": 2})),
            ("chat:a".to_string(), 2, json!({"n": 3}))
        ]
    );
    assert_eq!(s.last_id.as_deref(), Some(format!("{ea}.2~{eb}.1").as_str()));
    let subs = server.get("/api/channels/chat:a").await.unwrap().json();
    assert_eq!(subs["subscribers"], 1);
    drop(s);
    // The hub forgets a stream whose client went away (noticed at the next write at the latest).
    server.publish("chat:a", json!("after")).await;
    wait_for_subscribers(&server, "chat:a", 0).await;
}

async fn wait_for_subscribers(server: &Server, channel: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = server.get(&format!("/api/channels/{channel}")).await.unwrap().json();
        if v["subscribers"] == n {
            return;
        }
        assert!(Instant::now() < deadline, "{channel} still has {} subscribers, expected {n}", v["subscribers"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn reconnect_with_last_event_id_recovers_exactly_what_was_missed() {
    let server = Server::start("").await;
    let mut s = open(&server, "/sse?channel=chat:x&channel=news:y").await;
    s.expect("connected").await;
    server.publish("chat:x", json!("before")).await;
    s.publications(1).await;
    let last = s.last_id.clone().unwrap();
    drop(s);

    for i in 0..100 {
        let channel = if i % 3 == 0 { "news:y" } else { "chat:x" };
        server.publish(channel, json!({ "i": i })).await;
    }
    let opts = Opts::default().header("Last-Event-ID", &last);
    let mut s = SseStream::open(server.addr, "/sse?channel=chat:x&channel=news:y", opts).await.unwrap();
    let connected = s.expect("connected").await;
    assert_eq!(connected.id.as_deref(), Some(last.as_str()), "the stream resumes where the client was");
    assert_eq!(connected.json()["channels"][0]["recovered"], true);
    assert_eq!(connected.json()["channels"][1]["recovered"], true);
    let got = s.publications(100).await;
    let per_channel = |name: &str| -> Vec<(u64, i64)> {
        got.iter().filter(|(c, _, _)| c == name).map(|(_, o, d)| (*o, d["i"].as_i64().unwrap())).collect()
    };
    let x: Vec<(u64, i64)> = (0..100).filter(|i| i % 3 != 0).enumerate().map(|(k, i)| (k as u64 + 2, i)).collect();
    let y: Vec<(u64, i64)> = (0..100).filter(|i| i % 3 == 0).enumerate().map(|(k, i)| (k as u64 + 1, i)).collect();
    assert_eq!(per_channel("chat:x"), x);
    assert_eq!(per_channel("news:y"), y);
    // Live events follow, nothing twice.
    server.publish("chat:x", json!({ "i": 100 })).await;
    let live = s.publications(1).await;
    assert_eq!(live[0].1, 68);

    // The same through the lastEventId query parameter.
    let id = s.last_id.clone().unwrap();
    drop(s);
    server.publish("news:y", json!({ "i": 101 })).await;
    let mut s = open(&server, &format!("/sse?channel=chat:x&channel=news:y&lastEventId={id}")).await;
    s.expect("connected").await;
    assert_eq!(s.publications(1).await[0], ("news:y".to_string(), 35, json!({ "i": 101 })));
}

#[tokio::test]
async fn recovery_beyond_the_window_sends_recovery_failed() {
    let server = Server::start("[namespaces.short]\nhistory_size = 10\n").await;
    let mut s = open(&server, "/sse?channel=short:a&channel=chat:b").await;
    let connected = s.expect("connected").await;
    let start = connected.id.unwrap();
    drop(s);
    for i in 0..20 {
        server.publish("short:a", json!(i)).await;
    }
    for i in 0..3 {
        server.publish("chat:b", json!(i)).await;
    }
    let opts = Opts::default().header("Last-Event-ID", &start);
    let mut s = SseStream::open(server.addr, "/sse?channel=short:a&channel=chat:b", opts).await.unwrap();
    let connected = s.expect("connected").await.json();
    assert_eq!(connected["channels"][0]["recovered"], false);
    assert_eq!(connected["channels"][0]["offset"], 20, "continues from the channel's current position");
    assert_eq!(connected["channels"][1]["recovered"], true);
    let failed = s.expect("recovery-failed").await;
    let v = failed.json();
    assert_eq!((v["channel"].as_str(), v["offset"].as_u64()), (Some("short:a"), Some(20)));
    let epoch_a = v["epoch"].as_str().unwrap().to_string();
    // Never partial: nothing of short:a is replayed; chat:b's three are.
    let got = s.publications(3).await;
    assert!(got.iter().all(|(c, _, _)| c == "chat:b"));
    assert_eq!(got.iter().map(|(_, o, _)| *o).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(s.last_id.as_deref().unwrap().starts_with(&format!("{epoch_a}.20~")));
    server.publish("short:a", json!("live")).await;
    assert_eq!(s.publications(1).await[0], ("short:a".to_string(), 21, json!("live")));
}

#[tokio::test]
async fn heartbeats_arrive_at_the_configured_interval() {
    let server = Server::start("[sse]\nheartbeat_secs = 1\n").await;
    let mut s = open(&server, "/sse?channel=chat:quiet").await;
    s.expect("connected").await;
    let started = Instant::now();
    let mut pings = Vec::new();
    while started.elapsed() < Duration::from_millis(3500) {
        if let Some(Item::Comment(c)) = s.next_item(Duration::from_millis(3600) - started.elapsed()).await {
            assert_eq!(c, "ping");
            pings.push(started.elapsed());
        }
    }
    assert!((3..=4).contains(&pings.len()), "pings at {pings:?}");
    for w in pings.windows(2) {
        let gap = w[1] - w[0];
        assert!(gap > Duration::from_millis(700) && gap < Duration::from_millis(1300), "pings at {pings:?}");
    }
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_cut_and_spares_the_others() {
    let server = Server::start("[connection.queue]\nmax_messages = 16\nmax_bytes = 262144\n").await;
    let opts = Opts { recv_buffer: Some(4096), ..Default::default() };
    let mut slow = SseStream::open(server.addr, "/sse?channel=chat:flood", opts).await.unwrap();
    slow.expect("connected").await;
    let mut fast = open(&server, "/sse?channel=chat:flood").await;
    fast.expect("connected").await;
    let reader = tokio::spawn(async move {
        let got = fast.publications(400).await;
        got.iter().map(|(_, o, _)| *o).collect::<Vec<_>>()
    });
    let big = "x".repeat(32 * 1024);
    for i in 0..400 {
        server.publish("chat:flood", json!({ "i": i, "pad": big })).await;
    }
    assert_eq!(reader.await.unwrap(), (1..=400).collect::<Vec<_>>(), "the reading neighbour got everything");
    // The slow reader was cut while it was not reading: only the neighbour is left.
    wait_for_subscribers(&server, "chat:flood", 0).await;
    // When it reads again: what was already sent, then a final disconnect, then the end.
    let mut last = None;
    while let Some(ev) = slow.next_event(Duration::from_secs(10)).await {
        last = Some(ev);
    }
    let last = last.expect("some events");
    assert_eq!(last.event, "disconnect", "{last:?}");
    assert_eq!(last.json()["code"], 4001);
    assert_eq!(last.json()["reconnect"], true);
    assert!(slow.ends_within(Duration::from_secs(5)).await);
}

async fn poll(server: &Server, query: &str) -> serde_json::Value {
    let r = request(server.addr, "GET", &format!("/poll?{query}"), &Opts::default(), None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[tokio::test]
async fn long_polling_sees_the_same_sequence_as_the_stream() {
    let server = Server::start("[sse]\npoll_timeout_secs = 1\n").await;
    let channels = "channel=chat:p&channel=feed:q";
    let mut s = open(&server, &format!("/sse?{channels}")).await;
    let connected = s.expect("connected").await;
    let first = poll(&server, channels).await;
    assert_eq!(first["events"], json!([]));
    assert_eq!(first["id"].as_str(), connected.id.as_deref(), "both start at the same positions");

    // Nothing new: the poll waits for the timeout and answers an empty batch at the same position.
    let started = Instant::now();
    let idle = poll(&server, &format!("{channels}&since={}", first["id"].as_str().unwrap())).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(idle, first);

    // A poll waiting when a publication arrives returns at once with it.
    let since = first["id"].as_str().unwrap().to_string();
    let waiting = {
        let addr = server.addr;
        let q = format!("/poll?{channels}&since={since}");
        tokio::spawn(async move { request(addr, "GET", &q, &Opts::default(), None).await.unwrap().json() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.publish("chat:p", json!(0)).await;
    let early = waiting.await.unwrap();
    assert_eq!(early["events"][0]["event"], "publication");
    assert_eq!(early["events"][0]["data"], 0);

    for i in 1..30 {
        server.publish(if i % 2 == 0 { "chat:p" } else { "feed:q" }, json!(i)).await;
    }
    let streamed = s.publications(30).await;
    let mut polled = Vec::new();
    let mut id = since;
    while polled.len() < 30 {
        let r = poll(&server, &format!("{channels}&since={id}")).await;
        for e in r["events"].as_array().unwrap() {
            assert_eq!(e["event"], "publication");
            polled.push((e["channel"].as_str().unwrap().to_string(), e["offset"].as_u64().unwrap(), e["data"].clone()));
        }
        id = r["id"].as_str().unwrap().to_string();
    }
    let by_channel = |v: &[(String, u64, serde_json::Value)], c: &str| -> Vec<(u64, serde_json::Value)> {
        v.iter().filter(|(ch, _, _)| ch == c).map(|(_, o, d)| (*o, d.clone())).collect()
    };
    for c in ["chat:p", "feed:q"] {
        assert_eq!(by_channel(&polled, c), by_channel(&streamed, c), "{c}");
    }
    assert_eq!(Some(id), s.last_id, "the poll's id and the stream's id agree");
}

#[tokio::test]
async fn long_polling_reports_recovery_failed() {
    let server = Server::start("[namespaces.short]\nhistory_size = 10\n").await;
    let first = poll(&server, "channel=short:a").await;
    for i in 0..20 {
        server.publish("short:a", json!(i)).await;
    }
    let r = poll(&server, &format!("channel=short:a&since={}", first["id"].as_str().unwrap())).await;
    assert_eq!(r["events"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["events"][0]["event"], "recovery-failed");
    assert_eq!(r["events"][0]["offset"], 20);
    assert!(r["id"].as_str().unwrap().ends_with(".20"));
}

#[tokio::test]
async fn an_abandoned_poll_leaves_nothing_behind() {
    let server = Server::start("").await;
    let first = poll(&server, "channel=chat:gone").await;
    let path = format!("/poll?channel=chat:gone&since={}", first["id"].as_str().unwrap());
    let addr = server.addr;
    let waiting = tokio::spawn(async move { request(addr, "GET", &path, &Opts::default(), None).await });
    wait_for_subscribers(&server, "chat:gone", 1).await;
    waiting.abort();
    wait_for_subscribers(&server, "chat:gone", 0).await;
}

#[tokio::test]
async fn a_recovery_larger_than_the_outbound_queue_is_written_at_the_clients_pace() {
    let server = Server::start("[connection.queue]\nmax_messages = 16\nmax_bytes = 65536\n").await;
    let mut s = open(&server, "/sse?channel=chat:big").await;
    let id = s.expect("connected").await.id.unwrap();
    drop(s);
    for i in 0..200 {
        server.publish("chat:big", json!({ "i": i, "pad": "y".repeat(1024) })).await;
    }
    let opts = Opts::default().header("Last-Event-ID", &id);
    let mut s = SseStream::open(server.addr, "/sse?channel=chat:big", opts).await.unwrap();
    s.expect("connected").await;
    let got = s.publications(200).await;
    assert_eq!(got.iter().map(|(_, o, _)| *o).collect::<Vec<_>>(), (1..=200).collect::<Vec<_>>());
    server.publish("chat:big", json!("live")).await;
    assert_eq!(s.publications(1).await[0].1, 201);
}

#[tokio::test]
async fn shutdown_ends_streams_with_a_disconnect_event_and_exits_promptly() {
    let mut server = Server::start("").await;
    let mut s = open(&server, "/sse?channel=chat:bye").await;
    s.expect("connected").await;
    server.publish("chat:bye", json!(1)).await;
    s.publications(1).await;
    let id = s.last_id.clone();
    let started = Instant::now();
    assert!(server.terminate().await, "herald exits cleanly with an open SSE stream");
    assert!(started.elapsed() < Duration::from_secs(4), "shutdown waited {:?}", started.elapsed());
    let bye = s.expect("disconnect").await;
    assert_eq!(bye.json()["code"], 4000);
    assert_eq!(bye.json()["reconnect"], true);
    assert_eq!(bye.id, id, "the position is unchanged");
    assert!(s.ends_within(Duration::from_secs(2)).await);
}

#[tokio::test]
async fn presence_joins_reach_streams_and_polls_stay_invisible() {
    let server = Server::start("[namespaces.room]\npresence = true\n").await;
    let mut a = open(&server, "/sse?channel=room:1").await;
    a.expect("connected").await;
    let mut b = open(&server, "/sse?channel=room:1").await;
    let b_client = b.expect("connected").await.json()["client"].clone();
    let join = a.expect("join").await;
    assert_eq!(join.json()["member"]["client"], b_client);
    assert!(join.id.is_some(), "every event carries an id");

    let first = poll(&server, "channel=room:1").await;
    let path = format!("/poll?channel=room:1&since={}", first["id"].as_str().unwrap());
    let addr = server.addr;
    let waiting =
        tokio::spawn(async move { request(addr, "GET", &path, &Opts::default(), None).await.unwrap().json() });
    wait_for_subscribers(&server, "room:1", 3).await;
    server.publish("room:1", json!("hello")).await;
    assert_eq!(waiting.await.unwrap()["events"][0]["data"], "hello");
    // The poll came and went without a join or leave.
    assert_eq!(a.expect("publication").await.json()["data"], "hello");
    server.publish("room:1", json!("again")).await;
    assert_eq!(a.expect("publication").await.json()["data"], "again");
}
