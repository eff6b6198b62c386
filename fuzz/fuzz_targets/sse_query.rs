//! The SSE door's query string (`/sse`, `/poll`, `/sse/publish`): decoding,
//! the `channel=` list, single-valued keys, the token lookup and the
//! `lastEventId`/`since` position never panic, and what is accepted obeys
//! the limits it was given.
#![no_main]

use herald_server::door::admission::request_token;
use herald_server::sse::request::{QueryParams, positions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let Ok(query) = std::str::from_utf8(rest) else { return };
    let max = usize::from(n % 8) + 1;
    let params = QueryParams::parse(Some(query));
    if let Ok(channels) = params.channels(max) {
        assert!(!channels.is_empty() && channels.len() <= max);
        if let Ok(Some(id)) = params.one("lastEventId")
            && let Ok(Some(p)) = positions(Some(id), channels.len())
        {
            assert_eq!(p.len(), channels.len());
        }
    }
    let _ = params.one("since");
    // The token lookup every HTTP door shares (door admission).
    if let Ok(uri) = format!("/sse?{query}").parse::<axum::http::Uri>() {
        let _ = request_token(&uri, &axum::http::HeaderMap::new());
    }
});
