//! Verifying one token.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512, RsaParameters, RsaPublicKeyComponents,
    UnparsedPublicKey, VerificationAlgorithm,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use podid_core::token::{MAX_TOKEN_BYTES, ObjectRef, decode_claims};
use serde::Deserialize;

use super::jwks::{Curve, JwkSet, PublicKey};

/// What a token must say to be accepted.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// Unix seconds.
    pub now: i64,
    /// Allowed clock difference for `exp` and `nbf`.
    pub leeway: i64,
}

/// Why a token was refused. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("token is malformed: {0}")]
    Malformed(String),
    #[error("token algorithm {0:?} is not accepted: use RS256, RS384, RS512, ES256 or ES384")]
    Algorithm(String),
    #[error("token is signed with key {0:?}, which the cluster does not publish")]
    UnknownKey(String),
    #[error("token algorithm {alg} does not match the type of key {kid:?}")]
    KeyMismatch { alg: String, kid: String },
    #[error("token signature is invalid")]
    Signature,
    #[error("token issuer {found:?} is not the cluster's issuer {expected:?}")]
    Issuer { found: String, expected: String },
    #[error("token audience does not include {expected:?}")]
    Audience { expected: String },
    #[error("token expired at {expired_at} (now {now}, unix seconds)")]
    Expired { expired_at: i64, now: i64 },
    #[error("token is not valid before {not_before} (now {now}, unix seconds)")]
    NotYetValid { not_before: i64, now: i64 },
    #[error("token lacks the {0} claim")]
    MissingClaim(&'static str),
}

impl VerifyError {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::Malformed(_) => "malformed",
            VerifyError::Algorithm(_) => "algorithm",
            VerifyError::UnknownKey(_) => "unknown_key",
            VerifyError::KeyMismatch { .. } => "key_mismatch",
            VerifyError::Signature => "signature",
            VerifyError::Issuer { .. } => "issuer",
            VerifyError::Audience { .. } => "audience",
            VerifyError::Expired { .. } => "expired",
            VerifyError::NotYetValid { .. } => "not_yet_valid",
            VerifyError::MissingClaim(_) => "claims",
        }
    }
}

/// The claims of a verified token that podid acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub namespace: String,
    pub service_account: ObjectRef,
    pub pod: Option<ObjectRef>,
    pub node: Option<ObjectRef>,
    pub expires_at: i64,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

enum Family {
    Rsa(&'static RsaParameters),
    Ec(Curve, &'static dyn VerificationAlgorithm),
}

pub fn verify(
    raw: &str,
    keys: &JwkSet,
    expect: &Expectations<'_>,
) -> Result<VerifiedToken, VerifyError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_TOKEN_BYTES {
        return Err(VerifyError::Malformed(format!(
            "{} bytes; expected 1 to {MAX_TOKEN_BYTES}",
            raw.len()
        )));
    }
    let (signed, signature) = raw.rsplit_once('.').ok_or_else(not_a_jwt)?;
    let (header, _) = signed.split_once('.').ok_or_else(not_a_jwt)?;
    let header: Header = decode_json(header, "header")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| VerifyError::Malformed("signature is not base64url".into()))?;

    let family = family(&header.alg)?;
    check_signature(&header, &family, keys, signed.as_bytes(), &signature)?;

    let claims = decode_claims(raw).map_err(|e| VerifyError::Malformed(e.to_string()))?;
    let issuer = claims.iss.unwrap_or_default();
    if issuer != expect.issuer {
        return Err(VerifyError::Issuer {
            found: issuer,
            expected: expect.issuer.to_owned(),
        });
    }
    if !claims.aud.is_some_and(|aud| aud.contains(expect.audience)) {
        return Err(VerifyError::Audience {
            expected: expect.audience.to_owned(),
        });
    }
    let expires_at = claims.exp.ok_or(VerifyError::MissingClaim("exp"))? as i64;
    if expires_at + expect.leeway <= expect.now {
        return Err(VerifyError::Expired {
            expired_at: expires_at,
            now: expect.now,
        });
    }
    if let Some(not_before) = claims.nbf.map(|nbf| nbf as i64)
        && not_before > expect.now + expect.leeway
    {
        return Err(VerifyError::NotYetValid {
            not_before,
            now: expect.now,
        });
    }

    let kubernetes = claims
        .kubernetes
        .ok_or(VerifyError::MissingClaim("kubernetes.io"))?;
    Ok(VerifiedToken {
        namespace: kubernetes
            .namespace
            .ok_or(VerifyError::MissingClaim("namespace"))?,
        service_account: kubernetes
            .serviceaccount
            .ok_or(VerifyError::MissingClaim("serviceaccount"))?,
        pod: kubernetes.pod,
        node: kubernetes.node,
        expires_at,
    })
}

fn not_a_jwt() -> VerifyError {
    VerifyError::Malformed("expected 3 dot-separated parts".into())
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str, name: &str) -> Result<T, VerifyError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed(format!("{name} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|e| VerifyError::Malformed(format!("{name}: {e}")))
}

/// Only asymmetric algorithms: `none` and the HMAC family are refused before any key is looked
/// at, so a token "signed" with a public key as an HMAC secret never gets near verification.
fn family(alg: &str) -> Result<Family, VerifyError> {
    Ok(match alg {
        "RS256" => Family::Rsa(&RSA_PKCS1_2048_8192_SHA256),
        "RS384" => Family::Rsa(&RSA_PKCS1_2048_8192_SHA384),
        "RS512" => Family::Rsa(&RSA_PKCS1_2048_8192_SHA512),
        "ES256" => Family::Ec(Curve::P256, &ECDSA_P256_SHA256_FIXED),
        "ES384" => Family::Ec(Curve::P384, &ECDSA_P384_SHA384_FIXED),
        other => return Err(VerifyError::Algorithm(other.to_owned())),
    })
}

fn check_signature(
    header: &Header,
    family: &Family,
    keys: &JwkSet,
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    let candidates: Vec<&PublicKey> = match &header.kid {
        Some(kid) => vec![
            keys.get(kid)
                .ok_or_else(|| VerifyError::UnknownKey(kid.clone()))?,
        ],
        None => keys.keys().collect(),
    };
    let kid = header.kid.clone().unwrap_or_default();
    let mut matched_type = false;
    for key in candidates {
        let verified = match (family, key) {
            (Family::Rsa(params), PublicKey::Rsa { n, e }) => {
                matched_type = true;
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, signature)
                    .is_ok()
            }
            (
                Family::Ec(curve, algorithm),
                PublicKey::Ec {
                    curve: key_curve,
                    point,
                },
            ) if curve == key_curve => {
                matched_type = true;
                UnparsedPublicKey::new(*algorithm, point)
                    .verify(message, signature)
                    .is_ok()
            }
            _ => false,
        };
        if verified {
            return Ok(());
        }
    }
    if matched_type {
        Err(VerifyError::Signature)
    } else {
        Err(VerifyError::KeyMismatch {
            alg: header.alg.clone(),
            kid,
        })
    }
}
