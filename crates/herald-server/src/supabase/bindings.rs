//! `postgres_changes` bindings on the change feed (`docs/changes.md`): a
//! binding `{"event","schema","table","filter"?}` is Herald change channel
//! `{changes namespace}:{schema}.{table}` with a [`ChangeFilter`] in the same
//! syntax (`eq`, `neq`, `lt`, `lte`, `gt`, `gte`, `in`, `is.null`). Each
//! binding gets an integer id (echoed in the join reply); each change event
//! becomes Supabase's `postgres_changes` payload carrying the `ids` of the
//! bindings it passes.

use herald_core::{ChangeFilter, ChannelName, HeraldError};
use serde_json::{Map, Value};

/// One checked binding.
#[derive(Debug, Clone)]
pub struct Binding {
    /// Its id (1, 2, … per socket; realtime-js treats 0 as none).
    pub id: u64,
    /// The change channel it reads.
    pub channel: ChannelName,
    /// Which events and rows pass.
    pub filter: ChangeFilter,
}

/// Parse `raw` (a binding as realtime-js sends it) for change channels in
/// `namespace`. The table must be named: Herald's change channels are one
/// per table.
pub fn parse(namespace: &str, raw: &Value, id: u64) -> Result<Binding, String> {
    let field = |name: &str| raw.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let event = field("event").unwrap_or("*");
    let schema = field("schema").unwrap_or("public");
    let Some(table) = field("table").filter(|t| *t != "*") else {
        return Err("postgres_changes needs a table: Herald streams changes per table (schema \"*\" or no table is not supported)".into());
    };
    if schema == "*" {
        return Err("postgres_changes needs a schema (\"*\" is not supported)".into());
    }
    let channel = ChannelName::new(&format!("{namespace}:{schema}.{table}")).map_err(|e| e.message)?;
    let filter = ChangeFilter::parse(field("filter"), Some(event))
        .map_err(|e: HeraldError| e.message)?
        .ok_or_else(|| "postgres_changes binding needs an event".to_string())?;
    Ok(Binding { id, channel, filter })
}

/// The join reply's echo of `raw`: the binding exactly as sent, plus `id`.
pub fn echo(raw: &Value, id: u64) -> Value {
    let mut v = raw.clone();
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), Value::from(id));
    }
    v
}

/// Supabase's `postgres_changes` payload for a Herald change event, or
/// `None` for an event Supabase does not send (TRUNCATE).
pub fn payload(ids: &[u64], change: &Value) -> Option<Value> {
    let kind = change.get("type").and_then(Value::as_str)?;
    let mut data = Map::new();
    for key in ["schema", "table", "commit_timestamp", "type", "columns"] {
        data.insert(key.into(), change.get(key).cloned().unwrap_or(Value::Null));
    }
    let image =
        |name: &str| change.get(name).filter(|v| v.is_object()).cloned().unwrap_or_else(|| Value::Object(Map::new()));
    match kind {
        "INSERT" => {
            data.insert("record".into(), image("new"));
        }
        "UPDATE" => {
            data.insert("record".into(), image("new"));
            data.insert("old_record".into(), image("old"));
        }
        "DELETE" => {
            data.insert("old_record".into(), image("old"));
        }
        _ => return None,
    }
    data.insert("errors".into(), Value::Null);
    Some(serde_json::json!({ "ids": ids, "data": data }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_binding_is_a_change_channel_with_a_filter() {
        let raw = json!({"event": "INSERT", "schema": "public", "table": "todos", "filter": "list_id=eq.7"});
        let b = parse("db", &raw, 1).unwrap();
        assert_eq!(b.channel.as_str(), "db:public.todos");
        assert!(b.filter.matches(&json!({"type": "INSERT", "new": {"list_id": 7}})));
        assert!(!b.filter.matches(&json!({"type": "INSERT", "new": {"list_id": 8}})));
        assert!(!b.filter.matches(&json!({"type": "DELETE", "old": {"list_id": 7}})));
        assert_eq!(echo(&raw, 3)["id"], 3);
        assert_eq!(echo(&raw, 3)["filter"], "list_id=eq.7");
        assert!(parse("db", &json!({"event": "*", "schema": "public"}), 1).is_err());
        assert!(parse("db", &json!({"event": "*", "schema": "public", "table": "t", "filter": "x=zz.1"}), 1).is_err());
        assert!(parse("db", &json!({"event": "NOPE", "schema": "public", "table": "t"}), 1).is_err());
    }

    #[test]
    fn change_events_take_supabase_shape() {
        let change = json!({"type": "UPDATE", "schema": "public", "table": "todos", "commit_timestamp": "2026-01-01T00:00:00Z",
            "columns": [{"name": "id", "type": "int8"}], "new": {"id": 1}, "old": {"id": 1}});
        let p = payload(&[2, 5], &change).unwrap();
        assert_eq!(p["ids"], json!([2, 5]));
        assert_eq!(p["data"]["record"], json!({"id": 1}));
        assert_eq!(p["data"]["old_record"], json!({"id": 1}));
        assert_eq!(p["data"]["errors"], Value::Null);
        assert_eq!(p["data"]["columns"][0]["type"], "int8");
        let insert = payload(&[1], &json!({"type": "INSERT", "new": {"a": 1}, "old": null})).unwrap();
        assert!(insert["data"].get("old_record").is_none());
        assert!(payload(&[1], &json!({"type": "TRUNCATE"})).is_none());
    }
}
