//! A wrapper for values that must never reach a log line or an error message.

use std::fmt;

/// A secret string: a token, a secret access key or a session token.
///
/// `Debug` and `Display` print a placeholder, so a secret held in a struct that is logged with
/// `?` stays hidden. Reading the value takes an explicit call to [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    pub fn new(value: impl Into<Box<str>>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the few places that must send it on.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with `other` in time that depends only on the lengths, so that a caller probing
    /// with guesses learns nothing from how long a comparison took.
    pub fn constant_time_eq(&self, other: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), other.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Reads a secret from a JSON string (or any string a format holds), so that a parsed document
/// never keeps it in a plain `String`.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = Secret::new("wJalrXUtnFEMI");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(secret.expose(), "wJalrXUtnFEMI");
    }

    #[test]
    fn constant_time_eq_matches_plain_equality() {
        let secret = Secret::new("abc");
        assert!(secret.constant_time_eq("abc"));
        assert!(!secret.constant_time_eq("abd"));
        assert!(!secret.constant_time_eq("abcd"));
        assert!(!secret.constant_time_eq(""));
    }
}
