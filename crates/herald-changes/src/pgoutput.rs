//! A decoder of PostgreSQL's `pgoutput` logical replication messages,
//! protocol version 1 (the body of each XLogData message). Sans-IO: bytes in,
//! [`Message`] out. Message formats: PostgreSQL's "Logical Replication
//! Message Formats" (protocol chapter).

use bytes::Bytes;

/// A WAL position (log sequence number).
pub type Lsn = u64;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message ended before a field did.
    #[error("pgoutput message truncated while reading {0}")]
    Truncated(&'static str),
    /// A string field was not NUL-terminated UTF-8.
    #[error("pgoutput message has an invalid string in {0}")]
    BadString(&'static str),
    /// An unknown tag where a known one was required.
    #[error("pgoutput message has an unexpected byte {byte:#04x} in {what}")]
    Unexpected {
        /// The field being read.
        what: &'static str,
        /// The byte found.
        byte: u8,
    },
    /// The message was empty.
    #[error("empty pgoutput message")]
    Empty,
}

/// One column value of a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// SQL NULL (`n`).
    Null,
    /// An unchanged TOASTed value (`u`): the row has it, the message does not.
    UnchangedToast,
    /// The value in the type's text output format (`t`).
    Text(Bytes),
    /// The value in the type's binary format (`b`; only with `binary` on).
    Binary(Bytes),
}

/// A row image: one value per column of the relation, in column order.
pub type TupleData = Vec<TupleValue>;

/// Which old image an UPDATE or DELETE carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldImage {
    /// `K`: the replica identity's key columns (others are null).
    Key,
    /// `O`: the whole old row (`REPLICA IDENTITY FULL`).
    Full,
}

/// A column of a relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity key.
    pub key: bool,
    /// Column name.
    pub name: String,
    /// Type OID.
    pub type_oid: u32,
    /// Type modifier.
    pub type_modifier: i32,
}

/// A relation (table) description, sent before its first change in a session
/// and again after its definition changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Relation OID.
    pub id: u32,
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Replica identity setting: `d` default, `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    /// Columns in order.
    pub columns: Vec<RelationColumn>,
}

/// A decoded `pgoutput` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A transaction starts.
    Begin {
        /// The LSN of the transaction's commit record.
        final_lsn: Lsn,
        /// Commit time, microseconds since 2000-01-01 UTC.
        commit_time: i64,
        /// Transaction id.
        xid: u32,
    },
    /// A transaction ends.
    Commit {
        /// The commit record's LSN.
        commit_lsn: Lsn,
        /// The end of the commit record: where the stream continues.
        end_lsn: Lsn,
        /// Commit time, microseconds since 2000-01-01 UTC.
        commit_time: i64,
    },
    /// A relation description.
    Relation(Relation),
    /// A non-built-in type's name.
    Type {
        /// Type OID.
        id: u32,
        /// Schema name.
        schema: String,
        /// Type name.
        name: String,
    },
    /// A row was inserted.
    Insert {
        /// Relation OID.
        relation: u32,
        /// The new row.
        new: TupleData,
    },
    /// A row was updated.
    Update {
        /// Relation OID.
        relation: u32,
        /// The old key or row, when the key changed or with `REPLICA IDENTITY FULL`.
        old: Option<(OldImage, TupleData)>,
        /// The new row.
        new: TupleData,
    },
    /// A row was deleted.
    Delete {
        /// Relation OID.
        relation: u32,
        /// The old key or row.
        old: (OldImage, TupleData),
    },
    /// Tables were truncated.
    Truncate {
        /// Relation OIDs.
        relations: Vec<u32>,
        /// Bit 1: CASCADE, bit 2: RESTART IDENTITY.
        options: u8,
    },
    /// Anything else (origin, logical decoding message, streaming): ignored.
    Other(u8),
}

/// Decode one `pgoutput` message.
pub fn decode(bytes: &Bytes) -> Result<Message, DecodeError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let tag = r.u8("tag").map_err(|_| DecodeError::Empty)?;
    Ok(match tag {
        b'B' => {
            Message::Begin { final_lsn: r.u64("begin lsn")?, commit_time: r.i64("begin time")?, xid: r.u32("xid")? }
        }
        b'C' => {
            let _flags = r.u8("commit flags")?;
            Message::Commit {
                commit_lsn: r.u64("commit lsn")?,
                end_lsn: r.u64("commit end lsn")?,
                commit_time: r.i64("commit time")?,
            }
        }
        b'R' => {
            let id = r.u32("relation id")?;
            let schema = r.string("relation schema")?;
            let name = r.string("relation name")?;
            let replica_identity = r.u8("replica identity")?;
            let n = r.u16("column count")?;
            let mut columns = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let flags = r.u8("column flags")?;
                columns.push(RelationColumn {
                    key: flags & 1 == 1,
                    name: r.string("column name")?,
                    type_oid: r.u32("column type")?,
                    type_modifier: r.u32("column type modifier")? as i32,
                });
            }
            Message::Relation(Relation { id, schema, name, replica_identity, columns })
        }
        b'Y' => Message::Type { id: r.u32("type id")?, schema: r.string("type schema")?, name: r.string("type name")? },
        b'I' => {
            let relation = r.u32("insert relation")?;
            r.expect(b'N', "insert tuple")?;
            Message::Insert { relation, new: r.tuple()? }
        }
        b'U' => {
            let relation = r.u32("update relation")?;
            let old = match r.u8("update tuple")? {
                b'N' => None,
                b'K' => Some((OldImage::Key, r.tuple()?)),
                b'O' => Some((OldImage::Full, r.tuple()?)),
                byte => return Err(DecodeError::Unexpected { what: "update tuple", byte }),
            };
            if old.is_some() {
                r.expect(b'N', "update new tuple")?;
            }
            Message::Update { relation, old, new: r.tuple()? }
        }
        b'D' => {
            let relation = r.u32("delete relation")?;
            let image = match r.u8("delete tuple")? {
                b'K' => OldImage::Key,
                b'O' => OldImage::Full,
                byte => return Err(DecodeError::Unexpected { what: "delete tuple", byte }),
            };
            Message::Delete { relation, old: (image, r.tuple()?) }
        }
        b'T' => {
            let n = r.u32("truncate count")?;
            let options = r.u8("truncate options")?;
            let mut relations = Vec::with_capacity(n.min(1024) as usize);
            for _ in 0..n {
                relations.push(r.u32("truncate relation")?);
            }
            Message::Truncate { relations, options }
        }
        other => Message::Other(other),
    })
}

struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len()).ok_or(DecodeError::Truncated(what))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(self.u64(what)? as i64)
    }

    fn expect(&mut self, tag: u8, what: &'static str) -> Result<(), DecodeError> {
        match self.u8(what)? {
            b if b == tag => Ok(()),
            byte => Err(DecodeError::Unexpected { what, byte }),
        }
    }

    fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let rest = &self.buf[self.pos..];
        let nul = rest.iter().position(|b| *b == 0).ok_or(DecodeError::Truncated(what))?;
        let s = std::str::from_utf8(&rest[..nul]).map_err(|_| DecodeError::BadString(what))?.to_string();
        self.pos += nul + 1;
        Ok(s)
    }

    fn tuple(&mut self) -> Result<TupleData, DecodeError> {
        let n = self.u16("tuple column count")?;
        let mut values = Vec::with_capacity(n as usize);
        for _ in 0..n {
            values.push(match self.u8("tuple value kind")? {
                b'n' => TupleValue::Null,
                b'u' => TupleValue::UnchangedToast,
                kind @ (b't' | b'b') => {
                    let len = self.u32("tuple value length")? as usize;
                    let start = self.pos;
                    self.take(len, "tuple value")?;
                    let bytes = self.buf.slice(start..start + len);
                    if kind == b't' { TupleValue::Text(bytes) } else { TupleValue::Binary(bytes) }
                }
                byte => return Err(DecodeError::Unexpected { what: "tuple value kind", byte }),
            });
        }
        Ok(values)
    }
}

/// Builders of `pgoutput` messages, for tests (this crate's and the server's).
pub mod encode {
    use super::*;

    /// A Begin message.
    pub fn begin(final_lsn: Lsn, commit_time: i64, xid: u32) -> Bytes {
        let mut b = vec![b'B'];
        b.extend(final_lsn.to_be_bytes());
        b.extend(commit_time.to_be_bytes());
        b.extend(xid.to_be_bytes());
        Bytes::from(b)
    }

    /// A Commit message.
    pub fn commit(commit_lsn: Lsn, end_lsn: Lsn, commit_time: i64) -> Bytes {
        let mut b = vec![b'C', 0];
        b.extend(commit_lsn.to_be_bytes());
        b.extend(end_lsn.to_be_bytes());
        b.extend(commit_time.to_be_bytes());
        Bytes::from(b)
    }

    /// A Relation message.
    pub fn relation(r: &Relation) -> Bytes {
        let mut b = vec![b'R'];
        b.extend(r.id.to_be_bytes());
        cstr(&mut b, &r.schema);
        cstr(&mut b, &r.name);
        b.push(r.replica_identity);
        b.extend((r.columns.len() as u16).to_be_bytes());
        for c in &r.columns {
            b.push(u8::from(c.key));
            cstr(&mut b, &c.name);
            b.extend(c.type_oid.to_be_bytes());
            b.extend(c.type_modifier.to_be_bytes());
        }
        Bytes::from(b)
    }

    /// An Insert message.
    pub fn insert(relation: u32, new: &[TupleValue]) -> Bytes {
        let mut b = vec![b'I'];
        b.extend(relation.to_be_bytes());
        b.push(b'N');
        tuple(&mut b, new);
        Bytes::from(b)
    }

    /// An Update message.
    pub fn update(relation: u32, old: Option<(OldImage, &[TupleValue])>, new: &[TupleValue]) -> Bytes {
        let mut b = vec![b'U'];
        b.extend(relation.to_be_bytes());
        if let Some((image, old)) = old {
            b.push(image_tag(image));
            tuple(&mut b, old);
        }
        b.push(b'N');
        tuple(&mut b, new);
        Bytes::from(b)
    }

    /// A Delete message.
    pub fn delete(relation: u32, image: OldImage, old: &[TupleValue]) -> Bytes {
        let mut b = vec![b'D'];
        b.extend(relation.to_be_bytes());
        b.push(image_tag(image));
        tuple(&mut b, old);
        Bytes::from(b)
    }

    /// A Truncate message.
    pub fn truncate(relations: &[u32], options: u8) -> Bytes {
        let mut b = vec![b'T'];
        b.extend((relations.len() as u32).to_be_bytes());
        b.push(options);
        for r in relations {
            b.extend(r.to_be_bytes());
        }
        Bytes::from(b)
    }

    /// A text value.
    pub fn text(s: &str) -> TupleValue {
        TupleValue::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn image_tag(image: OldImage) -> u8 {
        match image {
            OldImage::Key => b'K',
            OldImage::Full => b'O',
        }
    }

    fn cstr(b: &mut Vec<u8>, s: &str) {
        b.extend(s.as_bytes());
        b.push(0);
    }

    fn tuple(b: &mut Vec<u8>, values: &[TupleValue]) {
        b.extend((values.len() as u16).to_be_bytes());
        for v in values {
            match v {
                TupleValue::Null => b.push(b'n'),
                TupleValue::UnchangedToast => b.push(b'u'),
                TupleValue::Text(t) | TupleValue::Binary(t) => {
                    b.push(if matches!(v, TupleValue::Text(_)) { b't' } else { b'b' });
                    b.extend((t.len() as u32).to_be_bytes());
                    b.extend(t.iter());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::encode::*;
    use super::*;

    fn todos() -> Relation {
        Relation {
            id: 16384,
            schema: "public".into(),
            name: "todos".into(),
            replica_identity: b'd',
            columns: vec![
                RelationColumn { key: true, name: "id".into(), type_oid: 23, type_modifier: -1 },
                RelationColumn { key: false, name: "title".into(), type_oid: 25, type_modifier: -1 },
            ],
        }
    }

    #[test]
    fn begin_and_commit_round_trip() {
        assert_eq!(
            decode(&begin(0x16B3748, 7, 42)),
            Ok(Message::Begin { final_lsn: 0x16B3748, commit_time: 7, xid: 42 })
        );
        assert_eq!(decode(&commit(10, 20, 30)), Ok(Message::Commit { commit_lsn: 10, end_lsn: 20, commit_time: 30 }));
    }

    #[test]
    fn relation_with_key_flags() {
        assert_eq!(decode(&relation(&todos())), Ok(Message::Relation(todos())));
    }

    #[test]
    fn tuple_values_of_every_kind() {
        let values = vec![
            TupleValue::Null,
            TupleValue::UnchangedToast,
            text("héllo"),
            TupleValue::Binary(Bytes::from_static(&[0, 1, 2])),
            text(""),
        ];
        assert_eq!(decode(&insert(5, &values)), Ok(Message::Insert { relation: 5, new: values }));
    }

    #[test]
    fn update_with_and_without_an_old_image() {
        let new = vec![text("1"), text("b")];
        let key = vec![text("1"), TupleValue::Null];
        assert_eq!(decode(&update(5, None, &new)), Ok(Message::Update { relation: 5, old: None, new: new.clone() }));
        assert_eq!(
            decode(&update(5, Some((OldImage::Key, &key)), &new)),
            Ok(Message::Update { relation: 5, old: Some((OldImage::Key, key.clone())), new: new.clone() })
        );
        assert_eq!(
            decode(&update(5, Some((OldImage::Full, &new)), &key)),
            Ok(Message::Update { relation: 5, old: Some((OldImage::Full, new)), new: key })
        );
    }

    #[test]
    fn delete_and_truncate() {
        let key = vec![text("1"), TupleValue::Null];
        assert_eq!(
            decode(&delete(9, OldImage::Key, &key)),
            Ok(Message::Delete { relation: 9, old: (OldImage::Key, key) })
        );
        assert_eq!(decode(&truncate(&[1, 2], 2)), Ok(Message::Truncate { relations: vec![1, 2], options: 2 }));
    }

    #[test]
    fn unknown_tags_are_other_and_broken_messages_are_errors() {
        assert_eq!(decode(&Bytes::from_static(b"O\0\0")), Ok(Message::Other(b'O')));
        assert_eq!(decode(&Bytes::new()), Err(DecodeError::Empty));
        let mut cut = insert(5, &[text("abcdef")]).to_vec();
        cut.truncate(cut.len() - 2);
        assert_eq!(decode(&Bytes::from(cut)), Err(DecodeError::Truncated("tuple value")));
        let mut bad = insert(5, &[text("x")]).to_vec();
        bad[8] = b'z'; // value kind
        assert!(matches!(decode(&Bytes::from(bad)), Err(DecodeError::Unexpected { byte: b'z', .. })));
        let huge_len = [b'I', 0, 0, 0, 5, b'N', 0, 1, b't', 0xff, 0xff, 0xff, 0xff];
        assert_eq!(decode(&Bytes::copy_from_slice(&huge_len)), Err(DecodeError::Truncated("tuple value")));
    }
}
