//! The command line. The agent's flags are those of the AWS EKS Pod Identity Agent, so that an
//! existing DaemonSet's arguments keep working.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "podid",
    version,
    about = "EKS Pod Identity for any Kubernetes cluster"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve AWS credentials to the pods of this node (see `podid agent init` for its addresses)
    Agent(Box<AgentArgs>),
    /// Serve EKS Auth, the pod identity association API and the admission webhook for the clusters
    /// of a configuration file
    Server(ServerArgs),
    /// A local cluster and a local AWS, to replay the pod identity flow on one machine
    Sandbox(SandboxArgs),
}

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

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The configuration file (TOML): listen address, store, clusters
    #[arg(long, value_name = "FILE")]
    pub config: String,

    /// Log level: 0 (info), 1 (debug), 2 (trace), or a name: error, warn, info, debug, trace
    #[arg(short = 'v', long, default_value = "info")]
    pub verbosity: String,

    /// Log lines as readable text or as one JSON object a line
    #[arg(long, default_value = "text", value_name = "text|json")]
    pub log_format: String,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub command: Option<AgentCommand>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Put 169.254.170.23 and fd00:ec2::23 on a link of this node (needs CAP_NET_ADMIN)
    #[command(alias = "initialize")]
    Init(InitArgs),
    /// Serve credentials; the same as `podid agent` with no subcommand
    Server(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Name of the EKS cluster (or podid cluster) the node belongs to
    #[arg(short = 'c', long)]
    pub cluster_name: Option<String>,

    /// Port of the credential listeners
    #[arg(short = 'p', long, default_value_t = 80)]
    pub port: u16,

    /// Address to serve credentials on; repeat for several. IPv6 in brackets
    #[arg(short = 'b', long = "bind-hosts", value_name = "HOST",
          default_values_t = ["169.254.170.23".to_owned(), "[fd00:ec2::23]".to_owned()])]
    pub bind_hosts: Vec<String>,

    /// Port of /healthz and /readyz on localhost
    #[arg(long, default_value_t = 2703)]
    pub probe_port: u16,

    /// Address of the Prometheus /metrics listener
    #[arg(long, default_value = "0.0.0.0")]
    pub metrics_address: String,

    /// Port of the Prometheus /metrics listener
    #[arg(long, default_value_t = 2705)]
    pub metrics_port: u16,

    /// EKS Auth endpoint, e.g. a podid server (default: the region's; AWS_ENDPOINT_URL_EKS_AUTH
    /// is honoured too)
    #[arg(long)]
    pub endpoint: Option<String>,

    /// The agent's own service-account token, sent to a podid server (--endpoint) to prove the
    /// agent runs on its node; calls are then not signed with AWS credentials
    #[arg(long, value_name = "FILE")]
    pub node_token_file: Option<String>,

    /// Sign with the default profile of the shared credentials file (AWS_SHARED_CREDENTIALS_FILE
    /// or ~/.aws/credentials), read again every minute, as on EKS hybrid nodes
    #[arg(long, value_name = "true|false", num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true")]
    pub rotate_credentials: bool,

    /// Pods whose credentials are cached at most; 0 disables caching
    #[arg(long, default_value_t = 2000)]
    pub max_cache_size: usize,

    /// Longest time credentials are kept before renewal, as 3h or 90m; 0 disables caching
    #[arg(long, default_value = "3h", value_name = "DURATION")]
    pub max_credential_retention_before_renewal: String,

    /// Upstream calls per second on average, shared fairly between pods
    #[arg(long, default_value_t = 20.0)]
    pub max_service_qps: f64,

    /// Log level: 0 (info), 1 (debug), 2 (trace), or a name: error, warn, info, debug, trace
    #[arg(short = 'v', long, default_value = "info")]
    pub verbosity: String,

    /// Log lines as readable text or as one JSON object a line
    #[arg(long, default_value = "text", value_name = "text|json")]
    pub log_format: String,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Use this existing link (such as lo or a veth) instead of creating a dummy link
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,

    /// Name of the dummy link to create when --link is not given
    #[arg(long, default_value = "pod-id-link0", value_name = "NAME")]
    pub dummy_name: String,
}
