//! The commands that work on a running sandbox, with output that reads like kubectl's.

use std::path::Path;

use serde_json::Value;

use crate::client::SandboxClient;
use crate::cluster::api::{
    AccountRow, ApplyResult, DaemonSetRow, ManifestIn, PodRow, TokenRequest,
};
use crate::exec::{home_dir, plan, run};
use crate::layout::DataDir;
use crate::manifests;
use crate::table::{age, render};

/// Which namespaces a listing covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Namespace(String),
    All,
}

impl Scope {
    fn query(&self) -> String {
        match self {
            Scope::Namespace(ns) => {
                format!("?namespace={}", podid_core::percent::percent_encode(ns))
            }
            Scope::All => String::new(),
        }
    }
}

/// `podid sandbox env`: the administrator's exports.
pub fn env(data: &DataDir) -> Result<String, String> {
    std::fs::read_to_string(data.env_file()).map_err(|_| {
        format!(
            "{} holds no sandbox yet: start one with `podid sandbox up --data-dir {}`",
            data.root().display(),
            data.root().display()
        )
    })
}

/// `podid sandbox apply -f PATH`; whether every object was applied.
pub async fn apply(data: &DataDir, path: &Path) -> Result<bool, String> {
    let manifests = manifests::read(path).map_err(|e| e.to_string())?;
    let client = SandboxClient::connect(data)?;
    let objects: Vec<ManifestIn> = manifests
        .into_iter()
        .map(|m| ManifestIn {
            source: m.source,
            object: m.object,
        })
        .collect();
    let results: Vec<ApplyResult> = client.post("/apis/apply", &objects).await?;
    let mut all_applied = true;
    for result in results {
        match result {
            ApplyResult::Applied(applied) => {
                if let Some(warning) = applied.warning {
                    eprintln!("Warning: {warning}");
                }
                println!("{}", applied.line);
            }
            ApplyResult::Failed { source, error } => {
                all_applied = false;
                eprintln!("Error from server: error when applying \"{source}\": {error}");
            }
        }
    }
    Ok(all_applied)
}

/// `podid sandbox get KIND`.
pub async fn get(data: &DataDir, kind: &str, scope: &Scope) -> Result<(), String> {
    let client = SandboxClient::connect(data)?;
    let all = *scope == Scope::All;
    let (header, rows): (Vec<&str>, Vec<Vec<String>>) = match kind {
        "pods" | "pod" | "po" => {
            let pods: Vec<PodRow> = client.get(&format!("/apis/pods{}", scope.query())).await?;
            let rows = pods
                .into_iter()
                .map(|p| {
                    let cells = vec![
                        p.name,
                        p.ready,
                        p.status,
                        p.restarts.to_string(),
                        age(p.age),
                    ];
                    with_namespace(all, p.namespace, cells)
                })
                .collect();
            (vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"], rows)
        }
        "serviceaccounts" | "serviceaccount" | "sa" => {
            let path = format!("/apis/serviceaccounts{}", scope.query());
            let accounts: Vec<AccountRow> = client.get(&path).await?;
            let rows = accounts
                .into_iter()
                .map(|a| with_namespace(all, a.namespace, vec![a.name, "0".into(), age(a.age)]))
                .collect();
            (vec!["NAME", "SECRETS", "AGE"], rows)
        }
        "daemonsets" | "daemonset" | "ds" => {
            let path = format!("/apis/daemonsets{}", scope.query());
            let sets: Vec<DaemonSetRow> = client.get(&path).await?;
            let rows = sets
                .into_iter()
                .map(|d| {
                    let cells = vec![
                        d.name,
                        d.desired.to_string(),
                        d.desired.to_string(),
                        d.ready.to_string(),
                        d.desired.to_string(),
                        d.ready.to_string(),
                        "<none>".into(),
                        age(d.age),
                    ];
                    with_namespace(all, d.namespace, cells)
                })
                .collect();
            let header = [
                "NAME",
                "DESIRED",
                "CURRENT",
                "READY",
                "UP-TO-DATE",
                "AVAILABLE",
                "NODE SELECTOR",
                "AGE",
            ];
            (header.to_vec(), rows)
        }
        other => {
            return Err(format!(
                "error: the server doesn't have a resource type \"{other}\"; the sandbox has \
                 pods, serviceaccounts and daemonsets"
            ));
        }
    };
    if rows.is_empty() {
        match scope {
            Scope::Namespace(ns) => eprintln!("No resources found in {ns} namespace."),
            Scope::All => eprintln!("No resources found"),
        }
        return Ok(());
    }
    let header = if all {
        std::iter::once("NAMESPACE").chain(header).collect()
    } else {
        header
    };
    print!("{}", render(&header, &rows));
    Ok(())
}

fn with_namespace(all: bool, namespace: String, mut cells: Vec<String>) -> Vec<String> {
    if all {
        cells.insert(0, namespace);
    }
    cells
}

/// `podid sandbox delete pod NAME`.
pub async fn delete_pod(data: &DataDir, namespace: &str, name: &str) -> Result<(), String> {
    let client = SandboxClient::connect(data)?;
    let answer: Value = client
        .delete(&format!("/apis/pods/{namespace}/{name}"))
        .await?;
    println!("{}", answer["line"].as_str().unwrap_or_default());
    Ok(())
}

/// `podid sandbox exec POD -- COMMAND…`; the command's exit status.
pub async fn exec(
    data: &DataDir,
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    command: &[String],
) -> Result<i32, String> {
    let client = SandboxClient::connect(data)?;
    let object: Value = client.get(&format!("/apis/pods/{namespace}/{pod}")).await?;
    let host_env = |name: &str| std::env::var(name).ok();
    let plan = plan(
        &object,
        container,
        &client.running,
        data,
        command,
        &host_env,
    )?;
    let status = run(&plan, &home_dir(data, namespace, pod))?;
    if status != 0 {
        eprintln!("command terminated with exit code {status}");
    }
    Ok(status)
}

/// `podid sandbox token`: prints a freshly minted token.
pub async fn token(data: &DataDir, request: &TokenRequest) -> Result<(), String> {
    let client = SandboxClient::connect(data)?;
    let answer: Value = client.post("/apis/token", request).await?;
    println!("{}", answer["token"].as_str().unwrap_or_default());
    Ok(())
}
