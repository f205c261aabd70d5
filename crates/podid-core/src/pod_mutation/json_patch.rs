//! JSON Patch (RFC 6902) operations, JSON Pointers (RFC 6901), and an applier.
//!
//! The webhook answers the API server with a patch rather than a whole pod; whoever stores pods
//! without an API server (the sandbox, the tests) applies it with [`apply_patch`]. Only the
//! operations a pod mutation needs are supported: `add`, `remove` and `replace`, with `-` as
//! the index after an array's last element.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One operation, serialized as RFC 6902 spells it: `{"op": "add", "path": ..., "value": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOperation {
    Add { path: String, value: Value },
    Remove { path: String },
    Replace { path: String, value: Value },
}

impl PatchOperation {
    pub fn path(&self) -> &str {
        match self {
            PatchOperation::Add { path, .. }
            | PatchOperation::Remove { path }
            | PatchOperation::Replace { path, .. } => path,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            PatchOperation::Add { .. } => "add",
            PatchOperation::Remove { .. } => "remove",
            PatchOperation::Replace { .. } => "replace",
        }
    }
}

/// A patch that cannot be applied: which operation, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("patch operation {index} ({op} {path:?}): {problem}")]
pub struct PatchError {
    /// Counted from 0.
    pub index: usize,
    pub op: &'static str,
    pub path: String,
    pub problem: PatchProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchProblem {
    #[error("not a JSON pointer: it must be empty or start with '/', and '~' escape only 0 or 1")]
    NotAPointer,
    #[error("{0:?} does not exist")]
    Missing(String),
    #[error("{index:?} is not a position in an array of {len} elements")]
    BadIndex { index: String, len: usize },
    #[error("{0:?} is neither an object nor an array")]
    NotAContainer(String),
    #[error("the whole document cannot be removed")]
    RemoveRoot,
}

/// The JSON Pointer of `tokens`, escaping `~` and `/` inside each.
pub fn pointer(tokens: &[&str]) -> String {
    tokens.iter().fold(String::new(), |mut pointer, token| {
        pointer.push('/');
        pointer.push_str(&escape(token));
        pointer
    })
}

/// `document` with `patch` applied. The patch applies whole or not at all: on error the
/// caller still has the document as it was.
pub fn apply_patch(document: &Value, patch: &[PatchOperation]) -> Result<Value, PatchError> {
    let mut patched = document.clone();
    for (index, operation) in patch.iter().enumerate() {
        apply_operation(&mut patched, operation).map_err(|problem| PatchError {
            index,
            op: operation.name(),
            path: operation.path().to_owned(),
            problem,
        })?;
    }
    Ok(patched)
}

fn apply_operation(document: &mut Value, operation: &PatchOperation) -> Result<(), PatchProblem> {
    let mut tokens = parse_pointer(operation.path())?;
    let Some(last) = tokens.pop() else {
        return match operation {
            PatchOperation::Add { value, .. } | PatchOperation::Replace { value, .. } => {
                *document = value.clone();
                Ok(())
            }
            PatchOperation::Remove { .. } => Err(PatchProblem::RemoveRoot),
        };
    };
    let (parent, parent_path) = walk(document, &tokens)?;
    let target = || format!("{parent_path}/{}", escape(&last));
    match (operation, parent) {
        (PatchOperation::Add { value, .. }, Value::Object(members)) => {
            members.insert(last, value.clone());
        }
        (PatchOperation::Add { value, .. }, Value::Array(items)) => {
            let position = if last == "-" {
                items.len()
            } else {
                index(&last, items.len(), Reach::EndToo)?
            };
            items.insert(position, value.clone());
        }
        (PatchOperation::Remove { .. }, Value::Object(members)) => {
            members
                .remove(&last)
                .ok_or_else(|| PatchProblem::Missing(target()))?;
        }
        (PatchOperation::Remove { .. }, Value::Array(items)) => {
            items.remove(index(&last, items.len(), Reach::Element)?);
        }
        (PatchOperation::Replace { value, .. }, Value::Object(members)) => {
            let member = members
                .get_mut(&last)
                .ok_or_else(|| PatchProblem::Missing(target()))?;
            *member = value.clone();
        }
        (PatchOperation::Replace { value, .. }, Value::Array(items)) => {
            let position = index(&last, items.len(), Reach::Element)?;
            if let Some(item) = items.get_mut(position) {
                *item = value.clone();
            }
        }
        (_, _) => return Err(PatchProblem::NotAContainer(parent_path)),
    }
    Ok(())
}

/// Follows `tokens` from the root; answers the value reached and its pointer.
fn walk<'a>(
    document: &'a mut Value,
    tokens: &[String],
) -> Result<(&'a mut Value, String), PatchProblem> {
    let mut current = document;
    let mut walked = String::new();
    for token in tokens {
        walked.push('/');
        walked.push_str(&escape(token));
        let next = match current {
            Value::Object(members) => members.get_mut(token),
            Value::Array(items) => {
                let len = items.len();
                items.get_mut(index(token, len, Reach::Element)?)
            }
            _ => None,
        };
        current = next.ok_or_else(|| PatchProblem::Missing(walked.clone()))?;
    }
    Ok((current, walked))
}

/// Where an array index points: an existing element, or also just past the last one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    Element,
    EndToo,
}

/// An array index as RFC 6901 writes it: digits without a leading zero.
fn index(token: &str, len: usize, reach: Reach) -> Result<usize, PatchProblem> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    let canonical = digits && (token == "0" || !token.starts_with('0'));
    let limit = if reach == Reach::EndToo { len + 1 } else { len };
    match canonical.then(|| token.parse::<usize>().ok()).flatten() {
        Some(position) if position < limit => Ok(position),
        _ => Err(PatchProblem::BadIndex {
            index: token.to_owned(),
            len,
        }),
    }
}

fn parse_pointer(path: &str) -> Result<Vec<String>, PatchProblem> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path.strip_prefix('/').ok_or(PatchProblem::NotAPointer)?;
    rest.split('/').map(unescape).collect()
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// `~1` is `/` and `~0` is `~`, decoded in one pass so that `~01` stays `~1`.
fn unescape(token: &str) -> Result<String, PatchProblem> {
    let mut decoded = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            decoded.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => decoded.push('~'),
            Some('1') => decoded.push('/'),
            _ => return Err(PatchProblem::NotAPointer),
        }
    }
    Ok(decoded)
}
