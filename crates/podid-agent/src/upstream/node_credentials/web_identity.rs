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
use podid_core::time::parse_rfc3339_utc;

use super::NodeCredentials;
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
        let variable = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let Some(token_file) = variable("AWS_WEB_IDENTITY_TOKEN_FILE") else {
            return Ok(None);
        };
        let role_arn = variable("AWS_ROLE_ARN")
            .ok_or("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")?;
        let session_name = variable("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| {
            let now = crate::clock::Clock::System.now_unix();
            format!("podid-agent-{now}")
        });
        let sts_endpoint = variable("AWS_ENDPOINT_URL_STS")
            .or_else(|| variable("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| regional_endpoint(region));
        Ok(Some(Self {
            token_file: token_file.into(),
            role_arn,
            session_name,
            sts_endpoint: sts_endpoint.trim_end_matches('/').to_owned(),
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
            let code = element(&text, "Code").unwrap_or_default();
            let message = element(&text, "Message").unwrap_or_default();
            return Err(format!(
                "STS refused AssumeRoleWithWebIdentity for {} ({}): {code}: {message}",
                self.role_arn, reply.status
            ));
        }
        let missing = |what: &str| format!("STS's AssumeRoleWithWebIdentity answer lacks {what}");
        let expiration = element(&text, "Expiration").ok_or_else(|| missing("Expiration"))?;
        Ok(NodeCredentials {
            access_key_id: element(&text, "AccessKeyId").ok_or_else(|| missing("AccessKeyId"))?,
            secret_access_key: Secret::new(
                element(&text, "SecretAccessKey").ok_or_else(|| missing("SecretAccessKey"))?,
            ),
            session_token: Some(Secret::new(
                element(&text, "SessionToken").ok_or_else(|| missing("SessionToken"))?,
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

/// The text of the first `<name>` element of a query-protocol answer, entities decoded. STS's
/// answers are flat enough that the element's name alone finds it.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    let text = &xml[start..end];
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_of_an_sts_answer() {
        let xml = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>\
                   <Credentials><AccessKeyId>ASIAWEB</AccessKeyId>\
                   <SessionToken>a&amp;b</SessionToken></Credentials>\
                   </AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
        assert_eq!(element(xml, "AccessKeyId").as_deref(), Some("ASIAWEB"));
        assert_eq!(element(xml, "SessionToken").as_deref(), Some("a&b"));
        assert_eq!(element(xml, "Expiration"), None);
    }

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
