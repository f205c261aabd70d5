//! Parsing policy documents. Every error names the place in the document it is about, as
//! `Statement[1].Action`, and what is wrong there.

use serde_json::{Map, Value};

use crate::condition::{Condition, parse_operator};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    pub path: String,
    pub message: String,
}

fn error(path: &str, message: impl Into<String>) -> PolicyError {
    PolicyError {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// The policy language version. Policy variables exist only in 2012-10-17.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2008,
    V2012,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: patterns, and whether they are negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub negated: bool,
    pub patterns: Vec<String>,
}

/// `Principal`/`NotPrincipal`: everyone, or principals by kind (`AWS`, `Service`, `Federated`,
/// `CanonicalUser`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principals {
    Anyone,
    Named(Vec<(String, String)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<(bool, Principals)>,
    pub action: Matcher,
    pub resource: Option<Matcher>,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub version: Version,
    pub statements: Vec<Statement>,
}

/// Parses a policy document.
pub fn parse(document: &str) -> Result<Policy, PolicyError> {
    let value: Value = serde_json::from_str(document).map_err(|e| {
        error(
            &format!("line {}, column {}", e.line(), e.column()),
            format!("not JSON: {e}"),
        )
    })?;
    let Value::Object(top) = value else {
        return Err(error("(document)", "a policy is a JSON object"));
    };
    for key in top.keys() {
        if !["Version", "Id", "Statement"].contains(&key.as_str()) {
            return Err(error(
                key,
                "unknown element; a policy has Version, Id and Statement",
            ));
        }
    }
    let version = match top.get("Version") {
        None => Version::V2008,
        Some(Value::String(v)) if v == "2012-10-17" => Version::V2012,
        Some(Value::String(v)) if v == "2008-10-17" => Version::V2008,
        Some(other) => {
            return Err(error(
                "Version",
                format!("{other} is not 2012-10-17 or 2008-10-17"),
            ));
        }
    };
    let statements = match top.get("Statement") {
        Some(Value::Object(one)) => vec![parse_statement(one, "Statement")?],
        Some(Value::Array(many)) if !many.is_empty() => many
            .iter()
            .enumerate()
            .map(|(index, value)| {
                let path = format!("Statement[{index}]");
                match value {
                    Value::Object(statement) => parse_statement(statement, &path),
                    _ => Err(error(&path, "a statement is a JSON object")),
                }
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Array(_)) => {
            return Err(error("Statement", "at least one statement is needed"));
        }
        Some(_) => {
            return Err(error(
                "Statement",
                "must be an object or an array of objects",
            ));
        }
        None => return Err(error("Statement", "missing")),
    };
    Ok(Policy {
        version,
        statements,
    })
}

const STATEMENT_KEYS: [&str; 10] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "Id",
];

fn parse_statement(statement: &Map<String, Value>, path: &str) -> Result<Statement, PolicyError> {
    for key in statement.keys() {
        if !STATEMENT_KEYS.contains(&key.as_str()) {
            return Err(error(
                &format!("{path}.{key}"),
                "unknown element of a statement",
            ));
        }
    }
    let sid = match statement.get("Sid") {
        None => None,
        Some(Value::String(sid)) => Some(sid.clone()),
        Some(_) => return Err(error(&format!("{path}.Sid"), "must be a string")),
    };
    let effect = match statement.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(error(
                &format!("{path}.Effect"),
                format!("{other} is not Allow or Deny"),
            ));
        }
        None => return Err(error(&format!("{path}.Effect"), "missing")),
    };
    let action = one_of(statement, path, "Action", "NotAction")?
        .ok_or_else(|| error(path, "needs Action or NotAction"))?;
    for (index, pattern) in action.patterns.iter().enumerate() {
        check_action(pattern).map_err(|m| error(&format!("{path}.Action[{index}]"), m))?;
    }
    let resource = one_of(statement, path, "Resource", "NotResource")?;
    let principal = principals(statement, path)?;
    let conditions = match statement.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(block)) => conditions(block, &format!("{path}.Condition"))?,
        Some(_) => return Err(error(&format!("{path}.Condition"), "must be an object")),
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

/// `service:action` with wildcards, or `*`.
fn check_action(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let Some((service, action)) = pattern.split_once(':') else {
        return Err(format!(
            "{pattern:?} is not an action: write service:Action, as s3:GetObject"
        ));
    };
    let service_ok = !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*');
    if !service_ok || action.is_empty() {
        return Err(format!(
            "{pattern:?} is not an action: write service:Action, as s3:GetObject"
        ));
    }
    Ok(())
}

fn one_of(
    statement: &Map<String, Value>,
    path: &str,
    plain: &str,
    negated: &str,
) -> Result<Option<Matcher>, PolicyError> {
    match (statement.get(plain), statement.get(negated)) {
        (Some(_), Some(_)) => Err(error(path, format!("has both {plain} and {negated}"))),
        (Some(value), None) => Ok(Some(Matcher {
            negated: false,
            patterns: strings(value, &format!("{path}.{plain}"))?,
        })),
        (None, Some(value)) => Ok(Some(Matcher {
            negated: true,
            patterns: strings(value, &format!("{path}.{negated}"))?,
        })),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty array of strings.
fn strings(value: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(one) => Ok(vec![one.clone()]),
        Value::Array(many) if !many.is_empty() => many
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(text) => Ok(text.clone()),
                _ => Err(error(&format!("{path}[{index}]"), "must be a string")),
            })
            .collect(),
        _ => Err(error(
            path,
            "must be a string or a non-empty array of strings",
        )),
    }
}

fn principals(
    statement: &Map<String, Value>,
    path: &str,
) -> Result<Option<(bool, Principals)>, PolicyError> {
    let (negated, value, name) = match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err(error(path, "has both Principal and NotPrincipal")),
        (Some(value), None) => (false, value, "Principal"),
        (None, Some(value)) => (true, value, "NotPrincipal"),
        (None, None) => return Ok(None),
    };
    let path = format!("{path}.{name}");
    let principals = match value {
        Value::String(star) if star == "*" => Principals::Anyone,
        Value::Object(kinds) => {
            let mut named = Vec::new();
            for (kind, ids) in kinds {
                if !["AWS", "Service", "Federated", "CanonicalUser"].contains(&kind.as_str()) {
                    return Err(error(
                        &format!("{path}.{kind}"),
                        "unknown principal type; use AWS, Service, Federated or CanonicalUser",
                    ));
                }
                for id in strings(ids, &format!("{path}.{kind}"))? {
                    if kind == "AWS" && id == "*" {
                        return Ok(Some((negated, Principals::Anyone)));
                    }
                    named.push((kind.clone(), id));
                }
            }
            Principals::Named(named)
        }
        _ => {
            return Err(error(
                &path,
                "must be \"*\" or an object such as {\"AWS\": \"...\"}",
            ));
        }
    };
    Ok(Some((negated, principals)))
}

fn conditions(block: &Map<String, Value>, path: &str) -> Result<Vec<Condition>, PolicyError> {
    let mut all = Vec::new();
    for (operator, keys) in block {
        let operator_path = format!("{path}.{operator}");
        let parsed = parse_operator(operator).map_err(|m| error(&operator_path, m))?;
        let Value::Object(keys) = keys else {
            return Err(error(&operator_path, "must be an object of condition keys"));
        };
        for (key, values) in keys {
            let key_path = format!("{operator_path}.{key}");
            let values = match values {
                Value::Array(items) => items
                    .iter()
                    .map(|item| scalar(item, &key_path))
                    .collect::<Result<Vec<_>, _>>()?,
                other => vec![scalar(other, &key_path)?],
            };
            all.push(Condition {
                operator: parsed,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(all)
}

/// Condition values may be written as strings, numbers or booleans; IAM compares them as text.
fn scalar(value: &Value, path: &str) -> Result<String, PolicyError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Number(number) => Ok(number.to_string()),
        _ => Err(error(
            path,
            "condition values are strings, numbers or booleans",
        )),
    }
}
