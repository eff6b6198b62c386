//! Parsing of `Sec-WebSocket-Extensions` offers (RFC 6455 section 9.1) and
//! the permessage-deflate acceptance rules (RFC 7692 section 7).
//!
//! Grammar handled:
//!
//! ```text
//! extension-list = 1#extension
//! extension      = token *( ";" param )
//! param          = token [ "=" ( token / quoted-string ) ]
//! ```
//!
//! Commas and semicolons inside quoted strings do not split.

/// Whether one of the permessage-deflate offers in this header value can be
/// accepted. Offers are tried in order; other extensions are ignored.
pub(super) fn accepts_permessage_deflate(header_value: &[u8]) -> bool {
    split_unquoted(header_value, b',').any(offer_is_acceptable)
}

/// Decides a single offer: `permessage-deflate` followed by valid,
/// non-repeated parameters that this server can honour.
fn offer_is_acceptable(offer: &[u8]) -> bool {
    let mut parts = split_unquoted(offer, b';');
    let name = parts.next().unwrap_or_default().trim_ascii();
    if !name.eq_ignore_ascii_case(b"permessage-deflate") {
        return false;
    }
    let mut seen = Seen::default();
    for param in parts {
        let (key, value) = match param.iter().position(|&b| b == b'=') {
            Some(i) => (param[..i].trim_ascii(), Some(param[i + 1..].trim_ascii())),
            None => (param.trim_ascii(), None),
        };
        if !is_token(key) {
            return false;
        }
        let ok = if key.eq_ignore_ascii_case(b"server_no_context_takeover") {
            value.is_none() && seen.first(0)
        } else if key.eq_ignore_ascii_case(b"client_no_context_takeover") {
            value.is_none() && seen.first(1)
        } else if key.eq_ignore_ascii_case(b"server_max_window_bits") {
            // We always compress with a 15-bit window.
            value.and_then(window_bits) == Some(15) && seen.first(2)
        } else if key.eq_ignore_ascii_case(b"client_max_window_bits") {
            // Without a value the client merely signals support.
            value.is_none_or(|v| window_bits(v).is_some()) && seen.first(3)
        } else {
            false
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Tracks which of the four known parameters already appeared.
#[derive(Default)]
struct Seen([bool; 4]);

impl Seen {
    /// Marks parameter `i` as seen; false if it had been seen before.
    fn first(&mut self, i: usize) -> bool {
        !std::mem::replace(&mut self.0[i], true)
    }
}

/// Parses a window-bits value (token or quoted string): a decimal integer
/// from 8 to 15 without leading zeros.
fn window_bits(raw: &[u8]) -> Option<u8> {
    let mut digits = [0u8; 2];
    let mut len = 0;
    for b in unquote(raw)? {
        if len == digits.len() || !b.is_ascii_digit() {
            return None;
        }
        digits[len] = b;
        len += 1;
    }
    let bits = match &digits[..len] {
        [d] => d - b'0',
        [b'1', d] => 10 + (d - b'0'),
        _ => return None,
    };
    (8..=15).contains(&bits).then_some(bits)
}

/// The characters of a parameter value: a token as-is, or the unescaped
/// content of a quoted string. `None` if the value is neither.
fn unquote(raw: &[u8]) -> Option<impl Iterator<Item = u8> + '_> {
    let quoted = match raw {
        [b'"', inner @ .., b'"'] => Some(inner),
        _ if is_token(raw) => None,
        _ => return None,
    };
    if let Some(inner) = quoted {
        // A quoted string must not end in a lone backslash or contain an
        // unescaped quote.
        let mut escaped = false;
        for &b in inner {
            match (escaped, b) {
                (false, b'\\') => escaped = true,
                (false, b'"') => return None,
                _ => escaped = false,
            }
        }
        if escaped {
            return None;
        }
    }
    let body = quoted.unwrap_or(raw);
    let mut escaped = false;
    Some(body.iter().filter_map(move |&b| {
        if quoted.is_some() && !escaped && b == b'\\' {
            escaped = true;
            return None;
        }
        escaped = false;
        Some(b)
    }))
}

/// RFC 7230 `token`: one or more tchar.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Splits `s` at `sep` bytes that are not inside a quoted string.
fn split_unquoted(s: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let s = rest?;
        let mut in_quotes = false;
        let mut escaped = false;
        for (i, &b) in s.iter().enumerate() {
            if in_quotes {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_quotes = false,
                    _ => {}
                }
            } else if b == b'"' {
                in_quotes = true;
            } else if b == sep {
                rest = Some(&s[i + 1..]);
                return Some(&s[..i]);
            }
        }
        rest = None;
        Some(s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> bool {
        accepts_permessage_deflate(s.as_bytes())
    }

    #[test]
    fn plain_and_common_offers() {
        assert!(ok("permessage-deflate"));
        assert!(ok("permessage-deflate; client_max_window_bits"));
        assert!(ok("permessage-deflate;client_max_window_bits=10"));
        assert!(ok("permessage-deflate; client_max_window_bits=\"12\""));
        assert!(ok("permessage-deflate; server_max_window_bits=15"));
        assert!(ok("permessage-deflate; server_no_context_takeover; client_no_context_takeover"));
        assert!(ok("PerMessage-Deflate"));
    }

    #[test]
    fn invalid_offers_are_declined() {
        assert!(!ok(""));
        assert!(!ok("x-webkit-deflate-frame"));
        assert!(!ok("permessage-deflate; foo"));
        assert!(!ok("permessage-deflate; server_max_window_bits=10"));
        assert!(!ok("permessage-deflate; server_max_window_bits"));
        assert!(!ok("permessage-deflate; client_max_window_bits=16"));
        assert!(!ok("permessage-deflate; client_max_window_bits=7"));
        assert!(!ok("permessage-deflate; client_max_window_bits=09"));
        assert!(!ok("permessage-deflate; client_max_window_bits=\"1"));
        assert!(!ok("permessage-deflate; server_no_context_takeover=1"));
        assert!(!ok("permessage-deflate; client_no_context_takeover; client_no_context_takeover"));
        assert!(!ok("permessage-deflate;"));
    }

    #[test]
    fn falls_back_to_a_later_offer() {
        assert!(ok("permessage-deflate; server_max_window_bits=10, permessage-deflate"));
        assert!(ok("foo; a=\"x,y\", permessage-deflate; client_max_window_bits"));
        assert!(!ok("foo; a=\"x,permessage-deflate\""));
    }

    #[test]
    fn quoted_values_unescape() {
        assert_eq!(window_bits(b"\"1\\5\""), Some(15));
        assert_eq!(window_bits(b"\"\""), None);
        assert_eq!(window_bits(b"15"), Some(15));
        assert_eq!(window_bits(b"8"), Some(8));
        assert_eq!(window_bits(b"\"a\\\""), None);
    }

    #[test]
    fn split_respects_quotes() {
        let parts: Vec<&[u8]> = split_unquoted(b"a, b=\"c,d\", e", b',').collect();
        assert_eq!(parts, vec![&b"a"[..], b" b=\"c,d\"", b" e"]);
    }
}
