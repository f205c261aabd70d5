//! Projected service-account tokens, written and rotated as the kubelet does: one file per
//! `serviceAccountToken` source of a pod's projected volumes, replaced at 80 % of its lifetime
//! or after a day, whichever comes first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use super::issuer::{ClusterIssuer, Subject};
use crate::layout::write_atomically;

/// The kubelet's default lifetime when a source gives none, and the API server's floor.
const DEFAULT_LIFETIME: i64 = 3600;
const SHORTEST_LIFETIME: i64 = 600;
/// The audience of a source that names none: the API server's own.
const DEFAULT_AUDIENCE: &str = "https://kubernetes.default.svc";
/// Tokens are replaced at least this often.
const LONGEST_BEFORE_ROTATION: i64 = 86_400;

/// One `serviceAccountToken` source of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectedToken {
    pub volume: String,
    pub path: String,
    pub audience: String,
    pub lifetime: i64,
}

/// Every projected token source in the pod's volumes.
pub fn projected_tokens(pod: &Value) -> Vec<ProjectedToken> {
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut tokens = Vec::new();
    for volume in &volumes {
        let Some(name) = volume["name"].as_str() else {
            continue;
        };
        let sources = volume["projected"]["sources"].as_array().cloned();
        for source in sources.unwrap_or_default() {
            let token = &source["serviceAccountToken"];
            let Some(path) = token["path"].as_str() else {
                continue;
            };
            tokens.push(ProjectedToken {
                volume: name.to_owned(),
                path: path.to_owned(),
                audience: token["audience"]
                    .as_str()
                    .unwrap_or(DEFAULT_AUDIENCE)
                    .to_owned(),
                lifetime: token["expirationSeconds"]
                    .as_i64()
                    .unwrap_or(DEFAULT_LIFETIME)
                    .max(SHORTEST_LIFETIME),
            });
        }
    }
    tokens
}

/// A token file to keep fresh: where it goes and what it says.
#[derive(Debug, Clone)]
pub struct TokenFile {
    pub file: PathBuf,
    pub subject: Subject,
    pub audience: String,
    pub lifetime: i64,
}

/// When each file was last written, so rotation knows which are due.
#[derive(Debug, Default)]
pub struct TokenKeeper {
    written: Mutex<HashMap<PathBuf, i64>>,
}

impl TokenKeeper {
    /// Writes each file that has no token yet or whose token is due for rotation. Returns how
    /// many were written.
    pub fn refresh(
        &self,
        issuer: &ClusterIssuer,
        files: &[TokenFile],
        now: i64,
    ) -> Result<usize, String> {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let mut count = 0;
        for token in files {
            let due = match written.get(&token.file) {
                None => true,
                Some(at) => now - at >= rotation_age(token.lifetime),
            };
            if !due {
                continue;
            }
            write_token(issuer, token, now)?;
            written.insert(token.file.clone(), now);
            count += 1;
        }
        Ok(count)
    }

    /// Forgets files under `dir`, for a pod that was deleted.
    pub fn forget(&self, dir: &Path) {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        written.retain(|file, _| !file.starts_with(dir));
    }
}

/// Tokens are replaced at 80 % of their lifetime, and at least daily.
pub fn rotation_age(lifetime: i64) -> i64 {
    (lifetime * 4 / 5).min(LONGEST_BEFORE_ROTATION)
}

fn write_token(issuer: &ClusterIssuer, token: &TokenFile, now: i64) -> Result<(), String> {
    let text = issuer.token(&token.subject, &token.audience, now, token.lifetime)?;
    if let Some(dir) = token.file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    }
    // The SDKs refuse a token file with a line break, so none is written.
    write_atomically(&token.file, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", token.file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_sources_of_projected_volumes() {
        let pod = json!({"spec": {"volumes": [
            {"name": "eks-pod-identity-token", "projected": {"sources": [
                {"serviceAccountToken": {"audience": "pods.eks.amazonaws.com",
                    "expirationSeconds": 86400, "path": "eks-pod-identity-token"}}]}},
            {"name": "kube-api-access", "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 60, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt"}}]}},
            {"name": "data", "emptyDir": {}}]}});
        assert_eq!(
            projected_tokens(&pod),
            [
                ProjectedToken {
                    volume: "eks-pod-identity-token".into(),
                    path: "eks-pod-identity-token".into(),
                    audience: "pods.eks.amazonaws.com".into(),
                    lifetime: 86_400,
                },
                ProjectedToken {
                    volume: "kube-api-access".into(),
                    path: "token".into(),
                    audience: DEFAULT_AUDIENCE.into(),
                    lifetime: 600,
                },
            ]
        );
    }

    #[test]
    fn files_are_rotated_at_eighty_percent_of_their_lifetime() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = ClusterIssuer::open(&dir.path().join("key"), "https://issuer.test").unwrap();
        let file = TokenFile {
            file: dir.path().join("pod/token"),
            subject: Subject {
                namespace: "default".into(),
                service_account: "aws-cli-sa".into(),
                service_account_uid: "sa".into(),
                pod: Some(("aws-cli".into(), "uid".into())),
                node: None,
            },
            audience: "pods.eks.amazonaws.com".into(),
            lifetime: 1000,
        };
        let keeper = TokenKeeper::default();
        assert_eq!(
            keeper.refresh(&issuer, std::slice::from_ref(&file), 0),
            Ok(1)
        );
        let first = std::fs::read_to_string(&file.file).unwrap();
        assert!(!first.contains('\n'));
        assert_eq!(
            keeper.refresh(&issuer, std::slice::from_ref(&file), 799),
            Ok(0)
        );
        assert_eq!(
            keeper.refresh(&issuer, std::slice::from_ref(&file), 800),
            Ok(1)
        );
        assert_ne!(std::fs::read_to_string(&file.file).unwrap(), first);
        assert_eq!(rotation_age(7 * 86_400), 86_400);
        keeper.forget(&dir.path().join("pod"));
        assert_eq!(
            keeper.refresh(&issuer, std::slice::from_ref(&file), 801),
            Ok(1)
        );
    }
}
