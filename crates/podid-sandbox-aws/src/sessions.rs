//! Temporary credentials that need no storage: everything STS knows of a session travels in its
//! session token, sealed with a key only the sandbox holds.
//!
//! A session's access key id is `ASIA`, ten random characters and six characters of a MAC of
//! them, so an id the sandbox never issued is refused before any signature is checked. The
//! secret key is derived from the id with the same key, and the session token carries the
//! claims (role, session name, tags, session policy, expiry) with a MAC over them. A restart
//! loses nothing: the key lives in the data directory, and credentials handed out before keep
//! working until they expire, as on AWS.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::ids::random_chars;
use crate::model::Tag;

/// The format of a sealed token's payload; a token of another version is refused.
const TOKEN_VERSION: u8 = 1;
const MAC_LEN: usize = 32;
/// Characters of an `ASIA` id that come from the MAC.
const ID_MAC_CHARS: usize = 6;
const ID_RANDOM_CHARS: usize = 10;

/// What a role session is, as sealed into its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub access_key_id: String,
    pub account: String,
    pub role_name: String,
    pub role_path: String,
    /// The role's unique id when the session began: a role deleted and made again under the
    /// same name is another role, and the old sessions get none of its permissions.
    pub role_id: String,
    pub session_name: String,
    /// Unix seconds.
    pub issued_at: i64,
    pub expires_at: i64,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Keys of the tags that pass on to sessions this one assumes.
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    /// The inline session policy given to AssumeRole.
    #[serde(default)]
    pub policy: Option<String>,
    /// Whether the session was assumed from another role session.
    #[serde(default)]
    pub chained: bool,
}

impl SessionClaims {
    pub fn role_arn(&self) -> String {
        format!(
            "arn:aws:iam::{}:role{}{}",
            self.account, self.role_path, self.role_name
        )
    }

    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`
    pub fn assumed_role_arn(&self) -> String {
        format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            self.account, self.role_name, self.session_name
        )
    }

    /// `<role id>:<session name>`, as `aws:userid` and GetCallerIdentity's `UserId`.
    pub fn assumed_role_id(&self) -> String {
        format!("{}:{}", self.role_id, self.session_name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionTokenError {
    #[error("the session token is malformed")]
    Malformed,
    #[error("the session token was not issued by this sandbox or was altered")]
    Forged,
}

/// The key that seals session tokens and derives session secrets.
pub struct SessionKeys {
    key: hmac::Key,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(<redacted>)")
    }
}

impl SessionKeys {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// A fresh `ASIA…` access key id that this key recognises.
    pub fn new_access_key_id(&self) -> String {
        let random = random_chars(ID_RANDOM_CHARS);
        let check = self.id_check(&random);
        format!("ASIA{random}{check}")
    }

    /// Whether `access_key_id` is a session key id issued with this key.
    pub fn issued(&self, access_key_id: &str) -> bool {
        let Some(rest) = access_key_id.strip_prefix("ASIA") else {
            return false;
        };
        if rest.len() != ID_RANDOM_CHARS + ID_MAC_CHARS || !rest.is_ascii() {
            return false;
        }
        let (random, check) = rest.split_at(ID_RANDOM_CHARS);
        self.id_check(random) == check
    }

    /// The secret access key of a session key id, if this key issued the id.
    pub fn secret_for(&self, access_key_id: &str) -> Option<String> {
        if !self.issued(access_key_id) {
            return None;
        }
        let tag = hmac::sign(&self.key, format!("secret/{access_key_id}").as_bytes());
        Some(STANDARD.encode(&tag.as_ref()[..30]))
    }

    /// The session token that carries `claims`.
    pub fn seal(&self, claims: &SessionClaims) -> String {
        // Serializing plain strings and numbers cannot fail.
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let mut signed = Vec::with_capacity(1 + payload.len());
        signed.push(TOKEN_VERSION);
        signed.extend_from_slice(&payload);
        let tag = hmac::sign(&self.key, &signed);
        let mut token = Vec::with_capacity(MAC_LEN + signed.len());
        token.extend_from_slice(tag.as_ref());
        token.extend_from_slice(&signed);
        STANDARD.encode(token)
    }

    /// The claims of a token this key sealed. Expiry is the caller's to judge.
    pub fn open(&self, token: &str) -> Result<SessionClaims, SessionTokenError> {
        let bytes = STANDARD
            .decode(token)
            .map_err(|_| SessionTokenError::Malformed)?;
        if bytes.len() <= MAC_LEN + 1 {
            return Err(SessionTokenError::Malformed);
        }
        let (tag, signed) = bytes.split_at(MAC_LEN);
        hmac::verify(&self.key, signed, tag).map_err(|_| SessionTokenError::Forged)?;
        if signed[0] != TOKEN_VERSION {
            return Err(SessionTokenError::Malformed);
        }
        serde_json::from_slice(&signed[1..]).map_err(|_| SessionTokenError::Malformed)
    }

    fn id_check(&self, random: &str) -> String {
        let tag = hmac::sign(&self.key, format!("id/{random}").as_bytes());
        URL_SAFE_NO_PAD
            .encode(tag.as_ref())
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .take(ID_MAC_CHARS)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(keys: &SessionKeys) -> SessionClaims {
        SessionClaims {
            access_key_id: keys.new_access_key_id(),
            account: "111122223333".into(),
            role_name: "reader".into(),
            role_path: "/".into(),
            role_id: "AROAEXAMPLE0000000000".into(),
            session_name: "s1".into(),
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
            tags: vec![Tag {
                key: "team".into(),
                value: "blue".into(),
            }],
            transitive_tag_keys: vec!["team".into()],
            policy: None,
            chained: false,
        }
    }

    #[test]
    fn a_sealed_token_opens_to_its_claims() {
        let keys = SessionKeys::new(&[7; 32]);
        let claims = claims(&keys);
        let token = keys.seal(&claims);
        assert_eq!(keys.open(&token), Ok(claims.clone()));
        assert_eq!(
            claims.assumed_role_arn(),
            "arn:aws:sts::111122223333:assumed-role/reader/s1"
        );
        assert_eq!(claims.role_arn(), "arn:aws:iam::111122223333:role/reader");
    }

    #[test]
    fn altered_or_foreign_tokens_are_refused() {
        let keys = SessionKeys::new(&[7; 32]);
        let token = keys.seal(&claims(&keys));
        let mut bytes = STANDARD.decode(&token).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        let altered = STANDARD.encode(&bytes);
        assert_eq!(keys.open(&altered), Err(SessionTokenError::Forged));
        let other = SessionKeys::new(&[8; 32]);
        assert_eq!(other.open(&token), Err(SessionTokenError::Forged));
        assert_eq!(keys.open("not base64!"), Err(SessionTokenError::Malformed));
        assert_eq!(keys.open(""), Err(SessionTokenError::Malformed));
    }

    #[test]
    fn only_issued_ids_have_secrets() {
        let keys = SessionKeys::new(&[7; 32]);
        let id = keys.new_access_key_id();
        assert_eq!(id.len(), 20);
        assert!(keys.issued(&id));
        let secret = keys.secret_for(&id).unwrap();
        assert_eq!(secret.len(), 40);
        assert_eq!(keys.secret_for(&id), Some(secret));
        assert!(!keys.issued("ASIAAAAAAAAAAAAAAAAA"));
        assert!(!keys.issued("AKIAAAAAAAAAAAAAAAAA"));
        assert_eq!(SessionKeys::new(&[8; 32]).secret_for(&id), None);
    }
}
