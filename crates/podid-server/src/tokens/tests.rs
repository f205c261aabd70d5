//! Verification against real signatures, and every forgery the control plane must refuse.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::*;

const ISSUER: &str = "https://issuer.test";
const NOW: i64 = 1_700_000_000;

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "system:serviceaccount:default:aws-cli-sa",
        "aud": ["pods.eks.amazonaws.com"], "iat": NOW, "nbf": NOW, "exp": NOW + 3600,
        "kubernetes.io": {
            "namespace": "default",
            "serviceaccount": {"name": "aws-cli-sa", "uid": "sa-uid"},
            "pod": {"name": "aws-cli", "uid": "pod-uid"},
            "node": {"name": "node-1", "uid": "node-uid"}
        }
    })
}

fn expect() -> Expectations<'static> {
    Expectations {
        issuer: ISSUER,
        audience: "pods.eks.amazonaws.com",
        now: NOW,
        leeway: 30,
    }
}

fn keys_of(issuers: &[&Issuer]) -> JwkSet {
    parse_jwks(jwks_of(issuers).as_bytes()).unwrap()
}

#[test]
fn accepts_rs256_and_es256() {
    for issuer in [
        Issuer::generate_rsa().unwrap(),
        Issuer::generate_ec().unwrap(),
    ] {
        let token = issuer.sign(&claims()).unwrap();
        let verified = verify(&token, &keys_of(&[&issuer]), &expect()).unwrap();
        assert_eq!(verified.namespace, "default");
        assert_eq!(verified.service_account.name, "aws-cli-sa");
        assert_eq!(verified.pod.unwrap().name, "aws-cli");
        assert_eq!(verified.node.unwrap().name, "node-1");
    }
}

#[test]
fn refuses_every_forgery() {
    let issuer = Issuer::generate_rsa().unwrap();
    let keys = keys_of(&[&issuer]);
    let genuine = issuer.sign(&claims()).unwrap();
    let parts: Vec<&str> = genuine.split('.').collect();

    let mut elevated = claims();
    elevated["kubernetes.io"]["namespace"] = json!("kube-system");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(elevated.to_string()),
        parts[2]
    );
    assert_eq!(
        verify(&tampered, &keys, &expect()),
        Err(VerifyError::Signature)
    );

    let none_header = URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string());
    let unsigned = format!("{none_header}.{}.", parts[1]);
    assert_eq!(
        verify(&unsigned, &keys, &expect()),
        Err(VerifyError::Algorithm("none".into()))
    );

    // HS256 "signed" with the public key: refused for its algorithm alone.
    let hmac_header = json!({"alg": "HS256", "kid": issuer.kid()});
    let hmac = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(hmac_header.to_string()),
        parts[1]
    );
    assert_eq!(
        verify(&hmac, &keys, &expect()),
        Err(VerifyError::Algorithm("HS256".into()))
    );

    let stranger = Issuer::generate_rsa().unwrap();
    let foreign = stranger.sign(&claims()).unwrap();
    assert_eq!(
        verify(&foreign, &keys, &expect()),
        Err(VerifyError::UnknownKey(stranger.kid().to_owned()))
    );

    let ec = Issuer::generate_ec().unwrap();
    let mixed = ec.sign_with_header(json!({"alg": "ES256", "kid": issuer.kid()}), &claims());
    assert!(matches!(
        verify(&mixed.unwrap(), &keys, &expect()),
        Err(VerifyError::KeyMismatch { .. })
    ));
}

#[test]
fn checks_issuer_audience_and_time() {
    let issuer = Issuer::generate_ec().unwrap();
    let keys = keys_of(&[&issuer]);
    let with = |change: fn(&mut Value)| {
        let mut claims = claims();
        change(&mut claims);
        verify(&issuer.sign(&claims).unwrap(), &keys, &expect()).unwrap_err()
    };
    assert!(matches!(
        with(|c| c["iss"] = json!("https://evil")),
        VerifyError::Issuer { .. }
    ));
    assert!(matches!(
        with(|c| c["aud"] = json!(["sts.amazonaws.com"])),
        VerifyError::Audience { .. }
    ));
    assert!(matches!(
        with(|c| c["exp"] = json!(NOW - 31)),
        VerifyError::Expired { .. }
    ));
    assert!(matches!(
        with(|c| c["nbf"] = json!(NOW + 31)),
        VerifyError::NotYetValid { .. }
    ));
    assert_eq!(
        with(|c| {
            c.as_object_mut().unwrap().remove("kubernetes.io");
        }),
        VerifyError::MissingClaim("kubernetes.io")
    );
    let within_leeway = {
        let mut claims = claims();
        claims["exp"] = json!(NOW - 10);
        verify(&issuer.sign(&claims).unwrap(), &keys, &expect())
    };
    assert!(within_leeway.is_ok());
}

#[test]
fn key_sets_skip_what_they_cannot_use() {
    let issuer = Issuer::generate_rsa().unwrap();
    let mut set: Value = serde_json::from_str(&jwks_of(&[&issuer])).unwrap();
    set["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}));
    set["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "RSA", "kid": "enc", "use": "enc",
        "n": "AQAB", "e": "AQAB"}));
    let keys = parse_jwks(set.to_string().as_bytes()).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(
        parse_jwks(br#"{"keys": []}"#)
            .unwrap_err()
            .contains("no usable signing key")
    );
    assert!(
        parse_jwks(b"[]")
            .unwrap_err()
            .contains("not a JSON Web Key Set")
    );
}

#[test]
fn issuers_survive_a_round_trip_through_pkcs8() {
    for issuer in [
        Issuer::generate_rsa().unwrap(),
        Issuer::generate_ec().unwrap(),
    ] {
        let again = Issuer::from_pkcs8(&issuer.to_pkcs8().unwrap()).unwrap();
        assert_eq!(again.kid(), issuer.kid());
        assert_eq!(again.jwk(), issuer.jwk());
    }
    assert!(Issuer::from_pkcs8(b"not a key").is_err());
}
