//! The Socket.IO door's decoders never panic on client input: a polling
//! body (Engine.IO payload) or a WebSocket frame, each message as a
//! Socket.IO packet (with its attachments), its event as a Herald request,
//! a CONNECT's auth with its recovery token, and the session state machine
//! fed the same bytes. What decodes re-encodes to what decodes the same.
#![no_main]

use std::time::Instant;

use bytes::Bytes;
use herald_socketio::engineio::{EngineConfig, EngineSession, Inbound, Packet as EnginePacket, Transport, payload};
use herald_socketio::events::{parse_client_event, parse_connect};
use herald_socketio::socketio::{Assembler, Packet, PacketKind};
use libfuzzer_sys::fuzz_target;

fn socketio(text: &str, assembler: &mut Assembler) {
    let Ok(packet) = Packet::decode(text, 4) else { return };
    // Clients may write a packet in a longer form (`0/admin` without the
    // comma, `/` spelled out); its encoding is canonical and decodes the same.
    let canonical = packet.encode();
    assert_eq!(Packet::decode(&canonical, 4).as_ref(), Ok(&packet));
    let _ = assembler.on_packet(&packet);
    match packet.kind {
        PacketKind::Connect => {
            if let Ok(auth) = parse_connect(packet.data) {
                let _ = auth.recovery(8);
            }
        }
        PacketKind::Event => {
            if let Ok((name, args)) = packet.event() {
                let _ = parse_client_event(&name, &args);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut assembler = Assembler::default();
    let now = Instant::now();
    let config = EngineConfig { max_payload: 4096, ..EngineConfig::default() };
    let mut session = EngineSession::new("fuzz".into(), Transport::Polling, config, now);
    let _ = session.on_poll();
    match mode % 3 {
        0 => {
            let Ok(body) = std::str::from_utf8(rest) else { return };
            if let Ok(packets) = payload::decode(body, 4096) {
                assert_eq!(payload::encode(&packets), body);
                for p in &packets {
                    match p {
                        EnginePacket::Message(text) => socketio(text, &mut assembler),
                        EnginePacket::Binary(bytes) => {
                            let _ = assembler.on_attachment(Bytes::copy_from_slice(bytes));
                        }
                        _ => {}
                    }
                }
            }
        }
        1 => {
            let Ok(frame) = std::str::from_utf8(rest) else { return };
            if let Ok(p) = EnginePacket::decode_text(frame, false) {
                assert_eq!(p.encode(), frame);
                let _ = session.begin_upgrade(now);
                let _ = session.on_upgrade_packet(&p);
                if let EnginePacket::Message(text) = p {
                    socketio(text, &mut assembler);
                }
            }
        }
        _ => {
            let _ = session.begin_post();
            if let Ok(messages) = session.on_post(rest, false, now) {
                for m in messages {
                    if let Inbound::Text(text) = m {
                        socketio(text, &mut assembler);
                    }
                }
            }
            let _ = session.take_poll_response();
            let _ = session.on_timer(now + std::time::Duration::from_secs(60));
        }
    }
});
