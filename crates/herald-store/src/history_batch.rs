//! What every SQL history store does with an append batch before it writes:
//! group it by channel, find each stream's new top and the offsets its
//! retention drops, and when each publication expires (as SQL's `BIGINT`,
//! [`crate::sql_int`]).
//! Shared by the SQLite and PostgreSQL stores so both trim exactly like
//! `herald_core::MemoryStore`.

use std::collections::HashMap;
use std::sync::Arc;

use herald_core::{Publication, Retention};

use crate::sql_int::sat_i64;

/// When `p` expires under `r`, as stored (`None` = never).
pub(crate) fn expires_ms(p: &Publication, r: &Retention) -> Option<i64> {
    r.ttl.map(|t| sat_i64(p.time_ms.saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX))))
}

/// The publications of one channel within a batch, in batch order.
pub(crate) struct ChannelRows<'a> {
    pub(crate) channel: &'a str,
    /// The epoch of the channel's first publication in the batch, used if
    /// the stream does not exist yet.
    pub(crate) epoch: &'a str,
    pub(crate) rows: Vec<&'a (Arc<Publication>, Retention)>,
}

/// Group a batch by channel, channels in order of first appearance.
pub(crate) fn group(batch: &[(Arc<Publication>, Retention)]) -> Vec<ChannelRows<'_>> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<ChannelRows<'_>> = Vec::new();
    for item in batch {
        let channel = item.0.channel.as_str();
        let i = *index.entry(channel).or_insert_with(|| {
            groups.push(ChannelRows { channel, epoch: item.0.epoch.as_str(), rows: Vec::new() });
            groups.len() - 1
        });
        groups[i].rows.push(item);
    }
    groups
}

/// Walk one channel's rows as `MemoryStore` does, one at a time: `top` grows
/// to each offset and the stream then keeps only offsets above
/// `top - size`. Returns the final top and the highest such cutoff: every
/// offset at or below it is gone once the batch is applied.
pub(crate) fn top_and_cutoff(stored_top: u64, rows: &[&(Arc<Publication>, Retention)]) -> (u64, u64) {
    let mut top = stored_top;
    let mut cutoff = 0u64;
    for (p, r) in rows {
        top = top.max(p.offset);
        cutoff = cutoff.max(top.saturating_sub(u64::try_from(r.size).unwrap_or(u64::MAX)));
    }
    (top, cutoff)
}
