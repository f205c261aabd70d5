//! Pod admission through the control plane's mutating webhook, over HTTPS, as the
//! kube-apiserver calls it: an AdmissionReview in, a JSON Patch out.
//!
//! The webhook is registered per namespace as a real cluster would register it: namespaces
//! labelled `podid.dev/identity-injection: always` get the `always` mode, every other
//! namespace EKS's behaviour. A webhook that cannot be reached is ignored (the pod is admitted
//! unchanged, with a warning), as a registration with `failurePolicy: Ignore` behaves.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use podid_core::pod_mutation::{PatchOperation, apply_patch};
use serde_json::{Value, json};

use super::objects::new_uid;
use crate::tls::client_config;

/// The namespace label that selects the `always` mode.
pub const ALWAYS_LABEL: &str = "podid.dev/identity-injection";
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// What admission made of a pod.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// The pod as stored: patched when the webhook sent a patch.
    Pod(Value),
    /// Admitted unchanged because the webhook failed; the warning says why.
    Unchanged { pod: Value, warning: String },
}

pub struct Admission {
    client: HttpsClient,
    /// `https://…/admission/<cluster>/pods`
    url: String,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Admission {
    /// A client of the webhook at `base` (the control plane's HTTPS address) for `cluster`,
    /// trusting `authority_cert`.
    pub fn new(base: &str, cluster: &str, authority_cert: &Path) -> Result<Self, String> {
        let tls = client_config(authority_cert)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_only()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            url: format!("{}/admission/{cluster}/pods", base.trim_end_matches('/')),
        })
    }

    /// Sends the pod for admission; `always` picks the webhook entry of opted-in namespaces.
    /// A denial is an error with the webhook's message.
    pub async fn admit(
        &self,
        pod: Value,
        namespace: &str,
        always: bool,
    ) -> Result<Admitted, String> {
        let review = review_of(&pod, namespace);
        let url = if always {
            format!("{}/always", self.url)
        } else {
            self.url.clone()
        };
        let answer = match tokio::time::timeout(CALL_TIMEOUT, self.post(&url, review)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => return Ok(ignored(pod, error)),
            Err(_) => return Ok(ignored(pod, "the webhook did not answer in time".into())),
        };
        let response = &answer["response"];
        if response["allowed"] != true {
            let message = response["status"]["message"]
                .as_str()
                .unwrap_or("no reason given");
            return Err(format!(
                "admission webhook \"pod-identity.podid.dev\" denied the request: {message}"
            ));
        }
        let Some(patch) = response["patch"].as_str() else {
            return Ok(Admitted::Pod(pod));
        };
        let patch = STANDARD
            .decode(patch)
            .map_err(|e| format!("the webhook's patch is not base64: {e}"))?;
        let operations: Vec<PatchOperation> = serde_json::from_slice(&patch)
            .map_err(|e| format!("the webhook's patch is not a JSON Patch: {e}"))?;
        let patched = apply_patch(&pod, &operations)
            .map_err(|e| format!("the webhook's patch does not apply: {e}"))?;
        Ok(Admitted::Pod(patched))
    }

    async fn post(&self, url: &str, review: Value) -> Result<Value, String> {
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(review.to_string())))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("calling the webhook at {url}: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the webhook's answer: {e}"))?
            .to_bytes();
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|_| format!("the webhook answered {status} without an AdmissionReview"))?;
        if !status.is_success() {
            let message = answer["response"]["status"]["message"]
                .as_str()
                .unwrap_or_default();
            return Err(format!("the webhook answered {status}: {message}"));
        }
        Ok(answer)
    }
}

fn ignored(pod: Value, error: String) -> Admitted {
    Admitted::Unchanged {
        pod,
        warning: format!("the pod identity webhook failed and was ignored: {error}"),
    }
}

/// The AdmissionReview the kube-apiserver sends for creating `pod`.
pub fn review_of(pod: &Value, namespace: &str) -> Value {
    let kind = json!({"group": "", "version": "v1", "kind": "Pod"});
    let resource = json!({"group": "", "version": "v1", "resource": "pods"});
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": new_uid(),
            "kind": kind,
            "resource": resource,
            "requestKind": kind,
            "requestResource": resource,
            "name": pod["metadata"]["name"],
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "podid-sandbox", "groups": ["system:masters"]},
            "object": pod,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    })
}
