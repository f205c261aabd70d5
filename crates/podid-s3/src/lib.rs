//! An S3 object store on the local file system.
