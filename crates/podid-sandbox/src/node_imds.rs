//! The node's instance metadata service, run as a process of the node (`podid sandbox imds`):
//! in netns mode it must listen inside the node's namespace. It gets the node role's
//! credentials from the sandbox's STS, as EC2 gets an instance profile's: an AssumeRole by the
//! `ec2.amazonaws.com` service, with the instance id as the session name, renewed well before
//! the session expires.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use podid_core::percent::percent_encode;
use podid_core::query_xml::leaf_text;
use podid_core::time::parse_rfc3339_utc;
use podid_sandbox_aws::imds::{CredentialSource, Imds, NodeMetadata, RoleCredentials};
use podid_sigv4::{Credentials, SigningParams, sign_request};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::layout::read_json;

/// Sessions are renewed when less than this is left, so that every SDK that reads them gets
/// credentials it will not need to refresh at once.
const RENEW_BEFORE_SECONDS: i64 = 20 * 60;
const SESSION_SECONDS: i64 = 3600;

/// What the node's metadata service is given, in a file only the sandbox's owner can read.
#[derive(Clone, Serialize, Deserialize)]
pub struct ImdsConfig {
    pub listen: SocketAddr,
    pub require_token: bool,
    pub account_id: String,
    pub instance_id: String,
    pub region: String,
    pub availability_zone: String,
    pub local_ipv4: String,
    pub role_name: String,
    pub role_arn: String,
    pub sts_endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for ImdsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImdsConfig")
            .field("listen", &self.listen)
            .field("instance_id", &self.instance_id)
            .field("role_arn", &self.role_arn)
            .finish_non_exhaustive()
    }
}

/// The node role's sessions, from STS.
#[derive(Debug)]
pub struct StsNodeCredentials {
    config: ImdsConfig,
    client: Client<HttpConnector, Full<Bytes>>,
    current: Mutex<Option<RoleCredentials>>,
}

impl StsNodeCredentials {
    pub fn new(config: ImdsConfig) -> Self {
        Self {
            config,
            client: Client::builder(TokioExecutor::new()).build_http(),
            current: Mutex::new(None),
        }
    }

    async fn assume(&self, now: i64) -> Result<RoleCredentials, String> {
        let config = &self.config;
        let body = format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName={}\
             &DurationSeconds={SESSION_SECONDS}",
            percent_encode(&config.role_arn),
            percent_encode(&config.instance_id)
        );
        let uri: Uri = config
            .sts_endpoint
            .parse()
            .map_err(|e| format!("STS endpoint {}: {e}", config.sts_endpoint))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let params = SigningParams {
            credentials: Credentials {
                access_key_id: &config.access_key_id,
                secret_access_key: &config.secret_access_key,
                session_token: None,
            },
            region: &config.region,
            service: "sts",
            time_unix: now,
        };
        sign_request(&Method::POST, &uri, &mut headers, body.as_bytes(), &params)
            .map_err(|e| format!("signing AssumeRole: {e}"))?;
        let mut request = hyper::Request::post(uri)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        *request.headers_mut() = headers;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("calling STS at {}: {e}", config.sts_endpoint))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading STS's answer: {e}"))?
            .to_bytes();
        let xml = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(format!(
                "STS refused the node role {}: {}: {}",
                config.role_arn,
                leaf_text(&xml, "Code").unwrap_or_default(),
                leaf_text(&xml, "Message").unwrap_or_default()
            ));
        }
        let missing = || "STS answered AssumeRole without credentials".to_owned();
        Ok(RoleCredentials {
            access_key_id: leaf_text(&xml, "AccessKeyId").ok_or_else(missing)?,
            secret_access_key: leaf_text(&xml, "SecretAccessKey").ok_or_else(missing)?,
            session_token: leaf_text(&xml, "SessionToken").ok_or_else(missing)?,
            expiration: leaf_text(&xml, "Expiration")
                .as_deref()
                .and_then(parse_rfc3339_utc)
                .ok_or_else(missing)?,
        })
    }
}

impl CredentialSource for StsNodeCredentials {
    async fn credentials(&self) -> Result<RoleCredentials, String> {
        let now = unix_now();
        let mut current = self.current.lock().await;
        if let Some(credentials) = current.as_ref()
            && credentials.expiration - now > RENEW_BEFORE_SECONDS
        {
            return Ok(credentials.clone());
        }
        let fresh = self.assume(now).await?;
        *current = Some(fresh.clone());
        Ok(fresh)
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Reads the node's metadata service settings and builds the service.
pub fn service(config_path: &Path) -> Result<(SocketAddr, Arc<Imds<StsNodeCredentials>>), String> {
    let config: ImdsConfig = read_json(config_path)?
        .ok_or_else(|| format!("{} does not exist", config_path.display()))?;
    let node = NodeMetadata {
        account_id: config.account_id.clone(),
        instance_id: config.instance_id.clone(),
        instance_type: "m5.large".into(),
        region: config.region.clone(),
        availability_zone: config.availability_zone.clone(),
        local_ipv4: config.local_ipv4.clone(),
        role_name: config.role_name.clone(),
    };
    let token_key: [u8; 32] = podid_sandbox_aws::ids::secure_bytes().map_err(|e| e.to_string())?;
    let listen = config.listen;
    let require_token = config.require_token;
    let source = StsNodeCredentials::new(config);
    let imds = Imds::new(node, source, require_token, &token_key, unix_now);
    Ok((listen, Arc::new(imds)))
}
