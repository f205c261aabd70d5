//! IAM's query API: roles, users, access keys, managed and inline policies. Every action is
//! authorized by the policy engine against the caller's policies before it runs, so the
//! sandbox's administrator can do everything and a role without IAM permissions nothing.

mod attached;
mod policies;
mod render;
mod roles;
mod users;
pub mod validate;

use podid_iam::Context;

use crate::authorize::{Access, Origin, authorize};
use crate::caller::{Caller, Identity};
use crate::error::AwsError;
use crate::ids::request_id;
use crate::query::Params;
use crate::store::{AccountStore, UpdateError, View};
use crate::xml::{Xml, query_response};

pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// One IAM request: its parameters, who sent it, and the account it acts on.
#[derive(Debug)]
pub struct Call<'a> {
    pub params: &'a Params,
    pub caller: &'a Caller,
    pub origin: &'a Origin,
    pub store: &'a AccountStore,
}

type Operation = fn(&Call<'_>, &View, &mut Xml) -> Result<(), AwsError>;

/// Runs the request's action; the answer is the XML body of a 200.
pub fn handle(call: &Call<'_>) -> Result<String, AwsError> {
    let action = call.params.action()?;
    let operation = operation(action).ok_or_else(|| {
        AwsError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version 2010-05-08"),
        )
    })?;
    let view = call.store.view();
    let resource = resource_of(action, call, &view);
    let action_name = format!("iam:{action}");
    let mut access = Access::new(&action_name, &resource);
    request_context(action, call.params, &mut access.context)?;
    authorize(&view, call.caller, access, call.origin, None)
        .map_err(|denied| AwsError::access_denied(denied.message))?;

    let mut xml = Xml::default();
    operation(call, &view, &mut xml)?;
    Ok(query_response(action, NAMESPACE, &request_id(), xml))
}

fn operation(action: &str) -> Option<Operation> {
    Some(match action {
        "CreateRole" => roles::create,
        "GetRole" => roles::get,
        "ListRoles" => roles::list,
        "DeleteRole" => roles::delete,
        "UpdateRole" => roles::update,
        "UpdateAssumeRolePolicy" => roles::update_trust,
        "TagRole" => roles::tag,
        "UntagRole" => roles::untag,
        "ListRoleTags" => roles::list_tags,
        "AttachRolePolicy" => attached::attach_role,
        "DetachRolePolicy" => attached::detach_role,
        "ListAttachedRolePolicies" => attached::list_role_attached,
        "PutRolePolicy" => attached::put_role_inline,
        "GetRolePolicy" => attached::get_role_inline,
        "DeleteRolePolicy" => attached::delete_role_inline,
        "ListRolePolicies" => attached::list_role_inline,
        "AttachUserPolicy" => attached::attach_user,
        "DetachUserPolicy" => attached::detach_user,
        "ListAttachedUserPolicies" => attached::list_user_attached,
        "PutUserPolicy" => attached::put_user_inline,
        "GetUserPolicy" => attached::get_user_inline,
        "DeleteUserPolicy" => attached::delete_user_inline,
        "ListUserPolicies" => attached::list_user_inline,
        "CreatePolicy" => policies::create,
        "GetPolicy" => policies::get,
        "ListPolicies" => policies::list,
        "DeletePolicy" => policies::delete,
        "CreatePolicyVersion" => policies::create_version,
        "GetPolicyVersion" => policies::get_version,
        "ListPolicyVersions" => policies::list_versions,
        "DeletePolicyVersion" => policies::delete_version,
        "SetDefaultPolicyVersion" => policies::set_default_version,
        "CreateUser" => users::create,
        "GetUser" => users::get,
        "ListUsers" => users::list,
        "DeleteUser" => users::delete,
        "CreateAccessKey" => users::create_access_key,
        "ListAccessKeys" => users::list_access_keys,
        "UpdateAccessKey" => users::update_access_key,
        "DeleteAccessKey" => users::delete_access_key,
        _ => return None,
    })
}

/// The ARN an action is authorized on, as IAM names it in its denials.
fn resource_of(action: &str, call: &Call<'_>, view: &View) -> String {
    let account = &view.state.account_id;
    let params = call.params;
    let path = params.get("Path").unwrap_or("/");
    if let Some(name) = params.get("RoleName") {
        return match view.state.role(name) {
            Some(role) => view.state.role_arn(role),
            None => format!("arn:aws:iam::{account}:role{path}{name}"),
        };
    }
    if let Some(arn) = params.get("PolicyArn") {
        return arn.to_owned();
    }
    if action == "CreatePolicy" {
        let name = params.get("PolicyName").unwrap_or_default();
        return format!("arn:aws:iam::{account}:policy{path}{name}");
    }
    let user = params.get("UserName").map(str::to_owned).or_else(|| {
        defaults_to_caller(action)
            .then(|| self_name(call.caller))
            .flatten()
    });
    if let Some(name) = user {
        return match view.state.user(&name) {
            Some(user) => view.state.user_arn(user),
            None => format!("arn:aws:iam::{account}:user{path}{name}"),
        };
    }
    match action {
        "ListRoles" => format!("arn:aws:iam::{account}:role/"),
        "ListUsers" => format!("arn:aws:iam::{account}:user/"),
        _ => format!("arn:aws:iam::{account}:policy/"),
    }
}

/// Actions that act on the calling user when they name no user.
fn defaults_to_caller(action: &str) -> bool {
    matches!(
        action,
        "GetUser" | "CreateAccessKey" | "ListAccessKeys" | "UpdateAccessKey" | "DeleteAccessKey"
    )
}

/// The caller's own user name, for actions that default to the caller.
fn self_name(caller: &Caller) -> Option<String> {
    match &caller.identity {
        Identity::User { name, .. } => Some(name.clone()),
        _ => None,
    }
}

/// Context keys of the request itself: the tags it sets and the policy it attaches.
fn request_context(action: &str, params: &Params, context: &mut Context) -> Result<(), AwsError> {
    let tags = params.tags("Tags")?;
    if !tags.is_empty() {
        for (key, value) in &tags {
            context.set(&format!("aws:RequestTag/{key}"), [value.as_str()]);
        }
        context.set("aws:TagKeys", tags.iter().map(|(key, _)| key.as_str()));
    }
    let attaching = action.starts_with("Attach") || action.starts_with("Detach");
    if attaching && let Some(arn) = params.get("PolicyArn") {
        context.set("iam:PolicyARN", [arn]);
    }
    Ok(())
}

/// Saves a change to the account, with the change's own error or a save failure.
fn change<T>(
    call: &Call<'_>,
    apply: impl FnOnce(&mut crate::model::AccountState) -> Result<T, AwsError>,
) -> Result<T, AwsError> {
    call.store.update(apply).map_err(|error| match error {
        UpdateError::Refused(error) => error,
        UpdateError::Store(error) => {
            tracing::error!(%error, "saving the IAM state failed");
            AwsError::internal("the sandbox could not save the change")
        }
    })
}

/// One page of a listing, with IAM's `Marker` and `MaxItems` (default 100, at most 1000).
/// `items` come sorted by key; the marker is the key the next page starts at.
fn page<T>(params: &Params, items: Vec<(String, T)>) -> Result<(Vec<T>, Option<String>), AwsError> {
    let max = params.number("MaxItems", 1, 1000)?.unwrap_or(100) as usize;
    let start = match params.get("Marker") {
        Some(marker) => items.partition_point(|(key, _)| key.as_str() < marker),
        None => 0,
    };
    let mut rest = items.into_iter().skip(start);
    let chosen: Vec<T> = rest.by_ref().take(max).map(|(_, item)| item).collect();
    let next = rest.next().map(|(key, _)| key);
    Ok((chosen, next))
}

/// `IsTruncated` and `Marker` after a listing.
fn truncation(xml: &mut Xml, next: Option<String>) {
    xml.leaf("IsTruncated", &next.is_some().to_string())
        .leaf_opt("Marker", next.as_deref());
}

/// Unix seconds now.
fn now(call: &Call<'_>) -> i64 {
    call.origin.now
}

#[cfg(test)]
mod tests;
