//! Filters on database change subscriptions (`docs/changes.md`), in
//! Supabase's syntax: a row filter `column=op.value` with `eq`, `neq`, `lt`,
//! `lte`, `gt`, `gte`, `in.(a,b,…)`, `is.null`, and an event filter
//! (`INSERT`, `UPDATE`, `DELETE`, `*`, or a comma list). Sans-IO: parsing,
//! checking against a table's columns, and evaluation on a change event
//! (`{"type","new","old",…}`).
//!
//! Evaluation: INSERT tests `new`; DELETE tests `old`; UPDATE passes when
//! `new` or `old` passes (so a row that leaves the filtered set is seen
//! leaving); TRUNCATE passes every row filter (it removes every row). A
//! column missing from the row (not in a key-only `old`, or an unchanged
//! TOAST value) or SQL NULL matches nothing but `is.null` (NULL only).

use std::cmp::Ordering;
use std::sync::Arc;

use serde_json::Value;

use crate::channel::ChannelName;
use crate::error::{ErrorCode, HeraldError};
use crate::publication::Payload;

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// `eq`: equal.
    Eq,
    /// `neq`: not equal (NULL matches neither).
    Neq,
    /// `lt`: less than.
    Lt,
    /// `lte`: less than or equal.
    Lte,
    /// `gt`: greater than.
    Gt,
    /// `gte`: greater than or equal.
    Gte,
    /// `in.(a,b,…)`: equal to one of the values.
    In,
    /// `is.null`: SQL NULL.
    IsNull,
}

impl FilterOp {
    fn name(self) -> &'static str {
        match self {
            FilterOp::Eq => "eq",
            FilterOp::Neq => "neq",
            FilterOp::Lt => "lt",
            FilterOp::Lte => "lte",
            FilterOp::Gt => "gt",
            FilterOp::Gte => "gte",
            FilterOp::In => "in",
            FilterOp::IsNull => "is",
        }
    }

    fn orders(self) -> bool {
        matches!(self, FilterOp::Lt | FilterOp::Lte | FilterOp::Gt | FilterOp::Gte)
    }
}

/// How a column's values compare, from its PostgreSQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Integers, floats, numeric (numeric and large int8 arrive as strings).
    Number,
    /// Booleans.
    Bool,
    /// Text-like values compared as strings (text, varchar, uuid, ISO dates and times).
    Text,
    /// JSON, arrays, binary: only `is.null` applies.
    Structured,
}

/// A column of a published table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    /// Column name.
    pub name: String,
    /// PostgreSQL type name (`int4`, `text`, `_text` for `text[]`).
    pub type_name: String,
    /// How it compares.
    pub kind: ColumnKind,
}

/// What the change feed knows about a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogAnswer {
    /// The channel is not a change channel (outside the feed's namespace).
    NotAChangeChannel,
    /// A change channel whose table is not published.
    UnknownTable(String),
    /// A change channel whose table is not known yet (the feed has not
    /// reached PostgreSQL): the filter's syntax is checked, not its columns.
    NotLoaded,
    /// The table's columns.
    Columns(Vec<CatalogColumn>),
}

/// The change feed's knowledge of tables, for checking filters at subscribe time.
pub trait ColumnCatalog: Send + Sync {
    /// What is known about `channel`.
    fn lookup(&self, channel: &ChannelName) -> CatalogAnswer;
}

const INSERT: u8 = 1;
const UPDATE: u8 = 2;
const DELETE: u8 = 4;
const TRUNCATE: u8 = 8;
const ALL: u8 = INSERT | UPDATE | DELETE | TRUNCATE;

/// `column=op.value`.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFilter {
    /// The column tested.
    pub column: String,
    /// The operator.
    pub op: FilterOp,
    /// The operand(s): one, or several for `in`, none for `is.null`.
    pub values: Vec<String>,
    /// The column's kind once checked against the table.
    kind: Option<ColumnKind>,
}

/// A subscription's filter: which events, and which rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeFilter {
    events: u8,
    row: Option<RowFilter>,
}

fn invalid(message: impl Into<String>) -> HeraldError {
    HeraldError::new(ErrorCode::InvalidFilter, message)
}

impl ChangeFilter {
    /// Parse a subscribe request's `filter` and `events`; `None` when both are absent.
    pub fn parse(filter: Option<&str>, events: Option<&str>) -> Result<Option<ChangeFilter>, HeraldError> {
        if filter.is_none() && events.is_none() {
            return Ok(None);
        }
        let events = match events {
            None => ALL,
            Some(list) => parse_events(list)?,
        };
        let row = filter.map(parse_row_filter).transpose()?;
        Ok(Some(ChangeFilter { events, row }))
    }

    /// The row filter, if any.
    pub fn row(&self) -> Option<&RowFilter> {
        self.row.as_ref()
    }

    /// AND this filter with another (a policy's mandatory filter): the
    /// events both allow; both row filters must pass.
    pub fn and(self, other: ChangeFilter) -> ChangeFilterSet {
        ChangeFilterSet(vec![self, other])
    }

    /// Check the row filter against the table's columns (`table` names it in
    /// errors) and remember the column's kind for comparisons.
    pub fn check_columns(&mut self, table: &str, columns: &[CatalogColumn]) -> Result<(), HeraldError> {
        let Some(row) = self.row.as_mut() else { return Ok(()) };
        let Some(col) = columns.iter().find(|c| c.name == row.column) else {
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            return Err(invalid(format!(
                "unknown column {:?} in filter: {table} has {}",
                row.column,
                names.join(", ")
            )));
        };
        let op = row.op;
        let bad_type = |why: &str| {
            invalid(format!("operator {} does not apply to column {} ({}): {why}", op.name(), col.name, col.type_name))
        };
        match col.kind {
            ColumnKind::Structured if op != FilterOp::IsNull => {
                return Err(bad_type("only is.null applies to JSON, array and binary columns"));
            }
            ColumnKind::Bool if op.orders() => return Err(bad_type("booleans are not ordered")),
            ColumnKind::Bool => {
                if let Some(v) = row.values.iter().find(|v| !matches!(v.as_str(), "true" | "false")) {
                    return Err(bad_type(&format!("{v:?} is not true or false")));
                }
            }
            ColumnKind::Number => {
                if let Some(v) = row.values.iter().find(|v| v.parse::<f64>().is_err()) {
                    return Err(bad_type(&format!("{v:?} is not a number")));
                }
            }
            _ => {}
        }
        row.kind = Some(col.kind);
        Ok(())
    }

    /// Whether the change event `change` passes.
    pub fn matches(&self, change: &Value) -> bool {
        let bit = match change.get("type").and_then(Value::as_str) {
            Some("INSERT") => INSERT,
            Some("UPDATE") => UPDATE,
            Some("DELETE") => DELETE,
            Some("TRUNCATE") => TRUNCATE,
            _ => return false,
        };
        if self.events & bit == 0 {
            return false;
        }
        let Some(row) = &self.row else { return true };
        let test = |image: &str| change.get(image).is_some_and(|r| r.is_object() && row.matches(r));
        match bit {
            INSERT => test("new"),
            DELETE => test("old"),
            UPDATE => test("new") || test("old"),
            _ => true,
        }
    }
}

/// Several filters that must all pass (the user's and a policy's).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeFilterSet(pub Vec<ChangeFilter>);

impl ChangeFilterSet {
    /// Whether the change event passes every filter.
    pub fn matches(&self, change: &Value) -> bool {
        self.0.iter().all(|f| f.matches(change))
    }
}

impl RowFilter {
    fn matches(&self, row: &Value) -> bool {
        let value = row.get(&self.column);
        match self.op {
            FilterOp::IsNull => matches!(value, Some(Value::Null)),
            _ => {
                let Some(value) = value.filter(|v| !v.is_null()) else { return false };
                let cmp = |lit: &str| compare(value, lit, self.kind);
                match self.op {
                    FilterOp::Eq => cmp(&self.values[0]) == Some(Ordering::Equal),
                    FilterOp::Neq => cmp(&self.values[0]).is_some_and(|o| o != Ordering::Equal),
                    FilterOp::Lt => cmp(&self.values[0]) == Some(Ordering::Less),
                    FilterOp::Lte => cmp(&self.values[0]).is_some_and(|o| o != Ordering::Greater),
                    FilterOp::Gt => cmp(&self.values[0]) == Some(Ordering::Greater),
                    FilterOp::Gte => cmp(&self.values[0]).is_some_and(|o| o != Ordering::Less),
                    FilterOp::In => self.values.iter().any(|v| cmp(v) == Some(Ordering::Equal)),
                    FilterOp::IsNull => false,
                }
            }
        }
    }
}

/// Compare a row value with a filter literal: numerically for numbers (and
/// for strings of a numeric column: `numeric`, large `int8`), as text otherwise.
fn compare(value: &Value, lit: &str, kind: Option<ColumnKind>) -> Option<Ordering> {
    match value {
        Value::Number(n) => compare_numbers(&n.to_string(), lit),
        Value::String(s) if kind == Some(ColumnKind::Number) => compare_numbers(s, lit),
        Value::String(s) => Some(s.as_str().cmp(lit)),
        Value::Bool(b) => match lit {
            "true" => Some(b.cmp(&true)),
            "false" => Some(b.cmp(&false)),
            _ => None,
        },
        _ => None,
    }
}

fn compare_numbers(a: &str, b: &str) -> Option<Ordering> {
    if let (Ok(x), Ok(y)) = (a.parse::<i128>(), b.parse::<i128>()) {
        return Some(x.cmp(&y));
    }
    let (x, y) = (a.parse::<f64>().ok()?, b.parse::<f64>().ok()?);
    x.partial_cmp(&y)
}

fn parse_events(list: &str) -> Result<u8, HeraldError> {
    let mut bits = 0;
    for part in list.split(',').map(str::trim) {
        bits |= match part.to_ascii_uppercase().as_str() {
            "*" => ALL,
            "INSERT" => INSERT,
            "UPDATE" => UPDATE,
            "DELETE" => DELETE,
            _ => {
                return Err(invalid(format!(
                    "unknown event {part:?} in \"events\": use INSERT, UPDATE, DELETE or * (comma-separated)"
                )));
            }
        };
    }
    Ok(bits)
}

/// Longest filter accepted, bytes.
const MAX_FILTER_LEN: usize = 1024;

fn parse_row_filter(text: &str) -> Result<RowFilter, HeraldError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(invalid(format!("filter is longer than {MAX_FILTER_LEN} bytes")));
    }
    let usage = "filters look like column=op.value, with op one of eq, neq, lt, lte, gt, gte, in.(a,b), is.null";
    let (column, rest) = text.split_once('=').ok_or_else(|| invalid(format!("malformed filter {text:?}: {usage}")))?;
    let column = column.trim();
    if column.is_empty() {
        return Err(invalid(format!("malformed filter {text:?}: no column before '='")));
    }
    let (op, value) = rest.split_once('.').ok_or_else(|| invalid(format!("malformed filter {text:?}: {usage}")))?;
    let op = match op {
        "eq" => FilterOp::Eq,
        "neq" => FilterOp::Neq,
        "lt" => FilterOp::Lt,
        "lte" => FilterOp::Lte,
        "gt" => FilterOp::Gt,
        "gte" => FilterOp::Gte,
        "in" => FilterOp::In,
        "is" => FilterOp::IsNull,
        other => return Err(invalid(format!("unknown filter operator {other:?}: {usage}"))),
    };
    let values = match op {
        FilterOp::IsNull if value == "null" => Vec::new(),
        FilterOp::IsNull => return Err(invalid(format!("is.{value} is not supported: only is.null"))),
        FilterOp::In => parse_in_list(value)?,
        _ => vec![unquote(value)],
    };
    Ok(RowFilter { column: column.to_string(), op, values, kind: None })
}

/// `(a,b,"c,d")`.
fn parse_in_list(value: &str) -> Result<Vec<String>, HeraldError> {
    let inner = value
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or_else(|| invalid(format!("in.{value}: the values go in parentheses, like in.(1,2,3)")))?;
    let mut values = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in inner.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => values.push(std::mem::take(&mut current).trim().to_string()),
            c => current.push(c),
        }
    }
    if quoted {
        return Err(invalid(format!("in.{value}: unclosed quote")));
    }
    values.push(current.trim().to_string());
    if values.iter().any(String::is_empty) {
        return Err(invalid(format!("in.{value}: empty value in the list")));
    }
    Ok(values)
}

fn unquote(v: &str) -> String {
    v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v).to_string()
}

/// The filters a subscription of `user` in a namespace with
/// `row_filter` must pass: the subscriber's own (if any) AND the namespace's,
/// with `{sub}` replaced by the user id. Without a namespace filter: the
/// subscriber's. A namespace filter without a user: refused.
pub(crate) fn with_policy(
    row_filter: Option<&str>,
    user: Option<&str>,
    channel: &ChannelName,
    requested: Option<Arc<ChangeFilterSet>>,
) -> Result<Option<Arc<ChangeFilterSet>>, HeraldError> {
    let Some(template) = row_filter else { return Ok(requested) };
    let Some(user) = user else {
        return Err(HeraldError::new(
            ErrorCode::PermissionDenied,
            format!("{channel} only shows a user their own rows: subscribing needs a user id (the token's sub)"),
        ));
    };
    if user.contains([',', '(', ')', '"']) {
        return Err(HeraldError::new(
            ErrorCode::PermissionDenied,
            format!("{channel} binds rows to the user id, and this one has characters a filter cannot hold"),
        ));
    }
    let text = template.replace("{sub}", user);
    let policy = ChangeFilter::parse(Some(&text), None)
        .map_err(|e| {
            HeraldError::new(ErrorCode::Internal, format!("the namespace's row_filter is invalid: {}", e.message))
        })?
        .ok_or_else(|| HeraldError::new(ErrorCode::Internal, "the namespace's row_filter is empty"))?;
    let mut all = requested.map(|r| r.0.clone()).unwrap_or_default();
    all.push(policy);
    Ok(Some(Arc::new(ChangeFilterSet(all))))
}

/// A publication's change event, parsed at most once per fan-out however
/// many filtered subscribers test it.
pub(crate) struct ChangeView<'a> {
    payload: &'a Payload,
    parsed: Option<Option<Value>>,
}

impl<'a> ChangeView<'a> {
    pub(crate) fn new(payload: &'a Payload) -> Self {
        Self { payload, parsed: None }
    }

    /// Whether the publication passes `filter` (always, without one).
    pub(crate) fn passes(&mut self, filter: Option<&Arc<ChangeFilterSet>>) -> bool {
        let Some(filter) = filter else { return true };
        let payload = self.payload;
        let parsed = self.parsed.get_or_insert_with(|| serde_json::from_slice(payload.bytes()).ok());
        parsed.as_ref().is_some_and(|v| filter.matches(v))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn filter(f: &str) -> ChangeFilter {
        ChangeFilter::parse(Some(f), None).unwrap().unwrap()
    }

    fn insert(new: Value) -> Value {
        json!({"type": "INSERT", "new": new, "old": null})
    }

    fn columns() -> Vec<CatalogColumn> {
        let c =
            |name: &str, type_name: &str, kind| CatalogColumn { name: name.into(), type_name: type_name.into(), kind };
        vec![
            c("id", "int8", ColumnKind::Number),
            c("title", "text", ColumnKind::Text),
            c("done", "bool", ColumnKind::Bool),
            c("tags", "_text", ColumnKind::Structured),
            c("price", "numeric", ColumnKind::Number),
        ]
    }

    #[test]
    fn every_operator() {
        let row = insert(json!({"id": 7, "title": "milk", "done": false, "note": null, "price": "10.50"}));
        let pass = |f: &str| {
            let mut f = filter(f);
            f.check_columns("public.todos", &columns()).ok();
            f.matches(&row)
        };
        assert!(pass("id=eq.7") && !pass("id=eq.8"));
        assert!(pass("id=neq.8") && !pass("id=neq.7"));
        assert!(pass("id=lt.8") && !pass("id=lt.7"));
        assert!(pass("id=lte.7") && !pass("id=lte.6"));
        assert!(pass("id=gt.6") && !pass("id=gt.7"));
        assert!(pass("id=gte.7") && !pass("id=gte.8"));
        assert!(pass("id=in.(1,7,9)") && !pass("id=in.(1,2)"));
        assert!(pass("title=eq.milk") && pass("title=in.(\"milk\",eggs)") && pass("title=lt.n"));
        assert!(pass("done=eq.false") && !pass("done=eq.true"));
        assert!(pass("note=is.null") && !pass("id=is.null"));
        assert!(!pass("note=eq.x") && !pass("note=neq.x"), "NULL matches neither eq nor neq");
        assert!(pass("price=gt.9.99") && pass("price=lt.100"), "numeric strings compare as numbers");
        assert!(!pass("missing=eq.1"));
    }

    #[test]
    fn events_and_images() {
        let upd = json!({"type": "UPDATE", "new": {"list": 2}, "old": {"list": 1}});
        let del = json!({"type": "DELETE", "new": null, "old": {"list": 1}});
        let trunc = json!({"type": "TRUNCATE", "new": null, "old": null});
        let f = filter("list=eq.1");
        assert!(f.matches(&upd), "an UPDATE leaving the filtered set is seen");
        assert!(f.matches(&del) && f.matches(&trunc));
        assert!(!filter("list=eq.3").matches(&upd));
        let inserts = ChangeFilter::parse(None, Some("INSERT")).unwrap().unwrap();
        assert!(inserts.matches(&insert(json!({}))) && !inserts.matches(&upd) && !inserts.matches(&trunc));
        let some = ChangeFilter::parse(Some("list=eq.1"), Some("update, DELETE")).unwrap().unwrap();
        assert!(some.matches(&upd) && some.matches(&del) && !some.matches(&insert(json!({"list": 1}))));
        assert!(!filter("list=eq.1").matches(&json!({"not": "a change"})));
        assert_eq!(ChangeFilter::parse(None, None), Ok(None));
    }

    #[test]
    fn malformed_filters_are_refused_with_the_reason() {
        let err = |f: &str| ChangeFilter::parse(Some(f), None).unwrap_err();
        assert_eq!(err("id").code, ErrorCode::InvalidFilter);
        assert!(err("id=eq7").message.contains("column=op.value"));
        assert!(err("id=like.x").message.contains("unknown filter operator \"like\""));
        assert!(err("=eq.1").message.contains("no column"));
        assert!(err("id=in.1,2").message.contains("parentheses"));
        assert!(err("id=in.(1,,2)").message.contains("empty value"));
        assert!(err("id=is.true").message.contains("only is.null"));
        let e = ChangeFilter::parse(None, Some("UPSERT")).unwrap_err();
        assert!(e.message.contains("UPSERT"));
    }

    #[test]
    fn columns_and_types_are_checked() {
        let check = |f: &str| filter(f).check_columns("public.todos", &columns());
        assert!(check("id=eq.1").is_ok() && check("tags=is.null").is_ok() && check("done=in.(true,false)").is_ok());
        let e = check("nope=eq.1").unwrap_err();
        assert!(e.message.contains("unknown column \"nope\"") && e.message.contains("public.todos has id, title"));
        assert!(check("id=eq.abc").unwrap_err().message.contains("\"abc\" is not a number"));
        assert!(check("done=lt.true").unwrap_err().message.contains("not ordered"));
        assert!(check("done=eq.yes").unwrap_err().message.contains("not true or false"));
        assert!(check("tags=eq.x").unwrap_err().message.contains("only is.null"));
    }

    #[test]
    fn a_namespace_filter_binds_rows_to_the_user_and_ands_with_theirs() {
        let ch = ChannelName::new("db:public.todos").unwrap();
        assert_eq!(with_policy(None, None, &ch, None), Ok(None));
        let set = with_policy(Some("owner=eq.{sub}"), Some("u1"), &ch, None).unwrap().unwrap();
        assert!(set.matches(&insert(json!({"owner": "u1"}))) && !set.matches(&insert(json!({"owner": "u2"}))));
        let mine = Arc::new(ChangeFilterSet(vec![filter("id=gt.5")]));
        let set = with_policy(Some("owner=eq.{sub}"), Some("u1"), &ch, Some(mine)).unwrap().unwrap();
        assert!(set.matches(&insert(json!({"owner": "u1", "id": 6}))));
        assert!(!set.matches(&insert(json!({"owner": "u1", "id": 5}))));
        assert!(!set.matches(&insert(json!({"owner": "u2", "id": 6}))));
        assert_eq!(with_policy(Some("owner=eq.{sub}"), None, &ch, None).unwrap_err().code, ErrorCode::PermissionDenied);
        assert!(with_policy(Some("owner=eq.{sub}"), Some("a,b"), &ch, None).is_err());
    }

    #[test]
    fn a_view_parses_once_and_filter_sets_and() {
        let payload = Payload::from_value(&insert(json!({"id": 1, "owner": "a"})));
        let mut view = ChangeView::new(&payload);
        let both = Arc::new(filter("id=eq.1").and(filter("owner=eq.a")));
        let other_owner = Arc::new(filter("id=eq.1").and(filter("owner=eq.b")));
        assert!(view.passes(Some(&both)));
        assert!(!view.passes(Some(&other_owner)));
        assert!(view.passes(None));
    }
}
