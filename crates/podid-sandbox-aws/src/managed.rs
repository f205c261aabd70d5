//! AWS managed policies: the documents AWS publishes, built into the sandbox so that a role can
//! attach `arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess` and get exactly what it gets on AWS.

use std::sync::{Arc, OnceLock};

use podid_iam::Policy;
use serde::Deserialize;
use serde_json::value::RawValue;

/// One AWS managed policy, in force at its default version.
#[derive(Debug)]
pub struct ManagedPolicy {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub policy_id: String,
    pub description: String,
    pub version_id: String,
    /// RFC 3339, as AWS lists them.
    pub created: String,
    pub updated: String,
    /// The document as AWS publishes it.
    pub document: String,
    pub parsed: Arc<Policy>,
}

#[derive(Deserialize)]
struct PublishedPolicy<'a> {
    name: String,
    path: String,
    description: String,
    version_id: String,
    created: String,
    updated: String,
    #[serde(borrow)]
    document: &'a RawValue,
}

const PUBLISHED: [&str; 7] = [
    include_str!("../managed-policies/AdministratorAccess.json"),
    include_str!("../managed-policies/AmazonS3ReadOnlyAccess.json"),
    include_str!("../managed-policies/AmazonS3FullAccess.json"),
    include_str!("../managed-policies/AmazonEKSWorkerNodePolicy.json"),
    include_str!("../managed-policies/AmazonEKS_CNI_Policy.json"),
    include_str!("../managed-policies/AmazonEC2ContainerRegistryReadOnly.json"),
    include_str!("../managed-policies/IAMReadOnlyAccess.json"),
];

/// Every AWS managed policy the sandbox knows.
pub fn all() -> &'static [ManagedPolicy] {
    static POLICIES: OnceLock<Vec<ManagedPolicy>> = OnceLock::new();
    POLICIES.get_or_init(|| PUBLISHED.iter().filter_map(|text| load(text)).collect())
}

/// The AWS managed policy of an ARN such as `arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess`.
pub fn by_arn(arn: &str) -> Option<&'static ManagedPolicy> {
    all().iter().find(|policy| policy.arn == arn)
}

/// Documents are checked by the tests, so one that fails to load here is a build defect; it is
/// left out rather than stopping the sandbox.
fn load(text: &str) -> Option<ManagedPolicy> {
    let published: PublishedPolicy<'_> = serde_json::from_str(text).ok()?;
    let document = published.document.get().to_owned();
    let parsed = Arc::new(podid_iam::parse(&document).ok()?);
    Some(ManagedPolicy {
        arn: format!(
            "arn:aws:iam::aws:policy{}{}",
            published.path, published.name
        ),
        policy_id: stable_policy_id(&published.name),
        name: published.name,
        path: published.path,
        description: published.description,
        version_id: published.version_id,
        created: published.created,
        updated: published.updated,
        document,
        parsed,
    })
}

/// An `ANPA…` id derived from the name, so it is the same in every sandbox and across restarts.
fn stable_policy_id(name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, name.as_bytes());
    let random: String = digest
        .as_ref()
        .iter()
        .take(17)
        .map(|byte| char::from(ALPHABET[usize::from(byte % 32)]))
        .collect();
    format!("ANPA{random}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_published_document_loads() {
        assert_eq!(all().len(), PUBLISHED.len());
        for policy in all() {
            assert!(
                policy.arn.starts_with("arn:aws:iam::aws:policy/"),
                "{}",
                policy.arn
            );
            assert_eq!(policy.policy_id.len(), 21);
        }
    }

    #[test]
    fn s3_read_only_is_the_published_document() {
        let policy = by_arn("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess").unwrap();
        let document: serde_json::Value = serde_json::from_str(&policy.document).unwrap();
        assert_eq!(
            document["Statement"][0]["Action"],
            serde_json::json!([
                "s3:Get*",
                "s3:List*",
                "s3:Describe*",
                "s3-object-lambda:Get*",
                "s3-object-lambda:List*"
            ])
        );
        assert_eq!(stable_policy_id("AmazonS3ReadOnlyAccess"), policy.policy_id);
    }
}
