//! Container credentials for the agent itself: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS)
//! or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the authorization token of
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read at every call, since it is rotated) or
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
//!
//! As in the AWS SDKs, a plain-HTTP full URI must point to the host itself or to a container
//! credentials address: the authorization token is not sent over the network in clear text.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Uri};
use podid_core::Secret;
use podid_core::time::parse_rfc3339_utc;
use serde::Deserialize;

use super::NodeCredentials;
use crate::upstream::environment::setting;
use crate::upstream::http_client::HttpClient;

/// Where ECS serves the relative URI.
const ECS_HOST: &str = "http://169.254.170.2";
/// The addresses of ECS's and EKS's container credential endpoints.
const CONTAINER_ADDRESSES: [&str; 3] = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"];
const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct ContainerCredentials {
    uri: Uri,
    authorization: Option<Authorization>,
    http: HttpClient,
}

#[derive(Debug)]
enum Authorization {
    File(PathBuf),
    Value(Secret),
}

/// The body of a 200: the same shape the agent serves to pods.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialsDocument {
    access_key_id: String,
    secret_access_key: Secret,
    token: Option<Secret>,
    expiration: Option<String>,
}

/// The body of a refusal.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDocument {
    message: Option<String>,
}

impl ContainerCredentials {
    /// The endpoint the environment names, if it names one.
    pub fn from_environment(http: HttpClient) -> Result<Option<Self>, String> {
        let uri = if let Some(relative) = setting("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            format!("{ECS_HOST}{relative}")
        } else if let Some(full) = setting("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            full
        } else {
            return Ok(None);
        };
        let uri: Uri = uri
            .parse()
            .map_err(|_| format!("the container credentials URI {uri:?} is not a valid URL"))?;
        check_destination(&uri)?;
        let authorization = setting("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            .map(|file| Authorization::File(file.into()))
            .or_else(|| {
                setting("AWS_CONTAINER_AUTHORIZATION_TOKEN")
                    .map(|value| Authorization::Value(Secret::new(value)))
            });
        Ok(Some(Self {
            uri,
            authorization,
            http,
        }))
    }

    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    pub async fn credentials(&self) -> Result<NodeCredentials, String> {
        let mut request = Request::get(self.uri.clone());
        match &self.authorization {
            Some(Authorization::File(file)) => {
                let token = std::fs::read_to_string(file).map_err(|error| {
                    format!(
                        "cannot read the container authorization token {}: {error}",
                        file.display()
                    )
                })?;
                request = request.header("authorization", token.trim());
            }
            Some(Authorization::Value(token)) => {
                request = request.header("authorization", token.expose());
            }
            None => {}
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|_| "the container authorization token is not a valid header value")?;
        let reply =
            self.http.send(request, TIMEOUT).await.map_err(|error| {
                format!("container credentials at {} failed: {error}", self.uri)
            })?;
        if !reply.status.is_success() {
            let message = serde_json::from_slice::<ErrorDocument>(&reply.body)
                .ok()
                .and_then(|document| document.message)
                .unwrap_or_default();
            return Err(format!(
                "container credentials at {} answered {}: {message}",
                self.uri, reply.status
            ));
        }
        let document: CredentialsDocument =
            serde_json::from_slice(&reply.body).map_err(|error| {
                format!(
                    "container credentials at {} are not the expected JSON (line {}, column {})",
                    self.uri,
                    error.line(),
                    error.column()
                )
            })?;
        let expires_at = match &document.expiration {
            Some(text) => Some(parse_rfc3339_utc(text).ok_or_else(|| {
                format!(
                    "container credentials at {} have an unreadable Expiration",
                    self.uri
                )
            })?),
            None => None,
        };
        Ok(NodeCredentials {
            access_key_id: document.access_key_id,
            secret_access_key: document.secret_access_key,
            session_token: document.token,
            expires_at,
        })
    }
}

fn check_destination(uri: &Uri) -> Result<(), String> {
    let host = uri
        .host()
        .ok_or_else(|| format!("the container credentials URI {uri} has no host"))?;
    match uri.scheme_str() {
        Some("https") => return Ok(()),
        Some("http") => {}
        _ => {
            return Err(format!(
                "the container credentials URI {uri} is not http or https"
            ));
        }
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let allowed = host == "localhost"
        || CONTAINER_ADDRESSES.contains(&bare)
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "the container credentials URI {uri} is plain HTTP to another host; use https, \
             or the host's loopback or a container credentials address"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_goes_only_to_the_host_or_container_addresses() {
        for allowed in [
            "http://127.0.0.1:8080/creds",
            "http://localhost/creds",
            "http://[::1]:80/creds",
            "http://169.254.170.2/v2/credentials/x",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "https://credentials.example.com/node",
        ] {
            assert!(
                check_destination(&allowed.parse().unwrap()).is_ok(),
                "{allowed}"
            );
        }
        for refused in [
            "http://10.0.0.5/creds",
            "ftp://127.0.0.1/creds",
            "/relative",
        ] {
            assert!(
                check_destination(&refused.parse().unwrap()).is_err(),
                "{refused}"
            );
        }
    }
}
