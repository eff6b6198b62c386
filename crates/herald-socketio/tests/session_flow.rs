//! A whole polling session through the crate's pieces, as the door will
//! drive them: handshake, CONNECT with a token, a subscribe with an ack, a
//! publication carrying the recovery token, a dropped session, and the
//! reconnect whose `{pid, offset}` gives back every channel's position.
//! What the client reads is decoded the way socket.io-client does.

use std::time::Instant;

use bytes::Bytes;
use herald_core::{ChannelEvent, ChannelName, Epoch, Payload, Position, Publication, WireEncoder};
use herald_socketio::engineio::{
    CloseReason, EngineConfig, EngineSession, Inbound, Outgoing, Packet as EnginePacket, Transport, generate_sid,
    payload,
};
use herald_socketio::events::{
    ClientRequest, RecoveryVector, SocketIoEncoder, parse_client_event, parse_connect, recovery::DEFAULT_MAX_TOKEN_LEN,
    requests,
};
use herald_socketio::socketio::{DEFAULT_MAX_ATTACHMENTS, Packet, PacketKind, server};

/// What the client receives from one poll: Socket.IO packets as (kind, data).
fn poll(session: &mut EngineSession) -> Vec<(PacketKind, String)> {
    let body = session.on_poll().unwrap().expect("something is queued");
    let body = String::from_utf8(body).unwrap();
    payload::decode(&body, usize::MAX)
        .unwrap()
        .into_iter()
        .filter_map(|p| match p {
            EnginePacket::Message(text) => {
                let packet = Packet::decode(text, DEFAULT_MAX_ATTACHMENTS).unwrap();
                Some((packet.kind, text.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// The client's POST: its Socket.IO packets as decoded by the server.
fn post<'a>(session: &mut EngineSession, body: &'a str) -> Vec<Packet<'a>> {
    session.begin_post().unwrap();
    let messages = session.on_post(body.as_bytes(), false, Instant::now()).unwrap();
    messages
        .into_iter()
        .map(|m| match m {
            Inbound::Text(text) => Packet::decode(text, DEFAULT_MAX_ATTACHMENTS).unwrap(),
            Inbound::Binary(_) => panic!("no binary in this flow"),
        })
        .collect()
}

/// The last string argument of an event: what socket.io-client keeps as its offset.
fn last_string_arg(text: &str) -> Option<String> {
    let packet = Packet::decode(text, 0).unwrap();
    let (_, args) = packet.event().unwrap();
    serde_json::from_str::<String>(args.last()?.get()).ok()
}

#[test]
fn subscribe_publish_drop_and_recover() {
    let now = Instant::now();
    let mut session = EngineSession::new(generate_sid(), Transport::Polling, EngineConfig::default(), now);
    let open = session.on_poll().unwrap().unwrap();
    assert!(open.starts_with(b"0{\"sid\":"));

    // CONNECT with a token; the reply carries sid and pid.
    let packets = post(&mut session, "40{\"token\":\"jwt\"}");
    let auth = parse_connect(packets[0].data).unwrap();
    assert_eq!(auth.token_or(None), Some("jwt"));
    assert!(auth.recovery(128).is_none(), "a first connect recovers nothing");
    let pid = "Pz7xQ2";
    session.send(Outgoing::text(server::connect_ok("/", "S1", Some(pid)))).unwrap();

    // subscribe with an ack: `herald:subscribed` + token, then the ack.
    let packets = post(&mut session, "420[\"subscribe\",{\"channel\":\"chat:lobby\"}]");
    let (name, args) = packets[0].event().unwrap();
    let ClientRequest::Subscribe { channel, since: None } = parse_client_event(&name, &args).unwrap() else {
        panic!("not a subscribe")
    };
    // The door pushes `herald:subscribed` then the ack; the writer stamps
    // what the recovery offset must follow, in queue order.
    let mut vector = RecoveryVector::new();
    let position = Position { epoch: Epoch::from_string("a81Xk2pQ"), offset: 41 };
    let ack_id = packets[0].id.unwrap();
    let publication = Publication {
        channel: channel.clone(),
        epoch: position.epoch.clone(),
        offset: 42,
        data: Payload::from_json_text(r#"{"event":"greet","data":{"hi":1}}"#).unwrap(),
        time_ms: 1,
        publisher: None,
        idempotency_key: None,
    };
    let encoder = SocketIoEncoder;
    let queue = [
        (Bytes::from(requests::subscribed_event(&channel, &position)), None),
        (Bytes::from(requests::ack_message(ack_id, &requests::subscribe_ok(&channel, &position, None))), None),
        // A publication, encoded once for every subscriber, with the queue item's publication.
        (encoder.encode(&ChannelEvent::Publication(&publication)), Some(&publication)),
    ];
    for (frame, publication) in queue {
        let frame = vector.stamp(&frame, publication, DEFAULT_MAX_TOKEN_LEN).map_or(frame, Bytes::from);
        session.send(Outgoing::text_bytes(frame).unwrap()).unwrap();
    }

    // The client reads everything in one poll, in order, and keeps the last string argument.
    let received = poll(&mut session);
    let kinds: Vec<PacketKind> = received.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [PacketKind::Connect, PacketKind::Event, PacketKind::Ack, PacketKind::Event]);
    assert_eq!(received[2].1, r#"30[{"ok":true,"channel":"chat:lobby","epoch":"a81Xk2pQ","offset":41}]"#);
    let greet = Packet::decode(&received[3].1, 0).unwrap();
    assert_eq!(greet.event().unwrap().0, "greet");
    let mut last_offset = None;
    for (kind, text) in &received {
        if *kind == PacketKind::Event {
            last_offset = last_string_arg(text).or(last_offset);
        }
    }
    let last_offset = last_offset.unwrap();
    assert_eq!(last_offset, "a81Xk2pQ.42.chat:lobby");

    // The session dies (no pong); the client reconnects anywhere with {pid, offset}.
    session.close(CloseReason::PingTimeout);
    assert!(session.finished());
    let reconnect = format!(r#"0{{"pid":"{pid}","offset":"{last_offset}","token":"jwt"}}"#);
    let packet = Packet::decode(&reconnect, 0).unwrap();
    let auth = parse_connect(packet.data).unwrap();
    let (echo_pid, restored) = auth.recovery(128).unwrap();
    assert_eq!(echo_pid, pid);
    assert_eq!(restored, vector);
    assert_eq!(
        restored.entries(),
        &[(ChannelName::new("chat:lobby").unwrap(), Position { epoch: Epoch::from_string("a81Xk2pQ"), offset: 42 })]
    );
}
