//! Binary events and acks. A BINARY_EVENT `51-["up",{"_placeholder":true,"num":0}]`
//! is followed by its attachments, one Engine.IO binary message each; each
//! `{"_placeholder":true,"num":N}` in the payload stands for attachment N.
//! [`Assembler`] collects the attachments of one packet; [`reconstruct`]
//! puts them in place of the placeholders.

use bytes::Bytes;
use serde_json::Value;

use super::{Packet, PacketError, PacketKind};

/// A binary event or ack with all its attachments, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryPacket {
    /// [`PacketKind::BinaryEvent`] or [`PacketKind::BinaryAck`].
    pub kind: PacketKind,
    /// The namespace.
    pub namespace: String,
    /// The ack id.
    pub id: Option<u64>,
    /// The JSON payload with placeholders.
    pub data: String,
    /// The attachments, in order.
    pub attachments: Vec<Bytes>,
}

/// Collects the attachments of one binary packet at a time, per
/// Engine.IO session (the reference decoder's `BinaryReconstructor`).
#[derive(Debug, Default)]
pub struct Assembler {
    pending: Option<(BinaryPacket, usize)>,
}

impl Assembler {
    /// Whether attachments are expected.
    pub fn assembling(&self) -> bool {
        self.pending.is_some()
    }

    /// Call with every decoded text packet. A binary packet with
    /// attachments starts collecting them (`Ok(None)`); one announcing 0 is
    /// complete at once. A text packet while attachments are expected is
    /// refused. Other packets pass through as `Ok(None)` with nothing
    /// collected: handle them as they are.
    pub fn on_packet(&mut self, packet: &Packet<'_>) -> Result<Option<BinaryPacket>, PacketError> {
        if self.pending.is_some() {
            return Err(PacketError::UnexpectedFrame("text packet while attachments were expected"));
        }
        if !packet.kind.is_binary() {
            return Ok(None);
        }
        let binary = BinaryPacket {
            kind: packet.kind,
            namespace: packet.namespace.to_string(),
            id: packet.id,
            data: packet.data.unwrap_or_default().to_string(),
            attachments: Vec::with_capacity(packet.attachments),
        };
        if packet.attachments == 0 {
            return Ok(Some(binary));
        }
        self.pending = Some((binary, packet.attachments));
        Ok(None)
    }

    /// Call with every binary message: the packet once its last attachment arrived.
    pub fn on_attachment(&mut self, bytes: Bytes) -> Result<Option<BinaryPacket>, PacketError> {
        let Some((packet, expected)) = self.pending.as_mut() else {
            return Err(PacketError::UnexpectedFrame("binary attachment without a binary packet"));
        };
        packet.attachments.push(bytes);
        if packet.attachments.len() < *expected {
            return Ok(None);
        }
        Ok(self.pending.take().map(|(packet, _)| packet))
    }
}

/// The payload of `data` with each placeholder replaced by
/// `replace(attachment)`. A placeholder naming no attachment is refused.
pub fn reconstruct(
    data: &str,
    attachments: &[Bytes],
    mut replace: impl FnMut(&Bytes) -> Value,
) -> Result<Value, PacketError> {
    let mut value: Value = serde_json::from_str(data).map_err(|_| PacketError::InvalidJson)?;
    fill(&mut value, attachments, &mut replace)?;
    Ok(value)
}

fn fill(
    value: &mut Value,
    attachments: &[Bytes],
    replace: &mut impl FnMut(&Bytes) -> Value,
) -> Result<(), PacketError> {
    match value {
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
            let n = map.get("num").and_then(Value::as_u64).ok_or(PacketError::IllegalAttachments)?;
            let bytes =
                usize::try_from(n).ok().and_then(|n| attachments.get(n)).ok_or(PacketError::IllegalAttachments)?;
            *value = replace(bytes);
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                fill(v, attachments, replace)?;
            }
        }
        Value::Array(items) => {
            for v in items {
                fill(v, attachments, replace)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn as_array(b: &Bytes) -> Value {
        Value::from(b.to_vec())
    }

    #[test]
    fn protocol_doc_binary_event() {
        // socket.io-protocol README: `52-/admin,["baz",{placeholder 0},{placeholder 1}]` + <01 02> + <03 04>.
        let text = r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        let packet = Packet::decode(text, 10).unwrap();
        let mut asm = Assembler::default();
        assert_eq!(asm.on_packet(&packet).unwrap(), None);
        assert!(asm.assembling());
        assert_eq!(asm.on_attachment(Bytes::from_static(&[1, 2])).unwrap(), None);
        let done = asm.on_attachment(Bytes::from_static(&[3, 4])).unwrap().unwrap();
        assert_eq!(
            (done.kind, done.namespace.as_str(), done.attachments.len()),
            (PacketKind::BinaryEvent, "/admin", 2)
        );
        let value = reconstruct(&done.data, &done.attachments, as_array).unwrap();
        assert_eq!(value, json!(["baz", [1, 2], [3, 4]]));
        assert!(!asm.assembling());
    }

    #[test]
    fn nested_placeholders_and_zero_attachments() {
        let data = r#"["echo",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}}]"#;
        let atts = [Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[4, 5])];
        assert_eq!(reconstruct(data, &atts, as_array).unwrap(), json!(["echo", [1, 2, 3], {"nested": [4, 5]}]));
        let packet = Packet::decode(r#"50-["x"]"#, 10).unwrap();
        let done = Assembler::default().on_packet(&packet).unwrap().unwrap();
        assert!(done.attachments.is_empty());
    }

    #[test]
    fn refuses_frames_out_of_order_and_bad_placeholders() {
        let mut asm = Assembler::default();
        assert!(asm.on_attachment(Bytes::from_static(&[1])).is_err());
        let packet = Packet::decode(r#"51-["x",{"_placeholder":true,"num":0}]"#, 10).unwrap();
        asm.on_packet(&packet).unwrap();
        assert!(asm.on_packet(&Packet::decode(r#"2["y"]"#, 10).unwrap()).is_err());
        for data in [
            r#"[{"_placeholder":true,"num":1}]"#,
            r#"[{"_placeholder":true,"num":-1}]"#,
            r#"[{"_placeholder":true,"num":"0"}]"#,
            r#"[{"_placeholder":true}]"#,
        ] {
            assert_eq!(reconstruct(data, &[Bytes::new()], as_array), Err(PacketError::IllegalAttachments), "{data}");
        }
        // `_placeholder` other than `true` is ordinary data, as in socket.io-parser.
        let plain = reconstruct(r#"[{"_placeholder":1,"num":9}]"#, &[], as_array).unwrap();
        assert_eq!(plain, json!([{"_placeholder": 1, "num": 9}]));
    }
}
