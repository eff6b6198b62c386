//! The recovery decision: given where a client was and what history holds,
//! either every missed publication is returned (`recovered: true`) or none is
//! (`recovered: false`). Never a partial replay.

use std::sync::Arc;

use crate::broker::HistoryPage;
use crate::position::Position;
use crate::publication::Publication;

/// The result of trying to recover a subscription.
#[derive(Debug, Clone)]
pub struct Recovery {
    /// Whether every missed publication is in `publications`.
    pub recovered: bool,
    /// The missed publications (empty unless recovered).
    pub publications: Vec<Arc<Publication>>,
}

/// Decide recovery from `since` against a forward history page read with
/// `since: since.offset` and `limit: recovery_max + 1`.
pub fn decide(since: &Position, page: HistoryPage, recovery_max: usize) -> Recovery {
    let refused = Recovery { recovered: false, publications: Vec::new() };
    if page.top.epoch != since.epoch || page.top.offset < since.offset {
        return refused;
    }
    let missed = page.top.offset - since.offset;
    if missed == 0 {
        return Recovery { recovered: true, publications: Vec::new() };
    }
    if missed > recovery_max as u64 {
        return refused;
    }
    let pubs = page.publications;
    let contiguous =
        pubs.len() as u64 == missed && pubs.iter().enumerate().all(|(i, p)| p.offset == since.offset + 1 + i as u64);
    if contiguous { Recovery { recovered: true, publications: pubs } } else { refused }
}
