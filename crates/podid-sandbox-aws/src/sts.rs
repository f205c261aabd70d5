//! STS: who the caller is, and role sessions.
//!
//! AssumeRole follows AWS's rules: the role's trust policy must allow the caller
//! `sts:AssumeRole`, and `sts:TagSession` as well when the session gets tags (its own, or
//! transitive ones carried from the calling session). A trust policy that names the caller
//! itself is enough; one that trusts the whole account also needs the caller's identity
//! policies to allow the call. Sessions assumed from sessions last at most an hour, keep the
//! transitive tags, and count as chained.

use std::sync::Arc;

use podid_core::time::rfc3339_utc;
use podid_iam::{Context, Decision, Policies, Policy, Request, evaluate};

use crate::authorize::{Access, Origin, Shown, authorize, denial_message, principal_context};
use crate::caller::Caller;
use crate::error::AwsError;
use crate::iam::validate::{self, DocumentKind};
use crate::ids::request_id;
use crate::model::{Role, Tag};
use crate::query::Params;
use crate::sessions::{SessionClaims, SessionKeys};
use crate::store::{AccountStore, View};
use crate::xml::{Xml, query_response};

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Sessions assumed from a role session last at most this long.
const CHAINED_SESSION_SECONDS: i64 = 3600;
const DEFAULT_SESSION_SECONDS: i64 = 3600;
const SHORTEST_SESSION_SECONDS: i64 = 900;
/// The space STS packs a session policy and session tags into.
const PACKED_POLICY_BUDGET: usize = 2048;

/// One STS request.
#[derive(Debug)]
pub struct Call<'a> {
    pub params: &'a Params,
    pub caller: &'a Caller,
    pub origin: &'a Origin,
    pub store: &'a AccountStore,
    pub sessions: &'a SessionKeys,
}

pub fn handle(call: &Call<'_>) -> Result<String, AwsError> {
    let action = call.params.action()?;
    let mut xml = Xml::default();
    match action {
        "GetCallerIdentity" => {
            xml.leaf("UserId", &call.caller.user_id())
                .leaf("Account", &call.caller.account)
                .leaf("Arn", &call.caller.arn());
        }
        "AssumeRole" => assume_role(call, &mut xml)?,
        other => {
            return Err(AwsError::new(
                400,
                "InvalidAction",
                format!("Could not find operation {other} for version 2011-06-15"),
            ));
        }
    }
    Ok(query_response(action, NAMESPACE, &request_id(), xml))
}

/// What an AssumeRole request asks for, checked.
struct SessionAsk {
    session_name: String,
    duration: i64,
    policy: Option<String>,
    /// The session's tags: carried transitive ones first, then the request's.
    tags: Vec<Tag>,
    transitive: Vec<String>,
    external_id: Option<String>,
}

fn assume_role(call: &Call<'_>, xml: &mut Xml) -> Result<(), AwsError> {
    let view = call.store.view();
    let role_arn = call.params.required("RoleArn")?;
    validate::length("roleArn", role_arn, 20, 2048)?;
    let ask = read_ask(call)?;
    let denied = || {
        AwsError::access_denied(denial_message(
            call.caller,
            "sts:AssumeRole",
            role_arn,
            Shown::Plain,
        ))
    };
    let role = view.state.role_by_arn(role_arn).ok_or_else(denied)?;
    let trust = view.trust_policy(&role.name).ok_or_else(denied)?;

    check_trust(call, &view, role_arn, trust, &ask)?;
    let chained = call.caller.session().is_some();
    let duration = session_duration(role, ask.duration, chained)?;
    let packed = packed_percent(&ask)?;

    let claims = SessionClaims {
        access_key_id: call.sessions.new_access_key_id(),
        account: view.state.account_id.clone(),
        role_name: role.name.clone(),
        role_path: role.path.clone(),
        role_id: role.role_id.clone(),
        session_name: ask.session_name,
        issued_at: call.origin.now,
        expires_at: call.origin.now + duration,
        tags: ask.tags,
        transitive_tag_keys: ask.transitive,
        policy: ask.policy,
        chained,
    };
    let secret = call
        .sessions
        .secret_for(&claims.access_key_id)
        .ok_or_else(|| AwsError::internal("a new session key has no secret"))?;
    let token = call.sessions.seal(&claims);
    xml.open("Credentials")
        .leaf("AccessKeyId", &claims.access_key_id)
        .leaf("SecretAccessKey", &secret)
        .leaf("SessionToken", &token)
        .leaf("Expiration", &rfc3339_utc(claims.expires_at))
        .close("Credentials");
    xml.open("AssumedRoleUser")
        .leaf("AssumedRoleId", &claims.assumed_role_id())
        .leaf("Arn", &claims.assumed_role_arn())
        .close("AssumedRoleUser");
    xml.leaf("PackedPolicySize", &packed.to_string());
    Ok(())
}

fn read_ask(call: &Call<'_>) -> Result<SessionAsk, AwsError> {
    let params = call.params;
    let session_name = params.required("RoleSessionName")?;
    validate::length("roleSessionName", session_name, 2, 64)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !session_name.chars().all(allowed) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to \
             satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let duration = params
        .number("DurationSeconds", SHORTEST_SESSION_SECONDS, 43_200)?
        .unwrap_or(DEFAULT_SESSION_SECONDS);
    let policy = params.get("Policy").map(str::to_owned);
    if let Some(policy) = &policy {
        validate::document(policy, DocumentKind::Identity, PACKED_POLICY_BUDGET)?;
    }
    if !params.list("PolicyArns", Some("arn")).is_empty() {
        return Err(AwsError::invalid_parameter(
            "the sandbox's STS takes an inline session policy (Policy), not PolicyArns",
        ));
    }
    let external_id = params.get("ExternalId").map(str::to_owned);
    if let Some(id) = &external_id {
        validate::length("externalId", id, 2, 1224)?;
    }

    let requested = params.tags("Tags")?;
    validate::tags(&requested)?;
    let mut transitive: Vec<String> = params
        .list("TransitiveTagKeys", None)
        .into_iter()
        .map(str::to_owned)
        .collect();
    for key in &transitive {
        if !requested.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(AwsError::invalid_parameter(format!(
                "The transitive tag key {key} is not among the session tags."
            )));
        }
    }
    let mut tags = inherited_tags(call.caller);
    for (key, value) in requested {
        if tags.iter().any(|tag| tag.key.eq_ignore_ascii_case(&key)) {
            return Err(AwsError::invalid_parameter(format!(
                "The session tag {key} is a transitive tag of the calling session and cannot be \
                 set again."
            )));
        }
        tags.push(Tag { key, value });
    }
    if let Some(session) = call.caller.session() {
        transitive.extend(session.transitive_tag_keys.iter().cloned());
    }
    Ok(SessionAsk {
        session_name: session_name.to_owned(),
        duration,
        policy,
        tags,
        transitive,
        external_id,
    })
}

/// The transitive tags of the calling session, which pass on to the new one.
fn inherited_tags(caller: &Caller) -> Vec<Tag> {
    let Some(session) = caller.session() else {
        return Vec::new();
    };
    session
        .tags
        .iter()
        .filter(|tag| {
            session
                .transitive_tag_keys
                .iter()
                .any(|key| key.eq_ignore_ascii_case(&tag.key))
        })
        .cloned()
        .collect()
}

fn check_trust(
    call: &Call<'_>,
    view: &View,
    role_arn: &str,
    trust: &Arc<Policy>,
    ask: &SessionAsk,
) -> Result<(), AwsError> {
    let mut context = Context::default();
    principal_context(view, call.caller, call.origin, &mut context);
    if !ask.tags.is_empty() {
        for tag in &ask.tags {
            context.set(&format!("aws:RequestTag/{}", tag.key), [tag.value.as_str()]);
        }
        context.set("aws:TagKeys", ask.tags.iter().map(|tag| tag.key.as_str()));
        context.set(
            "sts:TransitiveTagKeys",
            ask.transitive.iter().map(String::as_str),
        );
    }
    if let Some(id) = &ask.external_id {
        context.set("sts:ExternalId", [id.as_str()]);
    }
    context.set("sts:RoleSessionName", [ask.session_name.as_str()]);

    let mut actions = vec!["sts:AssumeRole"];
    if !ask.tags.is_empty() {
        actions.push("sts:TagSession");
    }
    for action in actions {
        if !trusts(call, view, role_arn, trust, action, &context) {
            return Err(AwsError::access_denied(denial_message(
                call.caller,
                action,
                role_arn,
                Shown::Plain,
            )));
        }
    }
    Ok(())
}

/// Whether the trust policy lets the caller do `action` on the role: naming the caller is
/// enough; trusting the account needs the caller's identity policies too.
fn trusts(
    call: &Call<'_>,
    view: &View,
    role_arn: &str,
    trust: &Policy,
    action: &str,
    context: &Context,
) -> bool {
    let full = call.caller.principal();
    // The same principal without its account: matches only statements that name it.
    let named = podid_iam::Principal {
        account: String::new(),
        ..full.clone()
    };
    let trust_allows = |principal: &podid_iam::Principal| {
        let request = Request {
            principal,
            action,
            resource: role_arn,
            context,
        };
        let only_trust = Policies {
            resource: Some(trust),
            ..Policies::default()
        };
        evaluate(&request, &only_trust) == Decision::Allow
    };
    let identity = || {
        let mut access = Access::new(action, role_arn);
        access.context = context.clone();
        authorize(view, call.caller, access, call.origin, None).is_ok()
    };
    if trust_allows(&named) {
        // Still subject to an explicit deny in the caller's own policies.
        return !identity_denies(call, view, role_arn, action, context);
    }
    trust_allows(&full) && identity()
}

fn identity_denies(
    call: &Call<'_>,
    view: &View,
    role_arn: &str,
    action: &str,
    context: &Context,
) -> bool {
    let policies = crate::authorize::CallerPolicies::of(view, call.caller);
    let principal = call.caller.principal();
    let request = Request {
        principal: &principal,
        action,
        resource: role_arn,
        context,
    };
    let session: Option<Vec<&Policy>> = policies.session.as_ref().map(|p| vec![p]);
    let all = Policies {
        identity: &policies.identity,
        session: session.as_deref(),
        resource: None,
    };
    evaluate(&request, &all) == Decision::ExplicitDeny
}

fn session_duration(role: &Role, asked: i64, chained: bool) -> Result<i64, AwsError> {
    if chained && asked > CHAINED_SESSION_SECONDS {
        return Err(AwsError::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed \
             by role chaining.",
        ));
    }
    if asked > i64::from(role.max_session_duration) {
        return Err(AwsError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    Ok(asked)
}

/// How much of STS's packing budget the session policy and tags take, in percent.
fn packed_percent(ask: &SessionAsk) -> Result<usize, AwsError> {
    let policy = ask.policy.as_deref().unwrap_or_default();
    let policy_chars = policy.chars().filter(|c| !c.is_whitespace()).count();
    let tag_chars: usize = ask
        .tags
        .iter()
        .map(|tag| tag.key.len() + tag.value.len() + 2)
        .sum();
    let percent = (policy_chars + tag_chars) * 100 / PACKED_POLICY_BUDGET;
    if percent > 100 {
        return Err(AwsError::new(
            400,
            "PackedPolicyTooLarge",
            format!(
                "Packed policy consumes {percent}% of allotted space, please use smaller policy \
                 for this operation."
            ),
        ));
    }
    Ok(percent)
}

#[cfg(test)]
mod tests;
