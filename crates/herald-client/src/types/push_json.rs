//! A push back in its wire shape (`{"push": kind, …}`, docs/protocol.md),
//! for logs, assertions and code that forwards pushes as JSON.

use serde_json::{Value, json};

use super::Push;

impl Push {
    /// The push as the server sent it: `{"push": kind, …fields}`. `Other`
    /// is returned as received; `Reply` and `Closed`, which the server does
    /// not send as pushes, as `{"push":"reply",…}` and `{"push":"closed",…}`.
    pub fn to_json(&self) -> Value {
        let kind = self.kind();
        let mut v = match self {
            Push::Publication { channel, offset, time, data, publisher, idempotency_key } => json!({
                "channel": channel, "offset": offset, "time": time, "data": data,
                "publisher": publisher, "idempotency_key": idempotency_key,
            }),
            Push::Join { channel, member }
            | Push::Leave { channel, member }
            | Push::PresenceUpdate { channel, member } => {
                json!({ "channel": channel, "member": member })
            }
            Push::Event { channel, event, data, from } => {
                json!({ "channel": channel, "event": event, "data": data, "from": from })
            }
            Push::Typing { channel, user, typing } => json!({ "channel": channel, "user": user, "typing": typing }),
            Push::Read { channel, user, offset } => json!({ "channel": channel, "user": user, "offset": offset }),
            Push::Notification { notification, unread } => json!({ "notification": notification, "unread": unread }),
            Push::Unread { unread } => json!({ "unread": unread }),
            Push::TokenExpiring { expires_at } => json!({ "expires_at": expires_at }),
            Push::Doc { channel, data } => json!({ "channel": channel, "data": data }),
            Push::Unsubscribed { channel, error } => json!({ "channel": channel, "error": error }),
            Push::Disconnect { code, reason, reconnect } => {
                json!({ "code": code, "reason": reason, "reconnect": reconnect })
            }
            Push::Error(error) => json!({ "error": error }),
            Push::Ping => json!({}),
            Push::Reply { id, result } => match result {
                Ok(r) => json!({ "id": id, "result": r }),
                Err(e) => json!({ "id": id, "error": e }),
            },
            Push::Other(v) => return v.clone(),
            Push::Closed { code, reason } => json!({ "code": code, "reason": reason }),
        };
        if let Value::Object(map) = &mut v {
            map.insert("push".to_owned(), Value::String(kind.to_owned()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::types::incoming::{Incoming, parse_incoming};

    #[test]
    fn pushes_round_trip_to_their_wire_shape() {
        for text in [
            r#"{"push":"typing","channel":"a","user":"u","typing":true}"#,
            r#"{"push":"read","channel":"a","user":"u","offset":4}"#,
            r#"{"push":"unread","unread":2}"#,
            r#"{"push":"doc","channel":"doc:x","data":"AAE="}"#,
            r#"{"push":"future","x":1}"#,
        ] {
            let Incoming::Push(p) = parse_incoming(text) else { panic!("{text}") };
            assert_eq!(p.to_json(), serde_json::from_str::<serde_json::Value>(text).unwrap(), "{text}");
        }
        let Incoming::Push(p) =
            parse_incoming(r#"{"push":"event","channel":"a","event":"e","data":1,"from":{"client":"c"}}"#)
        else {
            panic!()
        };
        assert_eq!(p.to_json()["from"]["client"], json!("c"));
        assert_eq!(p.to_json()["push"], json!("event"));
    }
}
