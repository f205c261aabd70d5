//! The S3 operations, one module per kind of resource. Each takes the request s3s parsed, already
//! authenticated and authorized, and answers from the store with S3's shapes and error codes.

pub mod buckets;
pub mod listings;
pub mod objects;
pub mod uploads;
