//! The mutating admission webhook: `POST /admission/{cluster}/pods[/{mode}]`.
//!
//! The API server sends each new pod in an AdmissionReview (`admission.k8s.io/v1`); the
//! webhook answers with the same `uid`, `allowed: true`, and a JSON Patch from
//! [`podid_core::pod_mutation`] that points the pod's AWS SDKs at the node agent. Which pods
//! get it depends on the mode, named by the path (`/admission/{cluster}/pods/always`) or by a
//! `mode` query parameter (`?mode=always`). A MutatingWebhookConfiguration can only use the
//! path: the API server refuses webhook URLs with a query, and adds its own `timeout` to them.
//!
//! - `eks` (the default) injects only when the pod's service account has an association at
//!   admission, as EKS does. An association made later reaches the pod once it is recreated.
//! - `always` injects into every pod. An association made later then works on the next
//!   credential fetch, and a pod without one gets an error from the agent instead of silently
//!   acting as the node's instance role.
//!
//! Only the creation of pods is changed; every other review is allowed as it is. A review that
//! cannot be read is an HTTP 400, an unknown cluster a 404, both still shaped as an
//! AdmissionReview whose `response.status` says what is wrong; a pod that is not shaped like
//! one is refused (`allowed: false`). When the associations cannot be read the pod is admitted
//! unchanged, so that a fault here never stops a cluster's workloads, unless
//! `[webhook] fail_closed` says to refuse it.

mod review;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::{Method, Request, Response};
use podid_core::percent::query_pairs;
use podid_core::pod_mutation::{MutationSettings, PodError, mutate_pod, service_account};
use podid_http::{Body, respond};
use serde_json::Value;

use crate::api::{ApiError, RequestBody, ServerState, read_body};
use crate::config::ServerConfig;
use crate::store::{AssociationStore, StoreError};
pub use review::{API_VERSION, AdmissionRequest, KIND};

/// Which pods get the patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Eks,
    Always,
}

impl Mode {
    /// The mode a review's URL asks for, in its path or its query; other query parameters,
    /// such as the API server's `timeout`, are ignored. Without either, `eks`.
    pub fn of(target: &Target<'_>) -> Result<Self, WebhookError> {
        let pairs = target.query.map(query_pairs).unwrap_or_default();
        let in_query = pairs
            .iter()
            .find(|(key, _)| key == "mode")
            .map(|(_, value)| value.as_str());
        let from_path = target.path_mode.map(Self::named).transpose()?;
        let from_query = in_query.map(Self::named).transpose()?;
        match (from_path, from_query) {
            (Some(path), Some(query)) if path != query => Err(WebhookError::ConflictingModes {
                path: target.path_mode.unwrap_or_default().to_owned(),
                query: in_query.unwrap_or_default().to_owned(),
            }),
            (path, query) => Ok(path.or(query).unwrap_or(Mode::Eks)),
        }
    }

    fn named(name: &str) -> Result<Self, WebhookError> {
        match name {
            "eks" => Ok(Mode::Eks),
            "always" => Ok(Mode::Always),
            other => Err(WebhookError::UnknownMode {
                mode: other.to_owned(),
            }),
        }
    }
}

/// Where a review was sent: `/admission/{cluster}/pods[/{mode}][?mode=...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    pub cluster: &'a str,
    pub path_mode: Option<&'a str>,
    pub query: Option<&'a str>,
}

/// The cluster and the path's mode, when a request is for the webhook.
pub fn route<'a>(method: &Method, segments: &[&'a str]) -> Option<(&'a str, Option<&'a str>)> {
    match (method, segments) {
        (&Method::POST, ["admission", cluster, "pods"]) => Some((cluster, None)),
        (&Method::POST, ["admission", cluster, "pods", mode]) => Some((cluster, Some(mode))),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the body is not JSON: {reason}")]
    NotJson { reason: String },
    #[error("{field} is missing")]
    Missing { field: &'static str },
    #[error("{field} must be {expected}, not {found}")]
    Unexpected {
        field: &'static str,
        expected: String,
        found: String,
    },
    #[error("the request body was refused: {message}")]
    Unreadable { status: u16, message: String },
    #[error("unknown mode {mode:?}: use eks or always")]
    UnknownMode { mode: String },
    #[error("the path asks for mode {path:?} but the query for {query:?}")]
    ConflictingModes { path: String, query: String },
    #[error("no cluster named {cluster:?} is configured")]
    UnknownCluster { cluster: String },
    #[error("request.object is missing")]
    NoObject,
    #[error("request.namespace is missing")]
    NoNamespace,
    #[error("request.object is not a valid pod: {0}")]
    NotAPod(#[from] PodError),
    #[error(
        "looking up the association of {namespace}/{service_account} in cluster {cluster}: \
         {source}"
    )]
    Store {
        cluster: String,
        namespace: String,
        service_account: String,
        source: StoreError,
    },
    #[error("encoding the patch: {0}")]
    Encode(serde_json::Error),
}

/// What a review is answered with, and the outcome counted in the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub review: Value,
    pub outcome: &'static str,
}

/// Serves one review on the API listener; `cluster` and `path_mode` come from [`route`].
pub async fn serve<S: AssociationStore, B: RequestBody>(
    state: &ServerState<S>,
    cluster: &str,
    path_mode: Option<&str>,
    request: Request<B>,
) -> Response<Body> {
    let query = request.uri().query().map(str::to_owned);
    let target = Target {
        cluster,
        path_mode,
        query: query.as_deref(),
    };
    let answer = match read_body(request).await {
        Ok(body) => answer(&state.config, state.store.as_ref(), &target, &body),
        Err(error) => unreadable(&error),
    };
    state.metrics.webhook_answer(answer.outcome);
    tracing::debug!(
        cluster,
        status = answer.status,
        outcome = answer.outcome,
        "admission review answered"
    );
    respond(answer.status, "application/json", answer.review.to_string())
}

/// Answers the review in `body`, sent to `target`.
pub fn answer<S: AssociationStore>(
    config: &ServerConfig,
    store: &S,
    target: &Target<'_>,
    body: &[u8],
) -> Answer {
    let parsed = serde_json::from_slice::<Value>(body).map_err(|error| WebhookError::NotJson {
        reason: error.to_string(),
    });
    let uid = parsed.as_ref().map_or("", review::uid_of).to_owned();
    let admitted = parsed.and_then(|document| admit(config, store, target, &document));
    match admitted {
        Ok(admission) => Answer {
            status: 200,
            review: review::allowed(&uid, admission.patch.as_deref()),
            outcome: admission.outcome,
        },
        Err(error) => refusal(&uid, &error, config.webhook.fail_closed),
    }
}

/// A review let through: the base64 patch, if any, and why.
struct Admission {
    patch: Option<String>,
    outcome: &'static str,
}

impl Admission {
    fn unchanged(outcome: &'static str) -> Self {
        Self {
            patch: None,
            outcome,
        }
    }
}

fn admit<S: AssociationStore>(
    config: &ServerConfig,
    store: &S,
    target: &Target<'_>,
    document: &Value,
) -> Result<Admission, WebhookError> {
    let request = AdmissionRequest::read(document)?;
    let mode = Mode::of(target)?;
    let cluster = config
        .cluster(target.cluster)
        .ok_or_else(|| WebhookError::UnknownCluster {
            cluster: target.cluster.to_owned(),
        })?;
    if !request.is_pod_create() {
        return Ok(Admission::unchanged("not_pod_create"));
    }

    let pod = request.object.ok_or(WebhookError::NoObject)?;
    let patch = mutate_pod(pod, &MutationSettings::for_family(cluster.ip_family))?;
    if patch.is_empty() {
        return Ok(Admission::unchanged("unchanged"));
    }
    if mode == Mode::Eks && !has_association(store, &cluster.name, &request, pod)? {
        return Ok(Admission::unchanged("no_association"));
    }
    let encoded = serde_json::to_vec(&patch).map_err(WebhookError::Encode)?;
    Ok(Admission {
        patch: Some(STANDARD.encode(encoded)),
        outcome: "patched",
    })
}

/// Whether the pod's service account has an association now. The store answers from memory,
/// so the lookup does not hold up the admission.
fn has_association<S: AssociationStore>(
    store: &S,
    cluster: &str,
    request: &AdmissionRequest<'_>,
    pod: &Value,
) -> Result<bool, WebhookError> {
    let namespace = request.namespace.ok_or(WebhookError::NoNamespace)?;
    let service_account = service_account(pod)?;
    match store.find(cluster, namespace, service_account) {
        Ok(found) => Ok(found.is_some()),
        Err(source) => Err(WebhookError::Store {
            cluster: cluster.to_owned(),
            namespace: namespace.to_owned(),
            service_account: service_account.to_owned(),
            source,
        }),
    }
}

fn refusal(uid: &str, error: &WebhookError, fail_closed: bool) -> Answer {
    let message = error.to_string();
    let (status, code, outcome) = match error {
        WebhookError::NotJson { .. }
        | WebhookError::Missing { .. }
        | WebhookError::Unexpected { .. }
        | WebhookError::UnknownMode { .. }
        | WebhookError::ConflictingModes { .. } => (400, 400, "malformed"),
        WebhookError::Unreadable { status, .. } => (*status, *status, "malformed"),
        WebhookError::UnknownCluster { .. } => (404, 404, "unknown_cluster"),
        WebhookError::NoObject | WebhookError::NoNamespace | WebhookError::NotAPod(_) => {
            (200, 400, "invalid_pod")
        }
        WebhookError::Store { .. } | WebhookError::Encode(_) => {
            return internal_failure(uid, error, fail_closed);
        }
    };
    Answer {
        status,
        review: review::refused(uid, code, &message),
        outcome,
    }
}

/// A fault of the server: logged once, and the pod admitted unchanged unless configured to
/// fail closed, in which case the answer says nothing of the cause.
fn internal_failure(uid: &str, error: &WebhookError, fail_closed: bool) -> Answer {
    tracing::warn!(%error, uid, fail_closed,
        "admission review answered without the pod identity mutation");
    if fail_closed {
        let message = "internal error; see the server's log";
        return Answer {
            status: 200,
            review: review::refused(uid, 500, message),
            outcome: "failed_closed",
        };
    }
    Answer {
        status: 200,
        review: review::allowed(uid, None),
        outcome: "failed_open",
    }
}

/// The answer to a body that could not be read, such as one over the API's size limit.
fn unreadable(error: &ApiError) -> Answer {
    let error = WebhookError::Unreadable {
        status: error.status,
        message: error.message.clone(),
    };
    refusal("", &error, false)
}

#[cfg(test)]
mod tests;
