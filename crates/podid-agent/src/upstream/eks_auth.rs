//! The EKS Auth client: `AssumeRoleForPodIdentity`, signed with the node's AWS credentials.

use std::error::Error as _;
use std::path::PathBuf;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_eksauth::config::http::HttpResponse;
use aws_sdk_eksauth::error::{ProvideErrorMetadata, SdkError};
use podid_core::Secret;
use podid_core::arn;
use podid_core::container::RoleCredentials;
use podid_core::eks_auth::ErrorCode;
use podid_core::error_chain::error_chain;

use super::node_token::{PresentNodeToken, placeholder_credentials};
use super::shared_credentials::{ROTATION_INTERVAL, RotatingSharedCredentials};
use super::{CredentialSource, UpstreamError};

/// How the agent reaches EKS Auth.
#[derive(Debug, Clone)]
pub struct EksAuthSettings {
    pub cluster_name: String,
    /// Replaces the regional endpoint, e.g. a podid server's URL. Without it the SDK's own
    /// resolution applies, which honours `AWS_ENDPOINT_URL_EKS_AUTH`.
    pub endpoint: Option<String>,
    pub attempt_timeout: Duration,
    pub max_attempts: u32,
    /// The agent's own service-account token, for a podid server that authenticates agents by
    /// it. When set, calls are not SigV4-signed: off EKS the node has no AWS identity.
    pub node_token_file: Option<PathBuf>,
    /// Sign with the keys of this shared credentials file, read again every minute, instead of
    /// the standard chain's (`--rotate-credentials`).
    pub rotating_credentials_file: Option<PathBuf>,
}

impl EksAuthSettings {
    pub fn new(cluster_name: impl Into<String>) -> Self {
        Self {
            cluster_name: cluster_name.into(),
            endpoint: None,
            attempt_timeout: Duration::from_secs(1),
            max_attempts: 3,
            node_token_file: None,
            rotating_credentials_file: None,
        }
    }
}

/// Calls EKS Auth through the AWS SDK, which signs with SigV4 using the standard credential
/// chain (environment, profile, web identity, container, then IMDS on EC2 nodes) or, with
/// `--rotate-credentials`, the shared credentials file read again every minute, and retries
/// throttling and transient failures with jittered exponential backoff.
#[derive(Debug, Clone)]
pub struct EksAuthClient {
    client: aws_sdk_eksauth::Client,
    cluster_name: String,
}

impl EksAuthClient {
    pub async fn connect(settings: &EksAuthSettings) -> Result<Self, String> {
        let retry = RetryConfig::standard()
            .with_max_attempts(settings.max_attempts)
            .with_initial_backoff(Duration::from_millis(100));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(settings.attempt_timeout)
            .operation_attempt_timeout(settings.attempt_timeout)
            .operation_timeout(settings.attempt_timeout * (settings.max_attempts + 1))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if settings.node_token_file.is_some() {
            loader = loader.credentials_provider(placeholder_credentials());
        } else if let Some(file) = &settings.rotating_credentials_file {
            loader = loader
                .credentials_provider(RotatingSharedCredentials::new(file, ROTATION_INTERVAL));
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(
                "no AWS region is configured for EKS Auth: set AWS_REGION, or run on \
                        an EC2 node whose instance metadata service tells it"
                    .into(),
            );
        }
        let mut service = aws_sdk_eksauth::config::Builder::from(&config);
        if let Some(file) = &settings.node_token_file {
            service = service.interceptor(PresentNodeToken { file: file.clone() });
        }
        Ok(Self::new(service.build(), &settings.cluster_name))
    }

    /// A client from a complete SDK configuration, for callers that supply their own
    /// credentials, region and endpoint.
    pub fn new(config: aws_sdk_eksauth::Config, cluster_name: &str) -> Self {
        Self {
            client: aws_sdk_eksauth::Client::from_conf(config),
            cluster_name: cluster_name.to_owned(),
        }
    }
}

impl CredentialSource for EksAuthClient {
    async fn fetch(&self, token: &Secret) -> Result<RoleCredentials, UpstreamError> {
        let output = self
            .client
            .assume_role_for_pod_identity()
            .cluster_name(&self.cluster_name)
            .token(token.expose())
            .send()
            .await
            .map_err(upstream_error)?;

        let malformed = |what: &str| {
            UpstreamError::new(
                ErrorCode::InternalServer,
                format!("EKS Auth answered without {what}"),
            )
        };
        let credentials = output
            .credentials()
            .ok_or_else(|| malformed("credentials"))?;
        let role_arn = output
            .assumed_role_user()
            .map(|user| user.arn())
            .unwrap_or_default();
        Ok(RoleCredentials {
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: Secret::new(credentials.secret_access_key()),
            session_token: Secret::new(credentials.session_token()),
            expiration: credentials.expiration().secs(),
            account_id: arn::account_id(role_arn).unwrap_or_default().to_owned(),
        })
    }
}

fn upstream_error<E>(error: SdkError<E, HttpResponse>) -> UpstreamError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &error {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().and_then(ErrorCode::from_error_type);
            let message = inner
                .message()
                .unwrap_or("EKS Auth refused the request")
                .to_owned();
            let status = error
                .raw_response()
                .map(|response| response.status().as_u16());
            UpstreamError::new(code.unwrap_or_else(|| code_for_status(status)), message)
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            let message = match node_credentials_problem(&error) {
                Some(problem) => {
                    format!("the agent has no AWS credentials to sign with: {problem}")
                }
                None => format!("EKS Auth is unreachable: {}", error_chain(&error)),
            };
            UpstreamError::new(ErrorCode::ServiceUnavailable, message)
        }
        _ => UpstreamError::new(
            ErrorCode::InternalServer,
            format!("EKS Auth call failed: {}", error_chain(&error)),
        ),
    }
}

/// What went wrong loading the node's own credentials, when that is why a call failed: the
/// SDK reports it as a failure to dispatch, which would otherwise read as an unreachable EKS
/// Auth.
fn node_credentials_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(credentials) = current.downcast_ref::<CredentialsError>() {
            let detail = credentials.source().map(error_chain);
            return Some(detail.unwrap_or_else(|| credentials.to_string()));
        }
        cause = current.source();
    }
    None
}

/// Classifies an error whose type the agent does not know by its HTTP status.
fn code_for_status(status: Option<u16>) -> ErrorCode {
    match status {
        Some(404) => ErrorCode::ResourceNotFound,
        Some(429) => ErrorCode::Throttling,
        Some(503) => ErrorCode::ServiceUnavailable,
        Some(400..=499) => ErrorCode::InvalidRequest,
        _ => ErrorCode::InternalServer,
    }
}
