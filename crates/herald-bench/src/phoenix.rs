//! The Supabase Realtime dialect (Phoenix channels, `vsn=1.0.0` JSON
//! objects) as `@supabase/realtime-js` speaks it to Herald's Supabase door
//! (`docs/supabase.md`): `phx_join` on topic `realtime:{channel}`, client
//! broadcasts `{"type":"broadcast","event":…,"payload":…}`, and broadcasts
//! delivered with the payload as a JSON object (the stamps unescaped).

use std::io;

use crate::wire::{Conn, Dialect, contains};

/// The WebSocket path: any `apikey` in development mode (the bench's config).
pub const PATH: &str = "/realtime/v1/websocket?apikey=herald-bench&vsn=1.0.0";

/// The Phoenix topic of bench channel `channel` (Herald channel `realtime:{channel}`).
pub fn topic(channel: &str) -> String {
    format!("realtime:{channel}")
}

/// A broadcast push carrying the stamps (no ack asked, as realtime-js's default).
pub fn broadcast_text(channel: &str, id: u64, sent_ns: u64, sched_ns: u64, pad: &str) -> String {
    format!(
        "{{\"topic\":\"{}\",\"event\":\"broadcast\",\"ref\":\"{id}\",\"payload\":{{\"type\":\"broadcast\",\
         \"event\":\"bench\",\"payload\":{{\"ts\":{sent_ns},\"sch\":{sched_ns},\"pad\":\"{pad}\"}}}}}}",
        topic(channel)
    )
}

/// Whether a received frame is a broadcast (the generator's publications).
pub fn is_broadcast(payload: &[u8]) -> bool {
    contains(payload, b"\"event\":\"broadcast\"")
}

impl Conn {
    /// Joins `channel`'s topic with `broadcast.self` off and waits for the
    /// `ok` reply: the door replies once the subscription is live.
    pub async fn phoenix_join(&mut self, channel: &str, join_ref: usize) -> io::Result<()> {
        let topic = topic(channel);
        self.send_text(&format!(
            "{{\"topic\":\"{topic}\",\"event\":\"phx_join\",\"ref\":\"j{join_ref}\",\"join_ref\":\"j{join_ref}\",\
             \"payload\":{{\"config\":{{\"broadcast\":{{\"self\":false,\"ack\":false}}}}}}}}"
        ))
        .await?;
        let needle = format!("\"ref\":\"j{join_ref}\"");
        let reply = self
            .wait_for(Dialect::Supabase, |p| contains(p, b"\"event\":\"phx_reply\"") && contains(p, needle.as_bytes()))
            .await?;
        if !contains(&reply, b"\"status\":\"ok\"") {
            return Err(io::Error::other(format!("phx_join refused: {}", String::from_utf8_lossy(&reply))));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::find_u64;

    #[test]
    fn a_broadcast_carries_the_stamps_unescaped() {
        let t = broadcast_text("bench", 7, 11, 12, "xx");
        let v: serde_json::Value = serde_json::from_str(&t).expect("valid JSON");
        assert_eq!(v["topic"], "realtime:bench");
        assert_eq!(v["payload"]["payload"]["ts"], 11);
        assert!(is_broadcast(t.as_bytes()));
        assert_eq!(find_u64(t.as_bytes(), b"\"sch\":"), Some(12));
    }
}
