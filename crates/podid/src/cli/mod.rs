//! The command line. The agent's flags are those of the AWS EKS Pod Identity Agent, so that an
//! existing DaemonSet's arguments keep working.
//!
//! The control plane and the sandbox are features of the build (both on by default): a node
//! needs only the agent, and a binary built without them is smaller and uses less memory.

mod agent;
#[cfg(feature = "sandbox")]
mod sandbox;
#[cfg(feature = "server")]
mod server;

use clap::{Parser, Subcommand};

pub use agent::{AgentArgs, AgentCommand, InitArgs, ServeArgs};
#[cfg(feature = "sandbox")]
pub use sandbox::{SandboxArgs, SandboxCommand, TokenArgs, UpArgs};
#[cfg(feature = "server")]
pub use server::ServerArgs;

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
    #[cfg(feature = "server")]
    Server(ServerArgs),
    /// A local cluster and a local AWS, to replay the pod identity flow on one machine
    #[cfg(feature = "sandbox")]
    Sandbox(SandboxArgs),
}
