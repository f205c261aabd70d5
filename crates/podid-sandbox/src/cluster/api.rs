//! The cluster's API, which `podid sandbox apply|get|delete|exec|token` talk to, and the token
//! issuer's public documents (OpenID discovery and JWKS), which the control plane reads.
//!
//! Only the owner of the data directory may use the API: requests carry the token kept in its
//! `api-token` file, as kubectl carries a kubeconfig's credentials.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use podid_core::Secret;
use podid_http::{Body, Handler, respond};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::issuer::Subject;
use super::objects::{key, namespace_of};
use super::{AGENT_NAME, AGENT_NAMESPACE, Applied, Cluster};

const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestIn {
    pub source: String,
    pub object: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ApplyResult {
    Applied(Applied),
    Failed { source: String, error: String },
}

/// A row of `get pods`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodRow {
    pub namespace: String,
    pub name: String,
    pub ready: String,
    pub status: String,
    pub restarts: u32,
    pub age: i64,
}

/// A row of `get serviceaccounts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRow {
    pub namespace: String,
    pub name: String,
    pub age: i64,
}

/// A row of `get daemonsets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonSetRow {
    pub namespace: String,
    pub name: String,
    pub desired: u32,
    pub ready: u32,
    pub age: i64,
}

/// A token to mint for tests: by default pod-bound on the node, for pod identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRequest {
    pub namespace: String,
    pub service_account: String,
    pub pod: Option<String>,
    pub audience: String,
    pub lifetime: i64,
}

/// Serves the cluster API.
pub struct ClusterApi {
    cluster: Arc<Cluster>,
    token: Secret,
    /// The agent's metrics endpoint: it answers once every agent listener is bound.
    agent_probe: String,
    /// Where this API serves the JWKS, for the discovery document.
    jwks_uri: String,
    started: i64,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl std::fmt::Debug for ClusterApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterApi")
            .field("cluster", &self.cluster.name)
            .finish_non_exhaustive()
    }
}

impl ClusterApi {
    pub fn new(cluster: Arc<Cluster>, token: Secret, agent_probe: &str, jwks_uri: &str) -> Self {
        Self {
            started: (cluster.clock)(),
            cluster,
            token,
            agent_probe: agent_probe.to_owned(),
            jwks_uri: jwks_uri.to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn route(&self, request: Request<Incoming>) -> Result<Value, (u16, String)> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().unwrap_or_default().to_owned();
        let namespace = podid_core::percent::query_pairs(&query)
            .into_iter()
            .find(|(name, _)| name == "namespace")
            .map(|(_, value)| value);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (&method, segments.as_slice()) {
            (&Method::POST, ["apis", "apply"]) => {
                let manifests: Vec<ManifestIn> = read_json(request).await?;
                Ok(json!(self.apply(manifests).await))
            }
            (&Method::GET, ["apis", "pods"]) => Ok(json!(self.pods(namespace.as_deref()).await)),
            (&Method::GET, ["apis", "serviceaccounts"]) => {
                Ok(json!(self.accounts(namespace.as_deref())))
            }
            (&Method::GET, ["apis", "daemonsets"]) => {
                Ok(json!(self.daemonsets(namespace.as_deref()).await))
            }
            (&Method::GET, ["apis", "pods", ns, name]) => {
                let objects = self.cluster.objects();
                let pod = objects
                    .pods
                    .get(&key(ns, name))
                    .ok_or_else(|| (404, format!("pods \"{name}\" not found in namespace {ns}")))?;
                Ok(pod.object.clone())
            }
            (&Method::DELETE, ["apis", "pods", ns, name]) => {
                let line = self.cluster.delete_pod(ns, name).map_err(|e| (404, e.0))?;
                Ok(json!({"line": line}))
            }
            (&Method::POST, ["apis", "token"]) => {
                let asked: TokenRequest = read_json(request).await?;
                let token = self.mint(&asked).map_err(|e| (400, e))?;
                Ok(json!({"token": token}))
            }
            _ => Err((404, format!("no operation at {method} {path}"))),
        }
    }

    async fn apply(&self, manifests: Vec<ManifestIn>) -> Vec<ApplyResult> {
        let mut results = Vec::new();
        for manifest in manifests {
            results.push(match self.cluster.apply(&manifest.object).await {
                Ok(applied) => ApplyResult::Applied(applied),
                Err(refused) => ApplyResult::Failed {
                    source: manifest.source,
                    error: refused.0,
                },
            });
        }
        results
    }

    async fn pods(&self, namespace: Option<&str>) -> Vec<PodRow> {
        let now = (self.cluster.clock)();
        let objects = self.cluster.objects();
        let mut rows: Vec<PodRow> = objects
            .pods
            .values()
            .filter(|stored| namespace.is_none_or(|ns| namespace_of(&stored.object) == ns))
            .map(|stored| {
                let containers = stored.object["spec"]["containers"]
                    .as_array()
                    .map_or(0, Vec::len);
                PodRow {
                    namespace: namespace_of(&stored.object).to_owned(),
                    name: stored.object["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    ready: format!("{containers}/{containers}"),
                    status: "Running".into(),
                    restarts: 0,
                    age: now - stored.created,
                }
            })
            .collect();
        if namespace.is_none_or(|ns| ns == AGENT_NAMESPACE) {
            let ready = self.agent_ready().await;
            rows.push(PodRow {
                namespace: AGENT_NAMESPACE.into(),
                name: self.cluster.node.agent_pod.clone(),
                ready: if ready { "1/1" } else { "0/1" }.into(),
                status: if ready {
                    "Running"
                } else {
                    "ContainerCreating"
                }
                .into(),
                restarts: 0,
                age: now - self.started,
            });
        }
        rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        rows
    }

    fn accounts(&self, namespace: Option<&str>) -> Vec<AccountRow> {
        let now = (self.cluster.clock)();
        self.cluster
            .objects()
            .service_accounts
            .values()
            .filter(|stored| namespace.is_none_or(|ns| namespace_of(&stored.object) == ns))
            .map(|stored| AccountRow {
                namespace: namespace_of(&stored.object).to_owned(),
                name: stored.object["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                age: now - stored.created,
            })
            .collect()
    }

    async fn daemonsets(&self, namespace: Option<&str>) -> Vec<DaemonSetRow> {
        if namespace.is_some_and(|ns| ns != AGENT_NAMESPACE) {
            return Vec::new();
        }
        let ready = u32::from(self.agent_ready().await);
        vec![DaemonSetRow {
            namespace: AGENT_NAMESPACE.into(),
            name: AGENT_NAME.into(),
            desired: 1,
            ready,
            age: (self.cluster.clock)() - self.started,
        }]
    }

    async fn agent_ready(&self) -> bool {
        let Ok(uri) = self.agent_probe.parse::<hyper::Uri>() else {
            return false;
        };
        let probe = self.client.get(uri);
        matches!(
            tokio::time::timeout(Duration::from_secs(2), probe).await,
            Ok(Ok(response)) if response.status().is_success()
        )
    }

    fn mint(&self, asked: &TokenRequest) -> Result<String, String> {
        let objects = self.cluster.objects();
        let account = objects
            .service_accounts
            .get(&key(&asked.namespace, &asked.service_account))
            .ok_or_else(|| {
                format!(
                    "serviceaccount \"{}\" not found in namespace {}",
                    asked.service_account, asked.namespace
                )
            })?;
        let pod = match &asked.pod {
            None => None,
            Some(name) => {
                let stored = objects
                    .pods
                    .get(&key(&asked.namespace, name))
                    .map(|pod| pod.object["metadata"]["uid"].as_str().unwrap_or_default());
                // A pod that does not exist still gets a token: tests use it to try attacks.
                let uid = stored.map_or_else(super::objects::new_uid, str::to_owned);
                Some((name.clone(), uid))
            }
        };
        let node = &self.cluster.node;
        let subject = Subject {
            namespace: asked.namespace.clone(),
            service_account: asked.service_account.clone(),
            service_account_uid: account.object["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            pod,
            node: Some((node.name.clone(), node.uid.clone())),
        };
        if !(1..=7 * 86_400).contains(&asked.lifetime) {
            return Err("the lifetime must be between 1 second and 7 days".into());
        }
        self.cluster.mint(&subject, &asked.audience, asked.lifetime)
    }

    fn authorized(&self, request: &Request<Incoming>) -> bool {
        let presented = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        presented.is_some_and(|token| self.token.constant_time_eq(token))
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    request: Request<Incoming>,
) -> Result<T, (u16, String)> {
    let body = Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| (400, format!("reading the request: {e}")))?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| (400, format!("the request is not valid: {e}")))
}

impl Handler for ClusterApi {
    type ResponseBody = Body;

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        match request.uri().path() {
            "/healthz" => return respond(200, "text/plain", "ok\n"),
            "/.well-known/openid-configuration" => {
                let document = self.cluster.issuer().discovery(&self.jwks_uri);
                return respond(200, "application/json", document.to_string());
            }
            "/openid/v1/jwks" => {
                return respond(
                    200,
                    "application/jwk-set+json",
                    self.cluster.issuer().jwks(),
                );
            }
            _ => {}
        }
        if !self.authorized(&request) {
            let message = json!({"error": "Unauthorized: send the data directory's api-token"});
            return respond(401, "application/json", message.to_string());
        }
        match self.route(request).await {
            Ok(answer) => respond(200, "application/json", answer.to_string()),
            Err((status, error)) => respond(
                status,
                "application/json",
                json!({"error": error}).to_string(),
            ),
        }
    }
}
