//! Reading a pod's JSON field by field, so that whatever is not shaped like a Pod is reported
//! with the path of the field at fault.

use serde_json::{Map, Value};

use super::PodError;

fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

pub(super) fn missing_in(parent: &str, key: &str) -> PodError {
    PodError::Missing {
        path: child(parent, key),
    }
}

pub(super) fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, PodError> {
    value
        .as_object()
        .ok_or_else(|| wrong_type(path, "an object", value))
}

pub(super) fn required_object<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, PodError> {
    optional_object(parent, key, path)?.ok_or_else(|| missing_in(path, key))
}

/// A member that may be absent; `null` counts as absent, as Kubernetes omits empty fields.
fn optional<'a>(parent: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    parent.get(key).filter(|value| !value.is_null())
}

pub(super) fn optional_object<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, PodError> {
    optional(parent, key)
        .map(|value| object(value, &child(path, key)))
        .transpose()
}

pub(super) fn optional_array<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Vec<Value>>, PodError> {
    optional(parent, key)
        .map(|value| {
            value
                .as_array()
                .ok_or_else(|| wrong_type(&child(path, key), "an array", value))
        })
        .transpose()
}

pub(super) fn optional_str<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, PodError> {
    optional(parent, key)
        .map(|value| {
            value
                .as_str()
                .ok_or_else(|| wrong_type(&child(path, key), "a string", value))
        })
        .transpose()
}

/// An entry of an array of named objects, as `env`, `volumeMounts` and `volumes` are.
pub(super) type Named<'a> = (&'a str, &'a Map<String, Value>);

/// The entries of an array of named objects, each checked to have its name.
pub(super) fn named_entries<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<Vec<Named<'a>>>, PodError> {
    let Some(entries) = optional_array(parent, key, path)? else {
        return Ok(None);
    };
    let path = child(path, key);
    let mut named = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let at = format!("{path}[{index}]");
        let entry = object(entry, &at)?;
        let name = optional_str(entry, "name", &at)?.ok_or_else(|| missing_in(&at, "name"))?;
        named.push((name, entry));
    }
    Ok(Some(named))
}

fn wrong_type(path: &str, expected: &'static str, found: &Value) -> PodError {
    PodError::WrongType {
        path: path.to_owned(),
        expected,
        found: kind_of(found),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
