//! Bucket operations: list, create, delete, head, location.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::service::FileStore;
use crate::shapes::*;

pub async fn list_buckets(
    files: &FileStore,
    _req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let buckets = files
        .store
        .read()
        .iter()
        .map(|(name, bucket)| Bucket {
            creation_date: Some(timestamp(bucket.created_ms)),
            name: Some(name.clone()),
            bucket_region: Some(files.region.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(files.owner.clone()),
        ..ListBucketsOutput::default()
    }))
}

pub async fn create_bucket(
    files: &FileStore,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let bucket = req.input.bucket;
    let location = format!("/{bucket}");
    let now = now_ms();
    files
        .blocking(move |store| store.create_bucket(&bucket, now).map_err(store_error))
        .await?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(location),
    }))
}

pub async fn delete_bucket(
    files: &FileStore,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let bucket = req.input.bucket;
    files
        .blocking(move |store| store.delete_bucket(&bucket).map_err(store_error))
        .await?;
    Ok(S3Response::new(DeleteBucketOutput::default()))
}

pub async fn head_bucket(
    files: &FileStore,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    files
        .store
        .require_bucket(&req.input.bucket)
        .map_err(store_error)?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(files.region.clone()),
        ..HeadBucketOutput::default()
    }))
}

pub async fn get_bucket_location(
    files: &FileStore,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    files
        .store
        .require_bucket(&req.input.bucket)
        .map_err(store_error)?;
    // us-east-1 is reported as no constraint at all, as S3 reports it.
    let location_constraint =
        (files.region != "us-east-1").then(|| BucketLocationConstraint::from(files.region.clone()));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}
