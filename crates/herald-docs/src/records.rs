//! Versioned records with compare-and-set: a record is a `Y.Map` inside a
//! root map (`records.get(id)`), with a numeric `version` field. Clients
//! edit records as last-writer-wins maps; the server can also write a
//! record only if its version is still the one the caller read, as one step
//! under the document's lock (`docs/collaboration.md`).

use serde_json::{Map, Value};
use yrs::any::Number;
use yrs::{Any, Map as _, MapPrelim, MapRef, Out, ReadTxn, Transact};

use crate::DocError;
use crate::document::Document;

/// The field holding a record's version.
pub const VERSION: &str = "version";

/// What a compare-and-set wrote: the record's new version and the update.
pub struct Written {
    /// The version after the write (the expected one + 1).
    pub version: u64,
    /// The Yjs update to store and relay.
    pub update: Vec<u8>,
}

fn version_of<T: ReadTxn>(txn: &T, record: &MapRef) -> u64 {
    match record.get(txn, VERSION) {
        Some(Out::Any(Any::Number(n))) => n.as_i64().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
        _ => 0,
    }
}

/// Set `fields` on record `id` of root map `root` and bump its version,
/// if its version (0 when it does not exist) equals `expected`.
pub fn compare_and_set(
    doc: &Document,
    root: &str,
    id: &str,
    expected: u64,
    fields: &Map<String, Value>,
) -> Result<Written, DocError> {
    if fields.contains_key(VERSION) {
        return Err(DocError::Malformed(format!("\"{VERSION}\" is set by the server; leave it out of the fields")));
    }
    let mut values = Vec::with_capacity(fields.len());
    for (k, v) in fields {
        let any: Any = serde_json::from_value(v.clone())
            .map_err(|e| DocError::Malformed(format!("field {k:?} is not a storable value: {e}")))?;
        values.push((k.clone(), any));
    }
    let records = doc.doc().get_or_insert_map(root);
    let mut txn = doc.doc().transact_mut();
    let existing = match records.get(&txn, id) {
        Some(Out::YMap(m)) => Some(m),
        Some(_) => return Err(DocError::Malformed(format!("{root}[{id:?}] is not a map"))),
        None => None,
    };
    let current = existing.as_ref().map_or(0, |m| version_of(&txn, m));
    if current != expected {
        return Err(DocError::VersionConflict { id: id.to_string(), expected, current });
    }
    let record = match existing {
        Some(m) => m,
        None => records.insert(&mut txn, id, MapPrelim::default()),
    };
    for (k, v) in values {
        record.insert(&mut txn, k, v);
    }
    let version = current + 1;
    record.insert(&mut txn, VERSION, Any::Number(Number::Int(i64::try_from(version).unwrap_or(i64::MAX))));
    Ok(Written { version, update: txn.encode_update_v1() })
}
