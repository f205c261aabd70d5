//! The sandbox cluster: one node, the namespaces, service accounts and pods applied from
//! ordinary manifests, pod admission through the control plane's webhook, and the projected
//! service-account tokens the kubelet would write for each pod.
//!
//! The node runs the pod identity agent as a DaemonSet pod of `kube-system` would; its own
//! token (audience `podid`) is written like any pod's, and is what it shows the control plane.

pub mod admission;
pub mod api;
pub mod issuer;
pub mod objects;
pub mod tokens;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::exec::volume_dir;
use crate::layout::DataDir;
use admission::{ALWAYS_LABEL, Admission, Admitted};
use issuer::{ClusterIssuer, Subject};
use objects::{ObjectStore, Outcome, Refused, key, namespace_of, service_account_of};
use tokens::{TokenFile, TokenKeeper, projected_tokens};

/// The agent's DaemonSet and service account, named as EKS's add-on names them.
pub const AGENT_NAME: &str = "eks-pod-identity-agent";
pub const AGENT_NAMESPACE: &str = "kube-system";
/// The audience of the agent's own token, which the control plane checks.
pub const AGENT_AUDIENCE: &str = "podid";

/// The cluster's one node and the agent pod on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub uid: String,
    pub ip: String,
    /// The agent pod's name: the DaemonSet's name and a suffix.
    pub agent_pod: String,
    pub agent_pod_uid: String,
}

/// One line of `apply`'s report, and a warning that goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub line: String,
    pub warning: Option<String>,
}

#[derive(Debug)]
pub struct Cluster {
    pub name: String,
    pub node: Node,
    objects: ObjectStore,
    issuer: ClusterIssuer,
    admission: Admission,
    tokens: TokenKeeper,
    data: DataDir,
    clock: fn() -> i64,
}

/// The kinds `apply` understands; anything else is reported and skipped.
pub const KINDS: [&str; 3] = ["Namespace", "ServiceAccount", "Pod"];

impl Cluster {
    pub fn new(
        name: &str,
        node: Node,
        objects: ObjectStore,
        issuer: ClusterIssuer,
        admission: Admission,
        data: DataDir,
        clock: fn() -> i64,
    ) -> Result<Self, String> {
        let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": AGENT_NAME, "namespace": AGENT_NAMESPACE}});
        objects
            .change(|o| o.apply_service_account(&account, clock()))
            .map_err(|e| e.0)?;
        Ok(Self {
            name: name.to_owned(),
            node,
            objects,
            issuer,
            admission,
            tokens: TokenKeeper::default(),
            data,
            clock,
        })
    }

    pub fn issuer(&self) -> &ClusterIssuer {
        &self.issuer
    }

    pub fn objects(&self) -> objects::ClusterObjects {
        self.objects.snapshot()
    }

    /// Applies one object, as `kubectl apply` reports it.
    pub async fn apply(&self, manifest: &Value) -> Result<Applied, Refused> {
        let now = (self.clock)();
        let kind = manifest["kind"].as_str().unwrap_or_default();
        let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
        let line = |outcome: Outcome| format!("{}/{name} {}", kind.to_lowercase(), outcome.word());
        let plain = |outcome: Outcome| Applied {
            line: line(outcome),
            warning: None,
        };
        match kind {
            "Namespace" => Ok(plain(
                self.objects
                    .change(|o| Ok(o.apply_namespace(manifest, now)))?,
            )),
            "ServiceAccount" => Ok(plain(
                self.objects
                    .change(|o| o.apply_service_account(manifest, now))?,
            )),
            "Pod" => self.apply_pod(manifest, now).await,
            other => Err(Refused(format!(
                "kind {other} is not supported by the sandbox cluster (it runs {}); skipped",
                KINDS.join(", ")
            ))),
        }
    }

    async fn apply_pod(&self, manifest: &Value, now: i64) -> Result<Applied, Refused> {
        let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
        let snapshot = self.objects.snapshot();
        if let Some(outcome) = snapshot.check_pod(manifest)? {
            return Ok(Applied {
                line: format!("pod/{name} {}", outcome.word()),
                warning: None,
            });
        }
        let namespace = namespace_of(manifest).to_owned();
        let mut pod = objects::with_identity(manifest.clone(), now);
        pod["metadata"]["namespace"] = json!(namespace);
        let always = snapshot
            .namespace_labels(&namespace)
            .get(ALWAYS_LABEL)
            .is_some_and(|mode| mode == "always");
        let (mut pod, warning) = match self.admission.admit(pod, &namespace, always).await {
            Ok(Admitted::Pod(pod)) => (pod, None),
            Ok(Admitted::Unchanged { pod, warning }) => (pod, Some(warning)),
            Err(denied) => return Err(Refused(denied)),
        };
        self.schedule(&mut pod, now);
        self.objects.change(|o| {
            let key = key(&namespace, name);
            if o.pods.contains_key(&key) {
                return Err(Refused(format!("pods \"{name}\" already exists")));
            }
            let stored = objects::Stored {
                object: pod,
                applied: manifest.clone(),
                created: now,
            };
            o.pods.insert(key, stored);
            Ok(())
        })?;
        self.refresh_tokens().map_err(Refused)?;
        Ok(Applied {
            line: format!("pod/{name} created"),
            warning,
        })
    }

    /// What the scheduler and the kubelet add: the node, and a running status.
    fn schedule(&self, pod: &mut Value, now: i64) {
        pod["spec"]["nodeName"] = json!(self.node.name);
        pod["status"] = json!({
            "phase": "Running",
            "hostIP": self.node.ip,
            "podIP": self.node.ip,
            "startTime": podid_core::time::rfc3339_utc(now),
        });
    }

    pub fn delete_pod(&self, namespace: &str, name: &str) -> Result<String, Refused> {
        self.objects.change(|o| {
            o.pods
                .remove(&key(namespace, name))
                .map(|_| ())
                .ok_or_else(|| Refused(format!("pods \"{name}\" not found")))
        })?;
        let dir = self.data.pod(namespace, name);
        self.tokens.forget(&dir);
        if let Err(error) = std::fs::remove_dir_all(&dir)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, dir = %dir.display(), "removing the pod's files failed");
        }
        Ok(format!("pod \"{name}\" deleted"))
    }

    /// Writes every token file that is missing or due for rotation.
    pub fn refresh_tokens(&self) -> Result<usize, String> {
        let files = self.token_files();
        self.tokens.refresh(&self.issuer, &files, (self.clock)())
    }

    /// The token files of every pod, and the agent's own.
    fn token_files(&self) -> Vec<TokenFile> {
        let objects = self.objects.snapshot();
        let account_uid = |namespace: &str, account: &str| {
            objects
                .service_accounts
                .get(&key(namespace, account))
                .and_then(|sa| sa.object["metadata"]["uid"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let node = Some((self.node.name.clone(), self.node.uid.clone()));
        let mut files = vec![TokenFile {
            file: self.agent_token_file(),
            subject: Subject {
                namespace: AGENT_NAMESPACE.into(),
                service_account: AGENT_NAME.into(),
                service_account_uid: account_uid(AGENT_NAMESPACE, AGENT_NAME),
                pod: Some((self.node.agent_pod.clone(), self.node.agent_pod_uid.clone())),
                node: node.clone(),
            },
            audience: AGENT_AUDIENCE.into(),
            lifetime: 86_400,
        }];
        for stored in objects.pods.values() {
            let pod = &stored.object;
            let namespace = namespace_of(pod);
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let account = service_account_of(pod);
            let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
            for token in projected_tokens(pod) {
                files.push(TokenFile {
                    file: volume_dir(&self.data, namespace, name, &token.volume).join(&token.path),
                    subject: Subject {
                        namespace: namespace.to_owned(),
                        service_account: account.to_owned(),
                        service_account_uid: account_uid(namespace, account),
                        pod: Some((name.to_owned(), uid.to_owned())),
                        node: node.clone(),
                    },
                    audience: token.audience,
                    lifetime: token.lifetime,
                });
            }
        }
        files
    }

    pub fn agent_token_file(&self) -> std::path::PathBuf {
        self.data.node().join("agent-token")
    }

    /// A token minted on request, for tests and for trying the control plane by hand.
    pub fn mint(&self, subject: &Subject, audience: &str, lifetime: i64) -> Result<String, String> {
        self.issuer
            .token(subject, audience, (self.clock)(), lifetime)
    }
}
