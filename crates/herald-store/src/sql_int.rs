//! Herald's unsigned integers (offsets, times, ids, counts) and SQL's signed
//! 64-bit `BIGINT`, both ways, for both SQL stores.

use herald_core::StoreError;

/// A `u64` as SQL's signed 64-bit integer, saturating. Used for times,
/// ids, limits and bounds, where `i64::MAX` (year 292 million) means "never".
pub(crate) fn sat_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// An offset as stored: offsets beyond `i64::MAX` cannot be stored.
pub(crate) fn offset_i64(offset: u64) -> Result<i64, StoreError> {
    i64::try_from(offset).map_err(|_| StoreError(format!("offset {offset} is too large to store")))
}

/// A stored non-negative integer of history back to `u64`; a negative one is
/// a corrupt row (recovery must not read through it).
pub(crate) fn stored_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError(format!("corrupt history row: negative {what} {v}")))
}

/// A stored id, count or time back to `u64`; a negative one reads as 0.
pub(crate) fn lenient_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
