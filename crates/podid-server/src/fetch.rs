//! A small HTTP(S) client for the documents the server reads from issuers: OIDC discovery and
//! JSON Web Key Sets.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Issuer documents are a few KiB; anything far larger is not one.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Fetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl Fetcher {
    pub fn new() -> Result<Self, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls_provider())
            .map_err(|e| format!("loading the system's root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// GETs `url` and returns its body; anything but a 200 is an error naming the URL.
    pub async fn get(&self, url: &str) -> Result<Bytes, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("invalid URL {url}: {e}"))?;
        let response = tokio::time::timeout(TIMEOUT, self.client.get(uri))
            .await
            .map_err(|_| format!("GET {url}: no answer within {TIMEOUT:?}"))?
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        if status != hyper::StatusCode::OK {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES);
        let collected = tokio::time::timeout(TIMEOUT, body.collect())
            .await
            .map_err(|_| format!("GET {url}: body not received within {TIMEOUT:?}"))?
            .map_err(|e| format!("GET {url}: {e}"))?;
        Ok(collected.to_bytes())
    }
}

fn rustls_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
