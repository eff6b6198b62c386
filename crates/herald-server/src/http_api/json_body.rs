//! JSON request bodies of the HTTP routes: one parse with the protocol's
//! codes, so every route refuses a bad body the same way.

use herald_core::{ErrorCode, HeraldError};
use serde::Deserialize;

/// Parse a JSON request body: 108 when it is not JSON, 107 when its shape is wrong.
pub(crate) fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, HeraldError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() || e.is_eof() && !body.is_empty() {
            HeraldError::bad_request(format!("request body does not match the documented shape: {e}"))
        } else {
            HeraldError::new(ErrorCode::MalformedJson, format!("request body is not valid JSON: {e}"))
        }
    })
}
