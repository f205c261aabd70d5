//! The sandbox's command line: a local cluster driven like kubectl, and a local AWS.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// The sandbox's data directory [default: $PODID_SANDBOX_DIR, else ~/.podid-sandbox]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<String>,

    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Start IAM, STS, S3, instance metadata, the control plane, the agent and the cluster
    Up(UpArgs),
    /// Print the shell exports that make the AWS CLI the sandbox's administrator
    Env,
    /// Apply Kubernetes manifests: a file or a directory of them
    Apply {
        /// The manifest file or directory
        #[arg(short = 'f', long = "filename", value_name = "PATH")]
        file: String,
    },
    /// List pods, serviceaccounts or daemonsets
    Get {
        /// pods, serviceaccounts or daemonsets (po, sa, ds)
        kind: String,
        #[command(flatten)]
        namespace: NamespaceArgs,
        /// List in every namespace
        #[arg(short = 'A', long)]
        all_namespaces: bool,
    },
    /// Delete a pod
    Delete {
        /// pod
        kind: String,
        name: String,
        #[command(flatten)]
        namespace: NamespaceArgs,
    },
    /// Run a command as a container of a pod: podid sandbox exec POD -- COMMAND [ARG...]
    Exec {
        pod: String,
        #[command(flatten)]
        namespace: NamespaceArgs,
        /// The container (default: the pod's first)
        #[arg(short = 'c', long)]
        container: Option<String>,
        /// Accepted for kubectl's `exec -it`; the command always gets this terminal
        #[arg(short = 'i', long = "stdin")]
        stdin: bool,
        #[arg(short = 't', long = "tty")]
        tty: bool,
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Mint a service-account token signed by the cluster's issuer, for tests
    Token(TokenArgs),
    /// The node's instance metadata service (started by `up`)
    #[command(hide = true)]
    Imds {
        #[arg(long, value_name = "FILE")]
        config: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct NamespaceArgs {
    /// The namespace
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// The cluster's name, fixed at the first start
    #[arg(long, default_value = "eksdemo1")]
    pub cluster_name: String,

    /// The region, fixed at the first start
    #[arg(long, default_value = "us-east-1")]
    pub region: String,

    /// Put the node in a network namespace with the production addresses (needs root)
    #[arg(long)]
    pub netns: bool,

    /// The first of eight consecutive ports on 127.0.0.1
    #[arg(long, default_value_t = 7770)]
    pub port_base: u16,

    /// Refuse instance metadata requests without an IMDSv2 session token
    #[arg(long)]
    pub require_imdsv2: bool,

    /// Log level: 0 (info), 1 (debug), 2 (trace), or a name: error, warn, info, debug, trace
    #[arg(short = 'v', long, default_value = "info")]
    pub verbosity: String,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub namespace: NamespaceArgs,

    /// The service account
    #[arg(long, default_value = "default")]
    pub service_account: String,

    /// The pod the token is bound to; none for a token bound to no pod
    #[arg(long)]
    pub pod: Option<String>,

    /// The audience
    #[arg(long, default_value = "pods.eks.amazonaws.com")]
    pub audience: String,

    /// How long the token lives, as 1h or 600s
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub lifetime: String,
}
