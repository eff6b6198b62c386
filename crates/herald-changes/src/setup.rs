//! Preparing PostgreSQL for a change feed over an ordinary SQL connection:
//! the checks (`wal_level`, the role's `REPLICATION`), the publication
//! (`FOR ALL TABLES`, else the configured tables) and the **permanent**
//! logical slot (`pgoutput`), both created when missing; then the published
//! tables' columns and, while streaming, the slot's lag.
//!
//! Every error says what to change.

use sqlx::{Connection, PgConnection, Row};

use crate::decoder::TableColumns;
use crate::pgoutput::Lsn;

/// What the feed needs to know to prepare PostgreSQL.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// Publication name.
    pub publication: String,
    /// Slot name.
    pub slot: String,
    /// Tables (`schema.table` or `table` for `public`) published when the
    /// role may not create a `FOR ALL TABLES` publication.
    pub tables: Vec<String>,
}

/// Why the feed cannot run, each with the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// No connection.
    #[error("PostgreSQL is unreachable: {0}; check [changes] url and that the server is up")]
    Unreachable(String),
    /// `wal_level` is not `logical`.
    #[error(
        "PostgreSQL has wal_level = {0}; change feeds need logical: run ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart PostgreSQL"
    )]
    WalLevel(String),
    /// The role may not replicate.
    #[error(
        "role {0} lacks the REPLICATION attribute; run ALTER ROLE {0} WITH REPLICATION (as a superuser) or connect as a role that has it"
    )]
    NoReplication(String),
    /// The publication could not be created or used.
    #[error("publication: {0}")]
    Publication(String),
    /// The slot could not be created or is unusable.
    #[error("replication slot: {0}")]
    Slot(String),
    /// Another query failed.
    #[error("PostgreSQL query failed: {0}")]
    Query(String),
}

/// Quote an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.table` (or `table`, in `public`) as a quoted identifier.
fn quote_table(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, table)) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
        None => format!("{}.{}", quote_ident("public"), quote_ident(name)),
    }
}

/// Parse `X/Y` (PostgreSQL's LSN text).
pub fn parse_lsn(text: &str) -> Option<Lsn> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

/// `X/Y` text of an LSN.
pub fn format_lsn(lsn: Lsn) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

fn query_error(e: sqlx::Error) -> SetupError {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
            SetupError::Unreachable(e.to_string())
        }
        other => SetupError::Query(other.to_string()),
    }
}

fn sql_state(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.to_string()),
        _ => None,
    }
}

/// An SQL connection to the feed's database (not the replication connection).
pub struct AdminConnection {
    conn: PgConnection,
}

/// The slot as PostgreSQL reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    /// Where the stream resumes.
    pub confirmed_flush: Lsn,
    /// Whether a replication connection is using it now.
    pub active: bool,
}

impl AdminConnection {
    /// Connect with `url` (any form sqlx accepts).
    pub async fn connect(url: &str) -> Result<AdminConnection, SetupError> {
        let conn = PgConnection::connect(url).await.map_err(|e| match e {
            sqlx::Error::Database(d) => SetupError::Unreachable(d.message().to_string()),
            other => SetupError::Unreachable(other.to_string()),
        })?;
        Ok(AdminConnection { conn })
    }

    /// `wal_level` is `logical` and the role may replicate.
    pub async fn check(&mut self) -> Result<(), SetupError> {
        let level: String =
            sqlx::query_scalar("SHOW wal_level").fetch_one(&mut self.conn).await.map_err(query_error)?;
        if level != "logical" {
            return Err(SetupError::WalLevel(level));
        }
        let row = sqlx::query(
            "SELECT current_user::text, rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(query_error)?;
        let (role, may): (String, bool) = (row.get(0), row.get(1));
        if !may {
            return Err(SetupError::NoReplication(role));
        }
        Ok(())
    }

    /// Create the publication when missing: `FOR ALL TABLES`, or, when the
    /// role may not (it needs a superuser), `FOR TABLE` the configured tables.
    pub async fn ensure_publication(&mut self, s: &FeedSettings) -> Result<(), SetupError> {
        let exists = sqlx::query("SELECT 1 FROM pg_publication WHERE pubname = $1")
            .bind(&s.publication)
            .fetch_optional(&mut self.conn)
            .await
            .map_err(query_error)?
            .is_some();
        if exists {
            return Ok(());
        }
        let name = quote_ident(&s.publication);
        let all = sqlx::query(&format!("CREATE PUBLICATION {name} FOR ALL TABLES")).execute(&mut self.conn).await;
        match all {
            Ok(_) => {
                tracing::info!(publication = %s.publication, "created publication FOR ALL TABLES");
                Ok(())
            }
            Err(e) if sql_state(&e).as_deref() == Some("42501") && !s.tables.is_empty() => {
                let list: Vec<String> = s.tables.iter().map(|t| quote_table(t)).collect();
                sqlx::query(&format!("CREATE PUBLICATION {name} FOR TABLE {}", list.join(", ")))
                    .execute(&mut self.conn)
                    .await
                    .map_err(|e| {
                        SetupError::Publication(format!(
                            "cannot create {} FOR TABLE {}: {e}; the role must own those tables, or create the publication yourself",
                            s.publication,
                            s.tables.join(", ")
                        ))
                    })?;
                tracing::info!(publication = %s.publication, tables = ?s.tables, "created publication FOR TABLE");
                Ok(())
            }
            Err(e) if sql_state(&e).as_deref() == Some("42501") => Err(SetupError::Publication(format!(
                "the role may not create {0} FOR ALL TABLES (that needs a superuser); list the tables in [changes] tables, or run CREATE PUBLICATION {0} FOR ALL TABLES as a superuser",
                s.publication
            ))),
            Err(e) => Err(SetupError::Publication(e.to_string())),
        }
    }

    /// Create the permanent `pgoutput` slot when missing; check an existing one.
    pub async fn ensure_slot(&mut self, slot: &str) -> Result<SlotState, SetupError> {
        if let Some(state) = self.slot_state(slot).await? {
            return Ok(state);
        }
        let created = sqlx::query("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')")
            .bind(slot)
            .fetch_one(&mut self.conn)
            .await;
        match created {
            Ok(row) => {
                let lsn: String = row.get(0);
                tracing::info!(slot, lsn, "created permanent logical replication slot");
            }
            // Another node created it meanwhile.
            Err(e) if sql_state(&e).as_deref() == Some("42710") => {}
            Err(e) => return Err(SetupError::Slot(format!("cannot create slot {slot}: {e}"))),
        }
        self.slot_state(slot).await?.ok_or_else(|| SetupError::Slot(format!("slot {slot} vanished after creation")))
    }

    /// The slot's state, `None` when it does not exist (never created, or
    /// dropped by an administrator). A slot of another plugin or database is an error.
    pub async fn slot_state(&mut self, slot: &str) -> Result<Option<SlotState>, SetupError> {
        let row = sqlx::query(
            "SELECT plugin::text, slot_type, database::text, current_database()::text, \
             confirmed_flush_lsn::text, active FROM pg_replication_slots WHERE slot_name = $1",
        )
        .bind(slot)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(query_error)?;
        let Some(row) = row else { return Ok(None) };
        let (plugin, kind, db, current): (Option<String>, String, Option<String>, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if kind != "logical" || plugin.as_deref() != Some("pgoutput") || db.as_deref() != Some(current.as_str()) {
            return Err(SetupError::Slot(format!(
                "slot {slot} exists but is {kind}/{} on database {}; Herald needs a logical pgoutput slot on {current}: drop it or set [changes] slot to another name",
                plugin.unwrap_or_default(),
                db.unwrap_or_default()
            )));
        }
        let confirmed: Option<String> = row.get(4);
        Ok(Some(SlotState {
            confirmed_flush: confirmed.as_deref().and_then(parse_lsn).unwrap_or(0),
            active: row.get(5),
        }))
    }

    /// How many bytes of WAL the slot holds back (current WAL end minus the
    /// confirmed position); `None` when the slot is gone.
    pub async fn lag_bytes(&mut self, slot: &str) -> Result<Option<u64>, SetupError> {
        let lag: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1",
        )
        .bind(slot)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(query_error)?;
        Ok(lag.map(|l| l.unwrap_or(0).max(0) as u64))
    }

    /// The published tables and their columns.
    pub async fn published_tables(&mut self, publication: &str) -> Result<Vec<TableColumns>, SetupError> {
        let rows = sqlx::query(
            "SELECT p.schemaname::text, p.tablename::text, a.attname::text, t.typname::text, a.atttypid::int8 \
             FROM pg_publication_tables p \
             JOIN pg_namespace n ON n.nspname = p.schemaname \
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             JOIN pg_type t ON t.oid = a.atttypid \
             WHERE p.pubname = $1 ORDER BY 1, 2, a.attnum",
        )
        .bind(publication)
        .fetch_all(&mut self.conn)
        .await
        .map_err(query_error)?;
        let mut tables: Vec<TableColumns> = Vec::new();
        for row in rows {
            let (schema, table, column, type_name, type_oid): (String, String, String, String, i64) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            match tables.last_mut() {
                Some(t) if t.schema == schema && t.table == table => {
                    t.columns.push((column, type_name, type_oid as u32))
                }
                _ => tables.push(TableColumns { schema, table, columns: vec![(column, type_name, type_oid as u32)] }),
            }
        }
        Ok(tables)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text_round_trips() {
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("nope"), None);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("herald"), "\"herald\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_table("todos"), "\"public\".\"todos\"");
        assert_eq!(quote_table("app.orders"), "\"app\".\"orders\"");
    }
}
