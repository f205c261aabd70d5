//! The EKS Auth API's `AssumeRoleForPodIdentity`: its error codes and response shape.

use serde::{Deserialize, Serialize};

/// The header in which a node agent presents its own service-account token to a podid server,
/// which authenticates agents this way where nodes have no AWS identity to sign with.
pub const NODE_TOKEN_HEADER: &str = "x-podid-node-token";

/// The caller of an `AssumeRoleForPodIdentity` whose SigV4 signature an AWS endpoint in front
/// of the EKS APIs has checked and whose IAM permission it has granted: a role session, as EC2
/// gives a node's instance role (named after the instance). Passed to the API as a request
/// extension, never read from the request itself, so no network client can claim it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAwsCaller {
    pub role_name: String,
    pub session_name: String,
}

/// The name in an error type as restJson1 clients read it: the part before any `:` and after
/// any `#` (`com.amazonaws.eksauth#AccessDeniedException:http://…` → `AccessDeniedException`).
pub fn error_type_name(error_type: &str) -> &str {
    let name = error_type.split(':').next().unwrap_or_default();
    name.rsplit('#').next().unwrap_or_default()
}

/// Cluster names as EKS accepts them: 1–100 characters, `^[0-9A-Za-z][A-Za-z0-9\-_]*$`.
pub fn is_valid_cluster_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok
        && name.len() <= 100
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The error types EKS Auth answers with, and how the node agent treats each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    AccessDenied,
    ExpiredToken,
    InvalidParameter,
    InvalidRequest,
    InvalidToken,
    ResourceNotFound,
    Throttling,
    InternalServer,
    ServiceUnavailable,
}

impl ErrorCode {
    const ALL: [ErrorCode; 9] = [
        ErrorCode::AccessDenied,
        ErrorCode::ExpiredToken,
        ErrorCode::InvalidParameter,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidToken,
        ErrorCode::ResourceNotFound,
        ErrorCode::Throttling,
        ErrorCode::InternalServer,
        ErrorCode::ServiceUnavailable,
    ];

    /// The code as the container credentials protocol names it (`AccessDenied`, ...).
    pub fn short_name(self) -> &'static str {
        match self {
            ErrorCode::AccessDenied => "AccessDenied",
            ErrorCode::ExpiredToken => "ExpiredToken",
            ErrorCode::InvalidParameter => "InvalidParameter",
            ErrorCode::InvalidRequest => "InvalidRequest",
            ErrorCode::InvalidToken => "InvalidToken",
            ErrorCode::ResourceNotFound => "ResourceNotFound",
            ErrorCode::Throttling => "Throttling",
            ErrorCode::InternalServer => "InternalServer",
            ErrorCode::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// The exception type EKS Auth sends in `X-Amzn-Errortype` (`AccessDeniedException`, ...).
    pub fn exception_name(self) -> &'static str {
        match self {
            ErrorCode::AccessDenied => "AccessDeniedException",
            ErrorCode::ExpiredToken => "ExpiredTokenException",
            ErrorCode::InvalidParameter => "InvalidParameterException",
            ErrorCode::InvalidRequest => "InvalidRequestException",
            ErrorCode::InvalidToken => "InvalidTokenException",
            ErrorCode::ResourceNotFound => "ResourceNotFoundException",
            ErrorCode::Throttling => "ThrottlingException",
            ErrorCode::InternalServer => "InternalServerException",
            ErrorCode::ServiceUnavailable => "ServiceUnavailableException",
        }
    }

    /// Reads an error type as restJson1 clients do (see [`error_type_name`]), with or without
    /// the `Exception` suffix.
    pub fn from_error_type(error_type: &str) -> Option<Self> {
        let name = error_type_name(error_type);
        Self::ALL
            .into_iter()
            .find(|code| code.short_name() == name || code.exception_name() == name)
    }

    /// The HTTP status EKS Auth uses for this error, which the agent passes on to the pod.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ResourceNotFound => 404,
            ErrorCode::Throttling => 429,
            ErrorCode::InternalServer => 500,
            ErrorCode::ServiceUnavailable => 503,
            _ => 400,
        }
    }

    /// Whether retrying the same token can never succeed, so cached credentials obtained with it
    /// must be dropped rather than kept until they expire.
    pub fn is_irrecoverable(self) -> bool {
        matches!(
            self,
            ErrorCode::AccessDenied
                | ErrorCode::InvalidToken
                | ErrorCode::ExpiredToken
                | ErrorCode::ResourceNotFound
        )
    }
}

/// The body of `POST /clusters/{clusterName}/assume-role-for-pod-identity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssumeRoleForPodIdentityRequest {
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    pub namespace: String,
    pub service_account: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationRef {
    pub association_arn: String,
    pub association_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssumedRoleUser {
    pub arn: String,
    pub assume_role_id: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireCredentials {
    pub session_token: String,
    pub secret_access_key: String,
    pub access_key_id: String,
    /// Unix seconds, a JSON number.
    pub expiration: f64,
}

impl std::fmt::Debug for WireCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// The 200 response of `AssumeRoleForPodIdentity`; every member is always present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssumeRoleForPodIdentityResponse {
    pub subject: Subject,
    pub audience: String,
    pub pod_identity_association: AssociationRef,
    pub assumed_role_user: AssumedRoleUser,
    pub credentials: WireCredentials,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_error_types_in_every_spelling() {
        for spelling in [
            "AccessDeniedException",
            "AccessDenied",
            "com.amazonaws.eksauth#AccessDeniedException",
            "AccessDeniedException:http://internal.amazon.com/coral/",
        ] {
            assert_eq!(
                ErrorCode::from_error_type(spelling),
                Some(ErrorCode::AccessDenied)
            );
        }
        assert_eq!(ErrorCode::from_error_type("NoSuchThing"), None);
    }

    #[test]
    fn maps_codes_to_statuses() {
        assert_eq!(ErrorCode::InvalidToken.http_status(), 400);
        assert_eq!(ErrorCode::ResourceNotFound.http_status(), 404);
        assert_eq!(ErrorCode::Throttling.http_status(), 429);
        assert_eq!(ErrorCode::InternalServer.http_status(), 500);
        assert_eq!(ErrorCode::ServiceUnavailable.http_status(), 503);
    }

    #[test]
    fn only_token_and_permission_errors_are_irrecoverable() {
        let irrecoverable: Vec<_> = ErrorCode::ALL
            .into_iter()
            .filter(|c| c.is_irrecoverable())
            .collect();
        assert_eq!(
            irrecoverable,
            [
                ErrorCode::AccessDenied,
                ErrorCode::ExpiredToken,
                ErrorCode::InvalidToken,
                ErrorCode::ResourceNotFound
            ]
        );
    }

    #[test]
    fn debug_hides_the_secrets() {
        let credentials = WireCredentials {
            session_token: "session-secret".into(),
            secret_access_key: "key-secret".into(),
            access_key_id: "ASIA".into(),
            expiration: 1.0,
        };
        let printed = format!("{credentials:?}");
        assert!(!printed.contains("secret\""), "{printed}");
        assert!(!printed.contains("session-secret") && !printed.contains("key-secret"));
    }
}
