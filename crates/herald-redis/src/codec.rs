//! How a publication travels through Redis.
//!
//! The *body* (everything but epoch and offset, which the publish script
//! assigns) is a JSON object `{"t":time_ms,"x":expires_ms,"c":client,
//! "u":user,"k":idempotency_key,"d":data}`; `x` is 0 for no expiry. History
//! entries hold the body; pub/sub messages (and remembered idempotent
//! results) are `"{offset} {epoch} {body}"`.

use std::sync::Arc;

use herald_core::{ChannelName, Epoch, Payload, Publication, PublisherInfo};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A message from Redis that is not a publication Herald wrote.
#[derive(Debug, thiserror::Error)]
#[error("undecodable publication from Redis: {0}")]
pub struct DecodeError(pub String);

#[derive(Serialize)]
struct BodyOut<'a> {
    t: u64,
    x: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    c: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    u: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<&'a str>,
    d: &'a RawValue,
}

#[derive(Deserialize)]
struct BodyIn<'a> {
    t: u64,
    #[serde(default)]
    x: u64,
    #[serde(default, borrow)]
    c: Option<&'a str>,
    #[serde(default, borrow)]
    u: Option<&'a str>,
    #[serde(default, borrow)]
    k: Option<&'a str>,
    #[serde(borrow)]
    d: &'a RawValue,
}

/// Encode the body of a publication about to be published.
pub fn encode_body(
    data: &Payload,
    time_ms: u64,
    expires_ms: u64,
    publisher: Option<&PublisherInfo>,
    idempotency_key: Option<&str>,
) -> Result<Vec<u8>, DecodeError> {
    let d: &RawValue = serde_json::from_str(data.as_str()).map_err(|e| DecodeError(e.to_string()))?;
    let body = BodyOut {
        t: time_ms,
        x: expires_ms,
        c: publisher.map(|p| &*p.client),
        u: publisher.and_then(|p| p.user.as_deref()),
        k: idempotency_key,
        d,
    };
    serde_json::to_vec(&body).map_err(|e| DecodeError(e.to_string()))
}

/// A decoded body with its expiry (0 = never).
pub struct Decoded {
    /// The publication.
    pub publication: Arc<Publication>,
    /// When it leaves history, ms since the Unix epoch (0 = never).
    pub expires_ms: u64,
}

/// Decode a body stored at `offset` of `channel` in `epoch`.
pub fn decode_body(channel: &ChannelName, epoch: &Epoch, offset: u64, body: &[u8]) -> Result<Decoded, DecodeError> {
    let b: BodyIn<'_> = serde_json::from_slice(body).map_err(|e| DecodeError(e.to_string()))?;
    let data = Payload::from_json_text(bytes::Bytes::copy_from_slice(b.d.get().as_bytes()))
        .map_err(|e| DecodeError(e.message))?;
    let publisher = b.c.map(|c| PublisherInfo { client: Arc::from(c), user: b.u.map(Arc::from) });
    let publication = Arc::new(Publication {
        channel: channel.clone(),
        epoch: epoch.clone(),
        offset,
        data,
        time_ms: b.t,
        publisher,
        idempotency_key: b.k.map(Arc::from),
    });
    Ok(Decoded { publication, expires_ms: b.x })
}

/// Decode a pub/sub message (or remembered result) `"{offset} {epoch} {body}"`.
pub fn decode_message(channel: &ChannelName, message: &[u8]) -> Result<Decoded, DecodeError> {
    let bad = || DecodeError("expected \"offset epoch body\"".to_string());
    let sp1 = message.iter().position(|b| *b == b' ').ok_or_else(bad)?;
    let rest = &message[sp1 + 1..];
    let sp2 = rest.iter().position(|b| *b == b' ').ok_or_else(bad)?;
    let offset: u64 = std::str::from_utf8(&message[..sp1]).ok().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let epoch = std::str::from_utf8(&rest[..sp2]).map_err(|_| bad())?;
    decode_body(channel, &Epoch::from_string(epoch), offset, &rest[sp2 + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips() {
        let ch = ChannelName::new("chat:x").unwrap();
        let data = Payload::from_json_text(r#"{"text":"héllo \"q\""}"#).unwrap();
        let publisher = PublisherInfo { client: Arc::from("abc-1"), user: Some(Arc::from("u1")) };
        let body = encode_body(&data, 42, 0, Some(&publisher), Some("k1")).unwrap();
        let mut msg = b"17 AbCd1234 ".to_vec();
        msg.extend_from_slice(&body);
        let d = decode_message(&ch, &msg).unwrap();
        let p = &d.publication;
        assert_eq!((p.offset, p.epoch.as_str(), p.time_ms), (17, "AbCd1234", 42));
        assert_eq!(p.data, data);
        assert_eq!(p.publisher.as_ref(), Some(&publisher));
        assert_eq!(p.idempotency_key.as_deref(), Some("k1"));
        assert!(decode_message(&ch, b"nope").is_err());
        assert!(decode_message(&ch, b"x y {}").is_err());
    }
}
