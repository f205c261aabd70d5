//! The HTTP API: routing, request bodies and error answers.

mod associations;
mod eks_auth;
mod error;
mod state;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use podid_core::eks_auth::{NODE_TOKEN_HEADER, SignedAwsCaller};
use podid_http::{Body, Handler, respond};
use serde_json::Value;

use crate::config::ClusterConfig;
use crate::store::AssociationStore;
pub use eks_auth::session_name;
pub use error::ApiError;
pub use state::ServerState;

/// Request bodies larger than this are refused; the largest valid Create is about 20 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Serves EKS Auth's `AssumeRoleForPodIdentity`, the EKS API's pod identity association
/// operations, and the admission webhook ([`crate::webhook`]).
#[derive(Debug)]
pub struct Api<S> {
    state: Arc<ServerState<S>>,
}

/// The operations, named as in the AWS API models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Create,
    Describe,
    List,
    Update,
    Delete,
    AssumeRole,
}

impl Operation {
    fn of(method: &Method, segments: &[&str]) -> Option<Self> {
        Some(match (method, segments) {
            (&Method::POST, ["clusters", _, "pod-identity-associations"]) => Operation::Create,
            (&Method::GET, ["clusters", _, "pod-identity-associations"]) => Operation::List,
            (&Method::GET, ["clusters", _, "pod-identity-associations", _]) => Operation::Describe,
            (&Method::POST, ["clusters", _, "pod-identity-associations", _]) => Operation::Update,
            (&Method::DELETE, ["clusters", _, "pod-identity-associations", _]) => Operation::Delete,
            (&Method::POST, ["clusters", _, "assume-role-for-pod-identity"]) => {
                Operation::AssumeRole
            }
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Operation::Create => "CreatePodIdentityAssociation",
            Operation::Describe => "DescribePodIdentityAssociation",
            Operation::List => "ListPodIdentityAssociations",
            Operation::Update => "UpdatePodIdentityAssociation",
            Operation::Delete => "DeletePodIdentityAssociation",
            Operation::AssumeRole => "AssumeRoleForPodIdentity",
        }
    }
}

impl<S: AssociationStore> Api<S> {
    pub fn new(state: Arc<ServerState<S>>) -> Self {
        Self { state }
    }

    /// Runs one operation; the answer is the JSON body of a 200.
    async fn run<B: RequestBody>(
        &self,
        operation: Operation,
        segments: &[&str],
        request: Request<B>,
    ) -> Result<String, ApiError> {
        let state = &self.state;
        let store = &state.store;
        let cluster = self.cluster(segments[1])?;
        let id = segments.get(3).copied().unwrap_or_default();
        let answer: Value = match operation {
            Operation::Create => {
                let body = read_body(request).await?;
                let limit = state.config.max_associations_per_cluster;
                associations::create(store, cluster, limit, &body).await?
            }
            Operation::List => associations::list(store, cluster, request.uri().query()).await?,
            Operation::Describe => associations::describe(store, cluster, id).await?,
            Operation::Update => {
                let body = read_body(request).await?;
                associations::update(store, cluster, id, &body).await?
            }
            Operation::Delete => associations::delete(store, cluster, id).await?,
            Operation::AssumeRole => {
                // Serialized straight from its typed shape: this is the hot path.
                let node_token = request.headers().get(NODE_TOKEN_HEADER).cloned();
                let node_token = node_token.as_ref().and_then(|value| value.to_str().ok());
                let signed = request.extensions().get::<SignedAwsCaller>().cloned();
                let body = read_body(request).await?;
                return eks_auth::assume_role(state, cluster, node_token, signed.as_ref(), &body)
                    .await;
            }
        };
        Ok(answer.to_string())
    }

    fn cluster(&self, name: &str) -> Result<&ClusterConfig, ApiError> {
        self.state.config.cluster(name).ok_or_else(|| {
            ApiError::not_found(format!("No cluster found for name: {name}.")).for_cluster(name)
        })
    }
}

/// A request body the API can read: hyper's from a socket, or one already in memory when the
/// API is embedded (the sandbox's AWS endpoint forwards the EKS API to it).
pub trait RequestBody: hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send {}

impl<B> RequestBody for B where B: hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) async fn read_body<B: RequestBody>(request: Request<B>) -> Result<Bytes, ApiError> {
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

impl<S: AssociationStore> Api<S> {
    /// Answers one request of any body type.
    pub async fn serve<B: RequestBody>(&self, request: Request<B>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        if let Some((cluster, mode)) = crate::webhook::route(&method, &segments) {
            return crate::webhook::serve(&self.state, cluster, mode, request).await;
        }
        let Some(operation) = Operation::of(&method, &segments) else {
            return ApiError::not_found(format!("no operation at {method} {path}")).into_response();
        };
        let result = self.run(operation, &segments, request).await;
        let outcome = result.as_ref().map_or_else(|error| error.kind, |_| "ok");
        self.state.metrics.request(operation.name(), outcome);
        match result {
            Ok(answer) => respond(200, "application/json", answer),
            Err(error) => {
                tracing::debug!(operation = operation.name(), kind = error.kind,
                    message = %error.message, "request refused");
                error.into_response()
            }
        }
    }
}

/// The operation of the EKS or EKS Auth API at `method` and `path`, by its API name, and the
/// cluster it is for: what a front end that authorizes callers needs to know.
pub fn operation_of<'p>(method: &Method, path: &'p str) -> Option<(&'static str, &'p str)> {
    let segments: Vec<&'p str> = path.trim_matches('/').split('/').collect();
    let operation = Operation::of(method, &segments)?;
    Some((operation.name(), segments.get(1).copied()?))
}

impl<S: AssociationStore> Handler for Api<S> {
    type ResponseBody = Body;

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        self.serve(request).await
    }
}
