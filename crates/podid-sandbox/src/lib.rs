//! `podid sandbox`: the whole pod identity flow on one machine. A local AWS (IAM, STS, S3 and
//! the instance metadata service), the control plane with its admission webhook, a cluster of
//! one node whose pods are local processes, and the real node agent, so that a tutorial written
//! for EKS runs here step by step with the real AWS CLI.

pub mod client;
pub mod cluster;
pub mod commands;
pub mod control_plane;
pub mod exec;
pub mod identity;
pub mod layout;
pub mod manifests;
pub mod netns;
pub mod node;
pub mod node_imds;
pub mod table;
pub mod tls;
pub mod up;
