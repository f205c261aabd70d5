//! The sandbox account's IAM entities, as they are stored.
//!
//! Names of users, roles and policies are unique without regard to case, as in IAM, so the
//! maps are keyed by the lower-cased name and each entity keeps the name as it was written.
//! Policy documents are kept as the text the caller sent: IAM gives documents back as written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything IAM knows of the account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountState {
    pub account_id: String,
    #[serde(default)]
    pub users: BTreeMap<String, User>,
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    /// Customer managed policies; AWS managed ones are built in.
    #[serde(default)]
    pub policies: BTreeMap<String, CustomerPolicy>,
    /// Keys held by AWS services that act in the account, such as pod identity.
    #[serde(default)]
    pub service_keys: Vec<ServiceKey>,
}

/// A tag of a user or role; IAM keys are unique without regard to case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub user_id: String,
    pub path: String,
    /// Unix seconds.
    pub created: i64,
    #[serde(default)]
    pub access_keys: Vec<AccessKey>,
    /// ARNs of attached managed policies, in attachment order.
    #[serde(default)]
    pub attached: Vec<String>,
    /// Inline policies by name.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub active: bool,
    pub created: i64,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub role_id: String,
    pub path: String,
    pub created: i64,
    /// The trust policy: who may assume the role.
    pub trust_policy: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Longest session in seconds, 3600 to 43200.
    pub max_session_duration: u32,
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerPolicy {
    pub name: String,
    pub policy_id: String,
    pub path: String,
    #[serde(default)]
    pub description: Option<String>,
    pub created: i64,
    pub updated: i64,
    /// `v1`, `v2`, ...: the version that is in force.
    pub default_version: String,
    pub versions: Vec<PolicyVersion>,
    /// The next version number to hand out; versions are never renumbered.
    pub next_version: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub document: String,
    pub created: i64,
}

impl CustomerPolicy {
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|version| version.id == self.default_version)
            .map(|version| version.document.as_str())
    }
}

/// Credentials of an AWS service principal. In the sandbox, the control plane holds those of
/// `pods.eks.amazonaws.com` and the node's instance metadata service those of
/// `ec2.amazonaws.com`, so trust policies naming these services work as written.
#[derive(Clone, Serialize, Deserialize)]
pub struct ServiceKey {
    pub service: String,
    pub access_key_id: String,
    pub secret: String,
}

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKey")
            .field("service", &self.service)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AccountState {
    pub fn new(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            ..Self::default()
        }
    }

    pub fn user_arn(&self, user: &User) -> String {
        format!(
            "arn:aws:iam::{}:user{}{}",
            self.account_id, user.path, user.name
        )
    }

    pub fn role_arn(&self, role: &Role) -> String {
        format!(
            "arn:aws:iam::{}:role{}{}",
            self.account_id, role.path, role.name
        )
    }

    pub fn policy_arn(&self, policy: &CustomerPolicy) -> String {
        format!(
            "arn:aws:iam::{}:policy{}{}",
            self.account_id, policy.path, policy.name
        )
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(&name.to_ascii_lowercase())
    }

    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(&name.to_ascii_lowercase())
    }

    /// The customer managed policy of an ARN of this account.
    pub fn policy_by_arn(&self, arn: &str) -> Option<&CustomerPolicy> {
        let name = self.policy_name_of(arn)?;
        self.policies
            .get(&name.to_ascii_lowercase())
            .filter(|policy| self.policy_arn(policy) == arn)
    }

    fn policy_name_of<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let rest = arn.strip_prefix(&format!("arn:aws:iam::{}:policy/", self.account_id))?;
        rest.rsplit('/').next()
    }

    /// The role whose ARN this is, if it is one of this account's.
    pub fn role_by_arn(&self, arn: &str) -> Option<&Role> {
        let rest = arn.strip_prefix(&format!("arn:aws:iam::{}:role/", self.account_id))?;
        let name = rest.rsplit('/').next()?;
        self.role(name).filter(|role| self.role_arn(role) == arn)
    }

    /// Which user or service holds a long-term access key.
    pub fn key_holder(&self, access_key_id: &str) -> Option<KeyHolder<'_>> {
        if let Some(service) = self
            .service_keys
            .iter()
            .find(|key| key.access_key_id == access_key_id)
        {
            return Some(KeyHolder::Service(service));
        }
        self.users.values().find_map(|user| {
            let key = user
                .access_keys
                .iter()
                .find(|key| key.id == access_key_id)?;
            Some(KeyHolder::User(user, key))
        })
    }
}

/// The holder of a long-term access key.
#[derive(Debug, Clone, Copy)]
pub enum KeyHolder<'a> {
    User(&'a User, &'a AccessKey),
    Service(&'a ServiceKey),
}
