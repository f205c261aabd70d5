//! Pure building blocks of podid: wire shapes, service-account token claims, credentials and the
//! small parsers they need. Nothing in this crate performs I/O, so every decision here can be
//! tested without a socket or a clock.

pub mod arn;
pub mod associations;
pub mod container;
pub mod duration;
pub mod eks_auth;
pub mod error_chain;
pub mod percent;
pub mod pod_mutation;
pub mod query_xml;
pub mod secret;
pub mod time;
pub mod token;
pub mod uuid;

pub use secret::Secret;
