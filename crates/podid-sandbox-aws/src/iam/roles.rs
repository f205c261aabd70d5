//! Roles: creating them with a trust policy, reading, listing, changing and deleting them.

use super::validate::{self, DocumentKind, MAX_TRUST_POLICY_CHARS};
use super::{Call, change, now, page, render, truncation};
use crate::error::AwsError;
use crate::ids::{IdKind, new_id};
use crate::model::{AccountState, Role, Tag};
use crate::store::View;
use crate::xml::Xml;

/// IAM's default and bounds for `MaxSessionDuration`.
const DEFAULT_MAX_SESSION: i64 = 3600;
const LONGEST_MAX_SESSION: i64 = 43_200;

pub fn create(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let params = call.params;
    let name = params.required("RoleName")?;
    validate::name("roleName", name, 64)?;
    let path = params.get("Path").unwrap_or("/");
    validate::path(path)?;
    let trust = params.required("AssumeRolePolicyDocument")?;
    validate::document(trust, DocumentKind::Trust, MAX_TRUST_POLICY_CHARS)?;
    let description = params.get("Description");
    if let Some(description) = description {
        validate::length("description", description, 0, 1000)?;
    }
    let max_session = params
        .number(
            "MaxSessionDuration",
            DEFAULT_MAX_SESSION,
            LONGEST_MAX_SESSION,
        )?
        .unwrap_or(DEFAULT_MAX_SESSION);
    let tags = params.tags("Tags")?;
    validate::tags(&tags)?;

    let role = Role {
        name: name.to_owned(),
        role_id: new_id(IdKind::Role),
        path: path.to_owned(),
        created: now(call),
        trust_policy: trust.to_owned(),
        description: description.map(str::to_owned),
        max_session_duration: max_session as u32,
        attached: Vec::new(),
        inline: Default::default(),
        tags: tags
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect(),
    };
    change(call, |state| {
        let key = name.to_ascii_lowercase();
        if state.roles.contains_key(&key) {
            return Err(AwsError::already_exists(format!(
                "Role with name {name} already exists."
            )));
        }
        state.roles.insert(key, role.clone());
        Ok(())
    })?;
    xml.open("Role");
    render::role(xml, &view.state, &role, true);
    xml.close("Role");
    Ok(())
}

pub fn get(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let role = existing(&view.state, call.params.required("RoleName")?)?;
    xml.open("Role");
    render::role(xml, &view.state, role, true);
    xml.close("Role");
    Ok(())
}

pub fn list(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let prefix = call.params.get("PathPrefix").unwrap_or("/");
    let roles = view
        .state
        .roles
        .iter()
        .filter(|(_, role)| role.path.starts_with(prefix))
        .map(|(key, role)| (key.clone(), role))
        .collect();
    let (roles, next) = page(call.params, roles)?;
    xml.list("Roles", roles, |xml, role| {
        render::role(xml, &view.state, role, false)
    });
    truncation(xml, next);
    Ok(())
}

pub fn delete(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let name = call.params.required("RoleName")?;
    change(call, |state| {
        let role = existing(state, name)?;
        if !role.attached.is_empty() {
            return Err(AwsError::delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        if !role.inline.is_empty() {
            return Err(AwsError::delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        state.roles.remove(&name.to_ascii_lowercase());
        Ok(())
    })
}

pub fn update(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let params = call.params;
    let name = params.required("RoleName")?;
    let description = params.get("Description");
    if let Some(description) = description {
        validate::length("description", description, 0, 1000)?;
    }
    let max_session = params.number(
        "MaxSessionDuration",
        DEFAULT_MAX_SESSION,
        LONGEST_MAX_SESSION,
    )?;
    change(call, |state| {
        let role = existing_mut(state, name)?;
        if let Some(description) = description {
            role.description = Some(description.to_owned());
        }
        if let Some(max_session) = max_session {
            role.max_session_duration = max_session as u32;
        }
        Ok(())
    })
}

pub fn update_trust(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let name = call.params.required("RoleName")?;
    let document = call.params.required("PolicyDocument")?;
    validate::document(document, DocumentKind::Trust, MAX_TRUST_POLICY_CHARS)?;
    change(call, |state| {
        existing_mut(state, name)?.trust_policy = document.to_owned();
        Ok(())
    })
}

pub fn tag(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let name = call.params.required("RoleName")?;
    let tags = call.params.tags("Tags")?;
    validate::tags(&tags)?;
    change(call, |state| {
        let role = existing_mut(state, name)?;
        for (key, value) in tags {
            role.tags.retain(|tag| !tag.key.eq_ignore_ascii_case(&key));
            role.tags.push(Tag { key, value });
        }
        validate::tags(&pairs(&role.tags))
    })
}

pub fn untag(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let name = call.params.required("RoleName")?;
    let keys = call.params.list("TagKeys", None);
    change(call, |state| {
        let role = existing_mut(state, name)?;
        role.tags
            .retain(|tag| !keys.iter().any(|key| key.eq_ignore_ascii_case(&tag.key)));
        Ok(())
    })
}

pub fn list_tags(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let role = existing(&view.state, call.params.required("RoleName")?)?;
    render::tags(xml, &role.tags);
    xml.leaf("IsTruncated", "false");
    Ok(())
}

fn pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|tag| (tag.key.clone(), tag.value.clone()))
        .collect()
}

pub fn existing<'s>(state: &'s AccountState, name: &str) -> Result<&'s Role, AwsError> {
    state.role(name).ok_or_else(|| not_found(name))
}

pub fn existing_mut<'s>(state: &'s mut AccountState, name: &str) -> Result<&'s mut Role, AwsError> {
    state
        .roles
        .get_mut(&name.to_ascii_lowercase())
        .ok_or_else(|| not_found(name))
}

fn not_found(name: &str) -> AwsError {
    AwsError::no_such_entity(format!("The role with name {name} cannot be found."))
}
