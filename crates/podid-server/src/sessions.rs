//! Role sessions for pods: the trust check through IAM, then STS AssumeRole with the pod's
//! session tags, and for a target role a second AssumeRole from the first session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sts::config::Credentials as StaticCredentials;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::types::{Credentials, Tag};
use podid_core::eks_auth::ErrorCode;
use podid_core::error_chain::error_chain;
use podid_core::percent::percent_decode;
use podid_iam::{
    Context, Decision, Policies, Policy, Principal, Request, evaluate, parse as parse_policy,
};

use crate::config::AwsConfig;

/// Chained sessions (role to target role) may last at most an hour.
const CHAINED_SESSION_SECONDS: i32 = 3600;

/// What to ask STS for.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    pub role_arn: String,
    pub session_name: String,
    /// Session tags, all transitive; empty when the association disables them.
    pub tags: Vec<(String, String)>,
    pub policy: Option<String>,
    pub target_role_arn: Option<String>,
    pub external_id: Option<String>,
}

/// The session STS issued: its credentials and who it is.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub credentials: Credentials,
    pub arn: String,
    pub assumed_role_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SessionError {
    pub code: ErrorCode,
    pub message: String,
}

impl SessionError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RoleSessions {
    sts: aws_sdk_sts::Client,
    sts_config: aws_sdk_sts::Config,
    iam: Option<aws_sdk_iam::Client>,
    /// Who pod identity assumes roles as: a service, or the server's own IAM principal.
    trust_principal: Principal,
    trust_principal_name: String,
    trust_cache: TrustCache,
}

/// How long a role's trust policy is reused before it is read again.
pub const TRUST_POLICY_TTL: Duration = Duration::from_secs(60);

/// A role's trust policy as last read.
#[derive(Debug)]
enum TrustDocument {
    Parsed(Policy),
    /// The document does not parse; the message says why.
    Invalid(String),
    /// The server may not read the role; STS judges the trust on its own.
    Unreadable,
}

type TrustPolicy = Arc<TrustDocument>;

/// The trust policy a check passed against. A session issued after the check can be handed out
/// again without a new evaluation while the role's trust policy is still that very document:
/// the rest of what was evaluated (principal, tags, cluster) is fixed for a session.
#[derive(Debug, Clone, Default)]
pub struct TrustVerdict(Option<TrustPolicy>);

/// Recently read trust policies, by role ARN: trust policies change rarely, and IAM limits how
/// often GetRole may be called.
#[derive(Debug, Clone, Default)]
struct TrustCache(Arc<Mutex<HashMap<String, (Instant, TrustPolicy)>>>);

/// What the trust check of one exchange is about: the role, and the request context AWS would
/// see when pod identity assumes it (the cluster as source, the session tags as request tags).
#[derive(Debug, Clone, Copy)]
pub struct TrustRequest<'a> {
    pub role_arn: &'a str,
    /// The session tags; empty when the association disables them.
    pub tags: &'a [(String, String)],
    pub cluster_arn: &'a str,
    pub account: &'a str,
}

impl TrustCache {
    fn get(&self, role_arn: &str) -> Option<TrustPolicy> {
        let cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (read_at, policy) = cache.get(role_arn)?;
        (read_at.elapsed() < TRUST_POLICY_TTL).then(|| Arc::clone(policy))
    }

    fn insert(&self, role_arn: &str, policy: TrustPolicy) {
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Roles are few; dropping stale entries on each insert keeps the map to the live ones.
        cache.retain(|_, (read_at, _)| read_at.elapsed() < TRUST_POLICY_TTL);
        cache.insert(role_arn.to_owned(), (Instant::now(), policy));
    }
}

impl RoleSessions {
    /// Clients for STS and IAM with the server's own credentials from the standard chain.
    pub async fn connect(config: &AwsConfig) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(5))
                    .build(),
            );
        if let Some(region) = &config.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(keys) = &config.keys {
            loader = loader.credentials_provider(StaticCredentials::new(
                keys.access_key_id.clone(),
                keys.secret_access_key.expose(),
                None,
                None,
                "the control plane's own keys",
            ));
        }
        let shared = loader.load().await;

        let mut sts = aws_sdk_sts::config::Builder::from(&shared);
        if let Some(endpoint) = &config.sts_endpoint {
            sts = sts.endpoint_url(endpoint);
        }
        let sts_config = sts.build();
        let iam = (!config.skip_trust_policy_check).then(|| {
            let mut iam = aws_sdk_iam::config::Builder::from(&shared);
            if let Some(endpoint) = &config.iam_endpoint {
                iam = iam.endpoint_url(endpoint);
            }
            aws_sdk_iam::Client::from_conf(iam.build())
        });
        Self {
            sts: aws_sdk_sts::Client::from_conf(sts_config.clone()),
            sts_config,
            iam,
            trust_principal: trust_principal(&config.trust_principal),
            trust_principal_name: config.trust_principal.clone(),
            trust_cache: TrustCache::default(),
        }
    }

    /// Checks that the role trusts the pod identity principal for the actions the exchange
    /// needs. A role the server may not read is left to STS to judge.
    pub async fn check_trust(
        &self,
        request: &TrustRequest<'_>,
    ) -> Result<TrustVerdict, SessionError> {
        let Some(iam) = &self.iam else {
            return Ok(TrustVerdict::default());
        };
        let role_arn = request.role_arn;
        let document = match self.trust_cache.get(role_arn) {
            Some(document) => document,
            None => {
                let document = Arc::new(match self.read_trust_policy(iam, role_arn).await? {
                    Some(text) => match parse_policy(&text) {
                        Ok(policy) => TrustDocument::Parsed(policy),
                        Err(e) => TrustDocument::Invalid(e.to_string()),
                    },
                    None => TrustDocument::Unreadable,
                });
                self.trust_cache.insert(role_arn, Arc::clone(&document));
                document
            }
        };
        let verdict = TrustVerdict(Some(Arc::clone(&document)));
        let policy = match document.as_ref() {
            TrustDocument::Parsed(policy) => policy,
            TrustDocument::Unreadable => return Ok(verdict),
            TrustDocument::Invalid(reason) => {
                return Err(SessionError::new(
                    ErrorCode::AccessDenied,
                    format!("the trust policy of {role_arn} cannot be read: {reason}"),
                ));
            }
        };

        let context = trust_context(request);
        let actions: &[&str] = if request.tags.is_empty() {
            &["sts:AssumeRole"]
        } else {
            &["sts:AssumeRole", "sts:TagSession"]
        };
        for action in actions {
            let asked = Request {
                principal: &self.trust_principal,
                action,
                resource: role_arn,
                context: &context,
            };
            let decision = evaluate(
                &asked,
                &Policies {
                    resource: Some(policy),
                    ..Policies::default()
                },
            );
            if decision != Decision::Allow {
                let how = if decision == Decision::ExplicitDeny {
                    "denies"
                } else {
                    "does not allow"
                };
                return Err(SessionError::new(
                    ErrorCode::AccessDenied,
                    format!(
                        "the trust policy of {role_arn} {how} {} to perform {action}",
                        self.trust_principal_name
                    ),
                ));
            }
        }
        Ok(verdict)
    }

    /// Whether a check that passed still holds: the role's trust policy has not been read
    /// anew since (a new read makes a new document, even when its text is the same).
    pub fn trust_unchanged(&self, role_arn: &str, verdict: &TrustVerdict) -> bool {
        if self.iam.is_none() {
            return true;
        }
        let (Some(checked), Some(current)) = (&verdict.0, self.trust_cache.get(role_arn)) else {
            return false;
        };
        Arc::ptr_eq(checked, &current)
    }

    /// The role's trust policy, decoded; `None` when the server may not read it.
    async fn read_trust_policy(
        &self,
        iam: &aws_sdk_iam::Client,
        role_arn: &str,
    ) -> Result<Option<String>, SessionError> {
        let role_name = role_arn.rsplit('/').next().unwrap_or_default();
        let role = match iam.get_role().role_name(role_name).send().await {
            Ok(output) => output.role,
            Err(error) if error.code() == Some("NoSuchEntity") => {
                return Err(SessionError::new(
                    ErrorCode::AccessDenied,
                    format!("role {role_arn} does not exist"),
                ));
            }
            Err(error) => {
                tracing::debug!(error = %error_chain(&error), role_arn,
                    "cannot read the trust policy; STS will judge it");
                return Ok(None);
            }
        };
        // IAM returns policy documents URL-encoded.
        let encoded = role.and_then(|role| role.assume_role_policy_document);
        Ok(encoded.map(|encoded| percent_decode(&encoded, false)))
    }

    pub async fn assume(&self, request: &SessionRequest) -> Result<IssuedSession, SessionError> {
        let first = self
            .assume_with(&self.sts, request, &request.role_arn, None)
            .await?;
        let Some(target) = &request.target_role_arn else {
            return Ok(first);
        };

        let credentials = &first.credentials;
        let chained = self
            .sts_config
            .to_builder()
            .credentials_provider(StaticCredentials::new(
                credentials.access_key_id(),
                credentials.secret_access_key(),
                Some(credentials.session_token().to_owned()),
                None,
                "pod identity role session",
            ))
            .build();
        let chained = aws_sdk_sts::Client::from_conf(chained);
        // Session tags are transitive: STS carries them into the target role's session itself.
        let target_request = SessionRequest {
            tags: Vec::new(),
            policy: None,
            ..request.clone()
        };
        self.assume_with(
            &chained,
            &target_request,
            target,
            Some(CHAINED_SESSION_SECONDS),
        )
        .await
    }

    async fn assume_with(
        &self,
        sts: &aws_sdk_sts::Client,
        request: &SessionRequest,
        role_arn: &str,
        duration: Option<i32>,
    ) -> Result<IssuedSession, SessionError> {
        let mut call = sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(&request.session_name)
            .set_policy(request.policy.clone())
            .set_duration_seconds(duration);
        if role_arn == request.target_role_arn.as_deref().unwrap_or_default() {
            call = call.set_external_id(request.external_id.clone());
        }
        for (key, value) in &request.tags {
            let tag = Tag::builder().key(key).value(value).build().map_err(|e| {
                SessionError::new(ErrorCode::InternalServer, format!("session tag {key}: {e}"))
            })?;
            call = call.tags(tag).transitive_tag_keys(key);
        }
        let output = call
            .send()
            .await
            .map_err(|error| sts_error(role_arn, error))?;
        let (Some(credentials), Some(user)) = (output.credentials, output.assumed_role_user) else {
            return Err(SessionError::new(
                ErrorCode::InternalServer,
                "STS answered AssumeRole without credentials",
            ));
        };
        Ok(IssuedSession {
            credentials,
            arn: user.arn,
            assumed_role_id: user.assumed_role_id,
        })
    }
}

fn sts_error<E>(
    role_arn: &str,
    error: SdkError<E, aws_sdk_sts::config::http::HttpResponse>,
) -> SessionError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = error.code().unwrap_or_default().to_owned();
    let message = error.message().unwrap_or_default().to_owned();
    let (kind, text) = match code.as_str() {
        "AccessDenied" => (ErrorCode::AccessDenied, message),
        "ExpiredToken" | "ExpiredTokenException" => (ErrorCode::ServiceUnavailable, message),
        "MalformedPolicyDocument" | "PackedPolicyTooLarge" | "ValidationError" => {
            (ErrorCode::InvalidParameter, format!("{code}: {message}"))
        }
        "RegionDisabledException" => (ErrorCode::AccessDenied, message),
        "Throttling" | "ThrottlingException" => (ErrorCode::Throttling, message),
        "" => match error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => (
                ErrorCode::ServiceUnavailable,
                format!("STS is unreachable: {}", error_chain(&error)),
            ),
            _ => (
                ErrorCode::InternalServer,
                format!("STS call failed: {}", error_chain(&error)),
            ),
        },
        other => (ErrorCode::InternalServer, format!("{other}: {message}")),
    };
    tracing::debug!(role_arn, code, "STS refused AssumeRole");
    SessionError::new(kind, text)
}

/// `pods.eks.amazonaws.com` is a service principal; an ARN is the server's own IAM identity.
fn trust_principal(name: &str) -> Principal {
    if !name.starts_with("arn:") {
        return Principal {
            service: Some(name.to_owned()),
            ..Principal::default()
        };
    }
    let account = podid_core::arn::account_id(name)
        .unwrap_or_default()
        .to_owned();
    let role_arn = name.contains(":role/").then(|| name.to_owned());
    Principal {
        arn: name.to_owned(),
        account,
        role_arn,
        service: None,
    }
}

/// The request context of AssumeRole as pod identity makes it.
fn trust_context(request: &TrustRequest<'_>) -> Context {
    let mut context = Context::default();
    context.set("aws:SourceAccount", [request.account]);
    context.set("aws:SourceArn", [request.cluster_arn]);
    if !request.tags.is_empty() {
        for (key, value) in request.tags {
            context.set(&format!("aws:RequestTag/{key}"), [value.as_str()]);
        }
        context.set(
            "aws:TagKeys",
            request.tags.iter().map(|(key, _)| key.as_str()),
        );
    }
    context
}
