//! A service-account token issuer: signing keys, their JWKS, and signed tokens. It mints the
//! tokens of podid's own sandbox cluster and of tests, the way Kubernetes would.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

enum SigningKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// One signing key and its key id, `base64url(SHA-256(DER public key))` as Kubernetes derives it.
pub struct Issuer {
    key: SigningKey,
    kid: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// A fresh RSA 2048 key, signing RS256.
    pub fn generate_rsa() -> Result<Self, String> {
        let key =
            RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| "RSA key generation failed")?;
        let der = key
            .public_key()
            .as_der()
            .map_err(|_| "encoding the RSA public key failed")?;
        Ok(Self {
            kid: key_id(der.as_ref()),
            key: SigningKey::Rsa(key),
        })
    }

    /// A fresh P-256 key, signing ES256.
    pub fn generate_ec() -> Result<Self, String> {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| "EC key generation failed")?;
        let der = key
            .public_key()
            .as_der()
            .map_err(|_| "encoding the EC public key failed")?;
        Ok(Self {
            kid: key_id(der.as_ref()),
            key: SigningKey::Ec(key),
        })
    }

    /// The issuer of a key kept as PKCS #8 DER by [`Issuer::to_pkcs8`]: RSA or P-256.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        if let Ok(key) = RsaKeyPair::from_pkcs8(der) {
            let public = key
                .public_key()
                .as_der()
                .map_err(|_| "encoding the RSA public key failed")?;
            return Ok(Self {
                kid: key_id(public.as_ref()),
                key: SigningKey::Rsa(key),
            });
        }
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| "the key is not an RSA or P-256 private key in PKCS #8")?;
        let public = key
            .public_key()
            .as_der()
            .map_err(|_| "encoding the EC public key failed")?;
        Ok(Self {
            kid: key_id(public.as_ref()),
            key: SigningKey::Ec(key),
        })
    }

    /// The private key as PKCS #8 DER, so that it can be kept across restarts.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, String> {
        match &self.key {
            SigningKey::Rsa(key) => {
                let der: Pkcs8V1Der<'static> =
                    key.as_der().map_err(|_| "encoding the RSA key failed")?;
                Ok(der.as_ref().to_vec())
            }
            SigningKey::Ec(key) => Ok(key
                .to_pkcs8v1()
                .map_err(|_| "encoding the EC key failed")?
                .as_ref()
                .to_vec()),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> &'static str {
        match self.key {
            SigningKey::Rsa(_) => "RS256",
            SigningKey::Ec(_) => "ES256",
        }
    }

    /// The public key as one JWK.
    pub fn jwk(&self) -> Value {
        match &self.key {
            SigningKey::Rsa(key) => {
                let components = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
                json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                    "n": URL_SAFE_NO_PAD.encode(&components.n),
                    "e": URL_SAFE_NO_PAD.encode(&components.e),
                })
            }
            SigningKey::Ec(key) => {
                let point = key.public_key().as_ref();
                json!({
                    "kty": "EC", "use": "sig", "alg": "ES256", "kid": self.kid, "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                })
            }
        }
    }

    /// Signs `claims` with this key, with `header` members added to `alg` and `kid`.
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        self.sign_with_header(json!({"alg": self.algorithm(), "kid": self.kid}), claims)
    }

    /// Signs with a header of the caller's choosing, which tests use to forge.
    pub fn sign_with_header(&self, header: Value, claims: &Value) -> Result<String, String> {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.signature(signed.as_bytes())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    fn signature(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let random = SystemRandom::new();
        match &self.key {
            SigningKey::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &random, message, &mut signature)
                    .map_err(|_| "RSA signing failed")?;
                Ok(signature)
            }
            SigningKey::Ec(key) => Ok(key
                .sign(&random, message)
                .map_err(|_| "EC signing failed")?
                .as_ref()
                .to_vec()),
        }
    }
}

fn key_id(public_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, public_der))
}

/// A JWKS document of several issuers' keys.
pub fn jwks_of(issuers: &[&Issuer]) -> String {
    json!({"keys": issuers.iter().map(|issuer| issuer.jwk()).collect::<Vec<_>>()}).to_string()
}
