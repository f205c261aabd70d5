//! Users and their access keys.

use podid_core::time::rfc3339_utc;

use super::validate::{self, MAX_ACCESS_KEYS};
use super::{Call, change, now, page, render, self_name, truncation};
use crate::error::AwsError;
use crate::ids::{IdKind, new_id, new_secret_access_key};
use crate::model::{AccessKey, AccountState, Tag, User};
use crate::store::View;
use crate::xml::Xml;

pub fn create(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let params = call.params;
    let name = params.required("UserName")?;
    validate::name("userName", name, 64)?;
    let path = params.get("Path").unwrap_or("/");
    validate::path(path)?;
    let tags = params.tags("Tags")?;
    validate::tags(&tags)?;
    let user = User {
        name: name.to_owned(),
        user_id: new_id(IdKind::User),
        path: path.to_owned(),
        created: now(call),
        access_keys: Vec::new(),
        attached: Vec::new(),
        inline: Default::default(),
        tags: tags
            .into_iter()
            .map(|(key, value)| Tag { key, value })
            .collect(),
    };
    change(call, |state| {
        let key = name.to_ascii_lowercase();
        if state.users.contains_key(&key) {
            return Err(AwsError::already_exists(format!(
                "User with name {name} already exists."
            )));
        }
        state.users.insert(key, user.clone());
        Ok(())
    })?;
    xml.open("User");
    render::user(xml, &view.state, &user, true);
    xml.close("User");
    Ok(())
}

pub fn get(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let name = user_name(call)?;
    let user = existing(&view.state, &name)?;
    xml.open("User");
    render::user(xml, &view.state, user, true);
    xml.close("User");
    Ok(())
}

pub fn list(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let prefix = call.params.get("PathPrefix").unwrap_or("/");
    let users = view
        .state
        .users
        .iter()
        .filter(|(_, user)| user.path.starts_with(prefix))
        .map(|(key, user)| (key.clone(), user))
        .collect();
    let (users, next) = page(call.params, users)?;
    xml.list("Users", users, |xml, user| {
        render::user(xml, &view.state, user, false)
    });
    truncation(xml, next);
    Ok(())
}

pub fn delete(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let name = call.params.required("UserName")?;
    change(call, |state| {
        let user = existing(state, name)?;
        let conflict = if !user.access_keys.is_empty() {
            Some("Cannot delete entity, must delete access keys first.")
        } else if !user.attached.is_empty() {
            Some("Cannot delete entity, must detach all policies first.")
        } else if !user.inline.is_empty() {
            Some("Cannot delete entity, must delete policies first.")
        } else {
            None
        };
        if let Some(message) = conflict {
            return Err(AwsError::delete_conflict(message));
        }
        state.users.remove(&name.to_ascii_lowercase());
        Ok(())
    })
}

pub fn create_access_key(call: &Call<'_>, _: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let name = user_name(call)?;
    let secret = new_secret_access_key().map_err(|e| AwsError::internal(e.to_string()))?;
    let key = AccessKey {
        id: new_id(IdKind::AccessKey),
        secret,
        active: true,
        created: now(call),
    };
    let user = change(call, |state| {
        let user = existing_mut(state, &name)?;
        if user.access_keys.len() >= MAX_ACCESS_KEYS {
            return Err(AwsError::limit_exceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS}"
            )));
        }
        user.access_keys.push(key.clone());
        Ok(user.name.clone())
    })?;
    xml.open("AccessKey")
        .leaf("UserName", &user)
        .leaf("AccessKeyId", &key.id)
        .leaf("Status", "Active")
        .leaf("SecretAccessKey", &key.secret)
        .leaf("CreateDate", &rfc3339_utc(key.created))
        .close("AccessKey");
    Ok(())
}

pub fn list_access_keys(call: &Call<'_>, view: &View, xml: &mut Xml) -> Result<(), AwsError> {
    let name = user_name(call)?;
    let user = existing(&view.state, &name)?;
    let keys = user
        .access_keys
        .iter()
        .map(|key| (key.id.clone(), key))
        .collect();
    let (keys, next) = page(call.params, keys)?;
    xml.list("AccessKeyMetadata", keys, |xml, key| {
        xml.leaf("UserName", &user.name)
            .leaf("AccessKeyId", &key.id)
            .leaf("Status", status(key.active))
            .leaf("CreateDate", &rfc3339_utc(key.created));
    });
    truncation(xml, next);
    Ok(())
}

pub fn update_access_key(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let name = user_name(call)?;
    let id = call.params.required("AccessKeyId")?;
    let active = match call.params.required("Status")? {
        "Active" => true,
        "Inactive" => false,
        other => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy \
                 constraint: Member must satisfy enum value set: [Active, Inactive]"
            )));
        }
    };
    change(call, |state| {
        let user = existing_mut(state, &name)?;
        let key = user
            .access_keys
            .iter_mut()
            .find(|key| key.id == id)
            .ok_or_else(|| key_not_found(id))?;
        key.active = active;
        Ok(())
    })
}

pub fn delete_access_key(call: &Call<'_>, _: &View, _: &mut Xml) -> Result<(), AwsError> {
    let name = user_name(call)?;
    let id = call.params.required("AccessKeyId")?;
    change(call, |state| {
        let user = existing_mut(state, &name)?;
        let before = user.access_keys.len();
        user.access_keys.retain(|key| key.id != id);
        if user.access_keys.len() == before {
            return Err(key_not_found(id));
        }
        Ok(())
    })
}

fn status(active: bool) -> &'static str {
    if active { "Active" } else { "Inactive" }
}

/// The user the request names, or the calling user.
fn user_name(call: &Call<'_>) -> Result<String, AwsError> {
    if let Some(name) = call.params.get("UserName") {
        return Ok(name.to_owned());
    }
    self_name(call.caller).ok_or_else(|| {
        AwsError::validation("Must specify userName when calling with non-User credentials")
    })
}

fn existing<'s>(state: &'s AccountState, name: &str) -> Result<&'s User, AwsError> {
    state.user(name).ok_or_else(|| not_found(name))
}

fn existing_mut<'s>(state: &'s mut AccountState, name: &str) -> Result<&'s mut User, AwsError> {
    state
        .users
        .get_mut(&name.to_ascii_lowercase())
        .ok_or_else(|| not_found(name))
}

fn not_found(name: &str) -> AwsError {
    AwsError::no_such_entity(format!("The user with name {name} cannot be found."))
}

fn key_not_found(id: &str) -> AwsError {
    AwsError::no_such_entity(format!("The Access Key with id {id} cannot be found."))
}
