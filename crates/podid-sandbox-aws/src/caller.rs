//! Who sent a request: found from its access key id before the signature is checked (for the
//! secret), and completed from its session token after.

use std::sync::Arc;

use crate::model::Tag;
use crate::sessions::{SessionClaims, SessionKeys, SessionTokenError};
use crate::store::{KeyOwner, View};

/// An authenticated principal of the sandbox account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    User {
        name: String,
        user_id: String,
        path: String,
        tags: Vec<Tag>,
    },
    Session(Arc<SessionClaims>),
    /// An AWS service acting in the account, such as `pods.eks.amazonaws.com`.
    Service(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub identity: Identity,
    pub account: String,
}

/// Why a request's credentials were refused. Each service words these its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the access key id is not known")]
    UnknownKey,
    #[error("the access key is inactive")]
    InactiveKey,
    #[error("temporary credentials need their session token")]
    MissingToken,
    #[error("the session token is not valid for this access key")]
    BadToken,
    #[error("the session token has expired")]
    Expired,
}

impl Caller {
    /// The caller's ARN, as error messages and GetCallerIdentity show it.
    pub fn arn(&self) -> String {
        match &self.identity {
            Identity::User { name, path, .. } => {
                format!("arn:aws:iam::{}:user{path}{name}", self.account)
            }
            Identity::Session(claims) => claims.assumed_role_arn(),
            Identity::Service(service) => service.clone(),
        }
    }

    /// `aws:userid`: a user's unique id, or `<role id>:<session name>`.
    pub fn user_id(&self) -> String {
        match &self.identity {
            Identity::User { user_id, .. } => user_id.clone(),
            Identity::Session(claims) => claims.assumed_role_id(),
            Identity::Service(service) => service.clone(),
        }
    }

    pub fn session(&self) -> Option<&SessionClaims> {
        match &self.identity {
            Identity::Session(claims) => Some(claims),
            _ => None,
        }
    }

    pub fn service(&self) -> Option<&str> {
        match &self.identity {
            Identity::Service(service) => Some(service),
            _ => None,
        }
    }

    /// The principal as the policy engine sees it. A service belongs to no account, so a
    /// policy that trusts the account does not trust it.
    pub fn principal(&self) -> podid_iam::Principal {
        let account = match self.identity {
            Identity::Service(_) => String::new(),
            _ => self.account.clone(),
        };
        podid_iam::Principal {
            arn: self.arn(),
            account,
            role_arn: self.session().map(SessionClaims::role_arn),
            service: self.service().map(str::to_owned),
        }
    }
}

/// The secret that signed a request with `access_key_id`, or why there is none.
pub fn secret_for(
    view: &View,
    sessions: &SessionKeys,
    access_key_id: &str,
) -> Result<String, AuthError> {
    if let Some(secret) = sessions.secret_for(access_key_id) {
        return Ok(secret);
    }
    view.key_secret(access_key_id)
        .map(str::to_owned)
        .ok_or(AuthError::UnknownKey)
}

/// The caller behind a request whose signature with `access_key_id` was verified. `now` is in
/// Unix seconds.
pub fn identify(
    view: &View,
    sessions: &SessionKeys,
    access_key_id: &str,
    session_token: Option<&str>,
    now: i64,
) -> Result<Caller, AuthError> {
    let account = view.state.account_id.clone();
    if sessions.issued(access_key_id) {
        let token = session_token.ok_or(AuthError::MissingToken)?;
        let claims = sessions.open(token).map_err(|e| match e {
            SessionTokenError::Malformed | SessionTokenError::Forged => AuthError::BadToken,
        })?;
        if claims.access_key_id != access_key_id {
            return Err(AuthError::BadToken);
        }
        if claims.expires_at <= now {
            return Err(AuthError::Expired);
        }
        let identity = Identity::Session(Arc::new(claims));
        return Ok(Caller { identity, account });
    }
    if session_token.is_some() {
        // A session token belongs to temporary credentials only.
        return Err(AuthError::BadToken);
    }
    let identity = match view.key_owner(access_key_id) {
        None => return Err(AuthError::UnknownKey),
        Some(KeyOwner::User { active: false, .. }) => return Err(AuthError::InactiveKey),
        Some(KeyOwner::Service { service }) => Identity::Service(service.clone()),
        Some(KeyOwner::User { name, .. }) => {
            let user = view.state.users.get(name).ok_or(AuthError::UnknownKey)?;
            Identity::User {
                name: user.name.clone(),
                user_id: user.user_id.clone(),
                path: user.path.clone(),
                tags: user.tags.clone(),
            }
        }
    };
    Ok(Caller { identity, account })
}
