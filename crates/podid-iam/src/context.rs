//! Who asks, and the request context keys conditions test.

use std::collections::HashMap;

/// The principal making a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// The caller's ARN: a user, a role, or a role session
    /// (`arn:aws:sts::<account>:assumed-role/<role>/<session>`).
    pub arn: String,
    pub account: String,
    /// For a role session, the role's ARN: resource policies that name the role match it.
    pub role_arn: Option<String>,
    /// For a service principal (`pods.eks.amazonaws.com`), its name.
    pub service: Option<String>,
}

/// Context keys and their values. Keys are case-insensitive, as in IAM; each may hold several
/// values (`aws:TagKeys`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
}

impl Context {
    pub fn set<I, V>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        let values = values.into_iter().map(Into::into).collect();
        self.values.insert(key.to_ascii_lowercase(), values);
    }

    pub fn values(&self, key: &str) -> Option<&[String]> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}
