use super::*;
use serde_json::json;

fn encode(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn token_with(claims: serde_json::Value) -> String {
    let header = encode(&json!({"alg": "RS256", "kid": "k1"}));
    format!("{header}.{}.c2lnbmF0dXJl", encode(&claims))
}

fn pod_claims() -> serde_json::Value {
    json!({
        "iss": "https://oidc.example/id/1",
        "sub": "system:serviceaccount:default:aws-cli-sa",
        "aud": ["pods.eks.amazonaws.com"],
        "exp": 2_000, "nbf": 1_000, "iat": 1_000,
        "kubernetes.io": {
            "namespace": "default",
            "serviceaccount": {"name": "aws-cli-sa", "uid": "sa-uid"},
            "pod": {"name": "aws-cli", "uid": "pod-uid"},
            "node": {"name": "node-1", "uid": "node-uid"}
        }
    })
}

#[test]
fn reads_the_pod_a_token_speaks_for() {
    let token = UnverifiedToken::parse(&token_with(pod_claims())).unwrap();
    assert_eq!(token.expires_at(), 2_000);
    assert_eq!(
        token.pod(),
        &PodIdentity {
            issuer: "https://oidc.example/id/1".into(),
            namespace: "default".into(),
            service_account: "aws-cli-sa".into(),
            pod_name: "aws-cli".into(),
            pod_uid: "pod-uid".into(),
        }
    );
}

#[test]
fn checks_the_validity_window() {
    let token = UnverifiedToken::parse(&token_with(pod_claims())).unwrap();
    assert_eq!(token.check_time(1_500, 0), Ok(()));
    assert_eq!(
        token.check_time(2_000, 60),
        Err(TokenError::Expired {
            expired_at: 2_000,
            now: 2_000
        })
    );
    assert_eq!(
        token.check_time(900, 60),
        Err(TokenError::NotYetValid {
            not_before: 1_000,
            now: 900
        })
    );
    assert_eq!(
        token.check_time(950, 60),
        Ok(()),
        "nbf within the leeway is accepted"
    );
}

#[test]
fn rejects_malformed_tokens_precisely() {
    assert_eq!(UnverifiedToken::parse("").unwrap_err(), TokenError::Empty);
    assert_eq!(
        UnverifiedToken::parse("a.b").unwrap_err(),
        TokenError::NotThreeParts(2)
    );
    assert_eq!(
        UnverifiedToken::parse("!!.e30.x").unwrap_err(),
        TokenError::Base64 { part: "header" }
    );
    let not_json = format!("{}.bm90IGpzb24.x", encode(&json!({"alg": "RS256"})));
    assert!(matches!(
        UnverifiedToken::parse(&not_json).unwrap_err(),
        TokenError::Json {
            part: "payload",
            ..
        }
    ));
    let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
    assert_eq!(
        UnverifiedToken::parse(&huge).unwrap_err(),
        TokenError::TooLong {
            len: MAX_TOKEN_BYTES + 1,
            max: MAX_TOKEN_BYTES
        }
    );
}

#[test]
fn requires_the_claims_of_a_pod_bound_token() {
    let mut claims = pod_claims();
    claims["kubernetes.io"]
        .as_object_mut()
        .unwrap()
        .remove("pod");
    assert_eq!(
        UnverifiedToken::parse(&token_with(claims)).unwrap_err(),
        TokenError::NotPodBound
    );

    let mut claims = pod_claims();
    claims.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        UnverifiedToken::parse(&token_with(claims)).unwrap_err(),
        TokenError::MissingClaim("exp")
    );
}

#[test]
fn never_prints_the_token() {
    let raw = token_with(pod_claims());
    let token = UnverifiedToken::parse(&raw).unwrap();
    assert!(!format!("{token:?}").contains(&raw));
}

#[test]
fn accepts_a_single_string_audience() {
    let mut claims = pod_claims();
    claims["aud"] = json!("pods.eks.amazonaws.com");
    let decoded = decode_claims(&token_with(claims)).unwrap();
    assert!(decoded.aud.unwrap().contains(POD_IDENTITY_AUDIENCE));
}
