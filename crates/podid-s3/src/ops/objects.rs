//! Object operations: put, get (whole, ranged, conditional), head, delete, copy.

use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::body::{drain, internal, receive};
use crate::object_file::{self, ObjectMeta};
use crate::reads::*;
use crate::service::{FileStore, MAX_OBJECT_SIZE, READ_WHOLE_LIMIT};
use crate::shapes::*;

/// GetObject's or HeadObject's answer: the object's headers, which both carry under the same
/// field names, and the fields given.
macro_rules! object_output {
    ($output:ident { $($field:ident: $value:expr),* }, $meta:expr, $span:expr) => {{
        let meta: &ObjectMeta = $meta;
        let span: Option<std::ops::Range<u64>> = $span;
        let length = span.as_ref().map_or(meta.size, |span| span.end - span.start);
        let headers = &meta.headers;
        $output {
            $($field: $value,)*
            accept_ranges: Some("bytes".to_owned()),
            cache_control: headers.cache_control.clone(),
            content_disposition: headers.content_disposition.clone(),
            content_encoding: headers.content_encoding.clone(),
            content_language: headers.content_language.clone(),
            content_length: Some(i64::try_from(length).unwrap_or(i64::MAX)),
            content_range: span
                .map(|span| format!("bytes {}-{}/{}", span.start, span.end - 1, meta.size)),
            content_type: headers.content_type.clone(),
            e_tag: Some(etag(meta)),
            last_modified: Some(timestamp(meta.modified_ms)),
            metadata: metadata_out(meta),
            ..$output::default()
        }
    }};
}

pub async fn put_object(
    files: &FileStore,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let input = req.input;
    if let Err(missing) = files.store.require_bucket(&input.bucket) {
        drain(input.body).await;
        return Err(store_error(missing));
    }
    if input
        .content_length
        .is_some_and(|length| u64::try_from(length).unwrap_or(0) > MAX_OBJECT_SIZE)
    {
        return Err(s3_error!(
            EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size"
        ));
    }
    let received = receive(
        &files.store,
        input.body,
        MAX_OBJECT_SIZE,
        input.content_md5.as_deref(),
    )
    .await?;
    let meta = ObjectMeta {
        key: input.key,
        size: received.size,
        etag: received.etag(),
        modified_ms: now_ms(),
        headers: headers_of(
            input.content_type,
            input.content_encoding,
            input.content_disposition,
            input.content_language,
            input.cache_control,
        ),
        metadata: metadata_of(input.metadata),
    };
    let tag = etag(&meta);
    let size = received.size;
    files.commit(input.bucket, received, meta).await?;
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(tag),
        size: Some(i64::try_from(size).unwrap_or(i64::MAX)),
        ..PutObjectOutput::default()
    }))
}

pub async fn get_object(
    files: &FileStore,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    let found = files
        .store
        .find(&input.bucket, &input.key)
        .map_err(store_error)?;
    let bucket = input.bucket.clone();
    let range = input.range;
    // Small reads are done here, off the runtime; larger ones are streamed from the file.
    let (opened, span, bytes) = files
        .blocking(move |store| {
            let opened = open(store, &bucket, &found)?;
            let span = range_of(range.as_ref(), opened.meta.size)?;
            let whole = span.clone().unwrap_or(0..opened.meta.size);
            let mut bytes = None;
            if whole.end - whole.start <= READ_WHOLE_LIMIT {
                let mut buffer = vec![0u8; (whole.end - whole.start) as usize];
                opened
                    .file
                    .read_exact_at(&mut buffer, whole.start)
                    .map_err(internal)?;
                bytes = Some(Bytes::from(buffer));
            }
            Ok((opened, span, bytes))
        })
        .await?;
    let meta = Arc::clone(&opened.meta);
    conditions_of!(input).check(&meta)?;
    let body = match bytes {
        Some(bytes) => StreamingBlob::wrap(futures_util::stream::once(async move {
            Ok::<_, std::io::Error>(bytes)
        })),
        None => {
            let whole = span.clone().unwrap_or(0..meta.size);
            let mut file = opened.file;
            file.seek(SeekFrom::Start(whole.start)).map_err(internal)?;
            let file = tokio::fs::File::from_std(file);
            let file = tokio::io::AsyncReadExt::take(file, whole.end - whole.start);
            StreamingBlob::wrap(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024))
        }
    };
    Ok(S3Response::new(object_output!(
        GetObjectOutput { body: Some(body) },
        &meta,
        span
    )))
}

pub async fn head_object(
    files: &FileStore,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = req.input;
    let found = files
        .store
        .find(&input.bucket, &input.key)
        .map_err(store_error)?;
    let meta = &found.meta;
    conditions_of!(input).check(meta)?;
    let span = range_of(input.range.as_ref(), meta.size)?;
    Ok(S3Response::new(object_output!(
        HeadObjectOutput {},
        meta,
        span
    )))
}

pub async fn delete_object(
    files: &FileStore,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let DeleteObjectInput { bucket, key, .. } = req.input;
    files
        .blocking(move |store| store.delete_object(&bucket, &key).map_err(store_error))
        .await?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub async fn delete_objects(
    files: &FileStore,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    if input.delete.objects.len() > 1000 {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our \
             published schema"
        ));
    }
    files
        .store
        .require_bucket(&input.bucket)
        .map_err(store_error)?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let bucket = input.bucket;
    let keys: Vec<String> = input.delete.objects.into_iter().map(|o| o.key).collect();
    let (deleted, errors) = files
        .blocking(move |store| {
            let mut deleted = Vec::new();
            let mut errors = Vec::new();
            for key in keys {
                match store.delete_object(&bucket, &key) {
                    Ok(()) if quiet => {}
                    Ok(()) => deleted.push(DeletedObject {
                        key: Some(key),
                        ..DeletedObject::default()
                    }),
                    Err(error) => {
                        let error = store_error(error);
                        errors.push(Error {
                            code: Some(error.code().as_str().to_owned()),
                            key: Some(key),
                            message: error.message().map(str::to_owned),
                            version_id: None,
                        });
                    }
                }
            }
            Ok((deleted, errors))
        })
        .await?;
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..DeleteObjectsOutput::default()
    }))
}

pub async fn copy_object(
    files: &FileStore,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let input = req.input;
    let CopySource::Bucket {
        bucket: source_bucket,
        key: source_key,
        ..
    } = &input.copy_source
    else {
        return Err(s3_error!(
            NotImplemented,
            "Copies from access points are not implemented"
        ));
    };
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    if !replace && **source_bucket == *input.bucket && **source_key == *input.key {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself \
             without changing the object's metadata, storage class, website redirect \
             location or encryption attributes."
        ));
    }
    files
        .store
        .require_bucket(&input.bucket)
        .map_err(store_error)?;
    let found = files
        .store
        .find(source_bucket, source_key)
        .map_err(store_error)?;
    let source_bucket = source_bucket.to_string();
    let replaced = replace.then(|| {
        (
            headers_of(
                input.content_type,
                input.content_encoding,
                input.content_disposition,
                input.content_language,
                input.cache_control,
            ),
            metadata_of(input.metadata),
        )
    });
    let (bucket, key) = (input.bucket, input.key);
    let now = now_ms();
    let meta = files
        .blocking(move |store| {
            let opened = open(store, &source_bucket, &found)?;
            let temporary = store.temporary_path();
            let copied = copy_file(opened, &temporary, key, replaced, now);
            let (mut file, meta) = match copied {
                Ok(copied) => copied,
                Err(error) => {
                    let _ = std::fs::remove_file(&temporary);
                    return Err(internal(error));
                }
            };
            if let Err(error) = object_file::finish(&mut file, &meta) {
                let _ = std::fs::remove_file(&temporary);
                return Err(internal(error));
            }
            store
                .commit(&bucket, &temporary, meta.clone())
                .map_err(store_error)?;
            Ok(meta)
        })
        .await?;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag(&meta)),
            last_modified: Some(timestamp(meta.modified_ms)),
            ..CopyObjectResult::default()
        }),
        ..CopyObjectOutput::default()
    }))
}
