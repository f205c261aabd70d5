//! The agent's command line: the AWS EKS Pod Identity Agent's flags, and `podid agent init`.

use clap::{Args, Subcommand};

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
