//! The packets a server sends, each as a complete Engine.IO message text
//! (`4` + Socket.IO packet), ready for [`crate::engineio::Outgoing::text`].
//! Arguments are JSON texts (already valid: payloads, encoded values),
//! written as they are.

use serde::Serialize;
use serde_json::value::RawValue;

use super::{Packet, PacketKind};
use crate::json_str;

/// `[first?, args…]` as JSON text.
fn array(first: Option<&str>, args: &[&str]) -> String {
    let mut out = String::from("[");
    if let Some(name) = first {
        json_str(&mut out, name);
    }
    for (i, arg) in args.iter().enumerate() {
        if i > 0 || first.is_some() {
            out.push(',');
        }
        out.push_str(arg);
    }
    out.push(']');
    out
}

fn message(kind: PacketKind, namespace: &str, id: Option<u64>, data: Option<&str>) -> String {
    Packet { kind, attachments: 0, namespace, id, data }.encode_message()
}

#[derive(Serialize)]
struct ConnectOk<'a> {
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<&'a str>,
}

/// CONNECT accepted: `40{"sid":…}`, with `pid` when connection state
/// recovery is on (`40{"sid":…,"pid":…}`).
pub fn connect_ok(namespace: &str, sid: &str, pid: Option<&str>) -> String {
    let data = serde_json::to_string(&ConnectOk { sid, pid }).unwrap_or_default();
    message(PacketKind::Connect, namespace, None, Some(&data))
}

#[derive(Serialize)]
struct ConnectError<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a RawValue>,
}

/// CONNECT refused: `44{"message":…,"data":…}`; the client's
/// `connect_error` handler gets an `Error(message)` with `.data`.
pub fn connect_error(namespace: &str, message_text: &str, data: Option<&RawValue>) -> String {
    let payload = serde_json::to_string(&ConnectError { message: message_text, data }).unwrap_or_default();
    message(PacketKind::ConnectError, namespace, None, Some(&payload))
}

/// The reference server's refusal of a namespace it does not serve:
/// `44/admin,{"message":"Invalid namespace"}`.
pub fn invalid_namespace(namespace: &str) -> String {
    connect_error(namespace, "Invalid namespace", None)
}

/// EVENT `42[name, args…]`, asking for an ack when `ack_id` is set.
pub fn event(namespace: &str, ack_id: Option<u64>, name: &str, args: &[&str]) -> String {
    message(PacketKind::Event, namespace, ack_id, Some(&array(Some(name), args)))
}

/// ACK `43<id>[args…]`.
pub fn ack(namespace: &str, id: u64, args: &[&str]) -> String {
    message(PacketKind::Ack, namespace, Some(id), Some(&array(None, args)))
}

/// DISCONNECT `41`: the server ends the client's namespace session.
pub fn disconnect(namespace: &str) -> String {
    message(PacketKind::Disconnect, namespace, None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> &RawValue {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn protocol_doc_vectors() {
        // socket.io-protocol README "Examples", each prefixed with the Engine.IO message type.
        assert_eq!(connect_ok("/admin", "oSO0OpakMV_3jnilAAAA", None), r#"40/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#);
        assert_eq!(connect_error("/", "Not authorized", None), r#"44{"message":"Not authorized"}"#);
        assert_eq!(event("/", None, "foo", &[]), r#"42["foo"]"#);
        assert_eq!(event("/admin", None, "bar", &[]), r#"42/admin,["bar"]"#);
        assert_eq!(event("/", Some(12), "foo", &[]), r#"4212["foo"]"#);
        assert_eq!(ack("/admin", 13, &[r#""bar""#]), r#"43/admin,13["bar"]"#);
        assert_eq!(disconnect("/"), "41");
        assert_eq!(disconnect("/admin"), "41/admin,");
    }

    #[test]
    fn captured_vectors() {
        // tests/fixtures/*.txt, written by socket.io 4.8.4.
        assert_eq!(
            connect_ok("/", "qvGYOU2N3oUZNGMuAAAF", Some("RuN2eN54w4hfKeliAAAG")),
            r#"40{"sid":"qvGYOU2N3oUZNGMuAAAF","pid":"RuN2eN54w4hfKeliAAAG"}"#
        );
        assert_eq!(invalid_namespace("/admin"), r#"44/admin,{"message":"Invalid namespace"}"#);
        let data = raw(r#"{"code":101,"reason":"token missing"}"#);
        assert_eq!(
            connect_error("/private", "not authorized", Some(data)),
            r#"44/private,{"message":"not authorized","data":{"code":101,"reason":"token missing"}}"#
        );
        assert_eq!(ack("/", 0, &[r#"{"a":1}"#, r#""two""#]), r#"430[{"a":1},"two"]"#);
        assert_eq!(event("/", None, "tick", &["1", r#""Q8soTg5""#]), r#"42["tick",1,"Q8soTg5"]"#);
        assert_eq!(ack("/", 7, &[]), "437[]");
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(event("/", None, "a\"b\u{1e}", &[]), r#"42["a\"b\u001e"]"#);
    }
}
