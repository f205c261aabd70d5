//! The HTTP API: routing, request bodies and error answers.

mod associations;
mod error;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use podid_http::{Body, Handler, respond};
use serde_json::Value;

use crate::config::{ClusterConfig, ServerConfig};
use crate::store::AssociationStore;
pub use error::ApiError;

/// Request bodies larger than this are refused; the largest valid Create is about 20 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Serves the EKS API's pod identity association operations.
#[derive(Debug)]
pub struct Api<S> {
    config: Arc<ServerConfig>,
    store: Arc<S>,
}

impl<S: AssociationStore> Api<S> {
    pub fn new(config: Arc<ServerConfig>, store: Arc<S>) -> Self {
        Self { config, store }
    }

    async fn route(&self, request: Request<Incoming>) -> Result<Value, ApiError> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().map(str::to_owned);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();

        match segments[..] {
            ["clusters", cluster, "pod-identity-associations"] => {
                let cluster = self.cluster(cluster)?;
                match method {
                    Method::POST => {
                        let body = read_body(request).await?;
                        let limit = self.config.max_associations_per_cluster;
                        associations::create(&self.store, cluster, limit, &body).await
                    }
                    Method::GET => associations::list(&self.store, cluster, query.as_deref()).await,
                    _ => Err(method_not_allowed(&method, &path)),
                }
            }
            ["clusters", cluster, "pod-identity-associations", id] => {
                let cluster = self.cluster(cluster)?;
                match method {
                    Method::GET => associations::describe(&self.store, cluster, id).await,
                    Method::POST => {
                        let body = read_body(request).await?;
                        associations::update(&self.store, cluster, id, &body).await
                    }
                    Method::DELETE => associations::delete(&self.store, cluster, id).await,
                    _ => Err(method_not_allowed(&method, &path)),
                }
            }
            _ => Err(ApiError::not_found(format!(
                "no operation at {method} {path}"
            ))),
        }
    }

    fn cluster(&self, name: &str) -> Result<&ClusterConfig, ApiError> {
        self.config.cluster(name).ok_or_else(|| {
            ApiError::not_found(format!("No cluster found for name: {name}.")).for_cluster(name)
        })
    }
}

fn method_not_allowed(method: &Method, path: &str) -> ApiError {
    ApiError::invalid_request(format!("{method} is not an operation on {path}"))
}

async fn read_body(request: Request<Incoming>) -> Result<Bytes, ApiError> {
    match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::too_large(MAX_BODY_BYTES))
        }
        Err(error) => Err(ApiError::invalid_request(format!(
            "reading the request body: {error}"
        ))),
    }
}

impl<S: AssociationStore> Handler for Api<S> {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        match self.route(request).await {
            Ok(answer) => respond(200, "application/json", answer.to_string()),
            Err(error) => {
                tracing::debug!(kind = error.kind, message = %error.message, "request refused");
                error.into_response()
            }
        }
    }
}
