//! Phoenix frames of the Supabase door (text in both serializers, binary
//! broadcast pushes): decoding never panics, and a decoded binary push is a
//! `broadcast` whose payload names its event.
#![no_main]

use herald_server::supabase::frames::{Vsn, decode_binary, decode_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode_binary(Vsn::V2, data) {
        assert_eq!(m.event, "broadcast");
        assert!(m.payload.get("event").is_some_and(|e| e.is_string()));
    }
    let _ = decode_binary(Vsn::V1, data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_text(Vsn::V1, text);
        let _ = decode_text(Vsn::V2, text);
    }
});
