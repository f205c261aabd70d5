//! JSON Web Key Sets as Kubernetes publishes them at `/openid/v1/jwks`.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// A public key that can check signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// Big-endian modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed curve point, `04 || x || y`.
    Ec { curve: Curve, point: Vec<u8> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

/// The usable keys of a set, by key id. Keys without an id are kept under an empty id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    keys: HashMap<String, PublicKey>,
}

impl JwkSet {
    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.get(kid)
    }

    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.values()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Parses a key set. Keys podid cannot use for signatures (encryption keys, other curves) are
/// skipped; a set with no usable key at all is an error, since it could verify nothing.
pub fn parse_jwks(json: &[u8]) -> Result<JwkSet, String> {
    let raw: RawSet =
        serde_json::from_slice(json).map_err(|e| format!("not a JSON Web Key Set: {e}"))?;
    let mut set = JwkSet::default();
    let mut skipped = Vec::new();
    for key in raw.keys {
        let kid = key.kid.clone().unwrap_or_default();
        match public_key(&key) {
            Ok(public) => {
                set.keys.insert(kid, public);
            }
            Err(reason) => skipped.push(format!("{kid:?}: {reason}")),
        }
    }
    if set.is_empty() {
        return Err(format!(
            "no usable signing key in the set ({})",
            skipped.join("; ")
        ));
    }
    Ok(set)
}

fn public_key(key: &RawKey) -> Result<PublicKey, String> {
    if key.usage.as_deref().is_some_and(|usage| usage != "sig") {
        return Err("not a signing key".into());
    }
    let field = |value: &Option<String>, name: &str| -> Result<Vec<u8>, String> {
        let value = value.as_deref().ok_or(format!("missing {name}"))?;
        URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|_| format!("{name} is not base64url"))
    };
    match key.kty.as_str() {
        "RSA" => Ok(PublicKey::Rsa {
            n: field(&key.n, "n")?,
            e: field(&key.e, "e")?,
        }),
        "EC" => {
            let (curve, size) = match key.crv.as_deref() {
                Some("P-256") => (Curve::P256, 32),
                Some("P-384") => (Curve::P384, 48),
                other => return Err(format!("unsupported curve {other:?}")),
            };
            let (x, y) = (field(&key.x, "x")?, field(&key.y, "y")?);
            if x.len() != size || y.len() != size {
                return Err("coordinates of the wrong size".into());
            }
            let point = [&[4u8][..], &x, &y].concat();
            Ok(PublicKey::Ec { curve, point })
        }
        other => Err(format!("unsupported key type {other:?}")),
    }
}
