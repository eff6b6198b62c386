//! The client against a scripted in-process WebSocket server speaking the
//! documented wire format.

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use herald_client::{Client, ClientError, ConnectOptions, HistoryOptions, Position, Push};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws = WebSocketStream<TcpStream>;

const T: Duration = Duration::from_secs(5);

/// Serves one connection with `script`; returns the URL and the script's task.
async fn serve_one<F, Fut>(script: F) -> (String, JoinHandle<()>)
where
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        script(ws).await;
    });
    (url, task)
}

/// The next text frame as JSON (skipping WebSocket pings/pongs).
async fn recv_json(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(T, ws.next()).await.expect("frame in time") {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn send_json(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// Answers the connect frame; returns it.
async fn accept_connect(ws: &mut Ws) -> Value {
    let f = recv_json(ws).await;
    assert_eq!(f["op"], "connect");
    send_json(
        ws,
        json!({"id": f["id"], "result": {"client":"conn-1","version":"0.1.0","ping_interval_ms":25000,"pong_timeout_ms":10000}}),
    )
    .await;
    f
}

/// Reads until the client's close frame; returns it.
async fn read_until_close(ws: &mut Ws) -> Option<CloseFrame> {
    loop {
        match tokio::time::timeout(T, ws.next()).await.expect("close in time") {
            Some(Ok(Message::Close(f))) => {
                // Let the library answer the close.
                while let Some(Ok(_)) = ws.next().await {}
                return f;
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn connect_and_typed_requests() {
    let (url, server) = serve_one(|mut ws| async move {
        let f = accept_connect(&mut ws).await;
        assert_eq!(f["token"], "tok");
        assert_eq!(f["client"], herald_client::DEFAULT_CLIENT_NAME);

        let sub = recv_json(&mut ws).await;
        assert_eq!(sub["op"], "subscribe");
        assert_eq!(sub["since"], json!({"epoch":"e1","offset":5}));
        let publ = recv_json(&mut ws).await;
        assert_eq!(publ["op"], "publish");
        assert_eq!(publ["data"], json!({"text":"hi"}));
        assert_eq!(publ["idempotency_key"], "k1");
        // Answer out of order.
        send_json(&mut ws, json!({"id": publ["id"], "result": {"epoch":"e1","offset":8}})).await;
        send_json(
            &mut ws,
            json!({"id": sub["id"], "result": {"channel":"chat:a","epoch":"e1","offset":7,"recovered":true,
                "publications":[{"offset":6,"time":1,"data":1},{"offset":7,"time":2,"data":2}]}}),
        )
        .await;
        send_json(
            &mut ws,
            json!({"push":"publication","channel":"chat:a","offset":8,"time":3,"data":{"text":"hi"},
                "publisher":{"client":"conn-1"},"idempotency_key":"k1"}),
        )
        .await;

        let h = recv_json(&mut ws).await;
        assert_eq!(h, json!({"id": h["id"], "op":"history","channel":"chat:a","before":9,"limit":2,"direction":"backward"}));
        send_json(
            &mut ws,
            json!({"id": h["id"], "result": {"epoch":"e1","offset":8,"publications":[{"offset":8,"time":3,"data":"x"}]}}),
        )
        .await;
        let p = recv_json(&mut ws).await;
        assert_eq!(p, json!({"id": p["id"], "op":"presence","channel":"chat:a"}));
        send_json(&mut ws, json!({"id": p["id"], "result": {"members":[{"client":"conn-1","connections":1}]}})).await;
        let u = recv_json(&mut ws).await;
        assert_eq!(u, json!({"id": u["id"], "op":"unsubscribe","channel":"chat:a"}));
        send_json(&mut ws, json!({"id": u["id"], "result": {}})).await;
        let g = recv_json(&mut ws).await;
        assert_eq!(g, json!({"id": g["id"], "op":"custom","x":1}));
        send_json(&mut ws, json!({"id": g["id"], "result": {"ok":true}})).await;
        read_until_close(&mut ws).await;
    })
    .await;

    let (client, connected) = Client::connect(&url, ConnectOptions::default().token("tok")).await.unwrap();
    assert_eq!(connected.client, "conn-1");
    assert_eq!(connected.ping_interval_ms, Some(25000));
    assert_eq!(connected.raw["version"], "0.1.0");

    let since = Position { epoch: "e1".into(), offset: 5 };
    let (sub, publ) = tokio::join!(
        client.subscribe("chat:a", Some(since)),
        client.publish("chat:a", &json!({"text":"hi"}), Some("k1"))
    );
    let sub = sub.unwrap();
    assert_eq!(sub.recovered, Some(true));
    assert_eq!(sub.publications.iter().map(|p| p.offset).collect::<Vec<_>>(), [6, 7]);
    assert_eq!(publ.unwrap().position(), Position { epoch: "e1".into(), offset: 8 });

    match client.next_push_timeout(T).await.unwrap() {
        Push::Publication { channel, offset, data, publisher, idempotency_key, .. } => {
            assert_eq!((channel.as_str(), offset), ("chat:a", 8));
            assert_eq!(data, json!({"text":"hi"}));
            assert_eq!(publisher.unwrap().client, "conn-1");
            assert_eq!(idempotency_key.as_deref(), Some("k1"));
        }
        other => panic!("{other:?}"),
    }

    let opts = HistoryOptions {
        before: Some(9),
        limit: Some(2),
        direction: Some(herald_client::Direction::Backward),
        ..Default::default()
    };
    let h = client.history("chat:a", opts).await.unwrap();
    assert_eq!(h.publications[0].data, json!("x"));
    let p = client.presence("chat:a").await.unwrap();
    assert_eq!(p.members[0].connections, 1);
    assert_eq!(client.unsubscribe("chat:a").await.unwrap(), json!({}));
    assert_eq!(client.request("custom", json!({"x":1})).await.unwrap(), json!({"ok":true}));

    client.close().await.unwrap();
    assert_eq!(client.close_info().unwrap().code, Some(1000));
    assert_eq!(
        client.next_push_timeout(T).await.unwrap(),
        Push::Closed { code: Some(1000), reason: "client closed".into() }
    );
    assert!(client.request("x", Value::Null).await.unwrap_err().is_closed());
    server.await.unwrap();
}

#[tokio::test]
async fn errors_and_unmatched_replies() {
    let (url, server) = serve_one(|mut ws| async move {
        accept_connect(&mut ws).await;
        let f = recv_json(&mut ws).await;
        send_json(&mut ws, json!({"id": f["id"], "error": {"code":103,"message":"denied","temporary":false}})).await;
        let raw = recv_json(&mut ws).await;
        assert_eq!(raw, json!({"id":999,"op":"dance"}));
        send_json(&mut ws, json!({"id":999,"error":{"code":104,"message":"unknown operation","temporary":false}}))
            .await;
        send_json(&mut ws, json!({"push":"error","error":{"code":108,"message":"bad json","temporary":false}})).await;
        send_json(&mut ws, json!({"push":"something-new","n":1})).await;
        let f = recv_json(&mut ws).await;
        assert_eq!(f["id"], 42);
        send_json(&mut ws, json!({"id":42,"result":[1]})).await;
        read_until_close(&mut ws).await;
    })
    .await;

    let (client, _) = Client::connect(&url, ConnectOptions::default()).await.unwrap();
    let err = client.subscribe("secret", None).await.unwrap_err();
    assert_eq!(err.server_code(), Some(103));
    match err {
        ClientError::Server(e) => assert_eq!(e.message, "denied"),
        other => panic!("{other:?}"),
    }
    client.send_raw_text(r#"{"id":999,"op":"dance"}"#).unwrap();
    match client.next_push_timeout(T).await.unwrap() {
        Push::Reply { id: 999, result: Err(e) } => assert_eq!(e.code, 104),
        other => panic!("{other:?}"),
    }
    assert!(matches!(client.next_push_timeout(T).await.unwrap(), Push::Error(e) if e.code == 108));
    assert_eq!(client.next_push_timeout(T).await.unwrap(), Push::Other(json!({"push":"something-new","n":1})));
    assert_eq!(client.request_raw(42, r#"{"id":42,"op":"x"}"#.into()).await.unwrap(), json!([1]));
    drop(client);
    server.await.unwrap();
}

#[tokio::test]
async fn pings_are_answered() {
    let (url, server) = serve_one(|mut ws| async move {
        accept_connect(&mut ws).await;
        send_json(&mut ws, json!({"push":"ping"})).await;
        assert_eq!(recv_json(&mut ws).await, json!({"op":"pong"}));
        send_json(&mut ws, json!({"push":"publication","channel":"a","offset":1,"time":1,"data":null})).await;
        read_until_close(&mut ws).await;
    })
    .await;
    let (client, _) = Client::connect(&url, ConnectOptions::default()).await.unwrap();
    // The ping is not delivered; the publication after it is.
    assert_eq!(client.next_push_timeout(T).await.unwrap().kind(), "publication");
    drop(client);
    server.await.unwrap();
}

#[tokio::test]
async fn pings_delivered_without_auto_pong() {
    let (url, server) = serve_one(|mut ws| async move {
        accept_connect(&mut ws).await;
        send_json(&mut ws, json!({"push":"ping"})).await;
        assert_eq!(recv_json(&mut ws).await, json!({"op":"pong"}));
        read_until_close(&mut ws).await;
    })
    .await;
    let (client, _) = Client::connect(&url, ConnectOptions::default().auto_pong(false)).await.unwrap();
    assert_eq!(client.next_push_timeout(T).await.unwrap(), Push::Ping);
    client.pong().unwrap();
    client.close().await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn disconnect_fails_waiting_requests() {
    let (url, server) = serve_one(|mut ws| async move {
        accept_connect(&mut ws).await;
        let _ = recv_json(&mut ws).await;
        send_json(
            &mut ws,
            json!({"push":"disconnect","code":4001,"reason":"slow consumer, reconnect","reconnect":true}),
        )
        .await;
        let frame = CloseFrame { code: CloseCode::from(4001), reason: "slow consumer, reconnect".into() };
        ws.send(Message::Close(Some(frame))).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let (client, _) = Client::connect(&url, ConnectOptions::default()).await.unwrap();
    let err = client.publish("a", &json!(1), None).await.unwrap_err();
    assert_eq!(err.close_code(), Some(4001), "{err:?}");
    assert_eq!(
        client.next_push_timeout(T).await.unwrap(),
        Push::Disconnect { code: 4001, reason: "slow consumer, reconnect".into(), reconnect: true }
    );
    let closed = client.next_push_timeout(T).await.unwrap();
    assert_eq!(closed, Push::Closed { code: Some(4001), reason: "slow consumer, reconnect".into() });
    assert_eq!(client.closed().await.code, Some(4001));
    assert!(client.is_closed());
    // Nothing more will come, and new requests fail at once.
    assert_eq!(client.next_push_timeout(T).await.unwrap_err().close_code(), Some(4001));
    assert_eq!(client.presence("a").await.unwrap_err().close_code(), Some(4001));
    assert!(client.send_raw_text("x").unwrap_err().is_closed());
    server.await.unwrap();
}

#[tokio::test]
async fn request_timeout_then_late_reply_is_a_push() {
    let (url, server) = serve_one(|mut ws| async move {
        accept_connect(&mut ws).await;
        let f = recv_json(&mut ws).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        send_json(&mut ws, json!({"id": f["id"], "result": {"epoch":"e","offset":1}})).await;
        read_until_close(&mut ws).await;
    })
    .await;
    let opts = ConnectOptions::default().request_timeout(Duration::from_millis(150));
    let (client, _) = Client::connect(&url, opts).await.unwrap();
    assert!(matches!(client.publish("a", &json!(1), None).await, Err(ClientError::Timeout)));
    let late = client.wait_push(T, |p| matches!(p, Push::Reply { .. })).await.unwrap();
    assert!(matches!(late, Push::Reply { result: Ok(v), .. } if v["offset"] == 1));
    drop(client);
    server.await.unwrap();
}

#[tokio::test]
async fn raw_connection_sends_frames_as_is() {
    let (url, server) = serve_one(|mut ws| async move {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), "{not json"),
            other => panic!("{other:?}"),
        }
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], &[1, 2, 3]),
            other => panic!("{other:?}"),
        }
        send_json(&mut ws, json!({"push":"error","error":{"code":114,"message":"connect first","temporary":false}}))
            .await;
        let frame = CloseFrame { code: CloseCode::from(4500), reason: "protocol violation, do not reconnect".into() };
        ws.send(Message::Close(Some(frame))).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let client = Client::connect_raw(&url).await.unwrap();
    client.send_raw_text("{not json").unwrap();
    client.send_raw_binary(vec![1, 2, 3]).unwrap();
    assert!(matches!(client.next_push_timeout(T).await.unwrap(), Push::Error(e) if e.code == 114));
    let info = client.closed().await;
    assert_eq!(info.code, Some(4500));
    assert_eq!(info.reason, "protocol violation, do not reconnect");
    server.await.unwrap();
}

#[tokio::test]
async fn dropping_the_client_closes_normally() {
    let (url, server) = serve_one(|mut ws| async move {
        accept_connect(&mut ws).await;
        let frame = read_until_close(&mut ws).await.expect("a close frame with a code");
        assert_eq!(frame.code, CloseCode::Normal);
    })
    .await;
    let (client, _) = Client::connect(&url, ConnectOptions::default()).await.unwrap();
    drop(client);
    tokio::time::timeout(T, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn paused_reader_builds_backpressure() {
    const FRAMES: usize = 2_000;
    let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
    let (url, server) = serve_one(move |mut ws| async move {
        accept_connect(&mut ws).await;
        let _ = recv_json(&mut ws).await; // the client paused: go
        let data = "x".repeat(16 * 1024);
        for offset in 1..=FRAMES {
            let push = json!({"push":"publication","channel":"a","offset":offset,"time":0,"data":data});
            ws.feed(Message::text(push.to_string())).await.unwrap();
        }
        ws.flush().await.unwrap();
        done_tx.send_replace(true);
        read_until_close(&mut ws).await;
    })
    .await;
    let opts = ConnectOptions::default().recv_buffer_size(4096);
    let (client, _) = Client::connect(&url, opts).await.unwrap();
    client.pause_reading();
    assert!(client.is_reading_paused());
    client.send_raw_text(r#"{"op":"pong"}"#).unwrap(); // writing still works
    // ~32 MB cannot fit in the socket buffers: the server must be stuck.
    assert!(tokio::time::timeout(Duration::from_millis(500), done_rx.wait_for(|d| *d)).await.is_err());
    assert!(client.try_next_push().is_none());
    client.resume_reading();
    for offset in 1..=FRAMES as u64 {
        match client.next_push_timeout(T).await.unwrap() {
            Push::Publication { offset: o, .. } => assert_eq!(o, offset),
            other => panic!("{other:?}"),
        }
    }
    tokio::time::timeout(T, done_rx.wait_for(|d| *d)).await.unwrap().unwrap();
    client.close().await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn a_thousand_clients() {
    const N: usize = 1_000;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let mut conns = Vec::new();
        for _ in 0..N {
            let (tcp, _) = listener.accept().await.unwrap();
            conns.push(tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                accept_connect(&mut ws).await;
                let f = recv_json(&mut ws).await;
                send_json(&mut ws, json!({"id": f["id"], "result": {"epoch":"e","offset":f["data"]}})).await;
                read_until_close(&mut ws).await;
            }));
        }
        for c in conns {
            c.await.unwrap();
        }
    });
    let mut clients = Vec::with_capacity(N);
    for _ in 0..N {
        clients.push(Client::connect(&url, ConnectOptions::default()).await.unwrap().0);
    }
    let results =
        futures_util::future::join_all(clients.iter().enumerate().map(|(i, c)| c.publish("a", &i, None))).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap().offset, i as u64);
    }
    drop(clients);
    tokio::time::timeout(Duration::from_secs(30), server).await.unwrap().unwrap();
}

#[tokio::test]
async fn raw_then_connect_and_close_while_paused() {
    let (url, server) = serve_one(|mut ws| async move {
        let f = accept_connect(&mut ws).await;
        assert_eq!(f, json!({"id": f["id"], "op":"connect","token":"t"}));
        let frame = read_until_close(&mut ws).await.unwrap();
        assert_eq!(frame.code, CloseCode::Normal);
    })
    .await;
    let client = Client::connect_raw(&url).await.unwrap();
    let connected = client.send_connect(Some("t"), None).await.unwrap();
    assert_eq!(connected.client, "conn-1");
    client.pause_reading();
    client.close().await.unwrap();
    assert_eq!(client.close_info().unwrap().code, Some(1000));
    server.await.unwrap();
}

#[tokio::test]
async fn bad_urls_are_rejected() {
    assert!(matches!(Client::connect_raw("wss://127.0.0.1:1/ws").await, Err(ClientError::Protocol(_))));
    assert!(matches!(Client::connect_raw("http://127.0.0.1:1/ws").await, Err(ClientError::Protocol(_))));
    // Nothing listens on port 1.
    assert!(matches!(Client::connect_raw("ws://127.0.0.1:1/ws").await, Err(ClientError::Io(_))));
}
