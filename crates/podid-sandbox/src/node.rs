//! The node's processes: the pod identity agent (the real `podid agent`, run as the DaemonSet's
//! pod would run it) and the instance metadata service. In netns mode both run inside the node's
//! namespace, and `podid agent init` puts the agent's addresses on its loopback first.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A process of the node, stopped when this is dropped or [`NodeProcess::stop`]ped.
#[derive(Debug)]
pub struct NodeProcess {
    pub name: &'static str,
    pub log: PathBuf,
    child: Child,
}

/// How to start a node process: in the namespace or not, with which environment.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub podid: PathBuf,
    pub netns: Option<String>,
    pub logs: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Launcher {
    fn command(&self, args: &[String], extra_env: &[(String, String)]) -> Command {
        let mut command = match &self.netns {
            Some(netns) => {
                let mut ip = Command::new("ip");
                ip.args(["netns", "exec", netns]).arg(&self.podid);
                ip
            }
            None => Command::new(&self.podid),
        };
        command
            .args(args)
            .env_clear()
            .envs(self.env.iter().cloned())
            .envs(extra_env.iter().cloned());
        command
    }

    /// Runs a command of the node to its end; its output when it fails.
    pub async fn run(&self, args: &[String]) -> Result<(), String> {
        let output = self
            .command(args, &[])
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", self.podid.display()))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "podid {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }

    /// Starts a long-running process of the node, its output in `logs/<name>.log`; `extra_env`
    /// adds to the node's environment or replaces parts of it.
    pub fn start(
        &self,
        name: &'static str,
        args: &[String],
        extra_env: &[(String, String)],
    ) -> Result<NodeProcess, String> {
        let log = self.logs.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)
            .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
        let err = file
            .try_clone()
            .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
        let child = self
            .command(args, extra_env)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the node's {name}: {e}"))?;
        Ok(NodeProcess { name, log, child })
    }
}

impl NodeProcess {
    /// Waits until the process exits; why, for the log.
    pub async fn exited(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => format!("the node's {} exited ({status})", self.name),
            Err(error) => format!("the node's {} cannot be watched: {error}", self.name),
        }
    }

    /// Asks the process to stop (SIGTERM), and kills it if it has not within five seconds.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        let stopped = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        if stopped.is_err() {
            let _ = self.child.kill().await;
        }
    }

    /// The end of the process's log, to show why it stopped.
    pub fn log_tail(&self) -> String {
        tail(&self.log, 10)
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits until `url` answers 200, for at most `patience`.
pub async fn wait_until_serving(url: &str, patience: Duration) -> bool {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        return false;
    };
    let deadline = tokio::time::Instant::now() + patience;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Ok(response)) =
            tokio::time::timeout(Duration::from_secs(1), client.get(uri.clone())).await
            && response.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
