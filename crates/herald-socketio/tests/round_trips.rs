//! Round trips over generated inputs: what this crate encodes, it decodes
//! back to the same value, and decoding arbitrary text never panics.

use herald_socketio::engineio::{Packet as EnginePacket, payload};
use herald_socketio::socketio::{Packet, PacketKind};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = PacketKind> {
    prop_oneof![
        Just(PacketKind::Connect),
        Just(PacketKind::Disconnect),
        Just(PacketKind::Event),
        Just(PacketKind::Ack),
        Just(PacketKind::ConnectError),
        Just(PacketKind::BinaryEvent),
        Just(PacketKind::BinaryAck),
    ]
}

/// A payload valid for `kind`, as JSON text.
fn data_for(kind: PacketKind, s: String, n: i64) -> Option<String> {
    let name = serde_json::to_string(&format!("e{s}")).unwrap();
    let text = serde_json::to_string(&s).unwrap();
    match kind {
        PacketKind::Connect => Some(format!("{{\"token\":{text}}}")),
        PacketKind::Disconnect => None,
        PacketKind::ConnectError => Some(format!("{{\"message\":{text}}}")),
        PacketKind::Event | PacketKind::BinaryEvent => Some(format!("[{name},{n},{text}]")),
        PacketKind::Ack | PacketKind::BinaryAck => Some(format!("[{n},{text}]")),
    }
}

proptest! {
    #[test]
    fn noncanonical_forms_decode_like_their_canonical_form(ns in "/[a-z]{1,8}", id in 0u64..1000) {
        // `0/admin` (no comma, as the protocol test suite writes it), `/` spelled out, zero-padded ids.
        let short = format!("0{ns}");
        let canonical = Packet::decode(&short, 0).unwrap().encode();
        prop_assert_eq!(canonical.clone(), format!("0{ns},"));
        prop_assert_eq!(Packet::decode(&canonical, 0).unwrap(), Packet::decode(&short, 0).unwrap());
        let spelled = format!("2/,{id}[\"e\"]");
        prop_assert_eq!(Packet::decode(&spelled, 0).unwrap().encode(), format!("2{id}[\"e\"]"));
        let padded = format!("200{id}[\"e\"]");
        prop_assert_eq!(Packet::decode(&padded, 0).unwrap().id, Some(id));
    }

    #[test]
    fn socketio_packets_round_trip(
        kind in kind(),
        ns in "(/|/[a-z0-9_-]{1,20})",
        id in 0u64..=(1 << 53) - 1,
        attachments in 0usize..=10,
        s in "\\PC{0,20}",
        n in any::<i64>(),
    ) {
        let takes_id = matches!(kind, PacketKind::Event | PacketKind::Ack | PacketKind::BinaryEvent | PacketKind::BinaryAck);
        let needs_id = matches!(kind, PacketKind::Ack | PacketKind::BinaryAck);
        let data = data_for(kind, s, n);
        let packet = Packet {
            kind,
            attachments: if kind.is_binary() { attachments } else { 0 },
            namespace: &ns,
            id: (takes_id && (needs_id || id % 2 == 0)).then_some(id),
            data: data.as_deref(),
        };
        let text = packet.encode();
        prop_assert_eq!(Packet::decode(&text, 10).unwrap(), packet);
    }

    #[test]
    fn engineio_payloads_round_trip(messages in prop::collection::vec("[^\\x1e]{0,30}", 1..5), binary in prop::collection::vec(any::<u8>(), 0..20)) {
        let mut packets: Vec<EnginePacket<'_>> = messages.iter().map(|m| EnginePacket::Message(m)).collect();
        packets.push(EnginePacket::Binary(binary.into()));
        let body = payload::encode(&packets);
        prop_assert_eq!(payload::decode(&body, usize::MAX).unwrap(), packets);
    }

    #[test]
    fn decoding_never_panics(text in "\\PC{0,40}", raw in prop::collection::vec(any::<u8>(), 0..40)) {
        if let Ok(p) = Packet::decode(&text, 10) {
            let canonical = p.encode();
            prop_assert_eq!(Packet::decode(&canonical, 10).unwrap(), p);
        }
        if let Ok(packets) = payload::decode(&text, 64) {
            prop_assert_eq!(payload::encode(&packets), text.clone());
        }
        if let Ok(p) = EnginePacket::decode_text(&text, true) {
            prop_assert_eq!(p.encode(), text.clone());
        }
        if let Ok(s) = std::str::from_utf8(&raw) {
            let _ = Packet::decode(s, 10);
        }
    }
}
