//! The agent's own HTTP/1.1 client, for EKS Auth, the instance metadata service and container
//! credential endpoints. Connections are pooled per host.
//!
//! TLS is set up on the first `https` request, not at start: reading and parsing the system's
//! root certificates costs memory that an agent talking only to local endpoints never needs.
//! Roots come from the system store; `SSL_CERT_FILE` and `SSL_CERT_DIR` replace it. `https`
//! requests go through the proxy that `HTTPS_PROXY` names, if any.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{HeaderMap, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use podid_core::error_chain::error_chain;

use super::proxy_connector::ProxyConnector;

/// Every answer the agent reads is a few KiB; anything far larger is not one of them.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Idle connections are kept this long, so that a burst of exchanges reuses them without the
/// agent holding sockets (and their buffers) open all day.
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
const MAX_IDLE_PER_HOST: usize = 8;

type PlainClient = Client<HttpConnector, Full<Bytes>>;
type TlsClient = Client<HttpsConnector<ProxyConnector>, Full<Bytes>>;

/// A complete answer: status, headers and the whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why no answer arrived. Every variant but [`HttpError::Tls`] may succeed if tried again.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Transport(String),
    #[error("answered with more than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("TLS cannot be set up: {0}")]
    Tls(String),
}

impl HttpError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, HttpError::Tls(_))
    }
}

#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connect_timeout: Duration,
    plain: PlainClient,
    tls: OnceLock<Result<TlsClient, String>>,
}

impl HttpClient {
    pub fn new(connect_timeout: Duration) -> Self {
        let plain = pooled_client(connector(connect_timeout));
        Self {
            inner: Arc::new(Inner {
                connect_timeout,
                plain,
                tls: OnceLock::new(),
            }),
        }
    }

    /// Sends `request` and reads the whole answer, all within `timeout`.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Reply, HttpError> {
        let exchange = async {
            let response = if request.uri().scheme_str() == Some("https") {
                self.tls()?.request(request).await
            } else {
                self.inner.plain.request(request).await
            }
            .map_err(|error| HttpError::Transport(error_chain(&error)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(
                    |error| match error.downcast::<http_body_util::LengthLimitError>() {
                        Ok(_) => HttpError::TooLarge,
                        Err(other) => HttpError::Transport(error_chain(other.as_ref())),
                    },
                )?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout(timeout))?
    }

    fn tls(&self) -> Result<&TlsClient, HttpError> {
        let tls = self.inner.tls.get_or_init(|| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let mut http = connector(self.inner.connect_timeout);
            http.enforce_http(false);
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(provider)
                .map_err(|error| format!("loading the system's root certificates: {error}"))?
                .https_only()
                .enable_http1()
                .wrap_connector(ProxyConnector::from_environment(http));
            Ok(pooled_client(https))
        });
        tls.as_ref()
            .map_err(|problem| HttpError::Tls(problem.clone()))
    }
}

fn connector(connect_timeout: Duration) -> HttpConnector {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    http
}

fn pooled_client<C>(connector: C) -> Client<C, Full<Bytes>>
where
    C: hyper_util::client::legacy::connect::Connect + Clone,
{
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
        .build(connector)
}
