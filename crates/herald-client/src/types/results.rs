//! Request options and the typed replies to requests: positions, history
//! options, publications and the results of `connect`, `subscribe`,
//! `publish`, `history` and `presence`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A position in a channel's history: the epoch (which history) and the
/// offset of the last publication seen. Sent as `since` to recover missed
/// publications on subscribe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Position {
    /// Which history the offset belongs to.
    pub epoch: String,
    /// The offset of the last publication (0 = none yet).
    pub offset: u64,
}

/// The order in which a history request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Oldest first, starting after `since`.
    Forward,
    /// Newest first, starting before `before`.
    Backward,
}

/// Options of a history request; unset fields are left out of the frame so
/// the server's defaults apply (forward, limit 100).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HistoryOptions {
    /// Forward: return offsets after this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// Backward: return offsets before this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// Most publications to return (the server caps it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Reading order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

/// The publisher of a publication, when the server reveals it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Publisher {
    /// The publishing connection's id.
    pub client: String,
    /// The publishing user, if authenticated.
    pub user: Option<String>,
}

/// A member in a presence reply: a user/connection with the number of its
/// connections subscribed to the channel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PresenceMember {
    /// The connection id.
    pub client: String,
    /// The user id, if authenticated.
    pub user: Option<String>,
    /// Application-defined connection info.
    pub info: Option<Value>,
    /// How many connections this member has in the channel.
    pub connections: u64,
}

/// A publication as listed in history and recovery results (the channel is
/// the one of the request).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Publication {
    /// Its offset in the channel's history.
    pub offset: u64,
    /// Server time of publication, milliseconds since the Unix epoch.
    pub time: u64,
    /// The published JSON value.
    pub data: Value,
    /// Who published it, when the server reveals it.
    pub publisher: Option<Publisher>,
    /// The idempotency key it was published with, if any.
    pub idempotency_key: Option<String>,
}

/// The reply to `connect`. Fields are read leniently; the whole result is
/// kept in [`Connected::raw`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Connected {
    /// The connection id the server assigned (empty if absent).
    pub client: String,
    /// The server version, if sent.
    pub version: Option<String>,
    /// How often the server pings, if sent.
    pub ping_interval_ms: Option<u64>,
    /// How long the server waits for a pong, if sent.
    pub pong_timeout_ms: Option<u64>,
    /// The result object exactly as received.
    pub raw: Value,
}

impl Connected {
    /// Reads the fields it knows from a connect result, ignoring any that are
    /// missing or of another type.
    pub fn from_value(raw: Value) -> Self {
        let s = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_owned);
        let n = |k: &str| raw.get(k).and_then(Value::as_u64);
        Connected {
            client: s("client").unwrap_or_default(),
            version: s("version"),
            ping_interval_ms: n("ping_interval_ms"),
            pong_timeout_ms: n("pong_timeout_ms"),
            raw,
        }
    }
}

/// The reply to `subscribe`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SubscribeResult {
    /// The channel subscribed to.
    pub channel: String,
    /// The channel's current epoch.
    pub epoch: String,
    /// The channel's current top offset; the subscription continues after it.
    pub offset: u64,
    /// When `since` was given: whether every missed publication was recovered.
    pub recovered: Option<bool>,
    /// When `since` was given: the missed publications, oldest first.
    pub publications: Vec<Publication>,
}

impl SubscribeResult {
    /// The position the subscription continues from.
    pub fn position(&self) -> Position {
        Position { epoch: self.epoch.clone(), offset: self.offset }
    }
}

/// The reply to `publish`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PublishResult {
    /// The channel's epoch.
    pub epoch: String,
    /// The offset given to the publication.
    pub offset: u64,
}

impl PublishResult {
    /// The position of the new publication.
    pub fn position(&self) -> Position {
        Position { epoch: self.epoch.clone(), offset: self.offset }
    }
}

/// The reply to `history`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryResult {
    /// The channel's epoch.
    pub epoch: String,
    /// The channel's current top offset.
    pub offset: u64,
    /// The page of publications, in the requested order.
    pub publications: Vec<Publication>,
}

impl HistoryResult {
    /// The channel's current top position.
    pub fn position(&self) -> Position {
        Position { epoch: self.epoch.clone(), offset: self.offset }
    }
}

/// The reply to `presence`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PresenceResult {
    /// The channel's members.
    pub members: Vec<PresenceMember>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn typed_results_are_lenient() {
        let r: SubscribeResult = serde_json::from_str(
            r#"{"channel":"chat:a","epoch":"e1","offset":7,"recovered":true,
                "publications":[{"offset":6,"time":1,"data":{"x":1},"publisher":{"client":"c1","user":"u"}},
                                {"offset":7,"time":2,"data":null,"idempotency_key":"k"}]}"#,
        )
        .unwrap();
        assert_eq!(r.recovered, Some(true));
        assert_eq!(r.publications.len(), 2);
        assert_eq!(r.publications[0].publisher.as_ref().unwrap().user.as_deref(), Some("u"));
        assert_eq!(r.publications[1].idempotency_key.as_deref(), Some("k"));
        assert_eq!(r.position(), Position { epoch: "e1".into(), offset: 7 });
        let r: SubscribeResult = serde_json::from_str(r#"{"channel":"c","epoch":"e","offset":0}"#).unwrap();
        assert_eq!(r.recovered, None);
        assert!(r.publications.is_empty());

        let h: HistoryResult =
            serde_json::from_str(r#"{"epoch":"e","offset":2,"publications":[{"offset":1,"time":5,"data":[1]}]}"#)
                .unwrap();
        assert_eq!(h.publications[0].data, json!([1]));

        let p: PresenceResult = serde_json::from_str(
            r#"{"members":[{"client":"c1","user":"u1","info":{"n":1},"connections":2},{"client":"c2","connections":1}]}"#,
        )
        .unwrap();
        assert_eq!(p.members[0].connections, 2);
        assert_eq!(p.members[0].info, Some(json!({"n":1})));
        assert_eq!(p.members[1].user, None);

        let c = Connected::from_value(
            json!({"client":"abc","version":"0.1.0","ping_interval_ms":25000,"pong_timeout_ms":10000,"extra":true}),
        );
        assert_eq!(c.client, "abc");
        assert_eq!(c.version.as_deref(), Some("0.1.0"));
        assert_eq!((c.ping_interval_ms, c.pong_timeout_ms), (Some(25000), Some(10000)));
        assert_eq!(c.raw["extra"], true);
        let c = Connected::from_value(json!({"client":5}));
        assert_eq!(c.client, "");
        assert_eq!(c.version, None);
    }
}
