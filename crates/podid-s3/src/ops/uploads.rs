//! Multipart uploads: create, upload a part, complete, abort.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::body::{drain, receive};
use crate::multipart::{self, MAX_PART_NUMBER, Upload};
use crate::service::{FileStore, MAX_OBJECT_SIZE};
use crate::shapes::*;

pub async fn create_multipart_upload(
    files: &FileStore,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let input = req.input;
    files
        .store
        .require_bucket(&input.bucket)
        .map_err(store_error)?;
    let upload = Upload {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        headers: headers_of(
            input.content_type,
            input.content_encoding,
            input.content_disposition,
            input.content_language,
            input.cache_control,
        ),
        metadata: metadata_of(input.metadata),
    };
    let upload_id = files
        .blocking(move |store| multipart::create(store, &upload).map_err(upload_error))
        .await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(upload_id),
        ..CreateMultipartUploadOutput::default()
    }))
}

pub async fn upload_part(
    files: &FileStore,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let input = req.input;
    if !(1..=MAX_PART_NUMBER).contains(&input.part_number) {
        return Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ));
    }
    let (upload_id, bucket, key) = (input.upload_id.clone(), input.bucket, input.key);
    let found = files
        .blocking(move |store| {
            multipart::find(store, &upload_id, &bucket, &key).map_err(upload_error)
        })
        .await;
    if let Err(error) = found {
        drain(input.body).await;
        return Err(error);
    }
    let received = receive(
        &files.store,
        input.body,
        MAX_OBJECT_SIZE,
        input.content_md5.as_deref(),
    )
    .await?;
    let tag = ETag::Strong(received.etag());
    let (upload_id, part_number) = (input.upload_id, input.part_number);
    files
        .blocking(move |store| {
            let stored = multipart::store_part(store, &upload_id, part_number, &received.path);
            if stored.is_err() {
                received.discard();
            }
            stored.map_err(upload_error)
        })
        .await?;
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(tag),
        ..UploadPartOutput::default()
    }))
}

pub async fn complete_multipart_upload(
    files: &FileStore,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let input = req.input;
    let parts = input
        .multipart_upload
        .and_then(|upload| upload.parts)
        .unwrap_or_default()
        .into_iter()
        .map(|part| {
            let number = part.part_number.unwrap_or_default();
            let tag = part
                .e_tag
                .map(|tag| tag.value().to_owned())
                .unwrap_or_default();
            (number, tag)
        })
        .collect::<Vec<_>>();
    let (bucket, key, upload_id) = (input.bucket, input.key, input.upload_id);
    let location = format!("/{bucket}/{key}");
    let now = now_ms();
    let (bucket_out, key_out) = (bucket.clone(), key.clone());
    let meta = files
        .blocking(move |store| {
            let upload = multipart::find(store, &upload_id, &bucket, &key).map_err(upload_error)?;
            let (temporary, meta) = multipart::assemble(store, &upload_id, &upload, &parts, now)
                .map_err(upload_error)?;
            store
                .commit(&bucket, &temporary, meta.clone())
                .map_err(store_error)?;
            multipart::remove(store, &upload_id).map_err(upload_error)?;
            Ok(meta)
        })
        .await?;
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(bucket_out),
        key: Some(key_out),
        e_tag: Some(etag(&meta)),
        location: Some(location),
        ..CompleteMultipartUploadOutput::default()
    }))
}

pub async fn abort_multipart_upload(
    files: &FileStore,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    files
        .blocking(move |store| {
            multipart::find(store, &input.upload_id, &input.bucket, &input.key)
                .and_then(|_| multipart::remove(store, &input.upload_id))
                .map_err(upload_error)
        })
        .await?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}
