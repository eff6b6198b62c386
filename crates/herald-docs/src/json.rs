//! A document's root types as JSON, for the HTTP API. The server never
//! declared the roots (clients did), so each root's kind is inferred from
//! its content the way yrs does: map entries → `Y.Map` (an object), text
//! content → `Y.Text` (a string), other list content → `Y.Array`.

use serde_json::{Map, Value};
use yrs::types::{AsPrelim, ToJson};
use yrs::{ArrayRef, GetString, In, MapRef, Out, ReadTxn, TextRef, Transact, XmlFragmentRef};

use crate::document::Document;

/// `{root name: value}` for every root type.
pub fn to_json(doc: &Document) -> Value {
    let txn = doc.doc().transact();
    let mut out = Map::new();
    for (name, root) in txn.root_refs() {
        out.insert(name.to_string(), root_json(&txn, root));
    }
    Value::Object(out)
}

fn root_json<T: ReadTxn>(txn: &T, root: Out) -> Value {
    match root {
        Out::YText(t) => Value::String(t.get_string(txn)),
        Out::YMap(m) => any_json(&m.to_json(txn)),
        Out::YArray(a) => any_json(&a.to_json(txn)),
        Out::YXmlFragment(x) => Value::String(x.get_string(txn)),
        Out::UndefinedRef(ptr) => match Out::UndefinedRef(ptr).as_prelim(txn) {
            In::Map(_) => any_json(&MapRef::from(ptr).to_json(txn)),
            In::Array(_) => any_json(&ArrayRef::from(ptr).to_json(txn)),
            In::Text(_) => Value::String(TextRef::from(ptr).get_string(txn)),
            _ => Value::String(XmlFragmentRef::from(ptr).get_string(txn)),
        },
        other => any_json(&other.to_json(txn)),
    }
}

fn any_json(any: &yrs::Any) -> Value {
    serde_json::to_value(any).unwrap_or(Value::Null)
}
