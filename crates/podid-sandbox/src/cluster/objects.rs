//! The sandbox cluster's objects: namespaces, service accounts and pods, kept in one JSON
//! document under the data directory and replaced atomically on every change.
//!
//! Applying follows the API server's rules where a user would notice them: a pod needs its
//! namespace and service account to exist, a pod's spec cannot change once it runs, and
//! applying the same manifest again changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::layout::{read_json, write_json};

/// Namespaces every cluster has.
pub const BUILT_IN_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterObjects {
    pub namespaces: BTreeMap<String, Stored>,
    /// By `namespace/name`.
    pub service_accounts: BTreeMap<String, Stored>,
    /// By `namespace/name`.
    pub pods: BTreeMap<String, Stored>,
}

/// An object as the cluster keeps it: the full object (with uid, timestamps, status) and the
/// manifest it was applied from, which a later apply is compared with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub object: Value,
    pub applied: Value,
    /// Unix seconds.
    pub created: i64,
}

/// What applying one object did, as kubectl reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// Why the cluster refused an object; the message reads like the API server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

pub fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// The namespace an object names, `default` when it names none.
pub fn namespace_of(object: &Value) -> &str {
    object["metadata"]["namespace"]
        .as_str()
        .filter(|ns| !ns.is_empty())
        .unwrap_or("default")
}

/// The cluster's objects, saved under `path`.
#[derive(Debug)]
pub struct ObjectStore {
    path: PathBuf,
    objects: Mutex<ClusterObjects>,
}

impl ObjectStore {
    /// Opens the store, with the namespaces and `default` service accounts every cluster has.
    pub fn open(path: &Path, now: i64) -> Result<Self, String> {
        let mut objects: ClusterObjects = read_json(path)?.unwrap_or_default();
        for namespace in BUILT_IN_NAMESPACES {
            let manifest = json!({"apiVersion": "v1", "kind": "Namespace",
                                  "metadata": {"name": namespace}});
            objects
                .namespaces
                .entry(namespace.to_owned())
                .or_insert_with(|| stored(manifest, now));
            let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                                 "metadata": {"name": "default", "namespace": namespace}});
            objects
                .service_accounts
                .entry(key(namespace, "default"))
                .or_insert_with(|| stored(account, now));
        }
        write_json(path, &objects)?;
        Ok(Self {
            path: path.to_owned(),
            objects: Mutex::new(objects),
        })
    }

    /// A copy of every object.
    pub fn snapshot(&self) -> ClusterObjects {
        self.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Applies `change` to a copy, saves the copy, then keeps it: a failed save changes nothing.
    pub fn change<T>(
        &self,
        change: impl FnOnce(&mut ClusterObjects) -> Result<T, Refused>,
    ) -> Result<T, Refused> {
        let mut objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = objects.clone();
        let answer = change(&mut next)?;
        write_json(&self.path, &next).map_err(Refused)?;
        *objects = next;
        Ok(answer)
    }
}

fn stored(manifest: Value, now: i64) -> Stored {
    Stored {
        object: with_identity(manifest.clone(), now),
        applied: manifest,
        created: now,
    }
}

/// The object with the fields the API server sets: a uid and a creation time.
pub fn with_identity(mut object: Value, now: i64) -> Value {
    if let Some(metadata) = object["metadata"].as_object_mut() {
        metadata.insert("uid".into(), Value::String(new_uid()));
        metadata.insert(
            "creationTimestamp".into(),
            Value::String(podid_core::time::rfc3339_utc(now)),
        );
    }
    object
}

/// A version 4 UUID, as Kubernetes gives objects.
pub fn new_uid() -> String {
    podid_core::uuid::uuid_v4(fastrand::u128(..))
}

impl ClusterObjects {
    /// Applies a namespace; a new one gets its `default` service account, as in Kubernetes.
    pub fn apply_namespace(&mut self, manifest: &Value, now: i64) -> Outcome {
        let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
        let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": "default", "namespace": name}});
        self.service_accounts
            .entry(key(name, "default"))
            .or_insert_with(|| stored(account, now));
        apply_plain(&mut self.namespaces, name.to_owned(), manifest, now)
    }

    pub fn apply_service_account(
        &mut self,
        manifest: &Value,
        now: i64,
    ) -> Result<Outcome, Refused> {
        let namespace = namespace_of(manifest).to_owned();
        self.require_namespace(&namespace)?;
        let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
        let mut manifest = manifest.clone();
        manifest["metadata"]["namespace"] = Value::String(namespace.clone());
        Ok(apply_plain(
            &mut self.service_accounts,
            key(&namespace, name),
            &manifest,
            now,
        ))
    }

    /// Whether a pod manifest may be admitted: `Ok(None)` for a new pod, `Ok(Some(Unchanged))`
    /// for one already running from this very manifest.
    pub fn check_pod(&self, manifest: &Value) -> Result<Option<Outcome>, Refused> {
        let namespace = namespace_of(manifest);
        let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
        self.require_namespace(namespace)?;
        let account = service_account_of(manifest);
        if !self.service_accounts.contains_key(&key(namespace, account)) {
            return Err(Refused(format!(
                "pods \"{name}\" is forbidden: error looking up service account \
                 {namespace}/{account}: serviceaccount \"{account}\" not found"
            )));
        }
        match self.pods.get(&key(namespace, name)) {
            None => Ok(None),
            Some(existing) if same_manifest(&existing.applied, manifest) => {
                Ok(Some(Outcome::Unchanged))
            }
            Some(_) => Err(Refused(format!(
                "The Pod \"{name}\" is invalid: spec: Forbidden: pod updates may not change \
                 fields other than `spec.containers[*].image`, `spec.activeDeadlineSeconds`, \
                 `spec.tolerations` (only additions to existing tolerations); delete the pod \
                 and apply it again"
            ))),
        }
    }

    fn require_namespace(&self, namespace: &str) -> Result<(), Refused> {
        if self.namespaces.contains_key(namespace) {
            return Ok(());
        }
        Err(Refused(format!("namespaces \"{namespace}\" not found")))
    }

    /// The labels of a namespace.
    pub fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        let labels = self
            .namespaces
            .get(namespace)
            .and_then(|ns| ns.object["metadata"]["labels"].as_object().cloned())
            .unwrap_or_default();
        labels
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
            .collect()
    }
}

/// The pod's service account: `spec.serviceAccountName`, the older `spec.serviceAccount`, or
/// `default`.
pub fn service_account_of(pod: &Value) -> &str {
    let spec = &pod["spec"];
    spec["serviceAccountName"]
        .as_str()
        .or_else(|| spec["serviceAccount"].as_str())
        .filter(|name| !name.is_empty())
        .unwrap_or("default")
}

/// Manifests compare equal once the namespace they default to is filled in.
fn same_manifest(stored: &Value, manifest: &Value) -> bool {
    let mut manifest = manifest.clone();
    let namespace = namespace_of(&manifest).to_owned();
    manifest["metadata"]["namespace"] = Value::String(namespace.clone());
    let mut stored = stored.clone();
    stored["metadata"]["namespace"] = Value::String(namespace);
    stored == manifest
}

fn apply_plain(
    map: &mut BTreeMap<String, Stored>,
    key: String,
    manifest: &Value,
    now: i64,
) -> Outcome {
    match map.get_mut(&key) {
        None => {
            map.insert(key, stored(manifest.clone(), now));
            Outcome::Created
        }
        Some(existing) if existing.applied == *manifest => Outcome::Unchanged,
        Some(existing) => {
            // Keep what the server set (uid, creation time); take the rest from the manifest.
            let metadata = existing.object["metadata"].clone();
            let mut object = manifest.clone();
            for field in ["uid", "creationTimestamp"] {
                object["metadata"][field] = metadata[field].clone();
            }
            existing.object = object;
            existing.applied = manifest.clone();
            Outcome::Configured
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(account: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "aws-cli"},
               "spec": {"serviceAccountName": account,
                        "containers": [{"name": "aws-cli", "image": "amazon/aws-cli"}]}})
    }

    #[test]
    fn pods_need_their_service_account_and_do_not_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(&dir.path().join("objects.json"), 0).unwrap();
        let refused = store.snapshot().check_pod(&pod("aws-cli-sa")).unwrap_err();
        assert_eq!(
            refused.0,
            "pods \"aws-cli\" is forbidden: error looking up service account \
             default/aws-cli-sa: serviceaccount \"aws-cli-sa\" not found"
        );
        let account = json!({"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": "aws-cli-sa", "namespace": "default"}});
        let outcome = store
            .change(|objects| objects.apply_service_account(&account, 1))
            .unwrap();
        assert_eq!(outcome, Outcome::Created);
        let again = store
            .change(|objects| objects.apply_service_account(&account, 2))
            .unwrap();
        assert_eq!(again, Outcome::Unchanged);
        assert_eq!(store.snapshot().check_pod(&pod("aws-cli-sa")), Ok(None));

        store
            .change(|objects| {
                let stored = stored(pod("aws-cli-sa"), 3);
                objects.pods.insert(key("default", "aws-cli"), stored);
                Ok(())
            })
            .unwrap();
        let same = store.snapshot().check_pod(&pod("aws-cli-sa"));
        assert_eq!(same, Ok(Some(Outcome::Unchanged)));
        let changed = store.snapshot().check_pod(&pod("default")).unwrap_err();
        assert!(
            changed.0.starts_with("The Pod \"aws-cli\" is invalid"),
            "{changed}"
        );

        let reopened = ObjectStore::open(&dir.path().join("objects.json"), 9).unwrap();
        assert!(reopened.snapshot().pods.contains_key("default/aws-cli"));
    }

    #[test]
    fn namespaces_must_exist_and_keep_their_labels() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(&dir.path().join("objects.json"), 0).unwrap();
        let mut elsewhere = pod("default");
        elsewhere["metadata"]["namespace"] = json!("team-a");
        let refused = store.snapshot().check_pod(&elsewhere).unwrap_err();
        assert_eq!(refused.0, "namespaces \"team-a\" not found");

        let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "team-a", "labels": {"podid.dev/identity-injection": "always"}}});
        let outcome = store
            .change(|objects| Ok(objects.apply_namespace(&namespace, 1)))
            .unwrap();
        assert_eq!(outcome, Outcome::Created);
        let labels = store.snapshot().namespace_labels("team-a");
        assert_eq!(labels["podid.dev/identity-injection"], "always");
        assert!(
            store
                .snapshot()
                .service_accounts
                .contains_key("team-a/default")
        );
        assert!(
            store
                .snapshot()
                .service_accounts
                .contains_key("kube-system/default")
        );
    }
}
