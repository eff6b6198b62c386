//! `ChangeDecoder`: `pgoutput` messages in, change events out. Keeps the
//! relation cache (one entry per table, replaced by each Relation message)
//! and the open transaction (commit LSN, commit time, change index). Sans-IO.
//!
//! The event every subscriber receives:
//! `{"type":"INSERT"|"UPDATE"|"DELETE"|"TRUNCATE","schema","table",
//!   "commit_timestamp","columns":[{"name","type"}],"new","old"}` plus
//! `"unchanged":["col",…]` when an UPDATE left TOASTed columns out (they are
//! not in `new`: their value did not change and PostgreSQL did not send it).
//! `old` is the whole old row with `REPLICA IDENTITY FULL`, else the key
//! columns only (for an UPDATE that did not change the key, taken from the
//! new row); `null` when the table has no replica identity.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::pgoutput::{self, DecodeError, Lsn, Message, OldImage, Relation, TupleData, TupleValue};
use crate::timestamp::pg_micros_to_iso;
use crate::values::{binary_to_json, builtin_type_name, text_to_json};

/// Where a change is in the stream: its transaction's commit LSN and its
/// index within the transaction (from 0). Totally ordered like the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeId {
    /// The transaction's commit LSN.
    pub commit_lsn: Lsn,
    /// Index of the change within the transaction.
    pub index: u32,
}

impl ChangeId {
    /// The publish idempotency key: `pg:<commit lsn, 16 hex>:<index, 8 hex>`.
    pub fn key(&self) -> String {
        format!("pg:{:016X}:{:08X}", self.commit_lsn, self.index)
    }

    /// Parse [`ChangeId::key`].
    pub fn from_key(key: &str) -> Option<ChangeId> {
        let rest = key.strip_prefix("pg:")?;
        let (lsn, index) = rest.split_once(':')?;
        Some(ChangeId { commit_lsn: u64::from_str_radix(lsn, 16).ok()?, index: u32::from_str_radix(index, 16).ok()? })
    }
}

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// INSERT.
    Insert,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// TRUNCATE (the whole table).
    Truncate,
}

impl ChangeKind {
    /// `INSERT`, `UPDATE`, `DELETE` or `TRUNCATE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Insert => "INSERT",
            ChangeKind::Update => "UPDATE",
            ChangeKind::Delete => "DELETE",
            ChangeKind::Truncate => "TRUNCATE",
        }
    }
}

/// One change, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    /// Its position in the stream.
    pub id: ChangeId,
    /// The table's schema.
    pub schema: String,
    /// The table's name.
    pub table: String,
    /// What happened.
    pub kind: ChangeKind,
    /// The event as JSON.
    pub body: Value,
}

/// A table's columns: name and type name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableColumns {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// (column name, type name, type OID).
    pub columns: Vec<(String, String, u32)>,
}

/// What one message produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// Nothing to publish (Begin, Type, a message outside a transaction…).
    Nothing,
    /// A table's description arrived or changed.
    Relation(TableColumns),
    /// Changes to publish, in order.
    Changes(Vec<ChangeEvent>),
    /// The transaction committed; the stream continues at `end_lsn`, which
    /// may be confirmed once every change before it is durable.
    Committed {
        /// The end of the commit record.
        end_lsn: Lsn,
    },
}

/// Why a message could not be turned into changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The bytes were not a valid message.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A change named a relation no Relation message described.
    #[error("change for relation {0} before its Relation message")]
    UnknownRelation(u32),
    /// A row had a different number of columns than its relation.
    #[error("row of {table} has {got} columns, its relation {expected}")]
    ColumnCount {
        /// The table.
        table: String,
        /// Columns in the relation.
        expected: usize,
        /// Columns in the row.
        got: usize,
    },
}

struct Transaction {
    commit_lsn: Lsn,
    commit_timestamp: String,
    next_index: u32,
}

/// The relation cache and the open transaction.
#[derive(Default)]
pub struct ChangeDecoder {
    relations: HashMap<u32, Relation>,
    type_names: HashMap<u32, String>,
    transaction: Option<Transaction>,
}

impl ChangeDecoder {
    /// A decoder with an empty relation cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decode one XLogData body.
    pub fn decode(&mut self, bytes: &Bytes) -> Result<Decoded, ChangeError> {
        let message = pgoutput::decode(bytes)?;
        self.handle(message)
    }

    /// Whether a transaction is open (its changes are not all seen yet).
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// Handle one decoded message.
    pub fn handle(&mut self, message: Message) -> Result<Decoded, ChangeError> {
        Ok(match message {
            Message::Begin { final_lsn, commit_time, .. } => {
                self.transaction = Some(Transaction {
                    commit_lsn: final_lsn,
                    commit_timestamp: pg_micros_to_iso(commit_time),
                    next_index: 0,
                });
                Decoded::Nothing
            }
            Message::Commit { end_lsn, .. } => {
                self.transaction = None;
                Decoded::Committed { end_lsn }
            }
            Message::Relation(r) => {
                let columns = TableColumns {
                    schema: r.schema.clone(),
                    table: r.name.clone(),
                    columns: r
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), self.type_name(c.type_oid), c.type_oid))
                        .collect(),
                };
                self.relations.insert(r.id, r);
                Decoded::Relation(columns)
            }
            Message::Type { id, name, .. } => {
                self.type_names.insert(id, name);
                Decoded::Nothing
            }
            Message::Insert { relation, new } => {
                let rel = self.relation(relation)?;
                let (new, unchanged) = row(rel, &new, |_| true)?;
                self.changes(vec![(ChangeKind::Insert, relation, Value::Object(new), Value::Null, unchanged)])?
            }
            Message::Update { relation, old, new } => {
                let rel = self.relation(relation)?;
                let (new_row, unchanged) = row(rel, &new, |_| true)?;
                let old = match old {
                    Some((OldImage::Full, old)) => Value::Object(row(rel, &old, |_| true)?.0),
                    Some((OldImage::Key, old)) => Value::Object(row(rel, &old, |key| key)?.0),
                    // The key did not change: it is in the new row.
                    None if rel.columns.iter().any(|c| c.key) => Value::Object(row(rel, &new, |key| key)?.0),
                    None => Value::Null,
                };
                self.changes(vec![(ChangeKind::Update, relation, Value::Object(new_row), old, unchanged)])?
            }
            Message::Delete { relation, old: (image, old) } => {
                let rel = self.relation(relation)?;
                let old = row(rel, &old, |key| key || image == OldImage::Full)?.0;
                self.changes(vec![(ChangeKind::Delete, relation, Value::Null, Value::Object(old), Vec::new())])?
            }
            Message::Truncate { relations, .. } => {
                let list = relations
                    .into_iter()
                    .map(|r| (ChangeKind::Truncate, r, Value::Null, Value::Null, Vec::new()))
                    .collect();
                self.changes(list)?
            }
            Message::Other(_) => Decoded::Nothing,
        })
    }

    /// The columns of every table seen so far.
    pub fn tables(&self) -> Vec<TableColumns> {
        self.relations
            .values()
            .map(|r| TableColumns {
                schema: r.schema.clone(),
                table: r.name.clone(),
                columns: r.columns.iter().map(|c| (c.name.clone(), self.type_name(c.type_oid), c.type_oid)).collect(),
            })
            .collect()
    }

    fn relation(&self, id: u32) -> Result<&Relation, ChangeError> {
        self.relations.get(&id).ok_or(ChangeError::UnknownRelation(id))
    }

    fn type_name(&self, type_oid: u32) -> String {
        match builtin_type_name(type_oid) {
            Some(n) => n.to_string(),
            None => self.type_names.get(&type_oid).cloned().unwrap_or_else(|| format!("oid:{type_oid}")),
        }
    }

    fn changes(&mut self, list: Vec<(ChangeKind, u32, Value, Value, Vec<String>)>) -> Result<Decoded, ChangeError> {
        let mut out = Vec::with_capacity(list.len());
        for (kind, relation, new, old, unchanged) in list {
            let rel = self.relation(relation)?;
            let (schema, table) = (rel.schema.clone(), rel.name.clone());
            let columns: Vec<Value> = rel
                .columns
                .iter()
                .map(|c| serde_json::json!({ "name": c.name, "type": self.type_name(c.type_oid) }))
                .collect();
            // Changes outside a transaction do not happen with pgoutput; if
            // one did, it gets no position and is not published.
            let Some(tx) = self.transaction.as_mut() else { continue };
            let id = ChangeId { commit_lsn: tx.commit_lsn, index: tx.next_index };
            tx.next_index += 1;
            let mut body = Map::new();
            body.insert("type".into(), Value::from(kind.as_str()));
            body.insert("schema".into(), Value::from(schema.as_str()));
            body.insert("table".into(), Value::from(table.as_str()));
            body.insert("commit_timestamp".into(), Value::from(tx.commit_timestamp.as_str()));
            body.insert("columns".into(), Value::Array(columns));
            body.insert("new".into(), new);
            body.insert("old".into(), old);
            if !unchanged.is_empty() {
                body.insert("unchanged".into(), Value::from(unchanged));
            }
            out.push(ChangeEvent { id, schema, table, kind, body: Value::Object(body) });
        }
        Ok(Decoded::Changes(out))
    }
}

/// A row as a JSON object of the columns `include(key)` selects, plus the
/// names of unchanged TOAST columns (left out of the object).
fn row(
    rel: &Relation,
    values: &TupleData,
    include: impl Fn(bool) -> bool,
) -> Result<(Map<String, Value>, Vec<String>), ChangeError> {
    if values.len() != rel.columns.len() {
        return Err(ChangeError::ColumnCount {
            table: format!("{}.{}", rel.schema, rel.name),
            expected: rel.columns.len(),
            got: values.len(),
        });
    }
    let mut map = Map::new();
    let mut unchanged = Vec::new();
    for (column, value) in rel.columns.iter().zip(values) {
        if !include(column.key) {
            continue;
        }
        let json = match value {
            TupleValue::Null => Value::Null,
            TupleValue::UnchangedToast => {
                unchanged.push(column.name.clone());
                continue;
            }
            TupleValue::Text(t) => text_to_json(column.type_oid, &String::from_utf8_lossy(t)),
            TupleValue::Binary(b) => binary_to_json(b),
        };
        map.insert(column.name.clone(), json);
    }
    Ok((map, unchanged))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::pgoutput::RelationColumn;
    use crate::pgoutput::encode::{self, text};

    const REL: u32 = 16384;

    fn todos(identity: u8) -> Message {
        let col = |key, name: &str, type_oid| RelationColumn { key, name: name.into(), type_oid, type_modifier: -1 };
        Message::Relation(Relation {
            id: REL,
            schema: "public".into(),
            name: "todos".into(),
            replica_identity: identity,
            columns: vec![col(true, "id", 20), col(false, "title", 25), col(false, "done", 16), col(false, "body", 25)],
        })
    }

    fn started(identity: u8) -> ChangeDecoder {
        let mut d = ChangeDecoder::new();
        assert!(matches!(d.handle(todos(identity)), Ok(Decoded::Relation(_))));
        assert_eq!(d.decode(&encode::begin(0x100, 0, 7)), Ok(Decoded::Nothing));
        d
    }

    fn one(d: &mut ChangeDecoder, bytes: Bytes) -> ChangeEvent {
        match d.decode(&bytes) {
            Ok(Decoded::Changes(mut v)) if v.len() == 1 => v.remove(0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn insert_is_a_typed_event_with_columns_and_a_position() {
        let mut d = started(b'd');
        let e = one(&mut d, encode::insert(REL, &[text("1"), text("milk"), text("f"), TupleValue::Null]));
        assert_eq!(e.id, ChangeId { commit_lsn: 0x100, index: 0 });
        assert_eq!(
            e.body,
            json!({
                "type": "INSERT", "schema": "public", "table": "todos",
                "commit_timestamp": "2000-01-01T00:00:00.000000Z",
                "columns": [{"name":"id","type":"int8"},{"name":"title","type":"text"},{"name":"done","type":"bool"},{"name":"body","type":"text"}],
                "new": {"id": 1, "title": "milk", "done": false, "body": null},
                "old": null
            })
        );
        let second = one(&mut d, encode::insert(REL, &[text("2"), text("eggs"), text("t"), TupleValue::Null]));
        assert_eq!(second.id.index, 1);
        assert_eq!(d.decode(&encode::commit(0x100, 0x130, 0)), Ok(Decoded::Committed { end_lsn: 0x130 }));
        assert!(!d.in_transaction());
    }

    #[test]
    fn update_old_is_the_key_by_default_and_unchanged_toast_is_marked() {
        let mut d = started(b'd');
        let new = [text("1"), text("milk"), text("t"), TupleValue::UnchangedToast];
        let e = one(&mut d, encode::update(REL, None, &new));
        assert_eq!(e.body["old"], json!({"id": 1}));
        assert_eq!(e.body["new"], json!({"id": 1, "title": "milk", "done": true}));
        assert_eq!(e.body["unchanged"], json!(["body"]));
        // The key changed: PostgreSQL sends the old key.
        let old_key = [text("9"), TupleValue::Null, TupleValue::Null, TupleValue::Null];
        let e = one(&mut d, encode::update(REL, Some((pgoutput::OldImage::Key, &old_key)), &new));
        assert_eq!(e.body["old"], json!({"id": 9}));
    }

    #[test]
    fn full_identity_gives_whole_old_rows() {
        let mut d = started(b'f');
        let old = [text("1"), text("milk"), text("f"), text("long")];
        let new = [text("1"), text("milk"), text("t"), text("long")];
        let e = one(&mut d, encode::update(REL, Some((pgoutput::OldImage::Full, &old)), &new));
        assert_eq!(e.body["old"], json!({"id": 1, "title": "milk", "done": false, "body": "long"}));
        let e = one(&mut d, encode::delete(REL, pgoutput::OldImage::Full, &old));
        assert_eq!(
            (e.kind, &e.body["old"], &e.body["new"]),
            (ChangeKind::Delete, &json!({"id": 1, "title": "milk", "done": false, "body": "long"}), &Value::Null)
        );
    }

    #[test]
    fn delete_with_the_default_identity_has_the_key_only() {
        let mut d = started(b'd');
        let e = one(
            &mut d,
            encode::delete(
                REL,
                pgoutput::OldImage::Key,
                &[text("3"), TupleValue::Null, TupleValue::Null, TupleValue::Null],
            ),
        );
        assert_eq!(e.body["old"], json!({"id": 3}));
    }

    #[test]
    fn truncate_is_one_event_per_table() {
        let mut d = started(b'd');
        match d.decode(&encode::truncate(&[REL], 0)) {
            Ok(Decoded::Changes(v)) => {
                assert_eq!(v.len(), 1);
                assert_eq!((v[0].kind, v[0].body["type"].as_str()), (ChangeKind::Truncate, Some("TRUNCATE")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn faults_are_errors() {
        let mut d = ChangeDecoder::new();
        assert_eq!(d.decode(&encode::insert(5, &[text("1")])), Err(ChangeError::UnknownRelation(5)));
        let mut d = started(b'd');
        assert!(matches!(
            d.decode(&encode::insert(REL, &[text("1")])),
            Err(ChangeError::ColumnCount { got: 1, expected: 4, .. })
        ));
    }

    #[test]
    fn change_ids_order_and_round_trip_as_keys() {
        let a = ChangeId { commit_lsn: 0x16B3748, index: 2 };
        assert_eq!(a.key(), "pg:00000000016B3748:00000002");
        assert_eq!(ChangeId::from_key(&a.key()), Some(a));
        assert!(a < ChangeId { commit_lsn: 0x16B3748, index: 3 });
        assert!(a < ChangeId { commit_lsn: 0x16B3749, index: 0 });
        assert_eq!(ChangeId::from_key("user-key"), None);
    }
}
