//! The EKS Auth client: `AssumeRoleForPodIdentity`, SigV4-signed with the node's AWS
//! credentials, or authenticated by the agent's own service-account token to a podid server.
//!
//! Each attempt has a short timeout; throttling, transient server failures and network errors
//! are tried again after a jittered exponential pause, as the AWS SDKs' standard retry
//! strategy does. Refusals are passed on as they are, except one: a signature refused for its
//! time. Then, as the SDKs do, the agent learns how far its clock is from EKS Auth's (the
//! answer's `Date`), signs again with EKS Auth's time, and keeps signing with it.

mod answer;
mod location;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, DATE, HeaderValue, USER_AGENT};
use hyper::{HeaderMap, Method, Request, Uri};
use podid_core::Secret;
use podid_core::container::RoleCredentials;
use podid_core::eks_auth::{AssumeRoleForPodIdentityRequest, ErrorCode, NODE_TOKEN_HEADER};
use podid_sigv4::{AmzDate, Credentials, SigningParams, sign_request};

use super::http_client::{HttpClient, HttpError, Reply};
use super::node_credentials::{
    InstanceMetadata, NodeCredentialSource, NodeCredentialsProvider, ROTATION_INTERVAL,
    RotatingSharedCredentials,
};
use super::proxy_connector::https_proxy_is_named;
use super::{CredentialSource, UpstreamError};
use crate::clock::Clock;

/// The name EKS Auth's signatures are scoped to.
const SIGNING_SERVICE: &str = "eks-auth";
const USER_AGENT_VALUE: &str = concat!("podid-agent/", env!("CARGO_PKG_VERSION"));
/// The longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How the agent reaches EKS Auth.
#[derive(Debug, Clone)]
pub struct EksAuthSettings {
    pub cluster_name: String,
    /// Replaces the regional endpoint, e.g. a podid server's URL. Without it
    /// `AWS_ENDPOINT_URL_EKS_AUTH`, then `AWS_ENDPOINT_URL`, then the region's endpoint apply.
    pub endpoint: Option<String>,
    pub attempt_timeout: Duration,
    pub max_attempts: u32,
    /// The pause before the second attempt; each later one doubles it, and each is jittered.
    pub initial_backoff: Duration,
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
            initial_backoff: Duration::from_millis(100),
            node_token_file: None,
            rotating_credentials_file: None,
        }
    }
}

/// How calls prove who sends them.
#[derive(Debug)]
enum Authentication {
    SigV4 {
        region: String,
        credentials: Box<NodeCredentialsProvider>,
    },
    NodeToken(PathBuf),
}

#[derive(Debug, Clone)]
pub struct EksAuthClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: HttpClient,
    uri: Uri,
    authentication: Authentication,
    attempt_timeout: Duration,
    max_attempts: u32,
    initial_backoff: Duration,
    /// EKS Auth's clock minus the node's, in seconds, as last learned from a refusal.
    clock_skew: AtomicI64,
}

impl EksAuthClient {
    /// A client configured from the settings and the environment: the node's credentials and
    /// region as the AWS SDKs find them, and the endpoint.
    pub async fn connect(settings: &EksAuthSettings) -> Result<Self, String> {
        let http = HttpClient::new(settings.attempt_timeout);
        let instance_metadata = InstanceMetadata::from_environment(http.clone())?;
        if let Some(file) = &settings.node_token_file {
            // Off EKS the node has no region of its own to offer, nor needs one to sign.
            let region = match settings.endpoint {
                Some(_) => None,
                None => Some(location::region(instance_metadata.as_ref()).await?),
            };
            let authentication = Authentication::NodeToken(file.clone());
            return Self::build(settings, http, region.as_deref(), authentication);
        }
        let region = location::region(instance_metadata.as_ref()).await?;
        let source = match &settings.rotating_credentials_file {
            Some(file) => NodeCredentialSource::RotatingFile(RotatingSharedCredentials::new(
                file,
                ROTATION_INTERVAL,
            )),
            None => NodeCredentialSource::from_environment(&http, instance_metadata, &region)?,
        };
        Self::with_node_credentials(settings, http, region, source)
    }

    /// A client that signs in `region` with credentials from `source`.
    pub fn signing_with(
        settings: &EksAuthSettings,
        region: &str,
        source: NodeCredentialSource,
    ) -> Result<Self, String> {
        let http = HttpClient::new(settings.attempt_timeout);
        Self::with_node_credentials(settings, http, region.to_owned(), source)
    }

    fn with_node_credentials(
        settings: &EksAuthSettings,
        http: HttpClient,
        region: String,
        source: NodeCredentialSource,
    ) -> Result<Self, String> {
        tracing::info!(region, "signing EKS Auth calls with {}", source.describe());
        if let NodeCredentialSource::Unavailable(why) = &source {
            tracing::warn!("the node has no AWS credentials, every exchange will fail: {why}");
        }
        let authentication = Authentication::SigV4 {
            credentials: Box::new(NodeCredentialsProvider::new(source, Clock::System)),
            region: region.clone(),
        };
        Self::build(settings, http, Some(&region), authentication)
    }

    fn build(
        settings: &EksAuthSettings,
        http: HttpClient,
        region: Option<&str>,
        authentication: Authentication,
    ) -> Result<Self, String> {
        let base = location::endpoint(settings.endpoint.as_deref(), region)?;
        let url = format!(
            "{base}/clusters/{}/assume-role-for-pod-identity",
            settings.cluster_name
        );
        let uri: Uri = url
            .parse()
            .map_err(|_| format!("EKS Auth's endpoint {base:?} does not make a valid URL"))?;
        if uri.host().is_none() || !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(format!(
                "EKS Auth's endpoint {base:?} is not an http:// or https:// URL with a host"
            ));
        }
        if uri.scheme_str() == Some("https") && https_proxy_is_named() {
            tracing::info!("EKS Auth is reached through the proxy that HTTPS_PROXY names");
        }
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                uri,
                authentication,
                attempt_timeout: settings.attempt_timeout,
                max_attempts: settings.max_attempts.max(1),
                initial_backoff: settings.initial_backoff,
                clock_skew: AtomicI64::new(0),
            }),
        })
    }
}

impl CredentialSource for EksAuthClient {
    async fn fetch(&self, token: &Secret) -> Result<RoleCredentials, UpstreamError> {
        let inner = &self.inner;
        let body = AssumeRoleForPodIdentityRequest {
            token: token.expose().to_owned(),
        };
        let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        let mut attempt = 1;
        loop {
            let request = inner.request(&body).await?;
            // The failure, and when to try again if it is worth trying again.
            let (failure, pause) = match inner.http.send(request, inner.attempt_timeout).await {
                Ok(reply) if reply.status.is_success() => return answer::credentials(&reply),
                Ok(reply) => {
                    let refused = answer::refusal(&reply);
                    let pause = if refused.clock_skew && inner.learn_clock_skew(&reply) {
                        Some(Duration::ZERO)
                    } else {
                        answer::is_transient(reply.status, refused.error.code)
                            .then(|| inner.backoff(attempt))
                    };
                    (refused.error, pause)
                }
                Err(error) => {
                    let pause = error.is_retryable().then(|| inner.backoff(attempt));
                    (unreachable(&error), pause)
                }
            };
            match pause {
                Some(pause) if attempt < inner.max_attempts => {
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                _ => return Err(failure),
            }
        }
    }
}

impl Inner {
    /// One attempt's request, signed (or carrying the node token) at the time it is sent.
    async fn request(&self, body: &Bytes) -> Result<Request<Full<Bytes>>, UpstreamError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        match &self.authentication {
            Authentication::NodeToken(file) => {
                headers.insert(NODE_TOKEN_HEADER, node_token(file)?);
            }
            Authentication::SigV4 {
                region,
                credentials,
            } => {
                let node = credentials.credentials().await.map_err(|problem| {
                    UpstreamError::new(
                        ErrorCode::ServiceUnavailable,
                        format!("the agent has no AWS credentials to sign with: {problem}"),
                    )
                })?;
                let params = SigningParams {
                    credentials: Credentials {
                        access_key_id: &node.access_key_id,
                        secret_access_key: node.secret_access_key.expose(),
                        session_token: node.session_token.as_ref().map(Secret::expose),
                    },
                    region,
                    service: SIGNING_SERVICE,
                    time_unix: self.now_for_signing(),
                };
                sign_request(&Method::POST, &self.uri, &mut headers, body, &params).map_err(
                    |error| {
                        UpstreamError::new(
                            ErrorCode::ServiceUnavailable,
                            format!("the agent cannot sign with the node's credentials: {error}"),
                        )
                    },
                )?;
            }
        }
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// The time to sign with: the node's clock, corrected by what EKS Auth last said of it.
    fn now_for_signing(&self) -> i64 {
        Clock::System.now_unix() + self.clock_skew.load(Ordering::Relaxed)
    }

    /// Takes EKS Auth's time from a refusal's `Date`; whether it changed what the agent signs
    /// with, so that signing again may pass.
    fn learn_clock_skew(&self, reply: &Reply) -> bool {
        let Some(service_now) = reply
            .headers
            .get(DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(AmzDate::parse_http_date)
            .map(AmzDate::unix)
        else {
            return false;
        };
        let skew = service_now - Clock::System.now_unix();
        let previous = self.clock_skew.swap(skew, Ordering::Relaxed);
        if previous == skew {
            return false;
        }
        tracing::warn!(
            skew_seconds = skew,
            "EKS Auth refused a signature for its time: the node's clock is {skew} s off EKS \
             Auth's; signing with EKS Auth's time from now on"
        );
        true
    }

    /// The pause after `attempt` failed: up to the initial backoff doubled per attempt, chosen
    /// at random so that agents refused together do not return together.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(MAX_BACKOFF);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// The agent's token, read at every call because the kubelet rotates it.
fn node_token(file: &std::path::Path) -> Result<HeaderValue, UpstreamError> {
    let unavailable = |problem: String| UpstreamError::new(ErrorCode::ServiceUnavailable, problem);
    let token = std::fs::read_to_string(file).map_err(|error| {
        unavailable(format!(
            "cannot read the agent's token file {}: {error}",
            file.display()
        ))
    })?;
    let mut value = HeaderValue::from_str(token.trim()).map_err(|_| {
        unavailable(format!(
            "the agent's token file {} holds no token",
            file.display()
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn unreachable(error: &HttpError) -> UpstreamError {
    match error {
        HttpError::TooLarge => {
            UpstreamError::new(ErrorCode::InternalServer, format!("EKS Auth {error}"))
        }
        _ => UpstreamError::new(
            ErrorCode::ServiceUnavailable,
            format!("EKS Auth is unreachable: {error}"),
        ),
    }
}
