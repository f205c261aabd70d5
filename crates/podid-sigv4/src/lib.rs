//! AWS Signature Version 4, verified the way AWS services verify it.
//!
//! Every AWS API call carries a SigV4 signature: an HMAC-SHA256, under a key derived from the
//! caller's secret access key, over a canonical form of the request. The sandbox's single AWS
//! endpoint uses this crate in two steps:
//!
//! 1. [`SignedRequest::parse`] reads the signature parameters from the `Authorization` header
//!    or a presigned URL's query, without any secret. The credential scope it yields
//!    (`AKID/20150830/us-east-1/iam/aws4_request`) tells which service the request is for and
//!    which access key signed it.
//! 2. [`SignedRequest::verify`] recomputes the signature with the [`SigningKey`] of that scope
//!    and checks it, and the request time, as AWS does, failing with AWS's codes and messages
//!    ([`SigV4Error`]).
//!
//! [`sign_request`] and [`presign`] produce signatures, for the sandbox's own clients.
//!
//! Nothing here performs I/O or reads a clock: the current time is always a parameter.
//!
//! Only `AWS4-HMAC-SHA256` is supported: SigV4a (`AWS4-ECDSA-P256-SHA256`, used by S3
//! multi-region access points) and S3's chunked `STREAMING-*` payload signatures are not
//! verified here; S3 requests are verified elsewhere and only parsed for routing.

mod canonical;
mod encoding;
mod error;
mod key;
mod parse;
mod request;
mod sign;
mod time;
mod verify;

pub use canonical::UNSIGNED_PAYLOAD;
pub use error::{ExpiresProblem, Missing, SigV4Error};
pub use key::SigningKey;
pub use parse::{ALGORITHM, AuthLocation, MAX_EXPIRES_SECONDS, SignedRequest};
pub use request::RequestParts;
pub use sign::{Credentials, SignError, SigningParams, presign, sign_request};
pub use time::{AmzDate, BasicFormat};
pub use verify::MAX_CLOCK_SKEW_SECONDS;
