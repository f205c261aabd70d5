//! `podid sandbox exec`: a local command run as a container of a pod.
//!
//! The command gets the container's environment as the admission webhook left it, the pod's
//! projected token files at host paths that stand for the container's mount paths, the node's
//! instance metadata service, and AWS endpoints that lead to the sandbox. Nothing of the
//! caller's own AWS set-up reaches it: the environment starts empty, and `HOME` is the pod's
//! own directory, so no profile or credentials file of the host is read.

use std::path::{Path, PathBuf};
use std::process::Command;

use podid_core::pod_mutation::CREDENTIALS_URI_VARIABLE;
use serde_json::Value;

use crate::layout::{DataDir, Mode, Running};

/// Host variables a terminal program needs, passed through as a container runtime would set
/// its own.
const PASSED_THROUGH: [&str; 4] = ["PATH", "TERM", "LANG", "LC_ALL"];

/// What to run, with which environment, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecPlan {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Run inside the node's network namespace.
    pub netns: Option<String>,
}

/// Where a pod's projected volume `volume` is on the host.
pub fn volume_dir(data: &DataDir, namespace: &str, pod: &str, volume: &str) -> PathBuf {
    data.pod(namespace, pod).join("volumes").join(volume)
}

pub fn home_dir(data: &DataDir, namespace: &str, pod: &str) -> PathBuf {
    data.pod(namespace, pod).join("home")
}

/// The plan for running `command` in `container` (the pod's first when `None`).
pub fn plan(
    pod: &Value,
    container: Option<&str>,
    running: &Running,
    data: &DataDir,
    command: &[String],
    host_env: &dyn Fn(&str) -> Option<String>,
) -> Result<ExecPlan, String> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let chosen = match container {
        Some(wanted) => containers
            .iter()
            .find(|c| c["name"] == wanted)
            .ok_or_else(|| format!("container {wanted} is not valid for pod {name}"))?,
        None => containers
            .first()
            .ok_or_else(|| format!("pod {name} has no containers"))?,
    };
    let (program, args) = command
        .split_first()
        .ok_or("you must specify at least one command for the container")?;

    let home = home_dir(data, namespace, name);
    let mut env: Vec<(String, String)> = PASSED_THROUGH
        .iter()
        .filter_map(|var| Some(((*var).to_owned(), host_env(var)?)))
        .collect();
    env.push(("HOME".into(), home.display().to_string()));
    env.push(("HOSTNAME".into(), name.to_owned()));
    let mounts = token_mounts(pod, chosen, data, namespace, name);
    for (key, value) in container_env(pod, chosen) {
        set(&mut env, key, mapped(&value, &mounts));
    }
    sandbox_endpoints(&mut env, running);
    Ok(ExecPlan {
        program: program.clone(),
        args: args.to_vec(),
        env,
        netns: running.netns.clone(),
    })
}

/// In loopback mode the node's addresses are loopback ports; pods are pointed at them. AWS
/// endpoints lead to the sandbox in both modes, as DNS would lead to AWS on a real node.
fn sandbox_endpoints(env: &mut Vec<(String, String)>, running: &Running) {
    if running.mode == Mode::Loopback {
        let uri = env
            .iter_mut()
            .find(|(key, _)| key == CREDENTIALS_URI_VARIABLE);
        if let Some((_, value)) = uri {
            *value = running.pod_credentials_uri.clone();
        }
    }
    // The region stands in for what newer SDKs and the AWS CLI v2 read from the instance
    // metadata service; the CLI v1 and boto3 do not look there.
    let region = env
        .iter()
        .all(|(key, _)| key != "AWS_REGION")
        .then(|| running.region.clone());
    let defaults = [
        ("AWS_ENDPOINT_URL", Some(running.pod_aws_endpoint.clone())),
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            running.pod_imds_endpoint.clone(),
        ),
        ("AWS_DEFAULT_REGION", region),
    ];
    for (key, value) in defaults {
        if let Some(value) = value
            && !env.iter().any(|(k, _)| k == key)
        {
            env.push((key.to_owned(), value));
        }
    }
}

fn set(env: &mut Vec<(String, String)>, key: String, value: String) {
    env.retain(|(k, _)| *k != key);
    env.push((key, value));
}

/// The container's `env`, with `valueFrom.fieldRef` resolved for the pod fields a container can
/// read; other sources are not modelled and are left out.
fn container_env(pod: &Value, container: &Value) -> Vec<(String, String)> {
    let entries = container["env"].as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .filter_map(|entry| {
            let key = entry["name"].as_str()?.to_owned();
            if let Some(value) = entry["value"].as_str() {
                return Some((key, value.to_owned()));
            }
            let field = entry["valueFrom"]["fieldRef"]["fieldPath"].as_str()?;
            let value = match field {
                "metadata.name" => &pod["metadata"]["name"],
                "metadata.namespace" => &pod["metadata"]["namespace"],
                "metadata.uid" => &pod["metadata"]["uid"],
                "spec.nodeName" => &pod["spec"]["nodeName"],
                "spec.serviceAccountName" => &pod["spec"]["serviceAccountName"],
                _ => return None,
            };
            Some((key, value.as_str()?.to_owned()))
        })
        .collect()
}

/// The container's mounts of projected service-account token volumes: (mount path, host dir).
fn token_mounts(
    pod: &Value,
    container: &Value,
    data: &DataDir,
    namespace: &str,
    name: &str,
) -> Vec<(String, PathBuf)> {
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let projected_token = |volume: &str| {
        volumes.iter().any(|v| {
            v["name"] == volume
                && v["projected"]["sources"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["serviceAccountToken"].is_object()))
        })
    };
    let mounts = container["volumeMounts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    mounts
        .iter()
        .filter_map(|mount| {
            let volume = mount["name"].as_str()?;
            let path = mount["mountPath"].as_str()?;
            projected_token(volume)
                .then(|| (path.to_owned(), volume_dir(data, namespace, name, volume)))
        })
        .collect()
}

/// A value that is a path under a token mount becomes the same path under its host directory.
fn mapped(value: &str, mounts: &[(String, PathBuf)]) -> String {
    for (mount_path, host) in mounts {
        let mount = mount_path.trim_end_matches('/');
        if let Some(rest) = value.strip_prefix(mount)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return format!("{}{rest}", host.display());
        }
    }
    value.to_owned()
}

/// Runs the plan and waits; the command's exit status, as a shell reports it.
pub fn run(plan: &ExecPlan, home: &Path) -> Result<i32, String> {
    std::fs::create_dir_all(home).map_err(|e| format!("cannot make {}: {e}", home.display()))?;
    let mut command = match &plan.netns {
        Some(netns) => {
            let mut ip = Command::new("ip");
            ip.args(["netns", "exec", netns, &plan.program]);
            ip
        }
        None => Command::new(&plan.program),
    };
    command
        .args(&plan.args)
        .env_clear()
        .envs(plan.env.iter().cloned());
    let status = command.status().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "exec: \"{}\": executable file not found in $PATH",
            plan.program
        ),
        _ => format!("exec {}: {e}", plan.program),
    })?;
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1))
}

#[cfg(test)]
mod tests;
