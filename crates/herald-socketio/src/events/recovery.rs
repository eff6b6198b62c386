//! Connection state recovery as socket.io 4.6+ defines it, on Herald's
//! positions.
//!
//! The client keeps the last string argument of every event it received
//! (`_lastOffset`) and, on reconnect, sends `{pid, offset}` in its CONNECT.
//! It reports `recovered === true` when the CONNECT reply carries the same
//! `pid`. Herald's positions are per channel, so the "offset" Herald appends
//! is a [`RecoveryVector`] token: the connection's position on **every**
//! channel it is subscribed to, right after that event. Given the token,
//! any node can restore the subscriptions and replay what was missed from
//! the hub's history: nothing is kept per session on the server, which is
//! why recovery also works when the reconnect lands on another node.
//!
//! Token: `<epoch>.<offset>.<channel>` per channel, in subscription order,
//! joined by `~` (`a81Xk2pQ.41.chat:lobby~Zk3p0Qa1.0.room:1`); `""` means
//! no subscriptions. Channel names cannot hold `~`, epochs are
//! alphanumeric. A token longer than the door's limit is written as
//! [`UNRECOVERABLE`], which makes the next reconnect a fresh session
//! (never a partial recovery).

use herald_core::{ChannelName, Epoch, HeraldError, Position, Publication};

/// The token of a connection whose positions do not fit the limit.
pub const UNRECOVERABLE: &str = "!";

/// Default longest token a connection sends (bytes): past it, [`UNRECOVERABLE`].
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// Longest epoch accepted in a token.
const MAX_EPOCH_LEN: usize = 32;

/// Longest `pid` accepted from a client.
pub const MAX_PID_LEN: usize = 64;

/// A connection's position on each subscribed channel, in subscription order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryVector {
    entries: Vec<(ChannelName, Position)>,
}

impl RecoveryVector {
    /// No subscriptions.
    pub fn new() -> Self {
        Self::default()
    }

    /// The channels and positions, in subscription order.
    pub fn entries(&self) -> &[(ChannelName, Position)] {
        &self.entries
    }

    /// Whether there are no subscriptions.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Record that the client has everything of `channel` up to `position`.
    /// Within one epoch a position never moves back (a live publication
    /// may be written before the subscribe's `herald:subscribed`); a new
    /// epoch replaces it.
    fn advance(&mut self, channel: &ChannelName, position: Position) {
        match self.entries.iter_mut().find(|(c, _)| c == channel) {
            Some((_, p)) if p.epoch == position.epoch => p.offset = p.offset.max(position.offset),
            Some((_, p)) => *p = position,
            None => self.entries.push((channel.clone(), position)),
        }
    }

    /// A subscription was acknowledged at `position` (the reply's epoch and offset).
    pub fn subscribed(&mut self, channel: &ChannelName, position: Position) {
        self.advance(channel, position);
    }

    /// A publication at `offset` in `epoch` was written to the connection
    /// (the channel is added if the vector did not hold it yet).
    pub fn delivered(&mut self, channel: &ChannelName, epoch: &Epoch, offset: u64) {
        self.advance(channel, Position { epoch: epoch.clone(), offset });
    }

    /// The subscription ended (by the client or the server).
    pub fn unsubscribed(&mut self, channel: &ChannelName) {
        self.entries.retain(|(c, _)| c != channel);
    }

    /// The token, or [`UNRECOVERABLE`] if it would exceed `max_len` bytes.
    pub fn token(&self, max_len: usize) -> String {
        let mut out = String::new();
        for (i, (channel, p)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push('~');
            }
            out.push_str(p.epoch.as_str());
            out.push('.');
            out.push_str(&p.offset.to_string());
            out.push('.');
            out.push_str(channel.as_str());
            if out.len() > max_len {
                return UNRECOVERABLE.to_string();
            }
        }
        out
    }

    /// Read a token sent back by a client, holding at most `max_channels`
    /// channels. Anything malformed (or [`UNRECOVERABLE`]) is refused: the
    /// reconnect is then a fresh session.
    pub fn parse(token: &str, max_channels: usize) -> Result<Self, HeraldError> {
        let bad = |why: &str| HeraldError::bad_request(format!("malformed recovery offset: {why}"));
        if token.is_empty() {
            return Ok(Self::new());
        }
        let mut entries: Vec<(ChannelName, Position)> = Vec::new();
        for part in token.split('~') {
            if entries.len() == max_channels {
                return Err(bad("too many channels"));
            }
            let mut fields = part.splitn(3, '.');
            let (Some(epoch), Some(offset), Some(channel)) = (fields.next(), fields.next(), fields.next()) else {
                return Err(bad("expected <epoch>.<offset>.<channel>"));
            };
            if epoch.is_empty() || epoch.len() > MAX_EPOCH_LEN || !epoch.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad("invalid epoch"));
            }
            let canonical = offset == "0" || (!offset.starts_with('0') && offset.bytes().all(|b| b.is_ascii_digit()));
            let offset = offset.parse::<u64>().ok().filter(|_| canonical).ok_or_else(|| bad("invalid offset"))?;
            let channel = ChannelName::new(channel)?;
            if entries.iter().any(|(c, _)| *c == channel) {
                return Err(bad("a channel is listed twice"));
            }
            entries.push((channel, Position { epoch: Epoch::from_string(epoch), offset }));
        }
        Ok(Self { entries })
    }
}

impl RecoveryVector {
    /// The writer's step for each queued frame, in queue order: a
    /// publication (`publication` is the queue item's), a
    /// `herald:subscribed` or a `herald:unsubscribed` frame updates the
    /// vector and comes back with the token appended; any other frame is
    /// written as it is (`None`).
    pub fn stamp(&mut self, frame: &[u8], publication: Option<&Publication>, max_len: usize) -> Option<Vec<u8>> {
        if let Some(p) = publication {
            self.delivered(&p.channel, &p.epoch, p.offset);
        } else if frame.starts_with(SUBSCRIBED_PREFIX.as_bytes()) {
            let (channel, position) = subscribed_fields(frame)?;
            self.subscribed(&channel, position);
        } else if frame.starts_with(UNSUBSCRIBED_PREFIX.as_bytes()) {
            let (channel, _) = subscribed_fields(frame)?;
            self.unsubscribed(&channel);
        } else {
            return None;
        }
        Some(with_token(frame, &self.token(max_len)))
    }
}

const SUBSCRIBED_PREFIX: &str = "42[\"herald:subscribed\",";
const UNSUBSCRIBED_PREFIX: &str = "42[\"herald:unsubscribed\",";

#[derive(serde::Deserialize)]
struct ChannelFields {
    channel: String,
    epoch: Option<String>,
    offset: Option<u64>,
}

/// The channel (and position, for `herald:subscribed`) a Herald event frame names.
fn subscribed_fields(frame: &[u8]) -> Option<(ChannelName, Position)> {
    let text = std::str::from_utf8(frame).ok()?.strip_prefix('4')?;
    let packet = crate::socketio::Packet::decode(text, 0).ok()?;
    let (_, args) = packet.event().ok()?;
    let fields: ChannelFields = serde_json::from_str(args.first()?.get()).ok()?;
    let position =
        Position { epoch: Epoch::from_string(fields.epoch.unwrap_or_default()), offset: fields.offset.unwrap_or(0) };
    Some((ChannelName::new(&fields.channel).ok()?, position))
}

/// Whether a client's `pid` is one Herald could have issued (echoed back
/// only after a complete recovery).
pub fn valid_pid(pid: &str) -> bool {
    !pid.is_empty()
        && pid.len() <= MAX_PID_LEN
        && pid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Append `token` as the last argument of an event frame (`…]` →
/// `…,"token"]`): the frame is shared by every subscriber, the token is
/// the connection's. Frames not ending in `]` are returned as they are.
pub fn with_token(frame: &[u8], token: &str) -> Vec<u8> {
    let Some((b']', head)) = frame.split_last() else {
        return frame.to_vec();
    };
    let quoted = serde_json::to_string(token).unwrap_or_default();
    let mut out = Vec::with_capacity(frame.len() + quoted.len() + 1);
    out.extend_from_slice(head);
    out.push(b',');
    out.extend_from_slice(quoted.as_bytes());
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(s: &str) -> ChannelName {
        ChannelName::new(s).unwrap()
    }

    fn pos(e: &str, o: u64) -> Position {
        Position { epoch: Epoch::from_string(e), offset: o }
    }

    #[test]
    fn follows_subscriptions_and_deliveries() {
        let mut v = RecoveryVector::new();
        assert_eq!(v.token(100), "");
        v.subscribed(&ch("chat:lobby"), pos("a81Xk2pQ", 41));
        v.subscribed(&ch("room:1"), pos("Zk3p0Qa1", 0));
        v.delivered(&ch("chat:lobby"), &Epoch::from_string("a81Xk2pQ"), 42);
        let token = v.token(1000);
        assert_eq!(token, "a81Xk2pQ.42.chat:lobby~Zk3p0Qa1.0.room:1");
        assert_eq!(RecoveryVector::parse(&token, 10).unwrap(), v);
        v.unsubscribed(&ch("chat:lobby"));
        assert_eq!(v.token(1000), "Zk3p0Qa1.0.room:1");
        assert_eq!(v.token(5), UNRECOVERABLE);
    }

    #[test]
    fn positions_never_move_back_within_an_epoch() {
        let mut v = RecoveryVector::new();
        let a = ch("a");
        v.delivered(&a, &Epoch::from_string("e1"), 5);
        v.subscribed(&a, pos("e1", 4));
        assert_eq!(v.entries(), &[(a.clone(), pos("e1", 5))]);
        v.subscribed(&a, pos("e2", 0));
        assert_eq!(v.entries(), &[(a, pos("e2", 0))]);
    }

    #[test]
    fn the_writer_stamps_what_the_offset_must_follow() {
        use crate::events::requests::{subscribed_event, unsubscribed_event};
        let mut v = RecoveryVector::new();
        let a = ch("chat:a");
        let sub = subscribed_event(&a, &pos("e1", 3));
        let stamped = v.stamp(sub.as_bytes(), None, 1000).unwrap();
        assert!(stamped.ends_with(br#","e1.3.chat:a"]"#));
        let p = Publication {
            channel: a.clone(),
            epoch: Epoch::from_string("e1"),
            offset: 4,
            data: herald_core::Payload::from_json_text("1").unwrap(),
            time_ms: 0,
            publisher: None,
            idempotency_key: None,
        };
        let frame = crate::events::publication_event(&p);
        let stamped = v.stamp(frame.as_bytes(), Some(&p), 1000).unwrap();
        assert!(stamped.ends_with(br#"},"e1.4.chat:a"]"#));
        assert_eq!(v.stamp(br#"42["herald:join",{"channel":"chat:a"}]"#, None, 1000), None);
        let unsub = unsubscribed_event(&a);
        assert!(v.stamp(unsub.as_bytes(), None, 1000).unwrap().ends_with(br#"},""]"#));
        assert!(v.is_empty());
        let server_ended = br#"42["herald:unsubscribed",{"channel":"x:y","error":{"code":116}}]"#;
        v.subscribed(&ch("x:y"), pos("e", 1));
        assert!(v.stamp(server_ended, None, 1000).is_some());
        assert!(v.is_empty());
    }

    #[test]
    fn channel_names_may_hold_dots() {
        let v = RecoveryVector::parse("e1.7.a.b.c", 1).unwrap();
        assert_eq!(v.entries(), &[(ch("a.b.c"), pos("e1", 7))]);
    }

    #[test]
    fn refuses_malformed_tokens() {
        for token in [
            UNRECOVERABLE,
            "e1.7",
            "e1..a",
            "e1.07.a",
            "e1.-1.a",
            ".7.a",
            "e-1.7.a",
            "e1.7.bad name",
            "e1.7.a~e2.8.a",
            "e1.7.a~",
            "e1.99999999999999999999.a",
        ] {
            assert!(RecoveryVector::parse(token, 10).is_err(), "{token:?}");
        }
        assert!(RecoveryVector::parse("e1.1.a~e1.1.b", 1).is_err());
    }

    #[test]
    fn tokens_are_appended_to_frames() {
        assert_eq!(with_token(br#"42["tick",1]"#, "Q8soTg5"), br#"42["tick",1,"Q8soTg5"]"#.to_vec());
        assert_eq!(with_token(b"40", "x"), b"40".to_vec());
        assert_eq!(with_token(b"", "x"), b"".to_vec());
    }

    #[test]
    fn pids() {
        assert!(valid_pid("RuN2eN54w4hfKeliAAAG"));
        assert!(!valid_pid(""));
        assert!(!valid_pid("a b"));
        assert!(!valid_pid(&"a".repeat(65)));
    }
}
