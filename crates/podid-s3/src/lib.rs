//! An S3 object store on the local file system, served through s3s: buckets, objects (with
//! ranges, conditional reads, copies and multipart uploads) and listings, kept durably under
//! one directory. Authentication and authorization are not its business: the service that
//! mounts it checks every request before an operation here runs.

mod body;
mod listing;
mod listing_output;
mod multipart;
mod object_file;
mod ops;
mod reads;
mod service;
mod shapes;
mod store;

pub use service::FileStore;
