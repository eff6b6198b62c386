//! Herald presence as Phoenix presence: a Herald member (key = the
//! Supabase presence key, or the user id) is one Phoenix presence with one
//! meta `{"phx_ref": <the member's first connection id>, …payload}`. The
//! payload is what `track` sent (the member's info at its join, its state
//! after a later `track`), or the token's profile for a native member.
//! Keeping `phx_ref` fixed per member makes an update a plain join that
//! replaces the meta in realtime-js's presence state.

use herald_core::{ClientInfo, Payload, PresenceMember};
use serde_json::{Map, Value};

/// One meta: `phx_ref` plus the payload's fields (an object payload; any
/// other JSON value is kept under `"payload"`).
pub fn meta(phx_ref: &str, payload: Option<&Payload>) -> Value {
    let mut m = Map::new();
    match payload.and_then(|p| serde_json::from_slice::<Value>(p.bytes()).ok()) {
        Some(Value::Object(fields)) => m.extend(fields),
        Some(Value::Null) | None => {}
        Some(other) => {
            m.insert("payload".into(), other);
        }
    }
    m.insert("phx_ref".into(), Value::from(phx_ref));
    Value::Object(m)
}

fn presences(key: &str, meta: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.to_string(), serde_json::json!({ "metas": [meta] }));
    Value::Object(m)
}

/// `presence_state`: every member present now.
pub fn state(members: &[PresenceMember]) -> Value {
    let mut m = Map::new();
    for member in members.iter().filter(|m| m.connections > 0) {
        let payload = member.state.as_ref().or(member.info.info.as_ref());
        let meta = meta(&member.info.client, payload);
        m.insert(member.info.member_key().to_string(), serde_json::json!({ "metas": [meta] }));
    }
    Value::Object(m)
}

/// `presence_diff` for a member that joined (`true`) or left.
pub fn diff(member: &ClientInfo, joined: bool) -> Value {
    let entry = presences(member.member_key(), meta(&member.client, member.info.as_ref()));
    match joined {
        true => serde_json::json!({ "joins": entry, "leaves": {} }),
        false => serde_json::json!({ "joins": {}, "leaves": entry }),
    }
}

/// `presence_diff` for a member whose payload changed (a second `track`).
pub fn update(member: &PresenceMember) -> Value {
    let payload = member.state.as_ref().or(member.info.info.as_ref());
    let entry = presences(member.info.member_key(), meta(&member.info.client, payload));
    serde_json::json!({ "joins": entry, "leaves": {} })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(client: &str, user: &str, payload: &str) -> ClientInfo {
        ClientInfo {
            client: client.into(),
            user: Some(user.into()),
            info: Payload::from_json_text(payload.to_string()).ok(),
        }
    }

    #[test]
    fn a_member_is_one_presence_with_one_meta() {
        let alice = info("c1", "alice", r#"{"online_at":1}"#);
        assert_eq!(
            diff(&alice, true),
            serde_json::json!({"joins": {"alice": {"metas": [{"phx_ref": "c1", "online_at": 1}]}}, "leaves": {}})
        );
        assert_eq!(diff(&alice, false)["leaves"]["alice"]["metas"][0]["phx_ref"], "c1");
        let state_now = Payload::from_json_text(r#"{"typing":true}"#).ok();
        let member = PresenceMember { info: alice, connections: 1, state: state_now };
        let gone = PresenceMember { connections: 0, ..member.clone() };
        assert_eq!(
            state(&[member.clone(), gone])["alice"]["metas"][0],
            serde_json::json!({"phx_ref":"c1","typing":true})
        );
        assert_eq!(update(&member)["joins"]["alice"]["metas"][0]["typing"], true);
        assert_eq!(
            meta("r", Payload::from_json_text("5").ok().as_ref()),
            serde_json::json!({"phx_ref":"r","payload":5})
        );
    }
}
