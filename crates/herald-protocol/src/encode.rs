//! Server → client frames, written directly as JSON text. Publications are
//! encoded once per fan-out (the hub caches the result per wire variant).

use std::io::Write;

use serde::Serialize;

use herald_core::{
    ChannelEvent, ChannelName, ClientInfo, DisconnectReason, ErrorBody, HeraldError, HistoryPage, Notification,
    Position, PresenceMember, Publication, Recovery,
};

fn str_json(buf: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail, and a &str always serializes.
    let _ = serde_json::to_writer(&mut *buf, s);
}

fn publication_fields(buf: &mut Vec<u8>, p: &Publication) {
    let _ = write!(buf, "\"offset\":{},\"time\":{},\"data\":", p.offset, p.time_ms);
    buf.extend_from_slice(p.data.bytes());
    if let Some(pb) = &p.publisher {
        buf.extend_from_slice(b",\"publisher\":{\"client\":");
        str_json(buf, &pb.client);
        if let Some(u) = &pb.user {
            buf.extend_from_slice(b",\"user\":");
            str_json(buf, u);
        }
        buf.push(b'}');
    }
    if let Some(k) = &p.idempotency_key {
        buf.extend_from_slice(b",\"idempotency_key\":");
        str_json(buf, k);
    }
}

/// `{"offset":…,"time":…,"data":…}` as an element of a publication list.
fn publication_entry(buf: &mut Vec<u8>, p: &Publication) {
    buf.push(b'{');
    publication_fields(buf, p);
    buf.push(b'}');
}

fn client_info(buf: &mut Vec<u8>, c: &ClientInfo) {
    buf.extend_from_slice(b"{\"client\":");
    str_json(buf, &c.client);
    if let Some(u) = &c.user {
        buf.extend_from_slice(b",\"user\":");
        str_json(buf, u);
    }
    if let Some(i) = &c.info {
        buf.extend_from_slice(b",\"info\":");
        buf.extend_from_slice(i.bytes());
    }
    buf.push(b'}');
}

fn error_obj(buf: &mut Vec<u8>, e: &HeraldError) {
    let _ = serde_json::to_writer(&mut *buf, &ErrorBody::from(e));
}

/// A channel event push.
pub fn event(ev: &ChannelEvent<'_>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128);
    match ev {
        ChannelEvent::Publication(p) => {
            buf.extend_from_slice(b"{\"push\":\"publication\",\"channel\":");
            str_json(&mut buf, p.channel.as_str());
            buf.push(b',');
            publication_fields(&mut buf, p);
        }
        ChannelEvent::Join(ch, who) | ChannelEvent::Leave(ch, who) => {
            let kind: &[u8] = if matches!(ev, ChannelEvent::Join(..)) { b"join" } else { b"leave" };
            buf.extend_from_slice(b"{\"push\":\"");
            buf.extend_from_slice(kind);
            buf.extend_from_slice(b"\",\"channel\":");
            str_json(&mut buf, ch.as_str());
            buf.extend_from_slice(b",\"member\":");
            client_info(&mut buf, who);
        }
        ChannelEvent::Client { channel, event, data, from } => {
            buf.extend_from_slice(b"{\"push\":\"event\",\"channel\":");
            str_json(&mut buf, channel.as_str());
            buf.extend_from_slice(b",\"event\":");
            str_json(&mut buf, event);
            buf.extend_from_slice(b",\"data\":");
            buf.extend_from_slice(data.bytes());
            buf.extend_from_slice(b",\"from\":");
            client_info(&mut buf, from);
        }
        ChannelEvent::PresenceUpdate(ch, member) => {
            buf.extend_from_slice(b"{\"push\":\"presence_update\",\"channel\":");
            str_json(&mut buf, ch.as_str());
            buf.extend_from_slice(b",\"member\":");
            presence_member(&mut buf, member);
        }
        ChannelEvent::Typing { channel, user, typing } => {
            buf.extend_from_slice(b"{\"push\":\"typing\",\"channel\":");
            str_json(&mut buf, channel.as_str());
            buf.extend_from_slice(b",\"user\":");
            str_json(&mut buf, user);
            let _ = write!(buf, ",\"typing\":{typing}");
        }
        ChannelEvent::Read { channel, user, offset } => {
            buf.extend_from_slice(b"{\"push\":\"read\",\"channel\":");
            str_json(&mut buf, channel.as_str());
            buf.extend_from_slice(b",\"user\":");
            str_json(&mut buf, user);
            let _ = write!(buf, ",\"offset\":{offset}");
        }
        ChannelEvent::Notification(n, unread) => {
            buf.extend_from_slice(b"{\"push\":\"notification\",\"notification\":");
            notification(&mut buf, n);
            let _ = write!(buf, ",\"unread\":{unread}");
        }
        ChannelEvent::Unread(unread) => {
            let _ = write!(buf, "{{\"push\":\"unread\",\"unread\":{unread}");
        }
        ChannelEvent::Unsubscribed(ch, err) => {
            buf.extend_from_slice(b"{\"push\":\"unsubscribed\",\"channel\":");
            str_json(&mut buf, ch.as_str());
            buf.extend_from_slice(b",\"error\":");
            error_obj(&mut buf, err);
        }
    }
    buf.push(b'}');
    buf
}

/// `{"id":…,"result":…}` for any serializable result.
pub fn reply<T: Serialize>(id: u64, result: &T) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    let _ = write!(buf, "{{\"id\":{id},\"result\":");
    let _ = serde_json::to_writer(&mut buf, result);
    buf.push(b'}');
    buf
}

/// `{"id":…,"error":{…}}`, or `{"push":"error","error":{…}}` when the
/// request had no readable id.
pub fn reply_error(id: Option<u64>, e: &HeraldError) -> Vec<u8> {
    let mut buf = Vec::with_capacity(96);
    match id {
        Some(id) => {
            let _ = write!(buf, "{{\"id\":{id},\"error\":");
        }
        None => buf.extend_from_slice(b"{\"push\":\"error\",\"error\":"),
    }
    error_obj(&mut buf, e);
    buf.push(b'}');
    buf
}

/// The subscribe reply: the position the subscription continues from and,
/// when recovery was asked for, whether it succeeded with the missed publications.
pub fn subscribe_result(
    id: u64,
    channel: &ChannelName,
    top: &Position,
    recovery: Option<&Recovery>,
    presence: Option<&[PresenceMember]>,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128);
    let _ = write!(buf, "{{\"id\":{id},\"result\":{{\"channel\":");
    str_json(&mut buf, channel.as_str());
    buf.extend_from_slice(b",\"epoch\":");
    str_json(&mut buf, top.epoch.as_str());
    let _ = write!(buf, ",\"offset\":{}", top.offset);
    if let Some(r) = recovery {
        let _ = write!(buf, ",\"recovered\":{},\"publications\":[", r.recovered);
        for (i, p) in r.publications.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            publication_entry(&mut buf, p);
        }
        buf.push(b']');
    }
    if let Some(members) = presence {
        buf.extend_from_slice(b",\"presence\":");
        presence_members(&mut buf, members);
    }
    buf.extend_from_slice(b"}}");
    buf
}

/// The history reply.
pub fn history_result(id: u64, page: &HistoryPage) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128 + page.publications.len() * 64);
    let _ = write!(buf, "{{\"id\":{id},\"result\":");
    history_page(&mut buf, page);
    buf.push(b'}');
    buf
}

/// `{"epoch":…,"offset":…,"publications":[…]}` (also used by the HTTP API).
pub fn history_page(buf: &mut Vec<u8>, page: &HistoryPage) {
    buf.extend_from_slice(b"{\"epoch\":");
    str_json(buf, page.top.epoch.as_str());
    let _ = write!(buf, ",\"offset\":{},\"publications\":[", page.top.offset);
    for (i, p) in page.publications.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        publication_entry(buf, p);
    }
    buf.extend_from_slice(b"]}");
}

/// `{"client":…,"user":…,"info":…,"connections":n,"state":…}` (`state` when set).
fn presence_member(buf: &mut Vec<u8>, m: &PresenceMember) {
    client_info(buf, &m.info);
    buf.pop();
    let _ = write!(buf, ",\"connections\":{}", m.connections);
    if let Some(state) = &m.state {
        buf.extend_from_slice(b",\"state\":");
        buf.extend_from_slice(state.bytes());
    }
    buf.push(b'}');
}

/// `{"members":[{"client":…,"user":…,"info":…,"connections":n,"state":…},…]}`.
pub fn presence_members(buf: &mut Vec<u8>, members: &[PresenceMember]) {
    buf.extend_from_slice(b"{\"members\":[");
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        presence_member(buf, m);
    }
    buf.extend_from_slice(b"]}");
}

/// `{"id","kind","title","body","data","created_at","read","expires_at"?}`.
pub fn notification(buf: &mut Vec<u8>, n: &Notification) {
    let _ = write!(buf, "{{\"id\":{},\"kind\":", n.id);
    str_json(buf, &n.content.kind);
    buf.extend_from_slice(b",\"title\":");
    str_json(buf, &n.content.title);
    buf.extend_from_slice(b",\"body\":");
    str_json(buf, &n.content.body);
    buf.extend_from_slice(b",\"data\":");
    buf.extend_from_slice(n.content.data.as_bytes());
    let _ = write!(buf, ",\"created_at\":{},\"read\":{}", n.created_ms, n.read);
    if let Some(e) = n.content.expires_at {
        let _ = write!(buf, ",\"expires_at\":{e}");
    }
    buf.push(b'}');
}

/// `{"notifications":[…],"unread":N}`, newest first.
pub fn notifications_page(buf: &mut Vec<u8>, list: &[Notification], unread: u64) {
    buf.extend_from_slice(b"{\"notifications\":[");
    for (i, n) in list.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        notification(buf, n);
    }
    let _ = write!(buf, "],\"unread\":{unread}}}");
}

/// The presence reply.
pub fn presence_result(id: u64, members: &[PresenceMember]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 + members.len() * 64);
    let _ = write!(buf, "{{\"id\":{id},\"result\":");
    presence_members(&mut buf, members);
    buf.push(b'}');
    buf
}

/// A server push `{"push":"<name>", …fields}` from a JSON object of fields.
pub fn reply_push(name: &str, fields: &serde_json::Value) -> Vec<u8> {
    let mut obj = serde_json::Map::new();
    obj.insert("push".into(), serde_json::Value::String(name.into()));
    if let serde_json::Value::Object(f) = fields {
        obj.extend(f.clone());
    }
    serde_json::Value::Object(obj).to_string().into_bytes()
}

/// The application-level ping.
pub const PING: &str = r#"{"push":"ping"}"#;

/// Sent just before the server closes the connection.
pub fn disconnect(reason: DisconnectReason) -> Vec<u8> {
    let mut buf = Vec::with_capacity(96);
    let _ = write!(buf, "{{\"push\":\"disconnect\",\"code\":{},\"reason\":", reason.code());
    str_json(&mut buf, reason.message());
    let _ = write!(buf, ",\"reconnect\":{}}}", reason.reconnect());
    buf
}

/// `{"push":"doc","channel":…,"data":"<base64>"}`: one y-websocket message
/// of an open collaborative document.
pub fn doc_push(channel: &str, message: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let mut buf = Vec::with_capacity(message.len() * 4 / 3 + channel.len() + 40);
    buf.extend_from_slice(b"{\"push\":\"doc\",\"channel\":");
    let _ = serde_json::to_writer(&mut buf, channel);
    buf.extend_from_slice(b",\"data\":\"");
    buf.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(message).as_bytes());
    buf.extend_from_slice(b"\"}");
    buf
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use herald_core::{Epoch, Payload, PublisherInfo};

    use super::*;

    fn publication() -> Publication {
        Publication {
            channel: ChannelName::new("chat:a").unwrap(),
            epoch: Epoch::from_string("e"),
            offset: 7,
            data: Payload::from_json_text(r#"{"t":"hi \"x\""}"#).unwrap(),
            time_ms: 1,
            publisher: Some(PublisherInfo { client: Arc::from("c1"), user: Some(Arc::from("u\"1")) }),
            idempotency_key: None,
        }
    }

    #[test]
    fn frames_are_valid_json() {
        let p = publication();
        let v: serde_json::Value = serde_json::from_slice(&event(&ChannelEvent::Publication(&p))).unwrap();
        assert_eq!(v["offset"], 7);
        assert_eq!(v["data"]["t"], "hi \"x\"");
        assert_eq!(v["publisher"]["user"], "u\"1");
        let top = Position { epoch: Epoch::from_string("e"), offset: 7 };
        let rec = Recovery { recovered: true, publications: vec![Arc::new(p)] };
        let v: serde_json::Value =
            serde_json::from_slice(&subscribe_result(3, &ChannelName::new("chat:a").unwrap(), &top, Some(&rec), None))
                .unwrap();
        assert_eq!(v["result"]["recovered"], true);
        assert_eq!(v["result"]["publications"][0]["offset"], 7);
        let info = ClientInfo { client: "c".into(), user: None, info: None };
        let member =
            PresenceMember { info, connections: 2, state: Some(Payload::from_json_text("{\"s\":1}").unwrap()) };
        let v: serde_json::Value = serde_json::from_slice(&presence_result(1, &[member])).unwrap();
        assert_eq!(v["result"]["members"][0]["connections"], 2);
        assert_eq!(v["result"]["members"][0]["state"]["s"], 1);
        let v: serde_json::Value = serde_json::from_slice(&disconnect(DisconnectReason::Shutdown)).unwrap();
        assert_eq!(v["code"], 4000);
        assert_eq!(v["reconnect"], true);
    }
}
