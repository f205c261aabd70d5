//! Authorizing a caller's request with the policy engine, and wording a denial as AWS does.
//!
//! The policies that apply are the caller's identity policies (a user's or the session's
//! role's, attached and inline), the session policy a role session was given, and for some
//! actions a resource policy (a role's trust policy for `sts:AssumeRole`). The request context
//! gets the keys AWS sets for every request (`aws:PrincipalArn`, `aws:PrincipalTag/*`,
//! `aws:CurrentTime`, `aws:SourceIp`, …) on top of those the service adds.

use std::net::IpAddr;
use std::sync::Arc;

use podid_core::time::rfc3339_utc;
use podid_iam::{Context, Decision, Policies, Policy, Request, evaluate};

use crate::caller::{Caller, Identity};
use crate::store::View;

/// What a request does, for the engine.
#[derive(Debug, Clone)]
pub struct Access<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    /// The service's own context keys (`s3:prefix`, `aws:RequestTag/*`, …).
    pub context: Context,
    /// How a denial names the resource.
    pub shown: Shown,
}

/// How a denial message names the resource: IAM writes the ARN, S3 quotes it, and both leave
/// it out where it is implied, as for `s3:ListAllMyBuckets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Plain,
    Quoted,
    Omitted,
}

impl<'a> Access<'a> {
    pub fn new(action: &'a str, resource: &'a str) -> Self {
        Self {
            action,
            resource,
            context: Context::default(),
            shown: Shown::Plain,
        }
    }
}

/// Facts of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub source_ip: Option<IpAddr>,
    pub secure: bool,
    /// Unix seconds.
    pub now: i64,
}

/// A refused request; the message is AWS's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Denied {
    pub message: String,
}

/// Identity policies that AWS services hold in the sandbox. On AWS a service principal needs no
/// identity policy; here each may do what its part in pod identity needs, and trust policies
/// still decide which roles it may assume.
fn service_policy(service: &str) -> Option<&'static Arc<Policy>> {
    static POD_IDENTITY: std::sync::OnceLock<Option<Arc<Policy>>> = std::sync::OnceLock::new();
    static EC2: std::sync::OnceLock<Option<Arc<Policy>>> = std::sync::OnceLock::new();
    let (cell, document) = match service {
        "pods.eks.amazonaws.com" => (
            &POD_IDENTITY,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":["sts:AssumeRole","sts:TagSession","iam:GetRole"],"Resource":"*"}]}"#,
        ),
        "ec2.amazonaws.com" => (
            &EC2,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"sts:AssumeRole","Resource":"*"}]}"#,
        ),
        _ => return None,
    };
    cell.get_or_init(|| podid_iam::parse(document).ok().map(Arc::new))
        .as_ref()
}

/// The caller's identity policies and session policy.
#[derive(Debug)]
pub struct CallerPolicies<'v> {
    pub identity: Vec<&'v Policy>,
    pub session: Option<Policy>,
}

impl<'v> CallerPolicies<'v> {
    pub fn of(view: &'v View, caller: &Caller) -> Self {
        match &caller.identity {
            Identity::User { name, .. } => Self {
                identity: view.user_policies(name).iter().map(Arc::as_ref).collect(),
                session: None,
            },
            Identity::Session(claims) => {
                // A session of a role that was deleted (or deleted and made again) is worth
                // nothing: the role id it was issued for no longer exists.
                let current = view
                    .state
                    .role(&claims.role_name)
                    .is_some_and(|role| role.role_id == claims.role_id);
                let identity = if current {
                    view.role_policies(&claims.role_name)
                        .iter()
                        .map(Arc::as_ref)
                        .collect()
                } else {
                    Vec::new()
                };
                let session = claims
                    .policy
                    .as_deref()
                    .and_then(|text| podid_iam::parse(text).ok());
                Self { identity, session }
            }
            Identity::Service(service) => Self {
                identity: service_policy(service)
                    .map(|policy| vec![policy.as_ref()])
                    .unwrap_or_default(),
                session: None,
            },
        }
    }
}

/// The context keys AWS sets for every request of `caller`.
pub fn principal_context(view: &View, caller: &Caller, origin: &Origin, context: &mut Context) {
    context.set("aws:PrincipalAccount", [caller.account.as_str()]);
    context.set("aws:userid", [caller.user_id()]);
    context.set("aws:CurrentTime", [rfc3339_utc(origin.now)]);
    context.set("aws:EpochTime", [origin.now.to_string()]);
    context.set("aws:SecureTransport", [origin.secure.to_string()]);
    if let Some(ip) = origin.source_ip {
        context.set("aws:SourceIp", [ip.to_string()]);
    }
    let is_service = caller.service().is_some();
    context.set("aws:PrincipalIsAWSService", [is_service.to_string()]);
    match &caller.identity {
        Identity::User { name, tags, .. } => {
            context.set("aws:PrincipalArn", [caller.arn()]);
            context.set("aws:PrincipalType", ["User"]);
            context.set("aws:username", [name.as_str()]);
            for tag in tags {
                context.set(
                    &format!("aws:PrincipalTag/{}", tag.key),
                    [tag.value.as_str()],
                );
            }
        }
        Identity::Session(claims) => {
            context.set("aws:PrincipalArn", [claims.role_arn()]);
            context.set("aws:PrincipalType", ["AssumedRole"]);
            context.set("aws:TokenIssueTime", [rfc3339_utc(claims.issued_at)]);
            // The role's own tags are principal tags too, unless a session tag of the same
            // key overrides them.
            if let Some(role) = view.state.role(&claims.role_name) {
                for tag in &role.tags {
                    context.set(
                        &format!("aws:PrincipalTag/{}", tag.key),
                        [tag.value.as_str()],
                    );
                }
            }
            for tag in &claims.tags {
                context.set(
                    &format!("aws:PrincipalTag/{}", tag.key),
                    [tag.value.as_str()],
                );
            }
        }
        Identity::Service(service) => {
            context.set("aws:PrincipalServiceName", [service.as_str()]);
        }
    }
}

/// Allows the request or words the denial. `resource_policy` is the resource's own policy,
/// such as a role's trust policy.
pub fn authorize(
    view: &View,
    caller: &Caller,
    access: Access<'_>,
    origin: &Origin,
    resource_policy: Option<&Policy>,
) -> Result<(), Denied> {
    let mut context = access.context;
    principal_context(view, caller, origin, &mut context);
    let principal = caller.principal();
    let request = Request {
        principal: &principal,
        action: access.action,
        resource: access.resource,
        context: &context,
    };
    let policies = CallerPolicies::of(view, caller);
    let session: Option<Vec<&Policy>> = policies.session.as_ref().map(|p| vec![p]);
    let all = Policies {
        identity: &policies.identity,
        session: session.as_deref(),
        resource: resource_policy,
    };
    let decision = evaluate(&request, &all);
    if decision == Decision::Allow {
        return Ok(());
    }

    // Which policy type to name: AWS says where the explicit deny is, or which kind of policy
    // failed to allow.
    let identity_only = Policies {
        identity: &policies.identity,
        session: None,
        resource: resource_policy,
    };
    let identity_decision = evaluate(&request, &identity_only);
    let reason = match (decision, identity_decision) {
        (Decision::ExplicitDeny, Decision::ExplicitDeny) => {
            "with an explicit deny in an identity-based policy".to_owned()
        }
        (Decision::ExplicitDeny, _) => "with an explicit deny in a session policy".to_owned(),
        (_, Decision::Allow) => format!(
            "because no session policy allows the {} action",
            access.action
        ),
        _ => format!(
            "because no identity-based policy allows the {} action",
            access.action
        ),
    };
    Err(Denied {
        message: denial_message(caller, access.action, access.resource, access.shown)
            + " "
            + &reason,
    })
}

/// `User: <arn> is not authorized to perform: <action> on resource: <resource>`
pub fn denial_message(caller: &Caller, action: &str, resource: &str, shown: Shown) -> String {
    let arn = caller.arn();
    match shown {
        Shown::Plain => {
            format!("User: {arn} is not authorized to perform: {action} on resource: {resource}")
        }
        Shown::Quoted => format!(
            "User: {arn} is not authorized to perform: {action} on resource: \"{resource}\""
        ),
        Shown::Omitted => format!("User: {arn} is not authorized to perform: {action}"),
    }
}
