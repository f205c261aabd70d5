//! `GET /v1/credentials`: the checks the agent makes before it hands out credentials.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HOST};
use hyper::{Method, Request, Response};
use podid_core::container::error_body;
use podid_core::token::{TokenError, UnverifiedToken};

use crate::cache::CredentialCache;
use crate::clock::Clock;
use crate::metrics::{AgentMetrics, StatusLabel};
use crate::upstream::CredentialSource;
use podid_http::{Body, Handler, respond};
use prometheus_client::metrics::counter::Counter;

pub const CREDENTIALS_PATH: &str = "/v1/credentials";

/// A token's `nbf` may be this far ahead of the node's clock.
const NBF_LEEWAY_SECONDS: i64 = 60;

const JSON: &str = "application/json";

/// The `Host` values a pod's SDK sends when it talks to one of the agent's addresses.
#[derive(Debug, Clone)]
pub struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    pub fn for_listeners(addresses: &[SocketAddr]) -> Self {
        let mut hosts = Vec::new();
        for address in addresses {
            let ip = match address {
                SocketAddr::V4(v4) => v4.ip().to_string(),
                SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
            };
            let mut names = vec![ip];
            if address.ip().is_loopback() {
                names.push("localhost".to_owned());
            }
            for name in names {
                hosts.push(format!("{name}:{}", address.port()));
                if address.port() == 80 {
                    hosts.push(name);
                }
            }
        }
        Self(hosts)
    }

    fn allows(&self, host: &str) -> bool {
        self.0
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    fn list(&self) -> String {
        self.0.join(", ")
    }
}

/// Serves credentials to pods.
#[derive(Debug)]
pub struct CredentialHandler<S> {
    cache: CredentialCache<S>,
    hosts: AllowedHosts,
    clock: Clock,
    metrics: AgentMetrics,
    /// The requests counter of status 200, looked up once: nearly every request is one, and
    /// the family's lookup takes a lock and hashes the label.
    answered_ok: Counter,
}

/// Why a request gets no credentials: its status, code and a message for the pod's logs.
#[derive(Debug)]
struct Refusal {
    status: u16,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<TokenError> for Refusal {
    fn from(error: TokenError) -> Self {
        let code = match error {
            TokenError::Expired { .. } => "ExpiredToken",
            _ => "InvalidToken",
        };
        Refusal::new(400, code, error.to_string())
    }
}

impl<S: CredentialSource> CredentialHandler<S> {
    pub fn new(
        cache: CredentialCache<S>,
        hosts: AllowedHosts,
        clock: Clock,
        metrics: AgentMetrics,
    ) -> Self {
        let answered_ok = metrics
            .requests
            .get_or_create(&StatusLabel { status: 200 })
            .clone();
        Self {
            cache,
            hosts,
            clock,
            metrics,
            answered_ok,
        }
    }

    async fn credentials<B>(&self, request: &Request<B>) -> Result<bytes::Bytes, Refusal> {
        self.check_host(request)?;
        if request.uri().path() != CREDENTIALS_PATH {
            return Err(Refusal::new(
                404,
                "NotFound",
                format!(
                    "no such path; credentials are \
                served at {CREDENTIALS_PATH}"
                ),
            ));
        }
        if request.method() != Method::GET {
            return Err(Refusal::new(
                405,
                "MethodNotAllowed",
                "credentials are served to GET",
            ));
        }

        let raw = authorization(request)?;
        if let Some(served) = self.cache.get_accepted(raw) {
            return Ok(served.body.clone());
        }
        let token = UnverifiedToken::parse(raw)?;
        token.check_time(self.clock.now_unix(), NBF_LEEWAY_SECONDS)?;
        let served = self.cache.get(&token).await.map_err(|error| {
            Refusal::new(
                error.code.http_status(),
                error.code.short_name(),
                error.message,
            )
        })?;
        Ok(served.body.clone())
    }

    fn check_host<B>(&self, request: &Request<B>) -> Result<(), Refusal> {
        let host = request
            .headers()
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| {
                request
                    .uri()
                    .authority()
                    .map(|authority| authority.as_str())
            })
            .unwrap_or_default();
        if self.hosts.allows(host) {
            return Ok(());
        }
        let shown: String = host.chars().take(100).collect();
        Err(Refusal::new(
            403,
            "AccessDenied",
            format!(
                "Host {shown:?} is not an address of this agent; expected one of: {}",
                self.hosts.list()
            ),
        ))
    }
}

/// The raw token: the whole `Authorization` value, as the SDKs send it.
fn authorization<B>(request: &Request<B>) -> Result<&str, Refusal> {
    let Some(value) = request.headers().get(AUTHORIZATION) else {
        return Err(Refusal::new(
            400,
            "InvalidToken",
            "missing Authorization header: send the pod's service account token, the contents \
             of the file named by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        ));
    };
    value.to_str().map_err(|_| {
        Refusal::new(
            400,
            "InvalidToken",
            "Authorization header holds bytes a JWT never has",
        )
    })
}

impl<S: CredentialSource> Handler for CredentialHandler<S> {
    type ResponseBody = Body;

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let response = match self.credentials(&request).await {
            Ok(body) => respond(200, JSON, body),
            Err(refusal) => {
                tracing::debug!(status = refusal.status, code = refusal.code,
                    message = %refusal.message, "credential request refused");
                respond(
                    refusal.status,
                    JSON,
                    error_body(refusal.code, &refusal.message),
                )
            }
        };
        match response.status().as_u16() {
            200 => self.answered_ok.inc(),
            status => self
                .metrics
                .requests
                .get_or_create(&StatusLabel { status })
                .inc(),
        };
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_follow_the_listeners() {
        let hosts = AllowedHosts::for_listeners(&[
            "169.254.170.23:80".parse().unwrap(),
            "[fd00:ec2::23]:80".parse().unwrap(),
            "127.0.0.1:8080".parse().unwrap(),
        ]);
        for host in [
            "169.254.170.23",
            "169.254.170.23:80",
            "[fd00:ec2::23]",
            "[FD00:EC2::23]:80",
            "127.0.0.1:8080",
            "localhost:8080",
        ] {
            assert!(hosts.allows(host), "{host}");
        }
        for host in [
            "",
            "evil.example",
            "127.0.0.1",
            "169.254.170.23:8080",
            "localhost",
        ] {
            assert!(!hosts.allows(host), "{host}");
        }
    }
}
