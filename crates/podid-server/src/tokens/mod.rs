//! Service-account tokens, verified: signature against the cluster's published keys, then the
//! issuer, audience, validity window and Kubernetes claims, each failure with its own reason.

mod issuer;
mod jwks;
mod verify;

pub use issuer::{Issuer, jwks_of};
pub use jwks::{JwkSet, parse_jwks};
pub use verify::{Expectations, VerifiedToken, VerifyError, verify};

#[cfg(test)]
mod tests;
