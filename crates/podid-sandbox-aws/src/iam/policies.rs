//! Managed policies: the account's own, with their versions, and AWS's, which are read-only.

use podid_core::time::rfc3339_utc;

use super::render::{self, AnyPolicy};
use super::validate::{self, DocumentKind, MAX_MANAGED_POLICY_CHARS, MAX_POLICY_VERSIONS};
use super::{Call, change, now, page, truncation};
use crate::error::AwsError;
use crate::ids::{IdKind, new_id};
use crate::managed;
use crate::model::{AccountState, CustomerPolicy, PolicyVersion};
use crate::store::View;
use crate::xml::Xml;

pub fn create(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let params = call.params;
    let name = params.required("PolicyName")?;
    validate::name("policyName", name, 128)?;
    let path = params.get("Path").unwrap_or("/");
    validate::path(path)?;
    let document = params.required("PolicyDocument")?;
    validate::document(document, DocumentKind::Identity, MAX_MANAGED_POLICY_CHARS)?;
    let description = params.get("Description");
    if let Some(description) = description {
        validate::length("description", description, 0, 1000)?;
    }
    let created = now(call);
    let policy = CustomerPolicy {
        name: name.to_owned(),
        policy_id: new_id(IdKind::Policy),
        path: path.to_owned(),
        description: description.map(str::to_owned),
        created,
        updated: created,
        default_version: "v1".into(),
        versions: vec![PolicyVersion {
            id: "v1".into(),
            document: document.to_owned(),
            created,
        }],
        next_version: 2,
    };
    change(call, |state| {
        let key = name.to_ascii_lowercase();
        if state.policies.contains_key(&key) {
            return Err(AwsError::already_exists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        state.policies.insert(key, policy.clone());
        Ok(())
    })?;
    xml.open("Policy");
    render::policy(xml, &view.state, AnyPolicy::Customer(&policy), 0);
    xml.close("Policy");
    Ok(())
}

pub fn get(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let arn = call.params.required("PolicyArn")?;
    let policy = any_policy(&view.state, arn)?;
    xml.open("Policy");
    render::policy(xml, &view.state, policy, attachments(&view.state, arn));
    xml.close("Policy");
    Ok(())
}

pub fn list(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let params = call.params;
    let scope = params.get("Scope").unwrap_or("All");
    if !["All", "AWS", "Local"].contains(&scope) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{scope}' at 'scope' failed to satisfy \
             constraint: Member must satisfy enum value set: [All, AWS, Local]"
        )));
    }
    let only_attached = params.flag("OnlyAttached")?.unwrap_or(false);
    let prefix = params.get("PathPrefix").unwrap_or("/");
    let state = &view.state;
    let aws = managed::all().iter().map(AnyPolicy::Aws);
    let local = state.policies.values().map(AnyPolicy::Customer);
    let mut chosen: Vec<(String, AnyPolicy<'_>)> = match scope {
        "AWS" => aws.collect::<Vec<_>>(),
        "Local" => local.collect(),
        _ => aws.chain(local).collect(),
    }
    .into_iter()
    .map(|policy| (policy.arn(state), policy))
    .filter(|(arn, policy)| {
        let path = match policy {
            AnyPolicy::Customer(p) => p.path.as_str(),
            AnyPolicy::Aws(p) => p.path.as_str(),
        };
        path.starts_with(prefix) && (!only_attached || attachments(state, arn) > 0)
    })
    .collect();
    chosen.sort_by(|a, b| a.0.cmp(&b.0));
    let (policies, next) = page(params, chosen)?;
    xml.list("Policies", policies, |xml, policy| {
        let count = attachments(state, &policy.arn(state));
        render::policy(xml, state, policy, count);
    });
    truncation(xml, next);
    Ok(())
}

pub fn delete(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let arn = call.params.required("PolicyArn")?;
    change(call, |state| {
        let key = customer_key(state, arn)?;
        if attachments(state, arn) > 0 {
            return Err(AwsError::delete_conflict(
                "Cannot delete a policy attached to entities.",
            ));
        }
        state.policies.remove(&key);
        Ok(())
    })
}

pub fn create_version(call: &Call<'_>, _: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let arn = call.params.required("PolicyArn")?;
    let document = call.params.required("PolicyDocument")?;
    validate::document(document, DocumentKind::Identity, MAX_MANAGED_POLICY_CHARS)?;
    let set_default = call.params.flag("SetAsDefault")?.unwrap_or(false);
    let created = now(call);
    let version = change(call, |state| {
        let key = customer_key(state, arn)?;
        let policy = state.policies.get_mut(&key).ok_or_else(|| no_policy(arn))?;
        if policy.versions.len() >= MAX_POLICY_VERSIONS {
            return Err(AwsError::limit_exceeded(format!(
                "A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you \
                 create a new version, you must delete an existing version."
            )));
        }
        let version = PolicyVersion {
            id: format!("v{}", policy.next_version),
            document: document.to_owned(),
            created,
        };
        policy.next_version += 1;
        policy.updated = created;
        if set_default {
            policy.default_version = version.id.clone();
        }
        policy.versions.push(version.clone());
        Ok(version)
    })?;
    xml.open("PolicyVersion");
    let created = rfc3339_utc(version.created);
    xml.leaf("VersionId", &version.id)
        .leaf("IsDefaultVersion", &set_default.to_string())
        .leaf("CreateDate", &created);
    xml.close("PolicyVersion");
    Ok(())
}

pub fn get_version(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let arn = call.params.required("PolicyArn")?;
    let id = call.params.required("VersionId")?;
    let missing = || {
        AwsError::no_such_entity(format!(
            "Policy {arn} version {id} does not exist or is not attachable."
        ))
    };
    xml.open("PolicyVersion");
    match any_policy(&view.state, arn)? {
        AnyPolicy::Aws(policy) => {
            if policy.version_id != id {
                return Err(missing());
            }
            render::policy_version(xml, &policy.document, id, true, &policy.created);
        }
        AnyPolicy::Customer(policy) => {
            let version = policy
                .versions
                .iter()
                .find(|version| version.id == id)
                .ok_or_else(missing)?;
            let default = policy.default_version == id;
            let created = rfc3339_utc(version.created);
            render::policy_version(xml, &version.document, id, default, &created);
        }
    }
    xml.close("PolicyVersion");
    Ok(())
}

pub fn list_versions(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let arn = call.params.required("PolicyArn")?;
    let versions: Vec<(String, bool, String)> = match any_policy(&view.state, arn)? {
        AnyPolicy::Aws(policy) => vec![(policy.version_id.clone(), true, policy.created.clone())],
        AnyPolicy::Customer(policy) => policy
            .versions
            .iter()
            .rev()
            .map(|version| {
                let default = version.id == policy.default_version;
                (version.id.clone(), default, rfc3339_utc(version.created))
            })
            .collect(),
    };
    xml.list("Versions", versions, |xml, (id, default, created)| {
        xml.leaf("VersionId", &id)
            .leaf("IsDefaultVersion", &default.to_string())
            .leaf("CreateDate", &created);
    });
    xml.leaf("IsTruncated", "false");
    Ok(())
}

pub fn delete_version(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let arn = call.params.required("PolicyArn")?;
    let id = call.params.required("VersionId")?;
    change(call, |state| {
        let key = customer_key(state, arn)?;
        let policy = state.policies.get_mut(&key).ok_or_else(|| no_policy(arn))?;
        if policy.default_version == id {
            return Err(AwsError::delete_conflict(
                "Cannot delete the default version of a policy.",
            ));
        }
        let before = policy.versions.len();
        policy.versions.retain(|version| version.id != id);
        if policy.versions.len() == before {
            return Err(AwsError::no_such_entity(format!(
                "Policy {arn} version {id} does not exist or is not attachable."
            )));
        }
        Ok(())
    })
}

pub fn set_default_version(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let arn = call.params.required("PolicyArn")?;
    let id = call.params.required("VersionId")?;
    change(call, |state| {
        let key = customer_key(state, arn)?;
        let policy = state.policies.get_mut(&key).ok_or_else(|| no_policy(arn))?;
        if !policy.versions.iter().any(|version| version.id == id) {
            return Err(AwsError::no_such_entity(format!(
                "Policy {arn} version {id} does not exist or is not attachable."
            )));
        }
        policy.default_version = id.to_owned();
        Ok(())
    })
}

/// An AWS managed or customer managed policy by ARN.
fn any_policy<'s>(state: &'s AccountState, arn: &str) -> Result<AnyPolicy<'s>, AwsError> {
    if let Some(policy) = managed::by_arn(arn) {
        return Ok(AnyPolicy::Aws(policy));
    }
    state
        .policy_by_arn(arn)
        .map(AnyPolicy::Customer)
        .ok_or_else(|| no_policy(arn))
}

/// The map key of a customer managed policy; AWS's own cannot be changed.
fn customer_key(state: &AccountState, arn: &str) -> Result<String, AwsError> {
    if managed::by_arn(arn).is_some() {
        return Err(AwsError::new(
            400,
            "InvalidInput",
            format!("Policy {arn} is an AWS managed policy and cannot be changed."),
        ));
    }
    let policy = state.policy_by_arn(arn).ok_or_else(|| no_policy(arn))?;
    Ok(policy.name.to_ascii_lowercase())
}

fn no_policy(arn: &str) -> AwsError {
    AwsError::no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
}

/// How many users and roles have the policy attached.
fn attachments(state: &AccountState, arn: &str) -> usize {
    let roles = state
        .roles
        .values()
        .filter(|r| r.attached.iter().any(|a| a == arn));
    let users = state
        .users
        .values()
        .filter(|u| u.attached.iter().any(|a| a == arn));
    roles.count() + users.count()
}
