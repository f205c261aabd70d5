//! The policies of roles and users: managed policies attached to them, and inline policies
//! embedded in them. Both kinds of entity behave alike, so each action is written once.

use std::collections::BTreeMap;

use podid_core::percent::percent_encode;

use super::validate::{self, DocumentKind, MAX_ATTACHED_POLICIES, MAX_INLINE_POLICY_CHARS};
use super::{Call, change, page, truncation};
use crate::error::AwsError;
use crate::managed;
use crate::model::AccountState;
use crate::store::View;
use crate::xml::Xml;

/// IAM's quota for a user's inline policies, smaller than a role's.
const MAX_USER_INLINE_POLICY_CHARS: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Role,
    User,
}

impl Kind {
    fn name_param(self) -> &'static str {
        match self {
            Kind::Role => "RoleName",
            Kind::User => "UserName",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::Role => "role",
            Kind::User => "user",
        }
    }

    fn quota(self) -> &'static str {
        match self {
            Kind::Role => "PoliciesPerRole",
            Kind::User => "PoliciesPerUser",
        }
    }

    fn inline_limit(self) -> usize {
        match self {
            Kind::Role => MAX_INLINE_POLICY_CHARS,
            Kind::User => MAX_USER_INLINE_POLICY_CHARS,
        }
    }

    fn policies<'s>(self, state: &'s AccountState, name: &str) -> Result<Policies<'s>, AwsError> {
        let found = match self {
            Kind::Role => state.role(name).map(|r| (&r.attached, &r.inline)),
            Kind::User => state.user(name).map(|u| (&u.attached, &u.inline)),
        };
        let (attached, inline) = found.ok_or_else(|| self.not_found(name))?;
        Ok(Policies { attached, inline })
    }

    fn policies_mut<'s>(
        self,
        state: &'s mut AccountState,
        name: &str,
    ) -> Result<PoliciesMut<'s>, AwsError> {
        let key = name.to_ascii_lowercase();
        let found = match self {
            Kind::Role => state
                .roles
                .get_mut(&key)
                .map(|r| (&mut r.attached, &mut r.inline)),
            Kind::User => state
                .users
                .get_mut(&key)
                .map(|u| (&mut u.attached, &mut u.inline)),
        };
        let (attached, inline) = found.ok_or_else(|| self.not_found(name))?;
        Ok(PoliciesMut { attached, inline })
    }

    fn not_found(self, name: &str) -> AwsError {
        AwsError::no_such_entity(format!(
            "The {} with name {name} cannot be found.",
            self.word()
        ))
    }
}

struct Policies<'s> {
    attached: &'s Vec<String>,
    inline: &'s BTreeMap<String, String>,
}

struct PoliciesMut<'s> {
    attached: &'s mut Vec<String>,
    inline: &'s mut BTreeMap<String, String>,
}

pub fn attach_role(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    attach(call, Kind::Role)
}

pub fn attach_user(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    attach(call, Kind::User)
}

pub fn detach_role(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    detach(call, Kind::Role)
}

pub fn detach_user(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    detach(call, Kind::User)
}

pub fn list_role_attached(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    list_attached(call, view, xml, Kind::Role)
}

pub fn list_user_attached(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    list_attached(call, view, xml, Kind::User)
}

pub fn put_role_inline(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    put_inline(call, Kind::Role)
}

pub fn put_user_inline(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    put_inline(call, Kind::User)
}

pub fn get_role_inline(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    get_inline(call, view, xml, Kind::Role)
}

pub fn get_user_inline(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    get_inline(call, view, xml, Kind::User)
}

pub fn delete_role_inline(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    delete_inline(call, Kind::Role)
}

pub fn delete_user_inline(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    delete_inline(call, Kind::User)
}

pub fn list_role_inline(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    list_inline(call, view, xml, Kind::Role)
}

pub fn list_user_inline(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    list_inline(call, view, xml, Kind::User)
}

fn attach(call: &Call<'_>, kind: Kind) -> Result<(), AwsError> {
    let name = call.params.required(kind.name_param())?;
    let arn = call.params.required("PolicyArn")?;
    change(call, |state| {
        if policy_name(state, arn).is_none() {
            return Err(AwsError::no_such_entity(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
        let policies = kind.policies_mut(state, name)?;
        if policies.attached.iter().any(|attached| attached == arn) {
            return Ok(());
        }
        if policies.attached.len() >= MAX_ATTACHED_POLICIES {
            return Err(AwsError::limit_exceeded(format!(
                "Cannot exceed quota for {}: {MAX_ATTACHED_POLICIES}",
                kind.quota()
            )));
        }
        policies.attached.push(arn.to_owned());
        Ok(())
    })
}

fn detach(call: &Call<'_>, kind: Kind) -> Result<(), AwsError> {
    let name = call.params.required(kind.name_param())?;
    let arn = call.params.required("PolicyArn")?;
    change(call, |state| {
        let policies = kind.policies_mut(state, name)?;
        let before = policies.attached.len();
        policies.attached.retain(|attached| attached != arn);
        if policies.attached.len() == before {
            return Err(AwsError::no_such_entity(format!(
                "Policy {arn} was not found."
            )));
        }
        Ok(())
    })
}

fn list_attached(call: &Call<'_>, view: &View, xml: &mut Xml, kind: Kind) -> Result<(), AwsError> {
    let name = call.params.required(kind.name_param())?;
    let policies = kind.policies(&view.state, name)?;
    let attached = policies
        .attached
        .iter()
        .filter_map(|arn| Some((arn.clone(), (policy_name(&view.state, arn)?, arn))))
        .collect();
    let (attached, next) = page(call.params, attached)?;
    xml.list("AttachedPolicies", attached, |xml, (name, arn)| {
        xml.leaf("PolicyName", &name).leaf("PolicyArn", arn);
    });
    truncation(xml, next);
    Ok(())
}

fn put_inline(call: &Call<'_>, kind: Kind) -> Result<(), AwsError> {
    let name = call.params.required(kind.name_param())?;
    let policy = call.params.required("PolicyName")?;
    validate::name("policyName", policy, 128)?;
    let document = call.params.required("PolicyDocument")?;
    validate::document(document, DocumentKind::Identity, kind.inline_limit())?;
    change(call, |state| {
        let policies = kind.policies_mut(state, name)?;
        policies
            .inline
            .insert(policy.to_owned(), document.to_owned());
        Ok(())
    })
}

fn get_inline(call: &Call<'_>, view: &View, xml: &mut Xml, kind: Kind) -> Result<(), AwsError> {
    let name = call.params.required(kind.name_param())?;
    let policy = call.params.required("PolicyName")?;
    let policies = kind.policies(&view.state, name)?;
    let document = policies
        .inline
        .get(policy)
        .ok_or_else(|| inline_not_found(kind, policy))?;
    xml.leaf(kind.name_param(), name)
        .leaf("PolicyName", policy)
        .leaf("PolicyDocument", &percent_encode(document));
    Ok(())
}

fn delete_inline(call: &Call<'_>, kind: Kind) -> Result<(), AwsError> {
    let name = call.params.required(kind.name_param())?;
    let policy = call.params.required("PolicyName")?;
    change(call, |state| {
        let policies = kind.policies_mut(state, name)?;
        policies
            .inline
            .remove(policy)
            .map(|_| ())
            .ok_or_else(|| inline_not_found(kind, policy))
    })
}

fn list_inline(call: &Call<'_>, view: &View, xml: &mut Xml, kind: Kind) -> Result<(), AwsError> {
    let name = call.params.required(kind.name_param())?;
    let policies = kind.policies(&view.state, name)?;
    let names = policies
        .inline
        .keys()
        .map(|name| (name.clone(), name))
        .collect();
    let (names, next) = page(call.params, names)?;
    xml.open("PolicyNames");
    for name in names {
        xml.leaf("member", name);
    }
    xml.close("PolicyNames");
    truncation(xml, next);
    Ok(())
}

fn inline_not_found(kind: Kind, policy: &str) -> AwsError {
    AwsError::no_such_entity(format!(
        "The {} policy with name {policy} cannot be found.",
        kind.word()
    ))
}

/// The name of an attachable managed policy, AWS's or the account's.
fn policy_name(state: &AccountState, arn: &str) -> Option<String> {
    if let Some(policy) = managed::by_arn(arn) {
        return Some(policy.name.clone());
    }
    state.policy_by_arn(arn).map(|policy| policy.name.clone())
}
