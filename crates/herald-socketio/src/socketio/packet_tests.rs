use super::*;

/// Text, then the expected type, namespace, ack id, payload and attachments.
type Case<'a> = (&'a str, PacketKind, &'a str, Option<u64>, Option<&'a str>, usize);

fn decode(text: &str) -> Result<Packet<'_>, PacketError> {
    Packet::decode(text, 10)
}

#[test]
fn protocol_doc_vectors_round_trip() {
    // socket.io-protocol README, "Packet encoding" > "Examples" (without the Engine.IO `4`).
    let cases: [Case<'_>; 11] = [
        ("0", PacketKind::Connect, "/", None, None, 0),
        (
            "0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}",
            PacketKind::Connect,
            "/admin",
            None,
            Some("{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}"),
            0,
        ),
        (
            "4{\"message\":\"Not authorized\"}",
            PacketKind::ConnectError,
            "/",
            None,
            Some("{\"message\":\"Not authorized\"}"),
            0,
        ),
        ("2[\"foo\"]", PacketKind::Event, "/", None, Some("[\"foo\"]"), 0),
        ("2/admin,[\"bar\"]", PacketKind::Event, "/admin", None, Some("[\"bar\"]"), 0),
        (
            "51-[\"baz\",{\"_placeholder\":true,\"num\":0}]",
            PacketKind::BinaryEvent,
            "/",
            None,
            Some("[\"baz\",{\"_placeholder\":true,\"num\":0}]"),
            1,
        ),
        ("212[\"foo\"]", PacketKind::Event, "/", Some(12), Some("[\"foo\"]"), 0),
        ("3/admin,13[\"bar\"]", PacketKind::Ack, "/admin", Some(13), Some("[\"bar\"]"), 0),
        (
            "61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]",
            PacketKind::BinaryAck,
            "/",
            Some(15),
            Some("[\"bar\",{\"_placeholder\":true,\"num\":0}]"),
            1,
        ),
        ("1", PacketKind::Disconnect, "/", None, None, 0),
        ("1/admin,", PacketKind::Disconnect, "/admin", None, None, 0),
    ];
    for (text, kind, namespace, id, data, attachments) in cases {
        let p = decode(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(p, Packet { kind, attachments, namespace, id, data }, "{text}");
        assert_eq!(p.encode(), text);
        assert_eq!(p.encode_message(), format!("4{text}"));
    }
}

#[test]
fn test_suite_vectors() {
    // socket.io-protocol test-suite: accepted and refused client packets.
    let p = decode("0/random").unwrap();
    assert_eq!((p.kind, p.namespace), (PacketKind::Connect, "/random"));
    let p = decode(r#"0{"token":"123"}"#).unwrap();
    assert_eq!(p.data, Some(r#"{"token":"123"}"#));
    let p = decode(r#"2456["message-with-ack",1,"2",{"3":[false]}]"#).unwrap();
    assert_eq!(p.id, Some(456));
    let p =
        decode(r#"52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#).unwrap();
    assert_eq!((p.kind, p.attachments, p.id), (PacketKind::BinaryEvent, 2, Some(789)));
    assert_eq!(decode("abc"), Err(PacketError::UnknownType));
    assert!(matches!(decode("2{}"), Err(PacketError::InvalidPayload { .. })));
    assert_eq!(decode(r#"2abc["message-with-ack",1]"#), Err(PacketError::InvalidJson));
}

#[test]
fn event_names_and_args() {
    let p = decode(r#"2["echo",{"a":1},"two"]"#).unwrap();
    let (name, args) = p.event().unwrap();
    assert_eq!(name, "echo");
    assert_eq!(args.iter().map(|a| a.get()).collect::<Vec<_>>(), [r#"{"a":1}"#, r#""two""#]);
    // A numeric event name is valid Socket.IO, but not a name Herald knows.
    let p = decode("2[1,2]").unwrap();
    assert!(p.event().is_err());
    assert!(decode(r#"3["x"]"#).unwrap_err().to_string().contains("ack"));
}

#[test]
fn strict_validation() {
    let refused = [
        ("", PacketError::UnknownType),
        ("7", PacketError::UnknownType),
        ("5[\"x\"]", PacketError::IllegalAttachments),
        ("5x-[\"x\"]", PacketError::IllegalAttachments),
        ("51[\"x\"]", PacketError::IllegalAttachments),
        ("511-[\"x\"]", PacketError::TooManyAttachments { count: 11, max: 10 }),
        ("599999999999999999999999-[\"x\"]", PacketError::IllegalAttachments),
        ("2/ad min,[\"x\"]", PacketError::BadNamespace),
        ("2/a\u{1e},[\"x\"]", PacketError::BadNamespace),
        ("2/é,[\"x\"]", PacketError::BadNamespace),
        ("29007199254740992[\"x\"]", PacketError::BadAckId),
        ("299999999999999999999999[\"x\"]", PacketError::BadAckId),
        ("2[\"x\"", PacketError::InvalidJson),
    ];
    for (text, err) in refused {
        assert_eq!(decode(text), Err(err), "{text:?}");
    }
    let long = format!("0/{},", "a".repeat(MAX_NAMESPACE_LEN));
    assert_eq!(decode(&long), Err(PacketError::BadNamespace));
    for text in [
        "0[1]",
        "0\"x\"",
        "1{}",
        "11",
        "2",
        "2[]",
        "2[{}]",
        "2[\"connect\"]",
        "2[\"disconnect\",1]",
        "3[]",
        "312",
        "312{}",
        "4",
        "41",
        "4[1]",
        "01{}",
    ] {
        assert!(matches!(decode(text), Err(PacketError::InvalidPayload { .. })), "{text:?}: {:?}", decode(text));
    }
    assert_eq!(decode("29007199254740991[\"x\"]").unwrap().id, Some(MAX_ACK_ID));
}
