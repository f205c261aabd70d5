//! Kubernetes service-account tokens as the node agent reads them: decoded, not verified.
//!
//! The agent never holds the cluster's signing keys; verifying the signature is the control
//! plane's job. What the agent can do on its own is refuse what is obviously broken (empty,
//! oversized, not a JWT, expired, not yet valid) with a precise message, and read the claims that
//! say which pod a token belongs to, so that its cache can keep one entry per pod.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::Secret;

/// The audience that pod identity tokens are issued for.
pub const POD_IDENTITY_AUDIENCE: &str = "pods.eks.amazonaws.com";

/// The longest token accepted. Projected tokens are 1–2 KiB; a bound well above that keeps
/// room for long issuer URLs while refusing abuse early.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("service account token is empty")]
    Empty,
    #[error("service account token is {len} bytes, more than the {max} allowed")]
    TooLong { len: usize, max: usize },
    #[error("service account token is not a JWT: expected 3 dot-separated parts, found {0}")]
    NotThreeParts(usize),
    #[error("service account token {part} is not valid base64url")]
    Base64 { part: &'static str },
    #[error("service account token {part} is not a JSON object: {reason}")]
    Json { part: &'static str, reason: String },
    #[error("service account token has no {0:?} claim")]
    MissingClaim(&'static str),
    #[error(
        "service account token is not bound to a pod (no \"kubernetes.io\".pod claim): \
         mount a projected token with audience {POD_IDENTITY_AUDIENCE}"
    )]
    NotPodBound,
    #[error("service account token expired at {expired_at} (now {now}, unix seconds)")]
    Expired { expired_at: i64, now: i64 },
    #[error("service account token is not valid before {not_before} (now {now}, unix seconds)")]
    NotYetValid { not_before: i64, now: i64 },
}

/// The name and uid of an object named in a token (pod, service account, node).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct ObjectRef {
    pub name: String,
    #[serde(default)]
    pub uid: String,
}

/// The `kubernetes.io` claim of a bound token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: Option<String>,
    pub serviceaccount: Option<ObjectRef>,
    pub pod: Option<ObjectRef>,
    pub node: Option<ObjectRef>,
}

/// `aud` may be one string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

/// The registered and Kubernetes claims of a service-account token. Times are Unix seconds;
/// fractional values, which some issuers write, are truncated.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Claims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<Audience>,
    pub exp: Option<f64>,
    pub nbf: Option<f64>,
    pub iat: Option<f64>,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: Option<KubernetesClaims>,
}

/// Who a pod-bound token speaks for: enough to tell two pods apart across clusters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PodIdentity {
    pub issuer: String,
    pub namespace: String,
    pub service_account: String,
    pub pod_name: String,
    pub pod_uid: String,
}

/// A token whose shape and claims were read but whose signature was not checked.
#[derive(Debug, Clone)]
pub struct UnverifiedToken {
    raw: Secret,
    expires_at: i64,
    not_before: Option<i64>,
    pod: PodIdentity,
}

impl UnverifiedToken {
    /// Decodes `raw` and requires the claims a pod identity exchange depends on.
    pub fn parse(raw: &str) -> Result<Self, TokenError> {
        let raw = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if raw.is_empty() {
            return Err(TokenError::Empty);
        }
        if raw.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong {
                len: raw.len(),
                max: MAX_TOKEN_BYTES,
            });
        }
        let claims = decode_claims(raw)?;
        let expires_at = claims.exp.ok_or(TokenError::MissingClaim("exp"))? as i64;
        let issuer = claims.iss.ok_or(TokenError::MissingClaim("iss"))?;
        let kubernetes = claims
            .kubernetes
            .ok_or(TokenError::MissingClaim("kubernetes.io"))?;
        let namespace = kubernetes
            .namespace
            .ok_or(TokenError::MissingClaim("namespace"))?;
        let service_account = kubernetes
            .serviceaccount
            .ok_or(TokenError::MissingClaim("serviceaccount"))?;
        let pod = kubernetes.pod.ok_or(TokenError::NotPodBound)?;

        Ok(Self {
            raw: Secret::new(raw),
            expires_at,
            not_before: claims.nbf.map(|nbf| nbf as i64),
            pod: PodIdentity {
                issuer,
                namespace,
                service_account: service_account.name,
                pod_name: pod.name,
                pod_uid: pod.uid,
            },
        })
    }

    /// Checks `exp` and `nbf` against `now`. `nbf_leeway` absorbs a node clock running slightly
    /// behind the API server's; an expired token gets no leeway since it can only fail upstream.
    pub fn check_time(&self, now: i64, nbf_leeway: i64) -> Result<(), TokenError> {
        if self.expires_at <= now {
            return Err(TokenError::Expired {
                expired_at: self.expires_at,
                now,
            });
        }
        match self.not_before {
            Some(not_before) if not_before > now + nbf_leeway => {
                Err(TokenError::NotYetValid { not_before, now })
            }
            _ => Ok(()),
        }
    }

    pub fn raw(&self) -> &Secret {
        &self.raw
    }

    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    pub fn pod(&self) -> &PodIdentity {
        &self.pod
    }
}

/// Decodes the payload of a compact JWT, after checking that the header is JSON too.
pub fn decode_claims(raw: &str) -> Result<Claims, TokenError> {
    let parts: Vec<&str> = raw.split('.').collect();
    let [header, payload, _signature] = parts[..] else {
        return Err(TokenError::NotThreeParts(parts.len()));
    };
    let header = decode_part(header, "header")?;
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&header).map_err(|e| {
        TokenError::Json {
            part: "header",
            reason: e.to_string(),
        }
    })?;
    let payload = decode_part(payload, "payload")?;
    serde_json::from_slice(&payload).map_err(|e| TokenError::Json {
        part: "payload",
        reason: e.to_string(),
    })
}

fn decode_part(part: &str, name: &'static str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| TokenError::Base64 { part: name })
}

#[cfg(test)]
mod tests;
