//! Pod tokens shaped like the kubelet's projected service-account tokens, but unsigned.
//!
//! The agent decodes claims and never checks signatures (EKS Auth does), so a token only has to
//! be a well-formed JWT of realistic size: the agent's per-request cost grows with the length
//! it base64-decodes, parses and compares.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::filler::Filler;

const ISSUER: &str = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const NAMESPACE: &str = "default";
const SERVICE_ACCOUNT: &str = "bench";

/// An RS256 signature over a 2048-bit key is 256 bytes, 342 characters in base64url.
const SIGNATURE_BYTES: usize = 256;

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// A token for pod `pod` of the bench service account, valid for a day from now.
pub fn for_pod(pod: &str) -> String {
    let now = now_unix();
    let mut filler = Filler::seeded(pod);
    let claims = json!({
        "aud": ["pods.eks.amazonaws.com"],
        "exp": now + 86_400,
        "iat": now,
        "iss": ISSUER,
        "jti": filler.uuid(),
        "kubernetes.io": {
            "namespace": NAMESPACE,
            "node": {"name": "node-1", "uid": "6a0c3d55-8b3c-4a9e-9d0f-2f3b1c7e9a11"},
            "pod": {"name": pod, "uid": format!("{pod}-uid")},
            "serviceaccount": {
                "name": SERVICE_ACCOUNT,
                "uid": "0d1c9b1e-6f4a-4c52-9a3e-5b8d7f2e4c10"
            }
        },
        "nbf": now,
        "sub": format!("system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}")
    });
    let header = json!({"alg": "RS256", "kid": "bench"});
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(filler.bytes(SIGNATURE_BYTES)),
    )
}

#[cfg(test)]
mod tests {
    use podid_core::token::UnverifiedToken;

    use super::*;

    #[test]
    fn the_agent_reads_the_pod_from_it() {
        let raw = for_pod("web-0");
        let token = UnverifiedToken::parse(&raw).unwrap();
        assert_eq!(token.pod().pod_name, "web-0");
        assert_eq!(token.pod().pod_uid, "web-0-uid");
        assert_eq!(raw.rsplit('.').next().map(str::len), Some(342));
        assert!(token.check_time(now_unix(), 0).is_ok());
    }
}
