//! ListObjectsV2 and ListObjects: a page of the bucket's index in S3's shapes.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::listing::Query;
use crate::listing_output::*;
use crate::service::FileStore;
use crate::shapes::*;

pub async fn list_objects_v2(
    files: &FileStore,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let max_keys = max_keys(input.max_keys)?;
    let resumed = input
        .continuation_token
        .as_deref()
        .map(resume_after)
        .transpose()?;
    let after = resumed.as_deref().or(input.start_after.as_deref());
    let prefix = input.prefix.as_deref().unwrap_or_default();
    let page = files
        .store
        .list(
            &input.bucket,
            Query {
                prefix,
                delimiter: input.delimiter.as_deref(),
                after,
                max_keys,
            },
        )
        .map_err(store_error)?;
    let names = Names::of(input.encoding_type.as_ref());
    let key_count = page.objects.len() + page.common_prefixes.len();
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket.clone()),
        prefix: Some(names.show(prefix)),
        max_keys: Some(i32::try_from(max_keys).unwrap_or(1000)),
        key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
        continuation_token: input.continuation_token.clone(),
        is_truncated: Some(page.truncated),
        next_continuation_token: page
            .last
            .as_deref()
            .filter(|_| page.truncated)
            .map(continuation_token),
        contents: objects_out(&page, &names),
        common_prefixes: prefixes_out(&page, &names),
        delimiter: input.delimiter.as_deref().map(|d| names.show(d)),
        encoding_type: input.encoding_type.clone(),
        start_after: input.start_after.as_deref().map(|s| names.show(s)),
        ..ListObjectsV2Output::default()
    }))
}

pub async fn list_objects(
    files: &FileStore,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let max_keys = max_keys(input.max_keys)?;
    let prefix = input.prefix.as_deref().unwrap_or_default();
    let page = files
        .store
        .list(
            &input.bucket,
            Query {
                prefix,
                delimiter: input.delimiter.as_deref(),
                after: input.marker.as_deref(),
                max_keys,
            },
        )
        .map_err(store_error)?;
    let names = Names::of(input.encoding_type.as_ref());
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket.clone()),
        prefix: Some(names.show(prefix)),
        marker: Some(
            input
                .marker
                .as_deref()
                .map(|m| names.show(m))
                .unwrap_or_default(),
        ),
        max_keys: Some(i32::try_from(max_keys).unwrap_or(1000)),
        is_truncated: Some(page.truncated),
        next_marker: page
            .last
            .as_deref()
            .filter(|_| page.truncated)
            .map(|last| names.show(last)),
        contents: objects_out(&page, &names),
        common_prefixes: prefixes_out(&page, &names),
        delimiter: input.delimiter.as_deref().map(|d| names.show(d)),
        encoding_type: input.encoding_type.clone(),
        ..ListObjectsOutput::default()
    }))
}
