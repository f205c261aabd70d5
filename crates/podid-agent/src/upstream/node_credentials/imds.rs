//! The EC2 instance metadata service: the node's instance-role credentials and its region.
//!
//! Only IMDSv2 is spoken: a session token from `PUT /latest/api/token`, then reads that present
//! it. EKS nodes run the agent on the host network, so the default hop limit of 1 suffices.
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` replaces the address, and
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6` picks the IPv6 one, as in the AWS SDKs.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};
use podid_core::Secret;
use podid_core::time::parse_rfc3339_utc;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::NodeCredentials;
use crate::upstream::environment::setting;
use crate::upstream::http_client::{HttpClient, Reply};

const IPV4_ENDPOINT: &str = "http://169.254.169.254";
const IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";
const CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const REGION_PATH: &str = "/latest/meta-data/placement/region";
const TOKEN_PATH: &str = "/latest/api/token";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const TOKEN_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";

/// Session tokens are asked for with the longest lifetime IMDS grants, and replaced a minute
/// before it ends.
const TOKEN_TTL_SECONDS: u64 = 21_600;
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// IMDS answers from the host itself; a slow answer is a lost one, worth asking again.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
const ATTEMPTS: u32 = 3;
const PAUSE_BETWEEN_ATTEMPTS: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct InstanceMetadata {
    endpoint: String,
    http: HttpClient,
    token: Mutex<Option<SessionToken>>,
}

#[derive(Debug)]
struct SessionToken {
    value: Secret,
    renew_at: Instant,
}

/// What IMDS answers for a role's credentials.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoleCredentialsDocument {
    code: String,
    access_key_id: Option<String>,
    secret_access_key: Option<Secret>,
    token: Option<Secret>,
    expiration: Option<String>,
}

impl InstanceMetadata {
    /// The service the environment points to, or `None` when `AWS_EC2_METADATA_DISABLED` is
    /// `true`.
    pub fn from_environment(http: HttpClient) -> Result<Option<Self>, String> {
        let disabled = setting("AWS_EC2_METADATA_DISABLED")
            .is_some_and(|value| value.eq_ignore_ascii_case("true"));
        if disabled {
            return Ok(None);
        }
        let endpoint = match setting("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            Some(endpoint) => endpoint,
            None => match setting("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") {
                Some(mode) if mode.eq_ignore_ascii_case("ipv6") => IPV6_ENDPOINT.to_owned(),
                Some(mode) if !mode.eq_ignore_ascii_case("ipv4") => {
                    return Err(
                        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6".into(),
                    );
                }
                _ => IPV4_ENDPOINT.to_owned(),
            },
        };
        Ok(Some(Self::new(&endpoint, http)))
    }

    pub fn new(endpoint: &str, http: HttpClient) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            http,
            token: Mutex::new(None),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The instance role's current credentials.
    pub async fn credentials(&self) -> Result<NodeCredentials, String> {
        let roles = self.get(CREDENTIALS_PATH).await?;
        let role = roles
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .ok_or("the instance has no IAM role: attach an instance profile to the node")?;
        let path = format!("{CREDENTIALS_PATH}{role}");
        let document: RoleCredentialsDocument = serde_json::from_str(&self.get(&path).await?)
            .map_err(|error| {
                format!(
                    "instance metadata's credentials of role {role} are not JSON (line {}, \
                     column {})",
                    error.line(),
                    error.column()
                )
            })?;
        if document.code != "Success" {
            return Err(format!(
                "instance metadata has no credentials for role {role}: {}",
                document.code
            ));
        }
        let missing = |what: &str| format!("instance metadata's credentials lack {what}");
        let expiration = document.expiration.ok_or_else(|| missing("Expiration"))?;
        Ok(NodeCredentials {
            access_key_id: document
                .access_key_id
                .ok_or_else(|| missing("AccessKeyId"))?,
            secret_access_key: document
                .secret_access_key
                .ok_or_else(|| missing("SecretAccessKey"))?,
            session_token: Some(document.token.ok_or_else(|| missing("Token"))?),
            expires_at: Some(
                parse_rfc3339_utc(&expiration)
                    .ok_or("instance metadata's credentials have an unreadable Expiration")?,
            ),
        })
    }

    /// The region the instance runs in.
    pub async fn region(&self) -> Result<String, String> {
        let region = self.get(REGION_PATH).await?;
        Ok(region.trim().to_owned())
    }

    /// Reads one document, with a new session token when the service no longer accepts the
    /// one held.
    async fn get(&self, path: &str) -> Result<String, String> {
        let mut token = self.session_token().await?;
        let mut reply = self
            .send(Method::GET, path, (TOKEN_HEADER, token.expose()))
            .await?;
        if reply.status == StatusCode::UNAUTHORIZED {
            *self.token.lock().await = None;
            token = self.session_token().await?;
            reply = self
                .send(Method::GET, path, (TOKEN_HEADER, token.expose()))
                .await?;
        }
        match reply.status {
            StatusCode::OK => text_of(reply, path),
            StatusCode::UNAUTHORIZED => Err(format!(
                "instance metadata refused its session token for {path}"
            )),
            StatusCode::NOT_FOUND => Err(format!("instance metadata has no {path}")),
            status => Err(format!("instance metadata answered {path} with {status}")),
        }
    }

    async fn session_token(&self) -> Result<Secret, String> {
        let mut held = self.token.lock().await;
        if let Some(token) = held
            .as_ref()
            .filter(|token| Instant::now() < token.renew_at)
        {
            return Ok(token.value.clone());
        }
        let ttl = TOKEN_TTL_SECONDS.to_string();
        let reply = self
            .send(Method::PUT, TOKEN_PATH, (TOKEN_TTL_HEADER, &ttl))
            .await?;
        if reply.status != StatusCode::OK {
            return Err(format!(
                "instance metadata refused a session token ({}); podid speaks IMDSv2 only",
                reply.status
            ));
        }
        let value = Secret::new(text_of(reply, TOKEN_PATH)?.trim());
        let lifetime = Duration::from_secs(TOKEN_TTL_SECONDS) - TOKEN_MARGIN;
        *held = Some(SessionToken {
            value: value.clone(),
            renew_at: Instant::now() + lifetime,
        });
        Ok(value)
    }

    /// Sends one request with one header, asking again after network failures and server
    /// errors; any other answer is the caller's to read.
    async fn send(
        &self,
        method: Method,
        path: &str,
        (name, value): (&str, &str),
    ) -> Result<Reply, String> {
        let mut last_problem = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(PAUSE_BETWEEN_ATTEMPTS).await;
            }
            let request = Request::builder()
                .method(method.clone())
                .uri(format!("{}{path}", self.endpoint))
                .header(name, value)
                .body(Full::new(Bytes::new()))
                .map_err(|error| format!("instance metadata request for {path}: {error}"))?;
            match self.http.send(request, ATTEMPT_TIMEOUT).await {
                Ok(reply) if reply.status.is_server_error() => {
                    last_problem =
                        format!("instance metadata answered {path} with {}", reply.status);
                }
                Ok(reply) => return Ok(reply),
                Err(error) => {
                    last_problem =
                        format!("instance metadata at {} failed: {error}", self.endpoint);
                }
            }
        }
        Err(last_problem)
    }
}

fn text_of(reply: Reply, path: &str) -> Result<String, String> {
    String::from_utf8(reply.body.to_vec())
        .map_err(|_| format!("instance metadata's {path} is not UTF-8 text"))
}
