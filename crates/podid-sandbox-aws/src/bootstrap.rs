//! What a new sandbox account starts with: an administrator whose keys the sandbox prints, the
//! keys of the AWS services that act in it, and a node role such as eksctl makes. Each step
//! finds what an earlier start made and keeps it, so a restart changes nothing.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::AwsError;
use crate::ids::{IdKind, new_id, new_secret_access_key, random_chars, secure_bytes};
use crate::model::{AccessKey, AccountState, Role, ServiceKey, User};
use crate::store::{AccountStore, UpdateError};

/// An access key id and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("{0}")]
    Aws(String),
    #[error("cannot keep the session key in {path}: {source}")]
    SessionKey {
        path: String,
        source: std::io::Error,
    },
}

fn failed<E: std::fmt::Display>(error: UpdateError<E>) -> BootstrapError {
    match error {
        UpdateError::Refused(error) => BootstrapError::Aws(error.to_string()),
        UpdateError::Store(error) => BootstrapError::Aws(error.to_string()),
    }
}

/// The AWS managed policies of an EKS worker node's role, as eksctl attaches them.
pub const NODE_POLICIES: [&str; 3] = [
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
];

const NODE_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// The user `name` with AdministratorAccess and one access key.
pub fn administrator(
    store: &AccountStore,
    name: &str,
    now: i64,
) -> Result<KeyPair, BootstrapError> {
    if let Some(user) = store.view().state.user(name)
        && let Some(key) = user.access_keys.iter().find(|key| key.active)
    {
        return Ok(KeyPair {
            access_key_id: key.id.clone(),
            secret_access_key: key.secret.clone(),
        });
    }
    let secret = new_secret_access_key().map_err(|e| BootstrapError::Aws(e.to_string()))?;
    let key = AccessKey {
        id: new_id(IdKind::AccessKey),
        secret,
        active: true,
        created: now,
    };
    let pair = KeyPair {
        access_key_id: key.id.clone(),
        secret_access_key: key.secret.clone(),
    };
    store
        .update(|state| {
            let user = state
                .users
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| User {
                    name: name.to_owned(),
                    user_id: new_id(IdKind::User),
                    path: "/".into(),
                    created: now,
                    access_keys: Vec::new(),
                    attached: Vec::new(),
                    inline: Default::default(),
                    tags: Vec::new(),
                });
            let admin = "arn:aws:iam::aws:policy/AdministratorAccess".to_owned();
            if !user.attached.contains(&admin) {
                user.attached.push(admin);
            }
            user.access_keys.push(key);
            Ok::<_, AwsError>(())
        })
        .map_err(failed)?;
    Ok(pair)
}

/// The access key of the AWS service `service` (such as `pods.eks.amazonaws.com`).
pub fn service_key(store: &AccountStore, service: &str) -> Result<KeyPair, BootstrapError> {
    let find = |state: &AccountState| {
        state
            .service_keys
            .iter()
            .find(|key| key.service == service)
            .map(|key| KeyPair {
                access_key_id: key.access_key_id.clone(),
                secret_access_key: key.secret.clone(),
            })
    };
    if let Some(pair) = find(&store.view().state) {
        return Ok(pair);
    }
    let secret = new_secret_access_key().map_err(|e| BootstrapError::Aws(e.to_string()))?;
    let key = ServiceKey {
        service: service.to_owned(),
        access_key_id: new_id(IdKind::AccessKey),
        secret,
    };
    store
        .update(|state| {
            state.service_keys.push(key);
            Ok::<_, AwsError>(())
        })
        .map_err(failed)?;
    find(&store.view().state).ok_or_else(|| BootstrapError::Aws("service key lost".into()))
}

/// The node group's instance role, named as eksctl names it
/// (`eksctl-<cluster>-nodegroup-<group>-NodeInstanceRole-<suffix>`), trusted by EC2 and with
/// only a worker node's policies. Its ARN.
pub fn node_role(
    store: &AccountStore,
    cluster: &str,
    group: &str,
    now: i64,
) -> Result<String, BootstrapError> {
    let prefix = node_role_prefix(cluster, group);
    let view = store.view();
    let existing = view
        .state
        .roles
        .values()
        .find(|role| role.name.starts_with(&prefix));
    if let Some(role) = existing {
        return Ok(view.state.role_arn(role));
    }
    let role = Role {
        name: format!("{prefix}{}", random_alphanumerics(12)),
        role_id: new_id(IdKind::Role),
        path: "/".into(),
        created: now,
        trust_policy: NODE_TRUST.into(),
        description: Some(format!(
            "the instance role of node group {group} of {cluster}"
        )),
        max_session_duration: 3600,
        attached: NODE_POLICIES.iter().map(|arn| (*arn).to_owned()).collect(),
        inline: Default::default(),
        tags: Vec::new(),
    };
    let arn = view.state.role_arn(&role);
    store
        .update(|state| {
            state.roles.insert(role.name.to_ascii_lowercase(), role);
            Ok::<_, AwsError>(())
        })
        .map_err(failed)?;
    Ok(arn)
}

/// Role names are at most 64 characters: cluster and group names past eight characters are cut
/// to fit.
fn node_role_prefix(cluster: &str, group: &str) -> String {
    let cluster: String = cluster.chars().take(8).collect();
    let group: String = group.chars().take(8).collect();
    format!("eksctl-{cluster}-nodegroup-{group}-NodeInstanceRole-")
}

/// Mixed-case letters and digits, as the suffixes CloudFormation gives the names it makes.
fn random_alphanumerics(n: usize) -> String {
    random_chars(n)
        .chars()
        .map(|c| {
            if fastrand::bool() {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}

/// The 32-byte key that seals session tokens, made on the first start and kept at `path`.
pub fn session_key(path: &Path) -> Result<[u8; 32], BootstrapError> {
    let error = |source| BootstrapError::SessionKey {
        path: path.display().to_string(),
        source,
    };
    match fs::read(path) {
        Ok(bytes) => bytes.try_into().map_err(|_| {
            error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the file does not hold a 32-byte key",
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key =
                secure_bytes::<32>().map_err(|e| error(std::io::Error::other(e.to_string())))?;
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(error)?;
            file.write_all(&key).map_err(error)?;
            file.sync_all().map_err(error)?;
            Ok(key)
        }
        Err(e) => Err(error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_start_finds_what_the_first_made() {
        let dir = tempfile::tempdir().unwrap();
        let store = AccountStore::open(&dir.path().join("iam.json"), "111122223333").unwrap();
        let admin = administrator(&store, "admin", 0).unwrap();
        assert_eq!(administrator(&store, "admin", 5).unwrap(), admin);
        assert!(admin.access_key_id.starts_with("AKIA"));

        let pods = service_key(&store, "pods.eks.amazonaws.com").unwrap();
        assert_eq!(service_key(&store, "pods.eks.amazonaws.com").unwrap(), pods);
        assert_ne!(service_key(&store, "ec2.amazonaws.com").unwrap(), pods);

        let role = node_role(&store, "eksdemo1", "eksdemo1", 0).unwrap();
        let eksctl_name = "eksctl-eksdemo1-nodegroup-eksdemo1-NodeInstanceRole-";
        assert!(
            role.starts_with(&format!("arn:aws:iam::111122223333:role/{eksctl_name}")),
            "{role}"
        );
        assert_eq!(node_role(&store, "eksdemo1", "eksdemo1", 0).unwrap(), role);
        let name = role.rsplit('/').next().unwrap();
        assert!(name.len() <= 64);

        let key = session_key(&dir.path().join("session.key")).unwrap();
        assert_eq!(session_key(&dir.path().join("session.key")).unwrap(), key);
    }

    #[test]
    fn long_names_still_make_a_valid_role_name() {
        let prefix = node_role_prefix(&"c".repeat(100), &"g".repeat(100));
        assert!(prefix.len() + 12 <= 64, "{prefix}");
    }
}
