//! Identifiers and secrets in the shapes IAM and STS give them.
//!
//! IAM's unique ids are a four-letter prefix that tells the kind of entity (`AIDA` a user,
//! `AROA` a role, `ANPA` a managed policy) followed by upper-case letters and digits; access
//! key ids are `AKIA` (long-term) or `ASIA` (temporary) and 20 characters in all. Tools and
//! people recognise these prefixes, so the sandbox keeps them.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The characters of the random part of an id.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The kinds of entity whose ids carry a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    User,
    Role,
    Policy,
    AccessKey,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::User => "AIDA",
            IdKind::Role => "AROA",
            IdKind::Policy => "ANPA",
            IdKind::AccessKey => "AKIA",
        }
    }

    /// Unique ids are 21 characters; access key ids 20.
    fn len(self) -> usize {
        match self {
            IdKind::AccessKey => 20,
            _ => 21,
        }
    }
}

/// A fresh id of `kind`. Ids are not secrets, so a fast generator is enough.
pub fn new_id(kind: IdKind) -> String {
    let prefix = kind.prefix();
    let mut id = String::with_capacity(kind.len());
    id.push_str(prefix);
    id.extend((prefix.len()..kind.len()).map(|_| random_char()));
    id
}

/// `n` random characters of the id alphabet.
pub fn random_chars(n: usize) -> String {
    (0..n).map(|_| random_char()).collect()
}

fn random_char() -> char {
    char::from(ALPHABET[fastrand::usize(..ALPHABET.len())])
}

#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct RandomError;

/// `N` bytes from the system's cryptographic generator, for keys and secrets.
pub fn secure_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomError)?;
    Ok(bytes)
}

/// A secret access key: 40 characters, as AWS's are.
pub fn new_secret_access_key() -> Result<String, RandomError> {
    Ok(STANDARD.encode(secure_bytes::<30>()?))
}

/// A request id for response metadata: a version 4 UUID.
pub fn request_id() -> String {
    podid_core::uuid::uuid_v4(fastrand::u128(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_iam_shapes() {
        for (kind, prefix, len) in [
            (IdKind::User, "AIDA", 21),
            (IdKind::Role, "AROA", 21),
            (IdKind::Policy, "ANPA", 21),
            (IdKind::AccessKey, "AKIA", 20),
        ] {
            let id = new_id(kind);
            assert!(id.starts_with(prefix), "{id}");
            assert_eq!(id.len(), len, "{id}");
            assert!(id.bytes().all(|b| ALPHABET.contains(&b)), "{id}");
        }
        assert_ne!(new_id(IdKind::Role), new_id(IdKind::Role));
    }

    #[test]
    fn secrets_are_forty_characters() {
        let secret = new_secret_access_key().unwrap();
        assert_eq!(secret.len(), 40);
        assert_ne!(secret, new_secret_access_key().unwrap());
    }
}
