//! The side of `podid sandbox apply|get|delete|exec|token` that talks to a running sandbox.

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::layout::{DataDir, Running, read_json};

/// A connection to the sandbox whose data directory is given.
pub struct SandboxClient {
    pub running: Running,
    token: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for SandboxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxClient")
            .field("api", &self.running.api)
            .finish_non_exhaustive()
    }
}

impl SandboxClient {
    /// Finds the sandbox running on `data`, or says how to start one.
    pub fn connect(data: &DataDir) -> Result<Self, String> {
        let start = format!(
            "start one with `podid sandbox up --data-dir {}`",
            data.root().display()
        );
        let running: Running = read_json(&data.running())?.ok_or_else(|| {
            format!(
                "no sandbox is running in {}: {start}",
                data.root().display()
            )
        })?;
        if !Path::new(&format!("/proc/{}", running.pid)).exists() {
            return Err(format!(
                "the sandbox in {} is not running any more (process {} is gone): {start}",
                data.root().display(),
                running.pid
            ));
        }
        let token = std::fs::read_to_string(data.api_token())
            .map_err(|e| format!("cannot read {}: {e}", data.api_token().display()))?;
        Ok(Self {
            running,
            token: token.trim().to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, String> {
        let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        self.call(Method::DELETE, path, None).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, String> {
        let url = format!("{}{path}", self.running.api);
        let request = hyper::Request::builder()
            .method(method)
            .uri(&url)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("the sandbox at {} does not answer: {e}", self.running.api))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the sandbox's answer: {e}"))?
            .to_bytes();
        if !status.is_success() {
            let answer: Value = serde_json::from_slice(&body).unwrap_or_default();
            let error = answer["error"].as_str().unwrap_or("no reason given");
            return Err(format!("Error from server: {error}"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("the sandbox's answer is not valid: {e}"))
    }
}
