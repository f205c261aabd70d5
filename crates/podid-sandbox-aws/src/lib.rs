//! The sandbox's AWS: IAM, STS and S3 behind one endpoint that checks every request's
//! Signature Version 4 and authorizes it with the policy engine, and an instance metadata
//! service that gives a node's processes the node role's credentials.
//!
//! State lives under one data directory: the account's IAM entities in one JSON document, S3's
//! buckets and objects as files, and the key that seals session tokens. Sessions themselves are
//! not stored: their tokens carry them (see [`sessions`]).

pub mod authorize;
pub mod bootstrap;
pub mod caller;
pub mod endpoint;
pub mod error;
pub mod iam;
pub mod ids;
pub mod imds;
pub mod managed;
pub mod model;
pub mod query;
pub mod s3_access;
pub mod sessions;
pub mod store;
pub mod sts;
pub mod xml;
