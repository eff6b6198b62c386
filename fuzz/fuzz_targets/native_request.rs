//! Client frames of the native protocol: parsing never panics, and every
//! refusal carries a code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = herald_protocol::parse_request(text);
    }
});
