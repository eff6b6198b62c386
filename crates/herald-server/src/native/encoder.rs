//! The native protocol's wire variants: JSON text frames, plain or
//! compressed with permessage-deflate. One encoder per variant is shared by
//! every connection using it, so a publication is encoded (and compressed)
//! once per variant, whatever the number of subscribers.

use bytes::Bytes;
use herald_core::{ChannelEvent, WireEncoder};
use herald_protocol::encode;
use herald_ws::frame::{self, FrameEncoder};
use parking_lot::Mutex;

/// Encodes native-protocol JSON into WebSocket frames.
pub struct NativeEncoder {
    deflate: Option<Mutex<FrameEncoder>>,
}

impl NativeEncoder {
    /// Uncompressed text frames.
    pub fn plain() -> Self {
        Self { deflate: None }
    }

    /// permessage-deflate text frames (payloads under `threshold` go uncompressed).
    pub fn deflate(level: u32, threshold: usize) -> Self {
        let cfg = herald_ws::DeflateConfig { enabled: true, threshold, level };
        Self { deflate: Some(Mutex::new(FrameEncoder::new(&cfg))) }
    }

    /// A text frame carrying `json`.
    pub fn frame(&self, json: &[u8]) -> Bytes {
        match &self.deflate {
            Some(enc) => enc.lock().text_deflated(json),
            None => frame::text(json),
        }
    }
}

impl WireEncoder for NativeEncoder {
    fn encode(&self, event: &ChannelEvent<'_>) -> Bytes {
        self.frame(&encode::event(event))
    }

    fn format(&self) -> herald_core::WireFormat {
        herald_core::WireFormat::door("native", u32::from(self.deflate.is_some()))
    }
}
