//! Test support: an in-process EKS Auth responder, a raw HTTP client and token minting.

pub mod eks_auth;
pub mod raw_http;
pub mod tokens;
