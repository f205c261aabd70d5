//! Unsigned-but-well-formed pod tokens: the agent reads claims and never checks signatures.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn claims(pod: &str) -> Value {
    let now = now();
    json!({
        "iss": "https://issuer.test", "sub": "system:serviceaccount:default:aws-cli-sa",
        "aud": ["pods.eks.amazonaws.com"], "iat": now, "nbf": now, "exp": now + 86_400,
        "kubernetes.io": {
            "namespace": "default",
            "serviceaccount": {"name": "aws-cli-sa", "uid": "sa-uid"},
            "pod": {"name": pod, "uid": format!("{pod}-uid")},
            "node": {"name": "node-1", "uid": "node-uid"}
        }
    })
}

pub fn encode(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "test"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!(
        "{header}.{payload}.{}",
        URL_SAFE_NO_PAD.encode("not-a-real-signature")
    )
}

pub fn for_pod(pod: &str) -> String {
    encode(&claims(pod))
}
