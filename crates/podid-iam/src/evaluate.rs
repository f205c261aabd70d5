//! Whether a request is allowed.

use crate::context::{Context, Principal};
use crate::matching::{substitute, wildcard};
use crate::policy::{Effect, Policy, Principals, Statement, Version};

/// A request to authorize.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a Context,
}

/// The policies that apply to a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policies<'a> {
    /// The caller's identity policies: attached and inline policies of its user or role.
    pub identity: &'a [&'a Policy],
    /// The session policies of a role session, if it was given any.
    pub session: Option<&'a [&'a Policy]>,
    /// The resource's own policy: a bucket policy, or a role's trust policy for AssumeRole.
    pub resource: Option<&'a Policy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A statement denies the request; nothing can allow it.
    ExplicitDeny,
    /// No statement allows the request.
    ImplicitDeny,
}

/// AWS's evaluation logic: an explicit Deny anywhere wins; otherwise an Allow from an identity
/// policy or the resource policy is needed, and session policies, when present, must allow the
/// request as well.
pub fn evaluate(request: &Request<'_>, policies: &Policies<'_>) -> Decision {
    let session = policies.session.unwrap_or_default();
    let all_identity = policies.identity.iter().chain(session);
    let denied = all_identity
        .clone()
        .any(|p| effect_of(p, request, false) == Some(Effect::Deny))
        || policies
            .resource
            .is_some_and(|p| effect_of(p, request, true) == Some(Effect::Deny));
    if denied {
        return Decision::ExplicitDeny;
    }
    let allows = |policy: &&Policy, with_principal| {
        effect_of(policy, request, with_principal) == Some(Effect::Allow)
    };
    let identity_allows = policies.identity.iter().any(|p| allows(p, false));
    let resource_allows = policies.resource.is_some_and(|p| allows(&p, true));
    let session_allows = policies
        .session
        .is_none_or(|s| s.iter().any(|p| allows(p, false)));
    if (identity_allows || resource_allows) && session_allows {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Deny if any statement of the policy denies, else Allow if one allows, else nothing.
fn effect_of(policy: &Policy, request: &Request<'_>, with_principal: bool) -> Option<Effect> {
    let variables = policy.version == Version::V2012;
    let matching = policy
        .statements
        .iter()
        .filter(|statement| applies(statement, request, with_principal, variables));
    let mut effect = None;
    for statement in matching {
        if statement.effect == Effect::Deny {
            return Some(Effect::Deny);
        }
        effect = Some(Effect::Allow);
    }
    effect
}

fn applies(statement: &Statement, request: &Request<'_>, with_principal: bool, vars: bool) -> bool {
    let action = &statement.action;
    let action_listed = action
        .patterns
        .iter()
        .any(|p| wildcard(p, request.action, true));
    if action_listed == action.negated {
        return false;
    }
    if let Some(resource) = &statement.resource {
        let listed = resource.patterns.iter().any(|pattern| {
            let pattern = if vars {
                substitute(pattern, request.context)
            } else {
                Some(pattern.clone())
            };
            pattern.is_some_and(|p| wildcard(&p, request.resource, false))
        });
        if listed == resource.negated {
            return false;
        }
    }
    if with_principal {
        let Some((negated, principals)) = &statement.principal else {
            return false;
        };
        if names(principals, request.principal) == *negated {
            return false;
        }
    }
    statement
        .conditions
        .iter()
        .all(|condition| condition.holds(request.context, vars))
}

/// Whether a `Principal` element names the caller.
fn names(principals: &Principals, caller: &Principal) -> bool {
    let Principals::Named(named) = principals else {
        return true;
    };
    named.iter().any(|(kind, id)| match kind.as_str() {
        "Service" => caller.service.as_deref() == Some(id.as_str()),
        "AWS" => {
            let account_root = format!("arn:aws:iam::{}:root", caller.account);
            id == &caller.account
                || id == &account_root
                || id == &caller.arn
                || caller.role_arn.as_deref() == Some(id.as_str())
        }
        _ => false,
    })
}
