//! The Ably dialect (protocol v6, `format=json`) as ably-js speaks it to
//! Herald's Ably door (`docs/ably.md`): key auth in the query, CONNECTED
//! first, ATTACH/ATTACHED, MESSAGE with a `msgSerial` (ACKed), and MESSAGE
//! deliveries whose JSON `data` arrives as a string with `encoding: "json"`
//! (the stamps escaped). MessagePack (the Node client's default) is not
//! driven: the stamps would have to be decoded from binary frames.

use std::io;

use crate::wire::{Conn, Dialect, contains};

/// The API key the bench's herald is started with (`HERALD_ABLY_KEY`).
pub const KEY: &str = "herald-bench.key:bench-secret";

/// The WebSocket path: key auth, JSON, no echo of one's own messages.
pub const PATH: &str = "/?key=herald-bench.key:bench-secret&format=json&v=6&echo=false&heartbeats=false";

/// A MESSAGE protocol message carrying the stamps as JSON-encoded `data`.
pub fn message_text(channel: &str, serial: u64, sent_ns: u64, sched_ns: u64, pad: &str) -> String {
    format!(
        "{{\"action\":15,\"channel\":\"{channel}\",\"msgSerial\":{serial},\"messages\":[{{\"name\":\"bench\",\
         \"encoding\":\"json\",\"data\":\"{{\\\"ts\\\":{sent_ns},\\\"sch\\\":{sched_ns},\\\"pad\\\":\\\"{pad}\\\"}}\"}}]}}"
    )
}

/// Whether a received frame is a MESSAGE (the generator's publications).
pub fn is_message(payload: &[u8]) -> bool {
    contains(payload, b"\"action\":15")
}

impl Conn {
    /// Waits for CONNECTED; with a channel, ATTACHes and waits for ATTACHED.
    pub async fn ably_join(&mut self, attach: Option<&str>) -> io::Result<()> {
        let refused =
            |what: &str, p: &[u8]| io::Error::other(format!("{what} refused: {}", String::from_utf8_lossy(p)));
        let first =
            self.wait_for(Dialect::Ably, |p| contains(p, b"\"action\":4") || contains(p, b"\"action\":9")).await?;
        if !contains(&first, b"\"action\":4") {
            return Err(refused("connection", &first));
        }
        if let Some(channel) = attach {
            self.send_text(&format!("{{\"action\":10,\"channel\":\"{channel}\"}}")).await?;
            let reply = self
                .wait_for(Dialect::Ably, |p| {
                    contains(p, b"\"action\":11") || contains(p, b"\"action\":9") || contains(p, b"\"action\":13")
                })
                .await?;
            if !contains(&reply, b"\"action\":11") {
                return Err(refused("attach", &reply));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_carries_the_stamps_as_json_encoded_data() {
        let t = message_text("bench", 3, 11, 12, "xx");
        let v: serde_json::Value = serde_json::from_str(&t).expect("valid JSON");
        assert_eq!(v["msgSerial"], 3);
        let data: serde_json::Value = serde_json::from_str(v["messages"][0]["data"].as_str().unwrap()).unwrap();
        assert_eq!((data["ts"].as_u64(), data["sch"].as_u64()), (Some(11), Some(12)));
        assert!(is_message(t.as_bytes()));
        assert!(PATH.contains(KEY));
    }
}
