//! The account's IAM state on disk, and the read-optimised view requests are served from.
//!
//! The state is one JSON document, replaced atomically on every change (written beside, synced,
//! renamed over, directory synced), so an acknowledged change survives a crash and a torn write
//! never leaves a half-written file. IAM changes are rare and small; reads are constant (every
//! request is authorized), so each change also builds a new [`View`] with the policies parsed
//! and the access keys indexed, which readers share without locking each other out.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use podid_iam::Policy;

use crate::managed;
use crate::model::{AccountState, Role, User};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a sandbox account state: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} belongs to account {found}, not {expected}")]
    OtherAccount {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A change that failed: either the change itself refused, or the state could not be saved
/// (and then nothing changed).
#[derive(Debug)]
pub enum UpdateError<E> {
    Refused(E),
    Store(StoreError),
}

/// The account's state, kept on disk.
#[derive(Debug)]
pub struct AccountStore {
    path: PathBuf,
    /// Held while a change is applied and saved, so changes happen one at a time.
    writer: Mutex<()>,
    current: RwLock<Arc<View>>,
}

impl AccountStore {
    /// Opens the state at `path`, or starts an empty account there.
    pub fn open(path: &Path, account_id: &str) -> Result<Self, StoreError> {
        let state = match fs::read(path) {
            Ok(bytes) => {
                let state: AccountState =
                    serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
                        path: path.to_owned(),
                        source,
                    })?;
                if state.account_id != account_id {
                    return Err(StoreError::OtherAccount {
                        path: path.to_owned(),
                        found: state.account_id,
                        expected: account_id.to_owned(),
                    });
                }
                state
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let state = AccountState::new(account_id);
                save(path, &state)?;
                state
            }
            Err(source) => {
                return Err(StoreError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(()),
            current: RwLock::new(Arc::new(View::build(state))),
        })
    }

    /// The state as of now; later changes do not affect it.
    pub fn view(&self) -> Arc<View> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Applies `change` to a copy of the state, saves the copy, then makes it current. When
    /// `change` refuses or saving fails, the state stays as it was.
    pub fn update<T, E>(
        &self,
        change: impl FnOnce(&mut AccountState) -> Result<T, E>,
    ) -> Result<T, UpdateError<E>> {
        let _one_at_a_time = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = self.view().state.clone();
        let answer = change(&mut next).map_err(UpdateError::Refused)?;
        save(&self.path, &next).map_err(UpdateError::Store)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(View::build(next));
        Ok(answer)
    }
}

fn save(path: &Path, state: &AccountState) -> Result<(), StoreError> {
    let write_error = |source| StoreError::Write {
        path: path.to_owned(),
        source,
    };
    let text = serde_json::to_vec_pretty(state).map_err(|e| write_error(e.into()))?;
    let temporary = path.with_extension("json.tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(write_error)?;
    file.write_all(&text).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    fs::rename(&temporary, path).map_err(write_error)?;
    if let Some(directory) = path.parent() {
        File::open(directory)
            .and_then(|d| d.sync_all())
            .map_err(write_error)?;
    }
    Ok(())
}

/// The state with what authorizing a request needs worked out ahead: every user's and role's
/// identity policies parsed, and long-term access keys indexed.
#[derive(Debug)]
pub struct View {
    pub state: AccountState,
    identity: HashMap<Principal, Vec<Arc<Policy>>>,
    trust: HashMap<String, Arc<Policy>>,
    keys: HashMap<String, KeyOwner>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Principal {
    User(String),
    Role(String),
}

/// Who holds a long-term key: a user (by lower-cased name) or a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    User { name: String, active: bool },
    Service { service: String },
}

impl View {
    fn build(state: AccountState) -> Self {
        let mut identity = HashMap::new();
        let mut trust = HashMap::new();
        let mut keys = HashMap::new();
        for (name, user) in &state.users {
            identity.insert(Principal::User(name.clone()), user_policies(&state, user));
            for key in &user.access_keys {
                let owner = KeyOwner::User {
                    name: name.clone(),
                    active: key.active,
                };
                keys.insert(key.id.clone(), owner);
            }
        }
        for (name, role) in &state.roles {
            identity.insert(Principal::Role(name.clone()), role_policies(&state, role));
            if let Some(policy) = parse_stored(&role.trust_policy, &role.name) {
                trust.insert(name.clone(), policy);
            }
        }
        for key in &state.service_keys {
            let owner = KeyOwner::Service {
                service: key.service.clone(),
            };
            keys.insert(key.access_key_id.clone(), owner);
        }
        Self {
            state,
            identity,
            trust,
            keys,
        }
    }

    /// The identity policies of a user, by name.
    pub fn user_policies(&self, name: &str) -> &[Arc<Policy>] {
        let key = Principal::User(name.to_ascii_lowercase());
        self.identity.get(&key).map_or(&[], Vec::as_slice)
    }

    /// The identity policies of a role, by name.
    pub fn role_policies(&self, name: &str) -> &[Arc<Policy>] {
        let key = Principal::Role(name.to_ascii_lowercase());
        self.identity.get(&key).map_or(&[], Vec::as_slice)
    }

    pub fn trust_policy(&self, role_name: &str) -> Option<&Arc<Policy>> {
        self.trust.get(&role_name.to_ascii_lowercase())
    }

    pub fn key_owner(&self, access_key_id: &str) -> Option<&KeyOwner> {
        self.keys.get(access_key_id)
    }

    /// The secret of a long-term access key.
    pub fn key_secret(&self, access_key_id: &str) -> Option<&str> {
        match self.keys.get(access_key_id)? {
            KeyOwner::Service { .. } => self
                .state
                .service_keys
                .iter()
                .find(|key| key.access_key_id == access_key_id)
                .map(|key| key.secret.as_str()),
            KeyOwner::User { name, .. } => self
                .state
                .users
                .get(name)?
                .access_keys
                .iter()
                .find(|key| key.id == access_key_id)
                .map(|key| key.secret.as_str()),
        }
    }
}

fn user_policies(state: &AccountState, user: &User) -> Vec<Arc<Policy>> {
    let attached = user.attached.iter().filter_map(|arn| attached(state, arn));
    let inline = user
        .inline
        .values()
        .filter_map(|text| parse_stored(text, &user.name));
    attached.chain(inline).collect()
}

fn role_policies(state: &AccountState, role: &Role) -> Vec<Arc<Policy>> {
    let attached = role.attached.iter().filter_map(|arn| attached(state, arn));
    let inline = role
        .inline
        .values()
        .filter_map(|text| parse_stored(text, &role.name));
    attached.chain(inline).collect()
}

fn attached(state: &AccountState, arn: &str) -> Option<Arc<Policy>> {
    if let Some(aws) = managed::by_arn(arn) {
        return Some(Arc::clone(&aws.parsed));
    }
    let policy = state.policy_by_arn(arn)?;
    parse_stored(policy.default_document()?, &policy.name)
}

/// Stored documents were checked when they were written; one that no longer parses (a state
/// file edited by hand) grants nothing, and says so.
fn parse_stored(text: &str, owner: &str) -> Option<Arc<Policy>> {
    match podid_iam::parse(text) {
        Ok(policy) => Some(Arc::new(policy)),
        Err(error) => {
            tracing::warn!(%owner, %error, "a stored policy document does not parse; ignoring it");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AccessKey;

    #[test]
    fn changes_survive_a_reopen_and_refusals_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iam.json");
        let store = AccountStore::open(&path, "111122223333").unwrap();
        store
            .update(|state| {
                state.users.insert(
                    "admin".into(),
                    User {
                        name: "Admin".into(),
                        user_id: "AIDAEXAMPLE".into(),
                        path: "/".into(),
                        created: 0,
                        access_keys: vec![AccessKey {
                            id: "AKIAEXAMPLE".into(),
                            secret: "s3cr3t".into(),
                            active: true,
                            created: 0,
                        }],
                        attached: vec!["arn:aws:iam::aws:policy/AdministratorAccess".into()],
                        inline: Default::default(),
                        tags: vec![],
                    },
                );
                Ok::<_, ()>(())
            })
            .unwrap();
        let refused = store.update(|state| {
            state.users.clear();
            Err::<(), _>("no")
        });
        assert!(matches!(refused, Err(UpdateError::Refused("no"))));

        let reopened = AccountStore::open(&path, "111122223333").unwrap();
        let view = reopened.view();
        assert_eq!(view.state.user("ADMIN").unwrap().name, "Admin");
        assert_eq!(view.user_policies("admin").len(), 1);
        assert_eq!(view.key_secret("AKIAEXAMPLE"), Some("s3cr3t"));
        let mode = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn another_accounts_state_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iam.json");
        AccountStore::open(&path, "111122223333").unwrap();
        let error = AccountStore::open(&path, "444455556666").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("belongs to account 111122223333"),
            "{error}"
        );
        std::fs::write(&path, "{not json").unwrap();
        let error = AccountStore::open(&path, "111122223333").unwrap_err();
        assert!(
            error.to_string().contains("is not a sandbox account state"),
            "{error}"
        );
    }
}
