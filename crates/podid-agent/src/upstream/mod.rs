//! Where credentials come from: the EKS Auth API, or a podid server speaking the same protocol.

mod eks_auth;
mod environment;
mod http_client;
mod node_credentials;
mod proxy_connector;

use std::future::Future;

use podid_core::Secret;
use podid_core::container::RoleCredentials;
use podid_core::eks_auth::ErrorCode;

pub use eks_auth::{EksAuthClient, EksAuthSettings};
pub use node_credentials::{
    NodeCredentialSource, NodeCredentials, ROTATION_INTERVAL, RotatingSharedCredentials,
};

/// Why an exchange of a token for credentials failed. The message is safe to show the pod: it
/// never contains the token or credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UpstreamError {
    pub code: ErrorCode,
    pub message: String,
}

impl UpstreamError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Exchanges a pod's service-account token for role credentials.
pub trait CredentialSource: Send + Sync + 'static {
    fn fetch(
        &self,
        token: &Secret,
    ) -> impl Future<Output = Result<RoleCredentials, UpstreamError>> + Send;
}
