//! Errors as the EKS API returns them: the type in `X-Amzn-Errortype`, and a JSON body with
//! `message` and, where a cluster is concerned, `clusterName`.

use hyper::Response;
use hyper::header::HeaderValue;
use podid_http::{Body, respond};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub kind: &'static str,
    pub message: String,
    pub cluster: Option<String>,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            cluster: None,
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameterException", message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequestException", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "ResourceNotFoundException", message)
    }

    pub fn in_use(message: impl Into<String>) -> Self {
        Self::new(409, "ResourceInUseException", message)
    }

    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new(400, "ResourceLimitExceededException", message)
    }

    /// An EKS Auth error.
    pub fn eks_auth(code: podid_core::eks_auth::ErrorCode, message: impl Into<String>) -> Self {
        Self::new(code.http_status(), code.exception_name(), message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "InvalidRequestException",
            format!("request body exceeds {limit} bytes"),
        )
    }

    /// A fault of the server: logged here, once, and answered without detail.
    pub fn server(error: &StoreError) -> Self {
        tracing::error!(%error, "request failed inside the server");
        Self::new(
            500,
            "ServerException",
            "internal error; see the server's log",
        )
    }

    pub fn for_cluster(mut self, cluster: &str) -> Self {
        self.cluster = Some(cluster.to_owned());
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let mut body = json!({"message": self.message, "__type": self.kind});
        if let Some(cluster) = &self.cluster {
            body["clusterName"] = json!(cluster);
        }
        let mut response = respond(self.status, "application/json", body.to_string());
        response
            .headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        response
    }
}
