//! Where the sandbox keeps its state, under one data directory:
//!
//! ```text
//! identity.json         the cluster's name, account, region, issuer and node: fixed at first start
//! sandbox.json          how to reach the running sandbox (written by `up`, removed when it stops)
//! env                   shell exports that make the AWS CLI the sandbox's administrator
//! api-token             the credential of the sandbox's cluster API (like a kubeconfig)
//! aws/                  IAM state, the session-token key, S3 buckets and objects
//! control-plane/        the association store
//! cluster/              the token issuer's key, the cluster's objects
//! tls/                  the sandbox's certificate authority and the control plane's certificate
//! node/                 what the node's agent and metadata service are given
//! pods/<ns>/<pod>/      each pod's token files and home directory
//! logs/                 the node processes' logs
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn identity(&self) -> PathBuf {
        self.root.join("identity.json")
    }

    pub fn running(&self) -> PathBuf {
        self.root.join("sandbox.json")
    }

    pub fn env_file(&self) -> PathBuf {
        self.root.join("env")
    }

    pub fn api_token(&self) -> PathBuf {
        self.root.join("api-token")
    }

    pub fn aws(&self) -> PathBuf {
        self.root.join("aws")
    }

    pub fn control_plane(&self) -> PathBuf {
        self.root.join("control-plane")
    }

    pub fn cluster(&self) -> PathBuf {
        self.root.join("cluster")
    }

    pub fn tls(&self) -> PathBuf {
        self.root.join("tls")
    }

    pub fn node(&self) -> PathBuf {
        self.root.join("node")
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// A pod's own directory: its token files and its home.
    pub fn pod(&self, namespace: &str, name: &str) -> PathBuf {
        self.root.join("pods").join(namespace).join(name)
    }

    /// Makes every directory, readable by the owner only: they hold keys and tokens.
    pub fn create(&self) -> std::io::Result<()> {
        for dir in [
            self.root.clone(),
            self.aws(),
            self.control_plane(),
            self.cluster(),
            self.tls(),
            self.node(),
            self.logs(),
            self.root.join("pods"),
        ] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)?;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old file or the new one, never a torn
/// one: beside it first, synced, then renamed over it. Owner-only, as the files hold secrets.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&temporary, path)?;
    if let Some(directory) = path.parent() {
        File::open(directory)?.sync_all()?;
    }
    Ok(())
}

/// Reads a JSON file; `None` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is not valid: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    write_atomically(path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// How the node of the sandbox is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every listener on 127.0.0.1 ports; no root needed.
    Loopback,
    /// The node in a network namespace with the production addresses.
    Netns,
}

/// What the other `podid sandbox` commands need to reach a running sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    pub pid: u32,
    pub mode: Mode,
    pub cluster: String,
    pub region: String,
    /// The cluster API, for `apply`, `get`, `delete`, `exec` and `token`.
    pub api: String,
    /// The AWS endpoint for the administrator, on the host.
    pub aws_endpoint: String,
    /// The AWS endpoint as pods reach it (in netns mode, across the node's link).
    pub pod_aws_endpoint: String,
    /// The agent's credentials URI as pods reach it; in netns mode the production one.
    pub pod_credentials_uri: String,
    /// Where pods find the instance metadata service when the SDK's default does not reach it.
    pub pod_imds_endpoint: Option<String>,
    /// The node's network namespace in netns mode.
    pub netns: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_and_stay_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_json(&path, &vec![1, 2]).unwrap();
        write_json(&path, &vec![3]).unwrap();
        assert_eq!(read_json::<Vec<i32>>(&path).unwrap(), Some(vec![3]));
        let mode = fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        assert_eq!(
            read_json::<Vec<i32>>(&dir.path().join("none")).unwrap(),
            None
        );
        fs::write(&path, "{").unwrap();
        assert!(
            read_json::<Vec<i32>>(&path)
                .unwrap_err()
                .contains("is not valid")
        );
    }
}
