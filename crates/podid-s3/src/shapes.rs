//! Between the store's types and S3's: timestamps, ETags, metadata, headers and error codes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, s3_error};

use crate::body::internal;
use crate::multipart::UploadError;
use crate::object_file::{Headers, ObjectMeta};
use crate::store::StoreError;

pub fn store_error(error: StoreError) -> S3Error {
    let message = error.to_string();
    match error {
        StoreError::NoSuchBucket => S3Error::with_message(S3ErrorCode::NoSuchBucket, message),
        StoreError::BucketAlreadyOwned => {
            S3Error::with_message(S3ErrorCode::BucketAlreadyOwnedByYou, message)
        }
        StoreError::BucketNotEmpty => S3Error::with_message(S3ErrorCode::BucketNotEmpty, message),
        StoreError::NoSuchKey => S3Error::with_message(S3ErrorCode::NoSuchKey, message),
        StoreError::InvalidBucketName => {
            S3Error::with_message(S3ErrorCode::InvalidBucketName, message)
        }
        StoreError::Io(error) => internal(error),
    }
}

pub fn upload_error(error: UploadError) -> S3Error {
    let message = error.to_string();
    let code = match error {
        UploadError::NoSuchUpload => S3ErrorCode::NoSuchUpload,
        UploadError::InvalidPart => S3ErrorCode::InvalidPart,
        UploadError::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
        UploadError::EntityTooSmall => S3ErrorCode::EntityTooSmall,
        UploadError::Io(error) => return internal(error),
    };
    S3Error::with_message(code, message)
}

pub fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

pub fn timestamp(ms: i64) -> Timestamp {
    let ms = u64::try_from(ms).unwrap_or_default();
    Timestamp::from(SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
}

pub fn seconds_of(at: &Timestamp) -> i64 {
    time::OffsetDateTime::from(at.clone()).unix_timestamp()
}

pub fn etag(meta: &ObjectMeta) -> ETag {
    ETag::Strong(meta.etag.clone())
}

pub fn metadata_of(metadata: Option<Metadata>) -> BTreeMap<String, String> {
    metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect()
}

pub fn metadata_out(meta: &ObjectMeta) -> Option<Metadata> {
    (!meta.metadata.is_empty()).then(|| meta.metadata.clone().into_iter().collect())
}

pub fn precondition_failed() -> S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}

pub fn invalid_range(size: u64) -> S3Error {
    s3_error!(
        InvalidRange,
        "The requested range is not satisfiable (the object is {size} bytes)"
    )
}

pub fn headers_of(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
) -> Headers {
    Headers {
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
    }
}
