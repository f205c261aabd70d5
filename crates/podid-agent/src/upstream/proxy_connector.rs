//! Connections to `https` destinations, direct or through an HTTP proxy's `CONNECT` tunnel.
//!
//! Nodes in private subnets often reach AWS only through a proxy, given to the agent as
//! `HTTPS_PROXY` (or `ALL_PROXY`, lower case accepted too), with hosts to reach directly in
//! `NO_PROXY`, as curl and the AWS agent read them. Credentials in the proxy's URL are sent as
//! `Proxy-Authorization: Basic`. TLS still runs end to end with the destination, inside the
//! tunnel. Plain `http` destinations (instance metadata, container credentials) are always
//! reached directly.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use super::environment::setting;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
pub struct ProxyConnector {
    direct: HttpConnector,
    proxies: Option<Arc<Matcher>>,
}

impl std::fmt::Debug for ProxyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The proxy's URL may hold credentials: only whether there is one is shown.
        f.debug_struct("ProxyConnector")
            .field("proxied", &self.proxies.is_some())
            .finish()
    }
}

impl ProxyConnector {
    /// Proxies as the environment names them; none when it names none.
    pub fn from_environment(direct: HttpConnector) -> Self {
        Self {
            direct,
            proxies: https_proxy_is_named().then(|| Arc::new(Matcher::from_env())),
        }
    }
}

/// Whether the environment names a proxy for `https` destinations.
pub fn https_proxy_is_named() -> bool {
    ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .into_iter()
        .any(|variable| setting(variable).is_some())
}

impl Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, destination: Uri) -> Self::Future {
        let mut direct = self.direct.clone();
        let intercept = self
            .proxies
            .as_ref()
            .and_then(|proxies| proxies.intercept(&destination));
        let Some(proxy) = intercept else {
            return Box::pin(async move { direct.call(destination).await.map_err(Into::into) });
        };
        let mut tunnel = Tunnel::new(proxy.uri().clone(), direct);
        if let Some(authorization) = proxy.basic_auth() {
            tunnel = tunnel.with_auth(authorization.clone());
        }
        Box::pin(async move {
            std::future::poll_fn(|cx| tunnel.poll_ready(cx)).await?;
            let stream = tunnel.call(destination).await?;
            Ok(stream)
        })
    }
}
