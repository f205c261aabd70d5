//! Pod identity associations as the EKS API shapes them, and the checks EKS makes on them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Tags on an association: 1 to 50 pairs when present.
pub type Tags = BTreeMap<String, String>;

/// One association, as Create, Describe, Update and Delete answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Association {
    pub cluster_name: String,
    pub namespace: String,
    pub service_account: String,
    pub role_arn: String,
    pub association_arn: String,
    pub association_id: String,
    pub tags: Tags,
    /// Unix seconds with fractions.
    pub created_at: f64,
    pub modified_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_arn: Option<String>,
    pub disable_session_tags: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// An association in a List answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationSummary {
    pub cluster_name: String,
    pub namespace: String,
    pub service_account: String,
    pub association_arn: String,
    pub association_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_arn: Option<String>,
}

impl From<&Association> for AssociationSummary {
    fn from(association: &Association) -> Self {
        Self {
            cluster_name: association.cluster_name.clone(),
            namespace: association.namespace.clone(),
            service_account: association.service_account.clone(),
            association_arn: association.association_arn.clone(),
            association_id: association.association_id.clone(),
            owner_arn: association.owner_arn.clone(),
        }
    }
}

/// The body of `CreatePodIdentityAssociation`. Every member is optional on the wire so that a
/// missing one gets EKS's message rather than a parse error.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRequest {
    pub namespace: Option<String>,
    pub service_account: Option<String>,
    pub role_arn: Option<String>,
    pub client_request_token: Option<String>,
    pub tags: Option<Tags>,
    pub disable_session_tags: Option<bool>,
    pub target_role_arn: Option<String>,
    pub policy: Option<String>,
}

/// The body of `UpdatePodIdentityAssociation`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRequest {
    pub role_arn: Option<String>,
    pub client_request_token: Option<String>,
    pub disable_session_tags: Option<bool>,
    pub target_role_arn: Option<String>,
    pub policy: Option<String>,
}

/// What a valid Create asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssociation {
    pub namespace: String,
    pub service_account: String,
    pub role_arn: String,
    pub tags: Tags,
    pub disable_session_tags: bool,
    pub target_role_arn: Option<String>,
    pub policy: Option<String>,
}

/// The longest inline session policy STS takes.
pub const MAX_POLICY_CHARS: usize = 2048;

/// Checks a Create request as EKS does; the message says what is wrong.
pub fn validate_create(request: &CreateRequest) -> Result<NewAssociation, String> {
    let namespace = required(&request.namespace, "namespace")?;
    validate_namespace(namespace)?;
    let service_account = required(&request.service_account, "serviceAccount")?;
    validate_service_account(service_account)?;
    let role_arn = required(&request.role_arn, "roleArn")?;
    validate_role_arn(role_arn, "roleArn")?;
    let tags = request.tags.clone().unwrap_or_default();
    validate_tags(&tags)?;
    let target_role_arn = non_empty(&request.target_role_arn);
    if let Some(target) = &target_role_arn {
        validate_role_arn(target, "targetRoleArn")?;
    }
    let disable_session_tags = request.disable_session_tags.unwrap_or(false);
    let policy = non_empty(&request.policy);
    validate_policy(policy.as_deref(), disable_session_tags)?;
    if let Some(token) = &request.client_request_token {
        validate_client_request_token(token)?;
    }
    Ok(NewAssociation {
        namespace: namespace.to_owned(),
        service_account: service_account.to_owned(),
        role_arn: role_arn.to_owned(),
        tags,
        disable_session_tags,
        target_role_arn,
        policy,
    })
}

/// Applies an Update to `current`, checking the result as a whole. An empty `targetRoleArn` or
/// `policy` removes it.
pub fn apply_update(current: &Association, request: &UpdateRequest) -> Result<Association, String> {
    let asks_nothing = request.role_arn.is_none()
        && request.disable_session_tags.is_none()
        && request.target_role_arn.is_none()
        && request.policy.is_none();
    if asks_nothing {
        return Err(
            "at least one of roleArn, disableSessionTags, targetRoleArn or policy must \
                    be given"
                .into(),
        );
    }
    let mut updated = current.clone();
    if let Some(role_arn) = &request.role_arn {
        validate_role_arn(role_arn, "roleArn")?;
        updated.role_arn = role_arn.clone();
    }
    if let Some(disable) = request.disable_session_tags {
        updated.disable_session_tags = disable;
    }
    if request.target_role_arn.is_some() {
        updated.target_role_arn = non_empty(&request.target_role_arn);
        if let Some(target) = &updated.target_role_arn {
            validate_role_arn(target, "targetRoleArn")?;
        }
    }
    if request.policy.is_some() {
        updated.policy = non_empty(&request.policy);
    }
    validate_policy(updated.policy.as_deref(), updated.disable_session_tags)?;
    if let Some(token) = &request.client_request_token {
        validate_client_request_token(token)?;
    }
    Ok(updated)
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, String> {
    match value.as_deref() {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(format!("{name} is required")),
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

/// A Kubernetes namespace: an RFC 1123 label.
pub fn validate_namespace(namespace: &str) -> Result<(), String> {
    if is_dns_label(namespace) {
        return Ok(());
    }
    Err(format!(
        "namespace {namespace:?} is not a valid Kubernetes namespace: at most 63 lowercase \
         letters, digits or '-', starting and ending with a letter or digit"
    ))
}

/// A service account name: an RFC 1123 subdomain.
pub fn validate_service_account(name: &str) -> Result<(), String> {
    let valid = name.len() <= 253 && name.split('.').all(is_dns_label);
    if valid {
        return Ok(());
    }
    Err(format!(
        "serviceAccount {name:?} is not a valid Kubernetes service account name: at most 253 \
         lowercase letters, digits, '-' or '.', each part starting and ending with a letter or \
         digit"
    ))
}

fn is_dns_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(allowed)
        && bytes.first().is_some_and(alphanumeric)
        && bytes.last().is_some_and(alphanumeric)
}

/// An IAM role ARN: `arn:<partition>:iam::<12 digits>:role/<path/>name`.
pub fn validate_role_arn(arn: &str, field: &str) -> Result<(), String> {
    let invalid =
        || format!("{field} {arn:?} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)");
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let name = resource
        .strip_prefix("role/")
        .map(|path| path.rsplit('/').next().unwrap_or(""));
    let name_ok = name.is_some_and(|n| {
        (1..=64).contains(&n.len())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    });
    if partition.starts_with("aws") && account_ok && name_ok && arn.len() <= 2048 {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// Tags: at most 50; keys 1–128 characters, values at most 256; the `aws:` prefix is reserved.
pub fn validate_tags(tags: &Tags) -> Result<(), String> {
    if tags.len() > 50 {
        return Err(format!(
            "tags has {} entries; at most 50 are allowed",
            tags.len()
        ));
    }
    for (key, value) in tags {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > 128 {
            return Err(format!("tag key {key:?} must be 1 to 128 characters long"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!("tag key {key:?} uses the reserved prefix aws:"));
        }
        if value.chars().count() > 256 {
            return Err(format!(
                "the value of tag {key:?} is longer than 256 characters"
            ));
        }
    }
    Ok(())
}

/// A session policy is allowed only with session tags disabled, as in EKS, and must be a JSON
/// object of at most 2,048 characters.
pub fn validate_policy(policy: Option<&str>, disable_session_tags: bool) -> Result<(), String> {
    let Some(policy) = policy else { return Ok(()) };
    if !disable_session_tags {
        return Err("policy can only be set when disableSessionTags is true".into());
    }
    if policy.chars().count() > MAX_POLICY_CHARS {
        return Err(format!(
            "policy is longer than {MAX_POLICY_CHARS} characters"
        ));
    }
    match serde_json::from_str::<serde_json::Value>(policy) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err("policy must be a JSON object (an IAM policy document)".into()),
        Err(error) => Err(format!("policy is not valid JSON: {error}")),
    }
}

fn validate_client_request_token(token: &str) -> Result<(), String> {
    if (1..=64).contains(&token.len()) && token.chars().all(|c| c.is_ascii_graphic()) {
        return Ok(());
    }
    Err("clientRequestToken must be 1 to 64 printable ASCII characters".into())
}

/// An association id: `a-` and 17 lowercase letters or digits, from 17 random bytes.
pub fn association_id(random: [u8; 17]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = random
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("a-{suffix}")
}

/// The ARN EKS gives an association.
pub fn association_arn(region: &str, account: &str, cluster: &str, id: &str) -> String {
    format!("arn:aws:eks:{region}:{account}:podidentityassociation/{cluster}/{id}")
}

#[cfg(test)]
mod tests;
