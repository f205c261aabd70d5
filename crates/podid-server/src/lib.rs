//! The podid control plane.
//!
//! It keeps the pod identity associations of one or many clusters and serves them over the EKS
//! API's pod identity operations, so the AWS CLI, the SDKs and infrastructure tools manage them
//! exactly as on EKS.

pub mod api;
pub mod config;
pub mod fetch;
pub mod keys;
pub mod metrics;
pub mod server;
pub mod session_cache;
pub mod sessions;
pub mod store;
pub mod tls;
pub mod tokens;
pub mod webhook;

pub use server::{RunningServer, start};
