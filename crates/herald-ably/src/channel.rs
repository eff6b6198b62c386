//! Channel names with qualifiers (`[?rewind=10]chat:lobby`), rewind
//! values, and `channelSerial` — Herald's channel position `epoch:offset`.

use std::collections::BTreeMap;

use crate::error::{ErrorInfo, code};

/// A channel name and the params of its `[?…]` qualifier.
pub fn split_qualifier(name: &str) -> Result<(&str, BTreeMap<String, String>), ErrorInfo> {
    let Some(rest) = name.strip_prefix('[') else { return Ok((name, BTreeMap::new())) };
    let Some((qualifier, channel)) = rest.split_once(']') else {
        return Err(ErrorInfo::new(code::INVALID_CHANNEL_NAME, format!("unterminated qualifier in {name:?}")));
    };
    let Some(query) = qualifier.strip_prefix('?') else {
        return Err(ErrorInfo::new(code::INVALID_CHANNEL_NAME, format!("unsupported qualifier [{qualifier}]")));
    };
    let params = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect();
    Ok((channel, params))
}

/// How far back an attach replays history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewind {
    /// The last `n` messages.
    Count(usize),
    /// Messages from the last `ms` milliseconds.
    Millis(u64),
}

impl Rewind {
    /// Parse `10` (messages), `30s`, `2m` or `1h` (time).
    pub fn parse(s: &str) -> Result<Rewind, ErrorInfo> {
        let bad =
            || ErrorInfo::new(code::BAD_REQUEST, format!("rewind must be a count or a time like 30s or 2m, not {s:?}"));
        let s = s.trim();
        let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let ms = match unit {
            "" => return Ok(Rewind::Count(usize::try_from(n).map_err(|_| bad())?)),
            "ms" => n,
            "s" => n * 1000,
            "m" => n * 60_000,
            "h" => n * 3_600_000,
            _ => return Err(bad()),
        };
        Ok(Rewind::Millis(ms))
    }
}

/// `channelSerial` for a position: `epoch:offset`.
pub fn serial(epoch: &str, offset: u64) -> String {
    format!("{epoch}:{offset}")
}

/// The position in a `channelSerial` ([`serial`]), if it is one of Herald's.
pub fn parse_serial(s: &str) -> Option<(&str, u64)> {
    let (epoch, offset) = s.rsplit_once(':')?;
    Some((epoch, offset.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_rewinds_and_serials() {
        let (ch, p) = split_qualifier("[?rewind=10]chat:lobby").unwrap();
        assert_eq!((ch, p.get("rewind").map(String::as_str)), ("chat:lobby", Some("10")));
        assert_eq!(split_qualifier("plain").unwrap().0, "plain");
        assert!(split_qualifier("[meta]x").is_err());
        assert!(split_qualifier("[?rewind=1").is_err());
        assert_eq!(Rewind::parse("10").unwrap(), Rewind::Count(10));
        assert_eq!(Rewind::parse("2m").unwrap(), Rewind::Millis(120_000));
        assert!(Rewind::parse("ten").is_err());
        assert!(Rewind::parse("5d").is_err());
        assert_eq!(parse_serial(&serial("aB3", 42)), Some(("aB3", 42)));
        assert_eq!(parse_serial("nonsense"), None);
    }
}
