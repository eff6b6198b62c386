//! The Ably door answers bad input with the Ably errors ably-js acts on,
//! without harm to the server or other connections: a frame that is not a
//! protocol message (JSON or MessagePack) gets ERROR 40000 and a close; a
//! frame over the socket limit ERROR 40009; a message over the size limit
//! or with undecodable data a NACK (40009, 40013) on a connection that
//! stays usable; unknown actions and bad channel names a channel ERROR; a
//! repeated msgSerial is published once.
//! Malformed data never reaches other subscribers.

mod common;

use std::time::Duration;

use common::Server;
use futures_util::{SinkExt, StreamExt};
use herald_ably::{Format, ProtocolMessage, action};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const CONFIG: &str = "ephemeral = true\n[connection]\nmax_message_size = 100000\n[ably]\nkeys = [{ name = \"app.key\", secret = \"s\" }]\n";

type Ws = common::pusher::Ws;

async fn open(server: &Server, format: &str) -> Ws {
    let url = format!("ws://{}/?key=app.key:s&format={format}&v=6", server.addr);
    let mut ws = tokio_tungstenite::connect_async(url).await.expect("connect").0;
    let first = next(&mut ws).await.expect("CONNECTED");
    assert_eq!(first.action, action::CONNECTED);
    ws
}

/// The next protocol message (either format), or the close code.
async fn next(ws: &mut Ws) -> Result<ProtocolMessage, u16> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time");
        return match msg {
            Some(Ok(Message::Text(t))) => Ok(Format::Json.decode(t.as_bytes()).expect("a protocol message")),
            Some(Ok(Message::Binary(b))) => Ok(Format::MsgPack.decode(&b).expect("a protocol message")),
            Some(Ok(Message::Close(c))) => Err(c.map(|c| u16::from(c.code)).unwrap_or(1005)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => Err(1006),
        };
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.expect("send");
}

fn code(pm: &ProtocolMessage) -> Option<u32> {
    pm.error.as_ref().map(|e| e.code)
}

#[tokio::test]
async fn frames_that_are_not_protocol_messages_get_error_40000_and_a_close() {
    let server = Server::start(CONFIG).await;
    let mut json_ws = open(&server, "json").await;
    json_ws.send(Message::text("{not json")).await.unwrap();
    let err = next(&mut json_ws).await.expect("ERROR");
    assert_eq!((err.action, code(&err), err.channel), (action::ERROR, Some(40000), None));
    assert_eq!(next(&mut json_ws).await, Err(1000));

    let mut msgpack_ws = open(&server, "msgpack").await;
    msgpack_ws.send(Message::binary(vec![0xc1, 0xff, 0x00])).await.unwrap();
    let err = next(&mut msgpack_ws).await.expect("ERROR");
    assert_eq!((err.action, code(&err)), (action::ERROR, Some(40000)));

    // A frame over the socket's limit.
    let mut big = open(&server, "json").await;
    big.send(Message::text("x".repeat(150_000))).await.unwrap();
    let err = next(&mut big).await.expect("ERROR");
    assert_eq!((err.action, code(&err)), (action::ERROR, Some(40009)));

    // The server is fine: a new connection works.
    let _ok = open(&server, "json").await;
}

#[tokio::test]
async fn bad_messages_are_nacked_and_the_connection_stays_usable() {
    let server = Server::start(CONFIG).await;
    let mut sub = open(&server, "json").await;
    send(&mut sub, json!({"action": action::ATTACH, "channel": "room"})).await;
    assert_eq!(next(&mut sub).await.unwrap().action, action::ATTACHED);
    let mut ws = open(&server, "json").await;
    let oversized = "y".repeat(70 * 1024);
    let bad = [
        (
            json!({"action": 15, "channel": "room", "msgSerial": 0, "messages": [{"name": "a", "data": oversized}]}),
            40009,
        ),
        (
            json!({"action": 15, "channel": "room", "msgSerial": 1, "messages": [{"name": "a", "data": "{", "encoding": "json"}]}),
            40013,
        ),
        (
            json!({"action": 15, "channel": "room", "msgSerial": 2, "messages": [{"name": "a", "data": "x", "clientId": "other"}]}),
            0,
        ),
        (json!({"action": 15, "channel": "bad name!", "msgSerial": 3, "messages": [{"data": "x"}]}), 40010),
    ];
    for (i, (frame, want)) in bad.into_iter().enumerate() {
        send(&mut ws, frame).await;
        let reply = next(&mut ws).await.expect("a reply");
        if want == 0 {
            // A key holder without a clientId may name one.
            assert_eq!((reply.action, reply.msg_serial), (action::ACK, Some(i as i64)));
        } else {
            assert_eq!((reply.action, reply.msg_serial, code(&reply)), (action::NACK, Some(i as i64), Some(want)));
        }
    }
    send(&mut ws, json!({"action": 99, "channel": "room"})).await;
    let err = next(&mut ws).await.unwrap();
    assert_eq!((err.action, err.channel.as_deref(), code(&err)), (action::ERROR, Some("room"), Some(40000)));
    send(&mut ws, json!({"action": action::ATTACH, "channel": "[?rewind=ten]room"})).await;
    let err = next(&mut ws).await.unwrap();
    assert_eq!((err.action, code(&err)), (action::ERROR, Some(40000)));
    // A message sent again with its msgSerial (ably-js does after a resume
    // that lost the ACK) is acknowledged and published once.
    let ok = json!({"action": 15, "channel": "room", "msgSerial": 4, "messages": [{"name": "ok", "data": "fine"}]});
    for _ in 0..2 {
        send(&mut ws, ok.clone()).await;
        assert_eq!(next(&mut ws).await.unwrap().action, action::ACK);
    }
    send(&mut ws, json!({"action": 15, "channel": "room", "msgSerial": 5, "messages": [{"name": "last"}]})).await;
    assert_eq!(next(&mut ws).await.unwrap().action, action::ACK);
    // The subscriber got only what was valid.
    let first = next(&mut sub).await.unwrap();
    let names: Vec<_> = first.messages.unwrap().into_iter().map(|m| m.name).collect();
    assert_eq!(names, [Some("a".to_string())], "the one message with another clientId");
    let second = next(&mut sub).await.unwrap();
    assert_eq!(second.messages.unwrap()[0].name.as_deref(), Some("ok"));
    let third = next(&mut sub).await.unwrap();
    assert_eq!(third.messages.unwrap()[0].name.as_deref(), Some("last"), "the repeated message came once");
}
