//! Rows back to Herald's types, for both SQL stores: the column order of
//! each `SELECT` is the same in SQLite and PostgreSQL, so one decoder per
//! type serves both (generic over the row type).
//!
//! Publisher ids and idempotency keys are read as bytes: PostgreSQL stores
//! them as `BYTEA`, SQLite as `TEXT`, which sqlx also reads as bytes.

use std::sync::Arc;

use herald_core::{
    ChannelName, Epoch, Notification, NotificationContent, Payload, Publication, PublisherInfo, ReadMark, StoreError,
    StreamMeta,
};
use sqlx::{ColumnIndex, Database, Decode, Row, Type};

use crate::db_err;
use crate::sql_int::{lenient_u64, stored_u64};

/// A Rust type the database `DB` can decode (shorthand for the bounds below).
pub(crate) trait Decodes<DB: Database>: for<'r> Decode<'r, DB> + Type<DB> {}
impl<DB: Database, T: for<'r> Decode<'r, DB> + Type<DB>> Decodes<DB> for T {}

/// A publication from `offset, epoch, time_ms, data, publisher_client,
/// publisher_user, idempotency_key`. A corrupt row is an error, never skipped.
pub(crate) fn publication<R>(channel: &ChannelName, row: &R) -> Result<Arc<Publication>, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decodes<R::Database>,
    String: Decodes<R::Database>,
    Option<Vec<u8>>: Decodes<R::Database>,
{
    let get = |e: sqlx::Error| StoreError(format!("corrupt history row in {channel}: {e}"));
    let text = |bytes: Option<Vec<u8>>, what: &str| {
        bytes
            .map(|b| String::from_utf8(b).map(Arc::<str>::from))
            .transpose()
            .map_err(|_| StoreError(format!("corrupt history row in {channel}: {what} is not UTF-8")))
    };
    let offset = stored_u64(row.try_get(0).map_err(get)?, "offset")?;
    let epoch: String = row.try_get(1).map_err(get)?;
    let time_ms = stored_u64(row.try_get(2).map_err(get)?, "time")?;
    let data: String = row.try_get(3).map_err(get)?;
    let client = text(row.try_get(4).map_err(get)?, "publisher client")?;
    let user = text(row.try_get(5).map_err(get)?, "publisher user")?;
    let key = text(row.try_get(6).map_err(get)?, "idempotency key")?;
    let data = Payload::from_json_text(data)
        .map_err(|e| StoreError(format!("corrupt history row {channel}@{offset}: {}", e.message)))?;
    Ok(Arc::new(Publication {
        channel: channel.clone(),
        epoch: Epoch::from_string(epoch),
        offset,
        data,
        time_ms,
        publisher: client.map(|client| PublisherInfo { client, user }),
        idempotency_key: key,
    }))
}

/// A read mark from `epoch, offset, updated_ms` starting at column `first`.
pub(crate) fn read_mark<R>(row: &R, first: usize) -> Result<ReadMark, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decodes<R::Database>,
    String: Decodes<R::Database>,
{
    let epoch: String = row.try_get(first).map_err(db_err("decode read epoch"))?;
    let offset: i64 = row.try_get(first + 1).map_err(db_err("decode read offset"))?;
    let updated: i64 = row.try_get(first + 2).map_err(db_err("decode read time"))?;
    Ok(ReadMark { epoch: Epoch::from_string(epoch), offset: lenient_u64(offset), updated_ms: lenient_u64(updated) })
}

/// A stream's state from `epoch, top`.
pub(crate) fn stream_meta<R>(row: &R) -> Result<StreamMeta, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decodes<R::Database>,
    String: Decodes<R::Database>,
{
    let epoch: String = row.try_get(0).map_err(db_err("decode stream epoch"))?;
    let top: i64 = row.try_get(1).map_err(db_err("decode stream top"))?;
    Ok(StreamMeta { epoch: Epoch::from_string(epoch), top: stored_u64(top, "top")? })
}

/// A user's marks from `channel, epoch, offset, updated_ms` rows.
pub(crate) fn marks_by_channel<R>(rows: &[R]) -> Result<Vec<(ChannelName, ReadMark)>, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decodes<R::Database>,
    String: Decodes<R::Database>,
{
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let channel: String = row.try_get(0).map_err(db_err("decode read channel"))?;
        // Names were valid when stored; skip one that no longer is rather than fail the list.
        if let Ok(channel) = ChannelName::new(&channel) {
            out.push((channel, read_mark(row, 1)?));
        }
    }
    Ok(out)
}

/// A channel's marks from `user_id, epoch, offset, updated_ms` rows.
pub(crate) fn marks_by_user<R>(rows: &[R]) -> Result<Vec<(String, ReadMark)>, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decodes<R::Database>,
    String: Decodes<R::Database>,
{
    rows.iter().map(|row| Ok((row.try_get(0).map_err(db_err("decode read user"))?, read_mark(row, 1)?))).collect()
}

/// The columns [`notification`] reads, in its order.
pub(crate) const NOTIFICATION_COLUMNS: &str =
    "id, user_id, kind, title, body, data, created_ms, expires_ms, read, dedupe_key";

/// A notification from [`NOTIFICATION_COLUMNS`].
pub(crate) fn notification<R>(row: &R) -> Result<Notification, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decodes<R::Database>,
    String: Decodes<R::Database>,
    Option<i64>: Decodes<R::Database>,
    Option<String>: Decodes<R::Database>,
    bool: Decodes<R::Database>,
{
    let e = db_err("decode notification");
    let expires: Option<i64> = row.try_get(7).map_err(&e)?;
    Ok(Notification {
        id: lenient_u64(row.try_get(0).map_err(&e)?),
        user: row.try_get(1).map_err(&e)?,
        content: NotificationContent {
            kind: row.try_get(2).map_err(&e)?,
            title: row.try_get(3).map_err(&e)?,
            body: row.try_get(4).map_err(&e)?,
            data: row.try_get(5).map_err(&e)?,
            expires_at: expires.map(lenient_u64),
        },
        created_ms: lenient_u64(row.try_get(6).map_err(&e)?),
        read: row.try_get(8).map_err(&e)?,
        dedupe_key: row.try_get(9).map_err(&e)?,
    })
}

/// A document snapshot from `data, through_seq`: the bytes and the last
/// update sequence they include.
pub(crate) fn document_snapshot<R>(row: &R) -> Result<(Vec<u8>, i64), StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decodes<R::Database>,
    Vec<u8>: Decodes<R::Database>,
{
    let data: Vec<u8> = row.try_get(0).map_err(db_err("decode document snapshot"))?;
    let through: i64 = row.try_get(1).map_err(db_err("decode snapshot sequence"))?;
    Ok((data, through))
}

/// A document's updates from `seq, data` rows, in order.
pub(crate) fn document_updates<R>(rows: &[R]) -> Result<Vec<(u64, Vec<u8>)>, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decodes<R::Database>,
    Vec<u8>: Decodes<R::Database>,
{
    rows.iter()
        .map(|row| {
            let seq: i64 = row.try_get(0).map_err(db_err("decode update sequence"))?;
            let data: Vec<u8> = row.try_get(1).map_err(db_err("decode document update"))?;
            Ok((lenient_u64(seq), data))
        })
        .collect()
}
