//! The pod mutation: what the admission webhook adds to a new pod so that its AWS SDKs fetch
//! credentials from the node agent.
//!
//! [`mutate_pod`] reads a Pod as the API server sends it (JSON, in an AdmissionReview) and
//! answers a JSON Patch (RFC 6902, see [`json_patch`]) that puts two variables into every
//! container and init container, and a projected service-account token volume mounted where
//! the variables point:
//!
//! - `AWS_CONTAINER_CREDENTIALS_FULL_URI`: the agent's address, IPv4 or IPv6 by cluster;
//! - `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`: the token the agent exchanges for credentials.
//!
//! The rules follow the AWS webhook, so that workloads behave the same on EKS and here:
//!
//! - a container whose `env` already names either variable is left alone, as is one named in
//!   the `eks.amazonaws.com/skip-containers` annotation (a comma-separated list);
//! - ephemeral containers are never touched;
//! - the token lives `eks.amazonaws.com/token-expiration` seconds when the annotation is an
//!   integer (at least 600, at most 2^32, which the API server enforces), otherwise 86400: an
//!   unreadable value falls back to the default rather than refusing the pod, as AWS does;
//! - the volume and the mount are not added twice: a volume of that name, or in a container a
//!   mount of that name or at that path, is kept as it is;
//! - a pod that needs nothing gets an empty patch: no container changed means no volume.
//!
//! Anything that cannot be a Pod (`containers` not an array, a container without a name, …) is
//! a [`PodError`] naming the field at fault.

mod fields;
pub mod json_patch;

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::token::POD_IDENTITY_AUDIENCE;
use fields::{
    Named, missing_in, named_entries, object, optional_array, optional_object, optional_str,
    required_object,
};
pub use json_patch::{PatchOperation, apply_patch, pointer};

/// Where the agent listens on IPv4 clusters.
pub const CREDENTIALS_URI_IPV4: &str = "http://169.254.170.23/v1/credentials";
/// Where the agent listens on IPv6 clusters.
pub const CREDENTIALS_URI_IPV6: &str = "http://[fd00:ec2::23]/v1/credentials";

pub const CREDENTIALS_URI_VARIABLE: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
pub const TOKEN_FILE_VARIABLE: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";

/// The projected volume's name, which is also the token's file name inside it.
pub const VOLUME_NAME: &str = "eks-pod-identity-token";
pub const MOUNT_PATH: &str = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount";
pub const TOKEN_FILE: &str =
    "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token";

pub const SKIP_CONTAINERS_ANNOTATION: &str = "eks.amazonaws.com/skip-containers";
pub const TOKEN_EXPIRATION_ANNOTATION: &str = "eks.amazonaws.com/token-expiration";

pub const DEFAULT_TOKEN_EXPIRATION: u64 = 86_400;
/// The API server refuses projected tokens shorter than ten minutes or longer than 2^32 s.
pub const MIN_TOKEN_EXPIRATION: u64 = 600;
pub const MAX_TOKEN_EXPIRATION: u64 = 1 << 32;

/// `0644`: the token is readable by the container's user whatever its uid.
const TOKEN_FILE_MODE: u64 = 0o644;

/// The address family of a cluster's pod network, which decides the agent's address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    #[default]
    Ipv4,
    Ipv6,
}

impl IpFamily {
    pub fn credentials_uri(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => CREDENTIALS_URI_IPV4,
            IpFamily::Ipv6 => CREDENTIALS_URI_IPV6,
        }
    }
}

/// What the mutation puts into a pod besides the fixed names and paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutationSettings {
    pub credentials_uri: String,
    /// Token lifetime in seconds when the pod does not choose one.
    pub default_token_expiration: u64,
}

impl MutationSettings {
    pub fn for_family(family: IpFamily) -> Self {
        Self {
            credentials_uri: family.credentials_uri().to_owned(),
            default_token_expiration: DEFAULT_TOKEN_EXPIRATION,
        }
    }
}

impl Default for MutationSettings {
    fn default() -> Self {
        Self::for_family(IpFamily::Ipv4)
    }
}

/// Why a document is not a Pod; `path` names the field as in `spec.containers[1].name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PodError {
    #[error("{path} is missing")]
    Missing { path: String },
    #[error("{path} must be {expected}, not {found}")]
    WrongType {
        path: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{path} is empty")]
    Empty { path: String },
}

/// The patch that wires `pod` to the node agent; empty when nothing needs to change.
pub fn mutate_pod(
    pod: &Value,
    settings: &MutationSettings,
) -> Result<Vec<PatchOperation>, PodError> {
    let pod = object(pod, "the pod")?;
    let annotations = Annotations::read(pod)?;
    let spec = required_object(pod, "spec", "")?;
    let volumes = named_entries(spec, "volumes", "spec")?;
    let skipped = annotations.skipped_containers();

    let mut patch = Vec::new();
    let mut volume_needed = false;
    for (list, required) in [("containers", true), ("initContainers", false)] {
        let containers = match (optional_array(spec, list, "spec")?, required) {
            (Some(containers), _) => containers,
            (None, true) => return Err(missing_in("spec", list)),
            (None, false) => continue,
        };
        for (index, container) in containers.iter().enumerate() {
            let container = Container::read(container, &format!("spec.{list}[{index}]"))?;
            if skipped.contains(container.name) || container.sets_credentials {
                continue;
            }
            let at = pointer(&["spec", list, &index.to_string()]);
            volume_needed |= wire_container(&mut patch, &at, &container, settings);
        }
    }

    let has_volume = volumes
        .iter()
        .flatten()
        .any(|(name, _)| *name == VOLUME_NAME);
    if volume_needed && !has_volume {
        let expiration = annotations.token_expiration(settings.default_token_expiration);
        append(
            &mut patch,
            "/spec/volumes",
            volumes.is_some(),
            volume(expiration),
        );
    }
    Ok(patch)
}

/// The pod's service account: `spec.serviceAccountName`, or `default` when it is not set, as
/// the API server's defaulting does.
pub fn service_account(pod: &Value) -> Result<&str, PodError> {
    let pod = object(pod, "the pod")?;
    let spec = required_object(pod, "spec", "")?;
    match optional_str(spec, "serviceAccountName", "spec")? {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Ok("default"),
    }
}

/// The token lifetime a pod gets: the annotation's integer kept within what the API server
/// accepts; without the annotation, or when it is not an integer, `default`.
pub fn token_expiration(annotation: Option<&str>, default: u64) -> u64 {
    let Some(seconds) = annotation.and_then(|text| text.parse::<i64>().ok()) else {
        return default;
    };
    u64::try_from(seconds)
        .unwrap_or(0)
        .clamp(MIN_TOKEN_EXPIRATION, MAX_TOKEN_EXPIRATION)
}

// === the pod's parts the mutation reads ===

struct Annotations<'a> {
    skip_containers: Option<&'a str>,
    token_expiration: Option<&'a str>,
}

impl<'a> Annotations<'a> {
    fn read(pod: &'a Map<String, Value>) -> Result<Self, PodError> {
        let none = Self {
            skip_containers: None,
            token_expiration: None,
        };
        let Some(metadata) = optional_object(pod, "metadata", "")? else {
            return Ok(none);
        };
        let Some(annotations) = optional_object(metadata, "annotations", "metadata")? else {
            return Ok(none);
        };
        let path = "metadata.annotations";
        Ok(Self {
            skip_containers: optional_str(annotations, SKIP_CONTAINERS_ANNOTATION, path)?,
            token_expiration: optional_str(annotations, TOKEN_EXPIRATION_ANNOTATION, path)?,
        })
    }

    /// Names separated by commas; container names cannot hold spaces, so `"a, b"` means
    /// `a` and `b`.
    fn skipped_containers(&self) -> HashSet<&'a str> {
        self.skip_containers
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .collect()
    }

    fn token_expiration(&self, default: u64) -> u64 {
        token_expiration(self.token_expiration, default)
    }
}

/// Whether a container already mounts something where the token goes.
enum ExistingMount {
    None,
    /// A mount named like the volume: it needs the volume, which is added if missing.
    ByName,
    /// Another volume at the token's directory: the container keeps it and needs nothing more.
    AtPath,
}

struct Container<'a> {
    name: &'a str,
    sets_credentials: bool,
    has_env: bool,
    has_mounts: bool,
    mount: ExistingMount,
}

impl<'a> Container<'a> {
    fn read(container: &'a Value, path: &str) -> Result<Self, PodError> {
        let container = object(container, path)?;
        let name =
            optional_str(container, "name", path)?.ok_or_else(|| missing_in(path, "name"))?;
        if name.is_empty() {
            return Err(PodError::Empty {
                path: format!("{path}.name"),
            });
        }
        let env = named_entries(container, "env", path)?;
        let sets_credentials = env.as_ref().is_some_and(|env| {
            env.iter()
                .any(|(name, _)| *name == CREDENTIALS_URI_VARIABLE || *name == TOKEN_FILE_VARIABLE)
        });
        let mounts = named_entries(container, "volumeMounts", path)?;
        let mount = mounts.as_ref().map_or(Ok(ExistingMount::None), |mounts| {
            existing_mount(mounts, &format!("{path}.volumeMounts"))
        })?;
        Ok(Self {
            name,
            sets_credentials,
            has_env: env.is_some(),
            has_mounts: mounts.is_some(),
            mount,
        })
    }
}

fn existing_mount(mounts: &[Named<'_>], path: &str) -> Result<ExistingMount, PodError> {
    let mut found = ExistingMount::None;
    for (index, (name, mount)) in mounts.iter().enumerate() {
        if *name == VOLUME_NAME {
            return Ok(ExistingMount::ByName);
        }
        let mount_path = optional_str(mount, "mountPath", &format!("{path}[{index}]"))?;
        if mount_path.is_some_and(|at| at.trim_end_matches('/') == MOUNT_PATH) {
            found = ExistingMount::AtPath;
        }
    }
    Ok(found)
}

// === what the mutation adds ===

/// Adds the variables and, unless the container has one, the mount; answers whether the
/// container needs the pod's token volume.
fn wire_container(
    patch: &mut Vec<PatchOperation>,
    at: &str,
    container: &Container,
    settings: &MutationSettings,
) -> bool {
    add_variables(patch, at, container.has_env, settings);
    match container.mount {
        ExistingMount::None => {
            add_mount(patch, at, container.has_mounts);
            true
        }
        ExistingMount::ByName => true,
        ExistingMount::AtPath => false,
    }
}

fn add_variables(
    patch: &mut Vec<PatchOperation>,
    container: &str,
    has_env: bool,
    settings: &MutationSettings,
) {
    let variables = [
        json!({"name": CREDENTIALS_URI_VARIABLE, "value": settings.credentials_uri}),
        json!({"name": TOKEN_FILE_VARIABLE, "value": TOKEN_FILE}),
    ];
    append_all(patch, &format!("{container}/env"), has_env, variables);
}

fn add_mount(patch: &mut Vec<PatchOperation>, container: &str, has_mounts: bool) {
    let mount = json!({"name": VOLUME_NAME, "mountPath": MOUNT_PATH, "readOnly": true});
    append(
        patch,
        &format!("{container}/volumeMounts"),
        has_mounts,
        mount,
    );
}

fn volume(expiration: u64) -> Value {
    json!({
        "name": VOLUME_NAME,
        "projected": {
            "defaultMode": TOKEN_FILE_MODE,
            "sources": [{
                "serviceAccountToken": {
                    "audience": POD_IDENTITY_AUDIENCE,
                    "expirationSeconds": expiration,
                    "path": VOLUME_NAME,
                }
            }],
        },
    })
}

/// Appends to the array at `path`, or creates it when the pod does not have it yet.
fn append(patch: &mut Vec<PatchOperation>, path: &str, exists: bool, value: Value) {
    append_all(patch, path, exists, [value]);
}

fn append_all<const N: usize>(
    patch: &mut Vec<PatchOperation>,
    path: &str,
    exists: bool,
    values: [Value; N],
) {
    if exists {
        patch.extend(values.into_iter().map(|value| PatchOperation::Add {
            path: format!("{path}/-"),
            value,
        }));
    } else {
        patch.push(PatchOperation::Add {
            path: path.to_owned(),
            value: Value::Array(values.into()),
        });
    }
}

#[cfg(test)]
mod tests;
