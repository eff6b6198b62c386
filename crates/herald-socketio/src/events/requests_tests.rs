use std::sync::Arc;

use herald_core::{ClientInfo, Epoch};

use super::*;

fn parse(name: &str, args: &[&str]) -> Result<ClientRequest, HeraldError> {
    let raws: Vec<&RawValue> = args.iter().map(|a| serde_json::from_str::<&RawValue>(a).unwrap()).collect();
    parse_client_event(name, &raws)
}

fn ch(s: &str) -> ChannelName {
    ChannelName::new(s).unwrap()
}

#[test]
fn parses_the_issue_examples() {
    assert_eq!(
        parse("subscribe", &[r#"{"channel":"chat:lobby"}"#]).unwrap(),
        ClientRequest::Subscribe { channel: ch("chat:lobby"), since: None }
    );
    let since = Position { epoch: Epoch::from_string("a81Xk2pQ"), offset: 41 };
    assert_eq!(
        parse("subscribe", &[r#"{"channel":"chat:lobby","since":{"epoch":"a81Xk2pQ","offset":41}}"#]).unwrap(),
        ClientRequest::Subscribe { channel: ch("chat:lobby"), since: Some(since) }
    );
    match parse("publish", &[r#"{"channel":"chat:lobby","event":"greet","data":{"hi":1}}"#]).unwrap() {
        ClientRequest::Publish { channel, data, idempotency_key } => {
            assert_eq!(channel, ch("chat:lobby"));
            assert_eq!(data.as_str(), r#"{"event":"greet","data":{"hi":1}}"#);
            assert_eq!(idempotency_key, None);
        }
        other => panic!("{other:?}"),
    }
    match parse("publish", &[r#"{"channel":"a","data":[1,2],"idempotency_key":"k1"}"#]).unwrap() {
        ClientRequest::Publish { data, idempotency_key, .. } => {
            assert_eq!((data.as_str(), idempotency_key.as_deref()), ("[1,2]", Some("k1")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(parse("unsubscribe", &[r#"{"channel":"a"}"#]).unwrap(), ClientRequest::Unsubscribe { channel: ch("a") });
    assert_eq!(parse("presence", &[r#"{"channel":"a"}"#]).unwrap(), ClientRequest::Presence { channel: ch("a") });
    assert_eq!(parse("typing", &[r#"{"channel":"a"}"#]).unwrap(), ClientRequest::Typing { channel: ch("a") });
    match parse("broadcast", &[r#"{"channel":"a","event":"cursor","data":{"x":1}}"#]).unwrap() {
        ClientRequest::Broadcast { event, data, .. } => {
            assert_eq!((event.as_str(), data.as_ref().map(Payload::as_str)), ("cursor", Some(r#"{"x":1}"#)))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refusals_carry_herald_codes() {
    let code = |name: &str, args: &[&str]| parse(name, args).unwrap_err().code;
    assert_eq!(code("dance", &["{}"]), ErrorCode::UnknownOperation);
    assert_eq!(code("subscribe", &[]), ErrorCode::BadRequest);
    assert_eq!(code("subscribe", &[r#"{"channel":"a"}"#, "1"]), ErrorCode::BadRequest);
    assert_eq!(code("subscribe", &[r#""chat""#]), ErrorCode::BadRequest);
    assert_eq!(code("subscribe", &["{}"]), ErrorCode::BadRequest);
    assert_eq!(code("subscribe", &[r#"{"channel":"bad name"}"#]), ErrorCode::InvalidChannel);
    assert_eq!(code("subscribe", &[r#"{"channel":"a","bogus":1}"#]), ErrorCode::BadRequest);
    assert_eq!(code("subscribe", &[r#"{"channel":"a","data":1}"#]), ErrorCode::BadRequest);
    assert_eq!(code("subscribe", &[r#"{"channel":"a","since":{"epoch":"e"}}"#]), ErrorCode::BadRequest);
    assert_eq!(code("publish", &[r#"{"channel":"a"}"#]), ErrorCode::BadRequest);
    assert_eq!(code("publish", &[r#"{"channel":"a","event":"connect","data":1}"#]), ErrorCode::BadRequest);
    assert_eq!(code("publish", &[r#"{"channel":"a","event":"herald:join","data":1}"#]), ErrorCode::BadRequest);
    assert_eq!(code("publish", &[r#"{"channel":"a","event":"","data":1}"#]), ErrorCode::BadRequest);
    let long = format!(r#"{{"channel":"a","event":"{}","data":1}}"#, "e".repeat(65));
    assert_eq!(code("publish", &[&long]), ErrorCode::BadRequest);
    assert_eq!(code("broadcast", &[r#"{"channel":"a"}"#]), ErrorCode::BadRequest);
    assert_eq!(code("unsubscribe", &[r#"{"channel":"a","since":{"epoch":"e","offset":1}}"#]), ErrorCode::BadRequest);
    assert_eq!(binary_refused().code.number(), 113);
}

#[test]
fn ack_bodies() {
    let pos = Position { epoch: Epoch::from_string("a81Xk2pQ"), offset: 41 };
    assert_eq!(
        subscribe_ok(&ch("chat:lobby"), &pos, None),
        r#"{"ok":true,"channel":"chat:lobby","epoch":"a81Xk2pQ","offset":41}"#
    );
    assert_eq!(
        subscribe_ok(&ch("chat:lobby"), &pos, Some(true)),
        r#"{"ok":true,"channel":"chat:lobby","epoch":"a81Xk2pQ","offset":41,"recovered":true}"#
    );
    let err = HeraldError::new(ErrorCode::PermissionDenied, "no subscribe right on \"x\"");
    assert_eq!(
        error_body(&err),
        r#"{"ok":false,"error":{"code":103,"message":"no subscribe right on \"x\"","temporary":false}}"#
    );
    assert_eq!(ack_message(3, OK), r#"433[{"ok":true}]"#);
    assert_eq!(
        error_event("publish", &HeraldError::rate_limited("publications", 250)),
        r#"42["herald:error",{"event":"publish","error":{"code":112,"message":"too many publications; retry after 250 ms","temporary":true,"retry_after_ms":250}}]"#
    );
    assert_eq!(
        subscribed_event(&ch("a"), &pos),
        r#"42["herald:subscribed",{"channel":"a","epoch":"a81Xk2pQ","offset":41}]"#
    );
    assert_eq!(unsubscribed_event(&ch("a")), r#"42["herald:unsubscribed",{"channel":"a"}]"#);
}

#[test]
fn presence_and_publish_bodies() {
    let member = PresenceMember {
        info: ClientInfo { client: Arc::from("c1"), user: Some(Arc::from("u1")), info: None },
        connections: 2,
        state: None,
    };
    let body = presence_ok(&ch("room:1"), &[member]);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"ok": true, "channel": "room:1", "members": [{"client": "c1", "user": "u1", "connections": 2}]})
    );
    let empty: serde_json::Value = serde_json::from_str(&presence_ok(&ch("r"), &[])).unwrap();
    assert_eq!(empty["members"], serde_json::json!([]));
    let p = Publication {
        channel: ch("chat:lobby"),
        epoch: Epoch::from_string("e1"),
        offset: 44,
        data: Payload::from_json_text("1").unwrap(),
        time_ms: 0,
        publisher: None,
        idempotency_key: None,
    };
    assert_eq!(publish_ok(&p), r#"{"ok":true,"channel":"chat:lobby","epoch":"e1","offset":44}"#);
}
