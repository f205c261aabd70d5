//! The podid node agent.
//!
//! Pods ask the agent for credentials over the container credentials protocol; the agent checks
//! the request, serves the pod's credentials from its cache, or exchanges the pod's
//! service-account token upstream (EKS Auth, or a podid server playing its part).

pub mod agent;
pub mod cache;
pub mod clock;
pub mod handler;
pub mod init;
pub mod limiter;
pub mod metrics;
pub mod probes;
pub mod singleflight;
pub mod upstream;

pub use agent::{AgentConfig, RunningAgent, StartError, start};
