//! `TableCatalog`: the published tables' columns, from PostgreSQL's catalog
//! when the feed connects and from each Relation message after that, so
//! the hub can refuse a filter on an unknown table or column
//! ([`ColumnCatalog`]).

use std::collections::HashMap;

use herald_changes::TableColumns;
use herald_changes::values::{ValueKind, value_kind};
use herald_core::{CatalogAnswer, CatalogColumn, ChannelName, ColumnCatalog, ColumnKind};
use parking_lot::RwLock;

/// Columns per `schema.table`; `loaded` once the publication was read.
pub struct TableCatalog {
    namespace: String,
    tables: RwLock<Option<HashMap<String, Vec<CatalogColumn>>>>,
}

impl TableCatalog {
    /// An empty catalog for channels in `namespace`.
    pub fn new(namespace: &str) -> Self {
        Self { namespace: namespace.to_string(), tables: RwLock::new(None) }
    }

    /// Replace everything with the publication's tables.
    pub fn replace(&self, tables: Vec<TableColumns>) {
        let map = tables.into_iter().map(|t| (format!("{}.{}", t.schema, t.table), columns(&t))).collect();
        *self.tables.write() = Some(map);
    }

    /// A table's description arrived (new table, or changed by DDL).
    pub fn update(&self, table: TableColumns) {
        let mut tables = self.tables.write();
        let map = tables.get_or_insert_with(HashMap::new);
        map.insert(format!("{}.{}", table.schema, table.table), columns(&table));
    }
}

fn columns(t: &TableColumns) -> Vec<CatalogColumn> {
    t.columns
        .iter()
        .map(|(name, type_name, type_oid)| CatalogColumn {
            name: name.clone(),
            type_name: type_name.clone(),
            kind: match value_kind(*type_oid) {
                ValueKind::Number => ColumnKind::Number,
                ValueKind::Bool => ColumnKind::Bool,
                ValueKind::Text => ColumnKind::Text,
                ValueKind::Structured => ColumnKind::Structured,
            },
        })
        .collect()
}

impl ColumnCatalog for TableCatalog {
    fn lookup(&self, channel: &ChannelName) -> CatalogAnswer {
        let Some(table) = channel.as_str().strip_prefix(&self.namespace).and_then(|t| t.strip_prefix(':')) else {
            return CatalogAnswer::NotAChangeChannel;
        };
        match &*self.tables.read() {
            None => CatalogAnswer::NotLoaded,
            Some(map) => match map.get(table) {
                Some(cols) => CatalogAnswer::Columns(cols.clone()),
                None => CatalogAnswer::UnknownTable(table.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_channel() {
        let c = TableCatalog::new("db");
        let ch = |n: &str| ChannelName::new(n).unwrap();
        assert_eq!(c.lookup(&ch("chat:x")), CatalogAnswer::NotAChangeChannel);
        assert_eq!(c.lookup(&ch("db:public.todos")), CatalogAnswer::NotLoaded);
        c.replace(vec![TableColumns {
            schema: "public".into(),
            table: "todos".into(),
            columns: vec![("id".into(), "int4".into(), 23), ("tags".into(), "_text".into(), 1009)],
        }]);
        match c.lookup(&ch("db:public.todos")) {
            CatalogAnswer::Columns(cols) => {
                assert_eq!((cols[0].kind, cols[1].kind), (ColumnKind::Number, ColumnKind::Structured))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.lookup(&ch("db:public.nope")), CatalogAnswer::UnknownTable("public.nope".into()));
        assert_eq!(c.lookup(&ch("dbx:public.todos")), CatalogAnswer::NotAChangeChannel);
    }
}
