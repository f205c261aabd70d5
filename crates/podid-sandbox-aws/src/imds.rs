//! The instance metadata service of a sandbox node: what an EC2 instance's processes find at
//! `169.254.169.254`, including the instance role's credentials, so that a pod without an
//! identity of its own acts as the node, exactly as on a real node.
//!
//! Both protocol versions are served: IMDSv2 (`PUT /latest/api/token`, then the token in
//! `X-aws-ec2-metadata-token`) and IMDSv1 (plain GETs), which a setting can turn off as EC2's
//! `HttpTokens: required` does.

use std::future::Future;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use podid_core::time::rfc3339_utc;
use podid_http::{Body, Handler, respond};
use serde_json::json;

const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
/// IMDS tokens live from one second to six hours.
const LONGEST_TOKEN_SECONDS: i64 = 21_600;

/// What the node is.
#[derive(Debug, Clone)]
pub struct NodeMetadata {
    pub account_id: String,
    pub instance_id: String,
    pub instance_type: String,
    pub region: String,
    pub availability_zone: String,
    pub local_ipv4: String,
    /// The instance profile's role, whose credentials the node's processes get.
    pub role_name: String,
}

/// The node role's current session credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expiration: i64,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// Where the node role's credentials come from (in the sandbox: STS, as the EC2 service).
pub trait CredentialSource: Send + Sync + 'static {
    fn credentials(&self) -> impl Future<Output = Result<RoleCredentials, String>> + Send;
}

/// The metadata service of one node.
pub struct Imds<C> {
    node: NodeMetadata,
    source: C,
    /// Refuse requests without a session token, as EC2's `HttpTokens: required`.
    require_token: bool,
    token_key: hmac::Key,
    clock: fn() -> i64,
}

impl<C> std::fmt::Debug for Imds<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imds")
            .field("node", &self.node)
            .field("require_token", &self.require_token)
            .finish_non_exhaustive()
    }
}

impl<C: CredentialSource> Imds<C> {
    /// `token_key` signs the session tokens this service hands out; `clock` gives Unix seconds.
    pub fn new(
        node: NodeMetadata,
        source: C,
        require_token: bool,
        token_key: &[u8; 32],
        clock: fn() -> i64,
    ) -> Self {
        Self {
            node,
            source,
            require_token,
            token_key: hmac::Key::new(hmac::HMAC_SHA256, token_key),
            clock,
        }
    }

    /// A session token valid until `expires` (Unix seconds): the expiry and its MAC.
    fn mint(&self, expires: i64) -> String {
        let expiry = expires.to_be_bytes();
        let tag = hmac::sign(&self.token_key, &expiry);
        let mut token = expiry.to_vec();
        token.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(token)
    }

    fn token_valid(&self, token: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        if bytes.len() != 8 + 32 {
            return false;
        }
        let (expiry, tag) = bytes.split_at(8);
        if hmac::verify(&self.token_key, expiry, tag).is_err() {
            return false;
        }
        let mut expires = [0u8; 8];
        expires.copy_from_slice(expiry);
        i64::from_be_bytes(expires) > (self.clock)()
    }

    fn issue_token(&self, request: &Request<Incoming>) -> Response<Body> {
        // EC2 refuses token requests that went through a proxy.
        if request.headers().contains_key("x-forwarded-for") {
            return respond(403, "text/plain", "Forbidden");
        }
        let ttl = request
            .headers()
            .get(TTL_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<i64>().ok())
            .filter(|ttl| (1..=LONGEST_TOKEN_SECONDS).contains(ttl));
        let Some(ttl) = ttl else {
            return respond(400, "text/plain", "Bad Request");
        };
        let mut response = respond(200, "text/plain", self.mint((self.clock)() + ttl));
        if let Ok(value) = ttl.to_string().parse() {
            response.headers_mut().insert(TTL_HEADER, value);
        }
        response
    }

    async fn metadata(&self, path: &str) -> Response<Body> {
        let node = &self.node;
        let text = |body: String| respond(200, "text/plain", body);
        match path.trim_end_matches('/') {
            "/latest" => text("api/\ndynamic/\nmeta-data/".into()),
            "/latest/meta-data" => text(
                "ami-id\nhostname\niam/\ninstance-id\ninstance-type\nlocal-hostname\n\
                 local-ipv4\nplacement/"
                    .into(),
            ),
            "/latest/meta-data/ami-id" => text("ami-0podidsandbox0000".into()),
            "/latest/meta-data/instance-id" => text(node.instance_id.clone()),
            "/latest/meta-data/instance-type" => text(node.instance_type.clone()),
            "/latest/meta-data/local-ipv4" => text(node.local_ipv4.clone()),
            "/latest/meta-data/hostname" | "/latest/meta-data/local-hostname" => {
                text(self.hostname())
            }
            "/latest/meta-data/placement" => text("availability-zone\nregion".into()),
            "/latest/meta-data/placement/region" => text(node.region.clone()),
            "/latest/meta-data/placement/availability-zone" => text(node.availability_zone.clone()),
            "/latest/meta-data/iam" => text("info\nsecurity-credentials/".into()),
            "/latest/meta-data/iam/info" => self.profile_info(),
            "/latest/meta-data/iam/security-credentials" => text(node.role_name.clone()),
            "/latest/dynamic/instance-identity/document" => self.identity_document(),
            other => match other.strip_prefix("/latest/meta-data/iam/security-credentials/") {
                Some(role) if role == node.role_name => self.role_credentials().await,
                _ => respond(404, "text/plain", "Not Found"),
            },
        }
    }

    fn hostname(&self) -> String {
        format!(
            "ip-{}.{}.compute.internal",
            self.node.local_ipv4.replace('.', "-"),
            self.node.region
        )
    }

    fn profile_info(&self) -> Response<Body> {
        let body = json!({
            "Code": "Success",
            "LastUpdated": rfc3339_utc((self.clock)()),
            "InstanceProfileArn": format!(
                "arn:aws:iam::{}:instance-profile/{}", self.node.account_id, self.node.role_name
            ),
            "InstanceProfileId": "AIPAPODIDSANDBOXNODE0",
        });
        respond(200, "text/plain", body.to_string())
    }

    fn identity_document(&self) -> Response<Body> {
        let node = &self.node;
        let body = json!({
            "accountId": node.account_id,
            "architecture": "x86_64",
            "availabilityZone": node.availability_zone,
            "imageId": "ami-0podidsandbox0000",
            "instanceId": node.instance_id,
            "instanceType": node.instance_type,
            "privateIp": node.local_ipv4,
            "region": node.region,
            "version": "2017-09-30",
        });
        respond(200, "application/json", body.to_string())
    }

    async fn role_credentials(&self) -> Response<Body> {
        match self.source.credentials().await {
            Ok(credentials) => {
                let body = json!({
                    "Code": "Success",
                    "LastUpdated": rfc3339_utc((self.clock)()),
                    "Type": "AWS-HMAC",
                    "AccessKeyId": credentials.access_key_id,
                    "SecretAccessKey": credentials.secret_access_key,
                    "Token": credentials.session_token,
                    "Expiration": rfc3339_utc(credentials.expiration),
                });
                respond(200, "text/plain", body.to_string())
            }
            Err(error) => {
                tracing::warn!(%error, role = %self.node.role_name,
                    "the node role's credentials are unavailable");
                respond(500, "text/plain", "Internal Server Error")
            }
        }
    }
}

impl<C: CredentialSource> Handler for Imds<C> {
    type ResponseBody = Body;

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        if path == "/latest/api/token" {
            return match *request.method() {
                Method::PUT => self.issue_token(&request),
                _ => respond(405, "text/plain", "Method Not Allowed"),
            };
        }
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return respond(405, "text/plain", "Method Not Allowed");
        }
        let token = request
            .headers()
            .get(TOKEN_HEADER)
            .and_then(|value| value.to_str().ok());
        let authorized = match token {
            Some(token) => self.token_valid(token),
            None => !self.require_token,
        };
        if !authorized {
            return respond(401, "text/plain", "Unauthorized");
        }
        self.metadata(&path).await
    }
}
