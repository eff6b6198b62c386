//! SSE `Last-Event-ID` / `lastEventId=` values: parsing never panics, and
//! whatever parses formats back to the same id.
#![no_main]

use herald_server::sse::position_id::{format, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    if let Ok(id) = std::str::from_utf8(rest)
        && let Ok(positions) = parse(id, usize::from(n % 8) + 1)
    {
        assert_eq!(parse(&format(&positions), positions.len()).ok(), Some(positions));
    }
});
