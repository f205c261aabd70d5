//! The sandbox cluster's service-account token issuer: one RSA key kept in the data directory,
//! tokens shaped as the kubelet's projected tokens (pod-bound, with the node), and the
//! discovery document and JWKS a control plane reads the keys from.

use std::path::Path;

use podid_server::tokens::{Issuer, jwks_of};
use serde_json::{Value, json};

use crate::layout::write_atomically;

/// Who a token is for: a pod of a service account, on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub namespace: String,
    pub service_account: String,
    pub service_account_uid: String,
    /// `None` for a token that is not bound to a pod.
    pub pod: Option<(String, String)>,
    /// The node's name and uid, present once the pod is scheduled.
    pub node: Option<(String, String)>,
}

pub struct ClusterIssuer {
    key: Issuer,
    url: String,
}

impl std::fmt::Debug for ClusterIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterIssuer")
            .field("url", &self.url)
            .field("kid", &self.key.kid())
            .finish_non_exhaustive()
    }
}

impl ClusterIssuer {
    /// The issuer `url` with the key at `key_path`, made on the first start.
    pub fn open(key_path: &Path, url: &str) -> Result<Self, String> {
        let key = match std::fs::read(key_path) {
            Ok(der) => {
                Issuer::from_pkcs8(&der).map_err(|e| format!("{}: {e}", key_path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Issuer::generate_rsa()?;
                write_atomically(key_path, &key.to_pkcs8()?)
                    .map_err(|e| format!("cannot write {}: {e}", key_path.display()))?;
                key
            }
            Err(e) => return Err(format!("cannot read {}: {e}", key_path.display())),
        };
        Ok(Self {
            key,
            url: url.to_owned(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A token for `subject`, for `audience`, valid from `now` for `lifetime` seconds.
    pub fn token(
        &self,
        subject: &Subject,
        audience: &str,
        now: i64,
        lifetime: i64,
    ) -> Result<String, String> {
        let mut kubernetes = json!({
            "namespace": subject.namespace,
            "serviceaccount": {
                "name": subject.service_account,
                "uid": subject.service_account_uid,
            },
        });
        if let Some((name, uid)) = &subject.pod {
            kubernetes["pod"] = json!({"name": name, "uid": uid});
        }
        if let Some((name, uid)) = &subject.node {
            kubernetes["node"] = json!({"name": name, "uid": uid});
        }
        let claims = json!({
            "iss": self.url,
            "sub": format!(
                "system:serviceaccount:{}:{}", subject.namespace, subject.service_account
            ),
            "aud": [audience],
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": crate::cluster::objects::new_uid(),
            "kubernetes.io": kubernetes,
        });
        self.key.sign(&claims)
    }

    pub fn jwks(&self) -> String {
        jwks_of(&[&self.key])
    }

    /// The OpenID discovery document, pointing at the JWKS where this sandbox serves it.
    pub fn discovery(&self, jwks_uri: &str) -> Value {
        json!({
            "issuer": self.url,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.key.algorithm()],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podid_server::tokens::{Expectations, parse_jwks, verify};

    #[test]
    fn tokens_verify_against_the_published_keys_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("issuer.pk8");
        let url = "https://oidc.eks.us-east-1.amazonaws.com/id/SANDBOX";
        let first = ClusterIssuer::open(&key, url).unwrap();
        let subject = Subject {
            namespace: "default".into(),
            service_account: "aws-cli-sa".into(),
            service_account_uid: "sa-uid".into(),
            pod: Some(("aws-cli".into(), "pod-uid".into())),
            node: Some(("node-1".into(), "node-uid".into())),
        };
        let token = first
            .token(&subject, "pods.eks.amazonaws.com", 1_700_000_000, 86_400)
            .unwrap();

        let restarted = ClusterIssuer::open(&key, url).unwrap();
        let keys = parse_jwks(restarted.jwks().as_bytes()).unwrap();
        let expect = Expectations {
            issuer: url,
            audience: "pods.eks.amazonaws.com",
            now: 1_700_000_100,
            leeway: 0,
        };
        let verified = verify(&token, &keys, &expect).unwrap();
        assert_eq!(verified.namespace, "default");
        assert_eq!(verified.pod.unwrap().name, "aws-cli");
        assert_eq!(verified.node.unwrap().name, "node-1");
        assert_eq!(verified.expires_at, 1_700_086_400);
        let discovery = restarted.discovery("http://127.0.0.1:1/openid/v1/jwks");
        assert_eq!(discovery["issuer"], url);
    }
}
