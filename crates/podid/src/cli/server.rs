//! The control plane's command line.

use clap::Args;

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
