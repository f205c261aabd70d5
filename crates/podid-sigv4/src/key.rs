//! The signing key: HMAC-SHA256 of `aws4_request` under a key derived from the secret access
//! key, the scope's date, region and service in turn.
//!
//! Deriving it takes four HMACs, and a key serves every request of one access key in one scope
//! for a whole day, so a server verifying many requests should cache it by
//! (access key id, date, region, service).

use std::fmt;

use aws_lc_rs::hmac;

use crate::encoding::{hex32, parse_hex32};

/// A derived signing key. It grants what the secret grants within its scope for its day:
/// `Debug` hides it.
#[derive(Clone)]
pub struct SigningKey {
    bytes: [u8; 32],
    key: hmac::Key,
}

impl SigningKey {
    /// Derives the key for `secret_access_key` in the scope `date` (`YYYYMMDD`), `region` and
    /// `service`.
    pub fn derive(secret_access_key: &str, date: &str, region: &str, service: &str) -> Self {
        let mut seed = Vec::with_capacity(4 + secret_access_key.len());
        seed.extend_from_slice(b"AWS4");
        seed.extend_from_slice(secret_access_key.as_bytes());
        let mut current = hmac::Key::new(hmac::HMAC_SHA256, &seed);
        let mut bytes = [0u8; 32];
        for part in [date, region, service, "aws4_request"] {
            let tag = hmac::sign(&current, part.as_bytes());
            bytes.copy_from_slice(tag.as_ref());
            current = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
        }
        Self {
            bytes,
            key: current,
        }
    }

    /// The signature of `string_to_sign`, in lowercase hex.
    pub fn sign_hex(&self, string_to_sign: &[u8]) -> String {
        let tag = hmac::sign(&self.key, string_to_sign);
        crate::encoding::hex_str(&hex32(tag.as_ref())).to_owned()
    }

    /// Whether `signature_hex` (lowercase, as AWS writes it) signs `string_to_sign`, compared
    /// in constant time.
    pub fn verifies(&self, string_to_sign: &[u8], signature_hex: &str) -> bool {
        let lowercase = !signature_hex.bytes().any(|byte| byte.is_ascii_uppercase());
        lowercase
            && parse_hex32(signature_hex)
                .is_some_and(|tag| hmac::verify(&self.key, string_to_sign, &tag).is_ok())
    }

    /// The key itself, for the few places that must hand it on (and for known-answer tests).
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let key = SigningKey::derive("secret", "20240101", "us-east-1", "sts");
        let signature = key.sign_hex(b"text");
        assert_eq!(signature.len(), 64);
        assert!(key.verifies(b"text", &signature));
        assert!(!key.verifies(b"text", &signature.to_ascii_uppercase()));
        assert!(!key.verifies(b"other", &signature));
        assert!(!key.verifies(b"text", &signature[..63]));
        assert!(!key.verifies(b"text", ""));
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }
}
