//! IAM policy documents: parsed with errors that say what is wrong and where, and evaluated the
//! way AWS evaluates them. No I/O: the sandbox's IAM, STS and S3 and the control plane's trust
//! check feed it requests and policies.
//!
//! The evaluation follows AWS's documented logic: an explicit Deny in any applicable policy
//! wins; otherwise an Allow is needed from an identity policy or the resource policy; and when
//! session policies are present, they must allow the request too.

mod condition;
mod context;
mod evaluate;
mod matching;
mod policy;

pub use condition::{Condition, Operator, SetQualifier, Test};
pub use context::{Context, Principal};
pub use evaluate::{Decision, Policies, Request, evaluate};
pub use policy::{Effect, Matcher, Policy, PolicyError, Principals, Statement, Version, parse};

#[cfg(test)]
mod tests;
