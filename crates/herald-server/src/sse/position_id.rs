//! The SSE event id: the client's position on every channel it follows, so
//! a browser's automatic reconnect (`Last-Event-ID`) or a long-poll `since`
//! resumes every channel at once.
//!
//! Format: one `<epoch>.<offset>` per channel, in the order the channels are
//! listed in the request, joined by `~`: `a81Xk2pQ.41~Zk3p0Qa1.0`. Epochs are
//! 1–32 characters of `[0-9A-Za-z]`, offsets decimal without leading zeros.
//! Every character is URL-safe. Parsing is strict: anything else, or a
//! different number of positions than channels, is refused with 107.

use herald_core::{Epoch, HeraldError, Position};

/// Longest epoch accepted in an id.
pub const MAX_EPOCH_LEN: usize = 32;

/// Separates channels in an id.
pub const CHANNEL_SEPARATOR: char = '~';

/// The id for `positions` (one per channel, in request order).
pub fn format(positions: &[Position]) -> String {
    let mut out = String::with_capacity(positions.len() * 16);
    for (i, p) in positions.iter().enumerate() {
        if i > 0 {
            out.push(CHANNEL_SEPARATOR);
        }
        out.push_str(p.epoch.as_str());
        out.push('.');
        out.push_str(&p.offset.to_string());
    }
    out
}

/// Parse an id for a request listing `channels` channels.
pub fn parse(id: &str, channels: usize) -> Result<Vec<Position>, HeraldError> {
    let bad = |why: &str| HeraldError::bad_request(format!("malformed event id (Last-Event-ID / since): {why}"));
    if id.len() > channels * (MAX_EPOCH_LEN + 22) {
        return Err(bad("too long"));
    }
    let parts: Vec<&str> = id.split(CHANNEL_SEPARATOR).collect();
    if parts.len() != channels {
        return Err(bad(&format!("it holds {} positions for {channels} channels", parts.len())));
    }
    parts
        .into_iter()
        .map(|part| {
            let (epoch, offset) = part.split_once('.').ok_or_else(|| bad("expected <epoch>.<offset>"))?;
            if epoch.is_empty() || epoch.len() > MAX_EPOCH_LEN || !epoch.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad("invalid epoch"));
            }
            let canonical =
                !offset.is_empty() && offset.bytes().all(|b| b.is_ascii_digit()) && !offset.starts_with('0')
                    || offset == "0";
            let offset = offset.parse::<u64>().ok().filter(|_| canonical).ok_or_else(|| bad("invalid offset"))?;
            Ok(Position { epoch: Epoch::from_string(epoch), offset })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(e: &str, o: u64) -> Position {
        Position { epoch: Epoch::from_string(e), offset: o }
    }

    #[test]
    fn round_trips() {
        let ps = vec![pos("a81Xk2pQ", 41), pos("Zk3p0Qa1", 0)];
        let id = format(&ps);
        assert_eq!(id, "a81Xk2pQ.41~Zk3p0Qa1.0");
        assert_eq!(parse(&id, 2).unwrap(), ps);
    }

    #[test]
    fn refuses_anything_else() {
        for (id, n) in [
            ("", 1),
            ("a.1", 2),
            ("a.1~b.2", 1),
            ("a1", 1),
            ("a.", 1),
            (".1", 1),
            ("a.01", 1),
            ("a.-1", 1),
            ("a.+1", 1),
            ("a.1.2", 1),
            ("a b.1", 1),
            ("a.18446744073709551616", 1),
            ("a.1~", 1),
        ] {
            assert!(parse(id, n).is_err(), "{id:?} for {n} channels");
        }
        assert!(parse(&format!("{}.1", "x".repeat(33)), 1).is_err());
    }
}
