//! JSON request bodies of the HTTP routes: one parse with the protocol's
//! codes, so every route refuses a bad body the same way.

use herald_core::{ErrorCode, HeraldError};
use serde::Deserialize;

/// Parse a JSON request body: 108 when it is not JSON (broken, truncated,
/// empty, text after the value), 107 when it is JSON of the wrong shape —
/// as the native door classifies a frame.
pub(crate) fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, HeraldError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            HeraldError::bad_request(format!("request body does not match the documented shape: {e}"))
        } else {
            HeraldError::new(ErrorCode::MalformedJson, format!("request body is not valid JSON: {e}"))
        }
    })
}
