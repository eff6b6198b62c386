//! WebSocket framing from a client: any byte stream, with and without
//! permessage-deflate, ends in messages or an error, never a panic, and
//! never more memory than the configured limits.
#![no_main]

use herald_ws::handshake::DeflateParams;
use herald_ws::{ReaderConfig, WsReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else { return };
    let deflate = (flags & 1 == 1).then_some(DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    });
    let cfg = ReaderConfig { max_message_size: 64 * 1024, max_frame_size: 64 * 1024 };
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    rt.block_on(async {
        let mut reader = WsReader::new(bytes, cfg, deflate);
        for _ in 0..64 {
            match reader.next().await {
                Ok(Some(_)) => {}
                _ => break,
            }
        }
    });
});
