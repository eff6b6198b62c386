use std::sync::Arc;

use herald_core::{ChannelName, Epoch, ErrorCode, HeraldError, Payload, PublisherInfo};

use super::*;
use crate::socketio::{Packet, PacketKind};

fn publication(data: &str) -> Publication {
    Publication {
        channel: ChannelName::new("chat:lobby").unwrap(),
        epoch: Epoch::from_string("a81Xk2pQ"),
        offset: 41,
        data: Payload::from_json_text(data.to_string()).unwrap(),
        time_ms: 1764288000000,
        publisher: None,
        idempotency_key: None,
    }
}

/// The event's name and arguments, read back with the Socket.IO decoder.
fn decoded(message: &str) -> (String, Vec<serde_json::Value>) {
    let text = message.strip_prefix('4').unwrap();
    let packet = Packet::decode(text, 0).unwrap();
    assert_eq!(packet.kind, PacketKind::Event);
    let (name, args) = packet.event().unwrap();
    (name, args.iter().map(|a| serde_json::from_str(a.get()).unwrap()).collect())
}

#[test]
fn envelopes_arrive_as_named_events() {
    let p = publication(r#"{"event":"greet","data":{"hi":1}}"#);
    assert_eq!(
        publication_event(&p),
        r#"42["greet",{"hi":1},{"channel":"chat:lobby","epoch":"a81Xk2pQ","offset":41,"time":1764288000000}]"#
    );
}

#[test]
fn other_data_arrives_as_message() {
    for data in [r#"{"text":"hi"}"#, "42", r#""plain""#, r#"{"event":1,"data":2}"#, r#"{"event":"x"}"#, "null"] {
        let (name, args) = decoded(&publication_event(&publication(data)));
        assert_eq!(name, "message", "{data}");
        assert_eq!(args[0], serde_json::from_str::<serde_json::Value>(data).unwrap());
        assert_eq!(args[1]["offset"], 41);
    }
}

#[test]
fn names_the_client_would_refuse_arrive_as_message() {
    for name in ["connect", "disconnect", "connect_error", "newListener", "herald:join", ""] {
        let data = serde_json::json!({"event": name, "data": 1}).to_string();
        let (event, args) = decoded(&publication_event(&publication(&data)));
        assert_eq!(event, "message", "{name}");
        assert_eq!(args[0]["event"], name);
    }
}

#[test]
fn meta_names_the_publisher() {
    let mut p = publication("1");
    p.publisher = Some(PublisherInfo { client: Arc::from("c1"), user: Some(Arc::from("u\"7")) });
    let (_, args) = decoded(&publication_event(&p));
    assert_eq!(args[1]["publisher"], serde_json::json!({"client": "c1", "user": "u\"7"}));
}

#[test]
fn recovery_token_goes_last() {
    let frame = publication_event(&publication(r#"{"event":"greet","data":"x"}"#));
    let with = crate::events::with_token(frame.as_bytes(), "a81Xk2pQ.41.chat:lobby");
    let (name, args) = decoded(std::str::from_utf8(&with).unwrap());
    assert_eq!(name, "greet");
    assert_eq!(args.len(), 3);
    assert_eq!(args[2], "a81Xk2pQ.41.chat:lobby");
}

#[test]
fn herald_events_carry_the_native_push_fields() {
    let ch = ChannelName::new("room:1").unwrap();
    let member = ClientInfo { client: Arc::from("c1"), user: Some(Arc::from("u1")), info: None };
    let (name, args) = decoded(&encode_event(&ChannelEvent::Join(&ch, &member)));
    assert_eq!(name, "herald:join");
    assert_eq!(args, vec![serde_json::json!({"channel": "room:1", "member": {"client": "c1", "user": "u1"}})]);
    let (name, args) = decoded(&encode_event(&ChannelEvent::Leave(&ch, &member)));
    assert_eq!((name.as_str(), &args[0]["member"]["user"]), ("herald:leave", &serde_json::json!("u1")));
    let typing = ChannelEvent::Typing { channel: &ch, user: "u1", typing: true };
    assert_eq!(encode_event(&typing), r#"42["herald:typing",{"channel":"room:1","user":"u1","typing":true}]"#);
    assert_eq!(encode_event(&ChannelEvent::Unread(3)), r#"42["herald:unread",{"unread":3}]"#);
    let err = HeraldError::new(ErrorCode::Unavailable, "stream lost");
    let (name, args) = decoded(&encode_event(&ChannelEvent::Unsubscribed(&ch, &err)));
    assert_eq!(name, "herald:unsubscribed");
    assert_eq!(args[0]["error"]["code"], 116);
    assert_eq!(args[0]["error"]["temporary"], true);
}

#[test]
fn client_events_keep_their_name_unless_reserved() {
    let ch = ChannelName::new("room:1").unwrap();
    let from = ClientInfo { client: Arc::from("c1"), user: None, info: None };
    let data = Payload::from_json_text(r#"{"x":1}"#).unwrap();
    let ev = ChannelEvent::Client { channel: &ch, event: "cursor", data: &data, from: &from };
    assert_eq!(
        encode_event(&ev),
        r#"42["cursor",{"x":1},{"channel":"room:1","from":{"client":"c1"},"ephemeral":true}]"#
    );
    let ev = ChannelEvent::Client { channel: &ch, event: "connect", data: &data, from: &from };
    let (name, args) = decoded(&encode_event(&ev));
    assert_eq!((name.as_str(), &args[0]["event"]), ("herald:event", &serde_json::json!("connect")));
}
