//! The SSE wire variant: a channel event as the `event:` and `data:` lines of
//! one Server-Sent Event, encoded once per fan-out and shared by every SSE
//! subscriber. The `id:` line and the blank line that ends the event are
//! per connection (positions differ), so the writer adds them.

use bytes::Bytes;
use herald_core::{ChannelEvent, WireEncoder};
use herald_protocol::encode;

/// Event name of a server-ended subscription (a stream gap): the stream ends
/// after it, so the client reconnects with its `Last-Event-ID` and recovers.
pub const ERROR_EVENT: &str = "error";

/// Encodes channel events as SSE `event:`/`data:` lines. `data` is the
/// native protocol's push object on one line.
#[derive(Debug, Default)]
pub struct SseEncoder;

impl SseEncoder {
    /// `event: NAME\ndata: JSON\n` (no `id:`, no terminating blank line).
    /// Raw line breaks in `json` can only be JSON whitespace, so they become spaces.
    pub fn lines(name: &str, json: &[u8]) -> Bytes {
        let mut buf = Vec::with_capacity(json.len() + name.len() + 16);
        buf.extend_from_slice(b"event: ");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\ndata: ");
        buf.extend(json.iter().map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
        buf.push(b'\n');
        Bytes::from(buf)
    }

    /// Split lines made by [`SseEncoder::lines`] back into event name and data.
    pub fn split(frame: &[u8]) -> Option<(&str, &str)> {
        let text = std::str::from_utf8(frame).ok()?;
        let rest = text.strip_prefix("event: ")?;
        let (name, rest) = rest.split_once('\n')?;
        let data = rest.strip_prefix("data: ")?.strip_suffix('\n')?;
        Some((name, data))
    }

    /// Whether `frame` is an [`ERROR_EVENT`].
    pub fn is_error(frame: &[u8]) -> bool {
        Self::split(frame).is_some_and(|(name, _)| name == ERROR_EVENT)
    }
}

/// The SSE event name of a channel event.
pub fn event_name(event: &ChannelEvent<'_>) -> &'static str {
    match event {
        ChannelEvent::Publication(_) => "publication",
        ChannelEvent::Join(..) => "join",
        ChannelEvent::Leave(..) => "leave",
        ChannelEvent::Unsubscribed(..) => ERROR_EVENT,
        ChannelEvent::Client { .. } => "event",
        ChannelEvent::PresenceUpdate(..) => "presence_update",
        ChannelEvent::Typing { .. } => "typing",
        ChannelEvent::Read { .. } => "read",
        ChannelEvent::Notification(..) => "notification",
        ChannelEvent::Unread(_) => "unread",
    }
}

impl WireEncoder for SseEncoder {
    fn encode(&self, event: &ChannelEvent<'_>) -> Bytes {
        Self::lines(event_name(event), &encode::event(event))
    }

    fn format(&self) -> herald_core::WireFormat {
        herald_core::WireFormat::door("sse", 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_stay_on_one_line() {
        let f = SseEncoder::lines("publication", b"{\"a\":\n 1}");
        assert_eq!(&f[..], b"event: publication\ndata: {\"a\":  1}\n");
        assert_eq!(SseEncoder::split(&f), Some(("publication", "{\"a\":  1}")));
        assert!(!SseEncoder::is_error(&f));
        assert!(SseEncoder::is_error(&SseEncoder::lines("error", b"{}")));
    }
}
