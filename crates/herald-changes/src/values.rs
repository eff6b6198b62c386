//! Column values as JSON, by PostgreSQL type OID.
//!
//! - `int2`, `int4`, `oid`, `float4`, `float8`: numbers (`NaN`/`Infinity`
//!   as strings: JSON has no such numbers).
//! - `int8`: a number when it is a safe integer (|v| ≤ 2^53 − 1, exact in a
//!   JavaScript number), else a string of its digits.
//! - `numeric`: always a string (arbitrary precision; a JSON number would be
//!   rounded by most parsers).
//! - `bool`: true/false. `json`/`jsonb`: the JSON value itself.
//! - `timestamp`/`timestamptz`: ISO 8601 (`2024-01-02T03:04:05.5+00:00`).
//! - arrays of the above: JSON arrays (nested for multi-dimensional ones).
//! - everything else (text, varchar, uuid, date, bytea as `\x…`, enums, …):
//!   the text output as a string.

use serde_json::Value;

use crate::timestamp::pg_timestamp_text_to_iso;

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Built-in type OIDs.
pub mod oid {
    #![allow(missing_docs)]
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const TIMETZ: u32 = 1266;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// (type OID, name, element type OID for arrays).
const BUILTIN: &[(u32, &str, u32)] = &[
    (oid::BOOL, "bool", 0),
    (oid::BYTEA, "bytea", 0),
    (oid::CHAR, "char", 0),
    (oid::NAME, "name", 0),
    (oid::INT8, "int8", 0),
    (oid::INT2, "int2", 0),
    (oid::INT4, "int4", 0),
    (oid::TEXT, "text", 0),
    (oid::OID, "oid", 0),
    (oid::JSON, "json", 0),
    (oid::FLOAT4, "float4", 0),
    (oid::FLOAT8, "float8", 0),
    (oid::BPCHAR, "bpchar", 0),
    (oid::VARCHAR, "varchar", 0),
    (oid::DATE, "date", 0),
    (oid::TIME, "time", 0),
    (oid::TIMESTAMP, "timestamp", 0),
    (oid::TIMESTAMPTZ, "timestamptz", 0),
    (oid::TIMETZ, "timetz", 0),
    (oid::NUMERIC, "numeric", 0),
    (oid::UUID, "uuid", 0),
    (oid::JSONB, "jsonb", 0),
    (1000, "_bool", oid::BOOL),
    (1001, "_bytea", oid::BYTEA),
    (1005, "_int2", oid::INT2),
    (1007, "_int4", oid::INT4),
    (1009, "_text", oid::TEXT),
    (1014, "_bpchar", oid::BPCHAR),
    (1015, "_varchar", oid::VARCHAR),
    (1016, "_int8", oid::INT8),
    (1021, "_float4", oid::FLOAT4),
    (1022, "_float8", oid::FLOAT8),
    (1028, "_oid", oid::OID),
    (1115, "_timestamp", oid::TIMESTAMP),
    (1182, "_date", oid::DATE),
    (1185, "_timestamptz", oid::TIMESTAMPTZ),
    (1231, "_numeric", oid::NUMERIC),
    (199, "_json", oid::JSON),
    (2951, "_uuid", oid::UUID),
    (3807, "_jsonb", oid::JSONB),
];

/// The name of a built-in type (`int4`, `_text` for `text[]`), if known.
pub fn builtin_type_name(type_oid: u32) -> Option<&'static str> {
    BUILTIN.iter().find(|(o, _, _)| *o == type_oid).map(|(_, n, _)| *n)
}

/// The OID of a built-in type by name, if known.
pub fn builtin_type_oid(name: &str) -> Option<u32> {
    BUILTIN.iter().find(|(_, n, _)| *n == name).map(|(o, _, _)| *o)
}

fn array_element(type_oid: u32) -> Option<u32> {
    BUILTIN.iter().find(|(o, _, e)| *o == type_oid && *e != 0).map(|(_, _, e)| *e)
}

/// Kinds of column for filters: what a value may be compared as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Integers, floats, numeric.
    Number,
    /// true/false.
    Bool,
    /// Strings compared as text (text, varchar, uuid, dates and times in ISO form).
    Text,
    /// JSON, arrays, binary: not comparable.
    Structured,
}

/// How a column of `type_oid` compares in filters.
pub fn value_kind(type_oid: u32) -> ValueKind {
    match type_oid {
        oid::INT2 | oid::INT4 | oid::INT8 | oid::OID | oid::FLOAT4 | oid::FLOAT8 | oid::NUMERIC => ValueKind::Number,
        oid::BOOL => ValueKind::Bool,
        oid::JSON | oid::JSONB | oid::BYTEA => ValueKind::Structured,
        t if array_element(t).is_some() => ValueKind::Structured,
        _ => ValueKind::Text,
    }
}

/// A column's text output as JSON, by its type.
pub fn text_to_json(type_oid: u32, text: &str) -> Value {
    match type_oid {
        oid::BOOL => match text {
            "t" | "true" => Value::Bool(true),
            "f" | "false" => Value::Bool(false),
            other => Value::String(other.to_string()),
        },
        oid::INT2 | oid::INT4 | oid::OID => {
            text.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(text.to_string()))
        }
        oid::INT8 => match text.parse::<i64>() {
            Ok(v) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&v) => Value::from(v),
            _ => Value::String(text.to_string()),
        },
        oid::FLOAT4 | oid::FLOAT8 => match text.parse::<f64>() {
            Ok(v) if v.is_finite() => serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
            _ => Value::String(text.to_string()),
        },
        oid::JSON | oid::JSONB => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
        oid::TIMESTAMP | oid::TIMESTAMPTZ => Value::String(pg_timestamp_text_to_iso(text)),
        t => match array_element(t) {
            Some(element) => parse_array(text, element).unwrap_or_else(|| Value::String(text.to_string())),
            None => Value::String(text.to_string()),
        },
    }
}

/// Parse PostgreSQL's array text output (`{1,2,NULL}`, `{"a b","c\"d"}`,
/// `{{1,2},{3,4}}`, with an optional `[1:2]=` dimension prefix).
fn parse_array(text: &str, element: u32) -> Option<Value> {
    let body = match text.find("={") {
        Some(i) if text.starts_with('[') => &text[i + 1..],
        _ => text,
    };
    let mut chars = body.chars().peekable();
    let v = parse_array_level(&mut chars, element)?;
    chars.next().is_none().then_some(v)
}

fn parse_array_level(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, element: u32) -> Option<Value> {
    if chars.next()? != '{' {
        return None;
    }
    let mut items = Vec::new();
    if chars.peek() == Some(&'}') {
        chars.next();
        return Some(Value::Array(items));
    }
    loop {
        match chars.peek()? {
            '{' => items.push(parse_array_level(chars, element)?),
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '\\' => s.push(chars.next()?),
                        '"' => break,
                        c => s.push(c),
                    }
                }
                items.push(text_to_json(element, &s));
            }
            _ => {
                let mut s = String::new();
                while let Some(c) = chars.peek() {
                    if *c == ',' || *c == '}' {
                        break;
                    }
                    s.push(*c);
                    chars.next();
                }
                let s = s.trim();
                items.push(if s.eq_ignore_ascii_case("NULL") { Value::Null } else { text_to_json(element, s) });
            }
        }
        match chars.next()? {
            ',' => continue,
            '}' => return Some(Value::Array(items)),
            _ => return None,
        }
    }
}

/// A binary value (only sent with the `binary` option, which Herald does not
/// ask for) as PostgreSQL's hex text form.
pub fn binary_to_json(bytes: &[u8]) -> Value {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("\\x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Value::String(s)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn scalars_by_type() {
        assert_eq!(text_to_json(oid::INT4, "42"), json!(42));
        assert_eq!(text_to_json(oid::INT2, "-7"), json!(-7));
        assert_eq!(text_to_json(oid::INT8, "9007199254740991"), json!(9007199254740991i64));
        assert_eq!(text_to_json(oid::INT8, "9007199254740992"), json!("9007199254740992"));
        assert_eq!(text_to_json(oid::INT8, "-9223372036854775808"), json!("-9223372036854775808"));
        assert_eq!(text_to_json(oid::NUMERIC, "12345678901234567890.123"), json!("12345678901234567890.123"));
        assert_eq!(text_to_json(oid::FLOAT8, "1.5"), json!(1.5));
        assert_eq!(text_to_json(oid::FLOAT8, "NaN"), json!("NaN"));
        assert_eq!(text_to_json(oid::FLOAT4, "-Infinity"), json!("-Infinity"));
        assert_eq!(text_to_json(oid::BOOL, "t"), json!(true));
        assert_eq!(text_to_json(oid::BOOL, "f"), json!(false));
        assert_eq!(text_to_json(oid::TEXT, "hi \"there\""), json!("hi \"there\""));
        assert_eq!(text_to_json(oid::VARCHAR, "42"), json!("42"));
        assert_eq!(text_to_json(oid::JSONB, r#"{"a": [1, true]}"#), json!({"a": [1, true]}));
        assert_eq!(text_to_json(oid::JSON, "not json"), json!("not json"));
        assert_eq!(text_to_json(oid::TIMESTAMPTZ, "2024-01-02 03:04:05.25+00"), json!("2024-01-02T03:04:05.25+00:00"));
        assert_eq!(text_to_json(oid::TIMESTAMP, "2024-01-02 03:04:05"), json!("2024-01-02T03:04:05"));
        assert_eq!(
            text_to_json(oid::UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
        );
        assert_eq!(text_to_json(99999, "custom"), json!("custom"));
    }

    #[test]
    fn arrays_nest_quote_and_hold_nulls() {
        assert_eq!(text_to_json(1007, "{1,2,NULL}"), json!([1, 2, null]));
        assert_eq!(text_to_json(1009, r#"{"a b","c\"d",NULL,"NULL",x}"#), json!(["a b", "c\"d", null, "NULL", "x"]));
        assert_eq!(text_to_json(1007, "{{1,2},{3,4}}"), json!([[1, 2], [3, 4]]));
        assert_eq!(text_to_json(1000, "{t,f}"), json!([true, false]));
        assert_eq!(text_to_json(1009, "{}"), json!([]));
        assert_eq!(text_to_json(1007, "[0:1]={5,6}"), json!([5, 6]));
        assert_eq!(text_to_json(3807, r#"{"{\"a\": 1}"}"#), json!([{"a": 1}]));
        assert_eq!(text_to_json(1007, "{1,2"), json!("{1,2"), "broken input stays text");
    }

    #[test]
    fn type_names_and_kinds() {
        assert_eq!(builtin_type_name(23), Some("int4"));
        assert_eq!(builtin_type_name(1009), Some("_text"));
        assert_eq!(builtin_type_oid("jsonb"), Some(oid::JSONB));
        assert_eq!(value_kind(oid::INT8), ValueKind::Number);
        assert_eq!(value_kind(oid::BOOL), ValueKind::Bool);
        assert_eq!(value_kind(1007), ValueKind::Structured);
        assert_eq!(value_kind(oid::TIMESTAMPTZ), ValueKind::Text);
        assert_eq!(binary_to_json(&[0, 255]), json!("\\x00ff"));
    }
}
