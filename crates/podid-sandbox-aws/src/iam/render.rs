//! IAM entities as IAM's XML writes them. Policy documents go out URL-encoded, as IAM sends
//! them; the AWS CLI and SDKs decode them.

use podid_core::percent::percent_encode;
use podid_core::time::rfc3339_utc;

use crate::managed::ManagedPolicy;
use crate::model::{AccountState, CustomerPolicy, Role, Tag, User};
use crate::xml::Xml;

pub fn role(xml: &mut Xml, state: &AccountState, role: &Role, with_tags: bool) {
    xml.leaf("Path", &role.path)
        .leaf("RoleName", &role.name)
        .leaf("RoleId", &role.role_id)
        .leaf("Arn", &state.role_arn(role))
        .leaf("CreateDate", &rfc3339_utc(role.created))
        .leaf(
            "AssumeRolePolicyDocument",
            &percent_encode(&role.trust_policy),
        )
        .leaf_opt("Description", role.description.as_deref())
        .leaf("MaxSessionDuration", &role.max_session_duration.to_string());
    if with_tags && !role.tags.is_empty() {
        tags(xml, &role.tags);
    }
}

pub fn user(xml: &mut Xml, state: &AccountState, user: &User, with_tags: bool) {
    xml.leaf("Path", &user.path)
        .leaf("UserName", &user.name)
        .leaf("UserId", &user.user_id)
        .leaf("Arn", &state.user_arn(user))
        .leaf("CreateDate", &rfc3339_utc(user.created));
    if with_tags && !user.tags.is_empty() {
        tags(xml, &user.tags);
    }
}

pub fn tags(xml: &mut Xml, tags: &[Tag]) {
    xml.list("Tags", tags, |xml, tag| {
        xml.leaf("Key", &tag.key).leaf("Value", &tag.value);
    });
}

/// A managed policy as GetPolicy, CreatePolicy and ListPolicies show it: customer or AWS.
#[derive(Debug, Clone, Copy)]
pub enum AnyPolicy<'a> {
    Customer(&'a CustomerPolicy),
    Aws(&'a ManagedPolicy),
}

impl AnyPolicy<'_> {
    pub fn arn(&self, state: &AccountState) -> String {
        match self {
            AnyPolicy::Customer(policy) => state.policy_arn(policy),
            AnyPolicy::Aws(policy) => policy.arn.clone(),
        }
    }
}

pub fn policy(xml: &mut Xml, state: &AccountState, policy: AnyPolicy<'_>, attachments: usize) {
    let arn = policy.arn(state);
    match policy {
        AnyPolicy::Customer(p) => {
            xml.leaf("PolicyName", &p.name)
                .leaf("PolicyId", &p.policy_id)
                .leaf("Arn", &arn)
                .leaf("Path", &p.path)
                .leaf("DefaultVersionId", &p.default_version)
                .leaf("AttachmentCount", &attachments.to_string())
                .leaf("PermissionsBoundaryUsageCount", "0")
                .leaf("IsAttachable", "true")
                .leaf_opt("Description", p.description.as_deref())
                .leaf("CreateDate", &rfc3339_utc(p.created))
                .leaf("UpdateDate", &rfc3339_utc(p.updated));
        }
        AnyPolicy::Aws(p) => {
            xml.leaf("PolicyName", &p.name)
                .leaf("PolicyId", &p.policy_id)
                .leaf("Arn", &arn)
                .leaf("Path", &p.path)
                .leaf("DefaultVersionId", &p.version_id)
                .leaf("AttachmentCount", &attachments.to_string())
                .leaf("PermissionsBoundaryUsageCount", "0")
                .leaf("IsAttachable", "true")
                .leaf("Description", &p.description)
                .leaf("CreateDate", &p.created)
                .leaf("UpdateDate", &p.updated);
        }
    }
}

/// A policy version: its document (URL-encoded), id, whether it is the default, and its date.
pub fn policy_version(xml: &mut Xml, document: &str, id: &str, default: bool, created: &str) {
    xml.leaf("Document", &percent_encode(document))
        .leaf("VersionId", id)
        .leaf("IsDefaultVersion", &default.to_string())
        .leaf("CreateDate", created);
}
