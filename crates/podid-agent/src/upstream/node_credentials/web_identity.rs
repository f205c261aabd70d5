//! Web identity: the role in `AWS_ROLE_ARN`, assumed with the OIDC token in
//! `AWS_WEB_IDENTITY_TOKEN_FILE` through STS `AssumeRoleWithWebIdentity`, as IAM roles for
//! service accounts give them to a pod. The call is not signed: the token is the credential.
//! The file is read at every call, since the kubelet rotates it.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper::header::CONTENT_TYPE;
use podid_core::Secret;
use podid_core::percent::percent_encode;
use podid_core::query_xml::leaf_text;
use podid_core::time::parse_rfc3339_utc;

use super::NodeCredentials;
use crate::upstream::environment::{configured_endpoint, setting};
use crate::upstream::http_client::HttpClient;

const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct WebIdentity {
    token_file: PathBuf,
    role_arn: String,
    session_name: String,
    sts_endpoint: String,
    http: HttpClient,
}

impl WebIdentity {
    /// The role the environment names, if it names one; STS is the region's unless
    /// `AWS_ENDPOINT_URL_STS` or `AWS_ENDPOINT_URL` replaces it.
    pub fn from_environment(http: HttpClient, region: &str) -> Result<Option<Self>, String> {
        let Some(token_file) = setting("AWS_WEB_IDENTITY_TOKEN_FILE") else {
            return Ok(None);
        };
        let role_arn = setting("AWS_ROLE_ARN")
            .ok_or("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")?;
        let session_name = setting("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| {
            let now = crate::clock::Clock::System.now_unix();
            format!("podid-agent-{now}")
        });
        let sts_endpoint = configured_endpoint("AWS_ENDPOINT_URL_STS")
            .unwrap_or_else(|| regional_endpoint(region));
        Ok(Some(Self {
            token_file: token_file.into(),
            role_arn,
            session_name,
            sts_endpoint,
            http,
        }))
    }

    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    pub async fn credentials(&self) -> Result<NodeCredentials, String> {
        let token = std::fs::read_to_string(&self.token_file).map_err(|error| {
            format!(
                "cannot read the web identity token {}: {error}",
                self.token_file.display()
            )
        })?;
        let form = format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}\
             &WebIdentityToken={}",
            percent_encode(&self.role_arn),
            percent_encode(&self.session_name),
            percent_encode(token.trim())
        );
        let request = Request::post(format!("{}/", self.sts_endpoint))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))
            .map_err(|_| format!("STS's endpoint {:?} is not a valid URL", self.sts_endpoint))?;
        let reply = self
            .http
            .send(request, TIMEOUT)
            .await
            .map_err(|error| format!("STS at {} failed: {error}", self.sts_endpoint))?;
        let text = String::from_utf8_lossy(&reply.body);
        if !reply.status.is_success() {
            let code = leaf_text(&text, "Code").unwrap_or_default();
            let message = leaf_text(&text, "Message").unwrap_or_default();
            return Err(format!(
                "STS refused AssumeRoleWithWebIdentity for {} ({}): {code}: {message}",
                self.role_arn, reply.status
            ));
        }
        let missing = |what: &str| format!("STS's AssumeRoleWithWebIdentity answer lacks {what}");
        let expiration = leaf_text(&text, "Expiration").ok_or_else(|| missing("Expiration"))?;
        Ok(NodeCredentials {
            access_key_id: leaf_text(&text, "AccessKeyId").ok_or_else(|| missing("AccessKeyId"))?,
            secret_access_key: Secret::new(
                leaf_text(&text, "SecretAccessKey").ok_or_else(|| missing("SecretAccessKey"))?,
            ),
            session_token: Some(Secret::new(
                leaf_text(&text, "SessionToken").ok_or_else(|| missing("SessionToken"))?,
            )),
            expires_at: Some(
                parse_rfc3339_utc(&expiration).ok_or("STS's Expiration is not a timestamp")?,
            ),
        })
    }
}

fn regional_endpoint(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://sts.{region}.{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_endpoints_follow_the_partition() {
        assert_eq!(
            regional_endpoint("eu-west-1"),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            regional_endpoint("cn-northwest-1"),
            "https://sts.cn-northwest-1.amazonaws.com.cn"
        );
    }
}
