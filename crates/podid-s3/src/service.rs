//! The S3 operations, as s3s hands them over: already authenticated and authorized, with their
//! input parsed. Each answers from the store with S3's shapes and error codes.

use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use crate::body::{Received, internal, receive};
use crate::listing::{self, MAX_KEYS, Query};
use crate::multipart::{self, MAX_PART_NUMBER, Upload, UploadError};
use crate::object_file::{self, Headers, ObjectMeta};
use crate::store::{Store, StoreError, Stored};

/// S3's largest single PUT.
const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Objects up to this size are read in one go; larger ones are streamed.
const READ_WHOLE_LIMIT: u64 = 256 * 1024;

/// An S3 object store on the local file system.
#[derive(Debug, Clone)]
pub struct FileStore {
    store: Arc<Store>,
    region: String,
    owner: Owner,
}

impl FileStore {
    /// Opens the store under `root`. `region` is what GetBucketLocation reports; `owner_id`
    /// the canonical id of the account that owns every bucket.
    pub fn open(
        root: impl Into<std::path::PathBuf>,
        region: &str,
        owner_id: &str,
    ) -> std::io::Result<Self> {
        Ok(Self {
            store: Arc::new(Store::open(root)?),
            region: region.to_owned(),
            owner: Owner {
                display_name: None,
                id: Some(owner_id.to_owned()),
            },
        })
    }

    /// Runs store work off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, S3Error> + Send + 'static,
    ) -> S3Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(internal)?
    }

    /// Finishes a received body as the object `meta` describes and puts it in place.
    async fn commit(&self, bucket: String, received: Received, meta: ObjectMeta) -> S3Result<()> {
        self.blocking(move |store| {
            let Received { path, mut file, .. } = received;
            if let Err(error) = object_file::finish(&mut file, &meta) {
                let _ = std::fs::remove_file(&path);
                return Err(internal(error));
            }
            store.commit(&bucket, &path, meta).map_err(store_error)?;
            Ok(())
        })
        .await
    }
}

fn store_error(error: StoreError) -> S3Error {
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

fn upload_error(error: UploadError) -> S3Error {
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

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

fn timestamp(ms: i64) -> Timestamp {
    let ms = u64::try_from(ms).unwrap_or_default();
    Timestamp::from(SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
}

fn seconds_of(at: &Timestamp) -> i64 {
    time::OffsetDateTime::from(at.clone()).unix_timestamp()
}

fn etag(meta: &ObjectMeta) -> ETag {
    ETag::Strong(meta.etag.clone())
}

fn metadata_of(metadata: Option<Metadata>) -> BTreeMap<String, String> {
    metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect()
}

fn metadata_out(meta: &ObjectMeta) -> Option<Metadata> {
    (!meta.metadata.is_empty()).then(|| meta.metadata.clone().into_iter().collect())
}

/// GetObject's and HeadObject's conditional headers, as S3 applies them.
struct Conditions<'a> {
    if_match: Option<&'a ETagCondition>,
    if_none_match: Option<&'a ETagCondition>,
    if_modified_since: Option<&'a Timestamp>,
    if_unmodified_since: Option<&'a Timestamp>,
}

impl Conditions<'_> {
    fn check(&self, meta: &ObjectMeta) -> S3Result<()> {
        let matches = |condition: &ETagCondition| match condition {
            ETagCondition::Any => true,
            ETagCondition::ETag(tag) => tag.value() == meta.etag,
        };
        let modified = meta.modified_ms.div_euclid(1000);
        if let Some(condition) = self.if_match {
            if !matches(condition) {
                return Err(precondition_failed());
            }
        } else if self
            .if_unmodified_since
            .is_some_and(|since| modified > seconds_of(since))
        {
            return Err(precondition_failed());
        }
        if let Some(condition) = self.if_none_match {
            if matches(condition) {
                return Err(s3_error!(NotModified));
            }
        } else if self
            .if_modified_since
            .is_some_and(|since| modified <= seconds_of(since))
        {
            return Err(s3_error!(NotModified));
        }
        Ok(())
    }
}

fn precondition_failed() -> S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}

fn invalid_range(size: u64) -> S3Error {
    s3_error!(
        InvalidRange,
        "The requested range is not satisfiable (the object is {size} bytes)"
    )
}

/// An object opened for reading, with the metadata of the file actually opened.
struct Opened {
    meta: Arc<ObjectMeta>,
    file: std::fs::File,
}

/// Opens the object the index found. The file may have been replaced or removed since: the
/// inode tells, and the file's own trailer then says what it holds.
fn open(store: &Store, bucket: &str, found: &Stored) -> S3Result<Opened> {
    let path = store.object_path(bucket, &found.meta.key);
    let mut file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(store_error(StoreError::NoSuchKey));
        }
        Err(error) => return Err(internal(error)),
    };
    let inode = file.metadata().map_err(internal)?.ino();
    let meta = if inode == found.inode {
        Arc::clone(&found.meta)
    } else {
        Arc::new(object_file::read_meta(&mut file).map_err(internal)?)
    };
    Ok(Opened { meta, file })
}

fn headers_of(
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

/// Keys and prefixes in a listing, percent-encoded when the client asked for `url` encoding.
struct Names {
    url: bool,
}

impl Names {
    fn of(encoding: Option<&EncodingType>) -> Self {
        Self {
            url: encoding.is_some_and(|e| e.as_str() == EncodingType::URL),
        }
    }

    fn show(&self, name: &str) -> String {
        match self.url {
            true => url_encode(name),
            false => name.to_owned(),
        }
    }
}

/// S3's `url` encoding of names in listings: RFC 3986's unreserved characters and `/` as they
/// are, every other byte percent-encoded.
fn url_encode(name: &str) -> String {
    let mut encoded = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn objects_out(page: &listing::Page, names: &Names) -> Option<ObjectList> {
    let objects = page
        .objects
        .iter()
        .map(|stored| Object {
            e_tag: Some(etag(&stored.meta)),
            key: Some(names.show(&stored.meta.key)),
            last_modified: Some(timestamp(stored.meta.modified_ms)),
            size: Some(i64::try_from(stored.meta.size).unwrap_or(i64::MAX)),
            storage_class: Some(ObjectStorageClass::from_static(
                ObjectStorageClass::STANDARD,
            )),
            ..Object::default()
        })
        .collect::<Vec<_>>();
    (!objects.is_empty()).then_some(objects)
}

fn prefixes_out(page: &listing::Page, names: &Names) -> Option<CommonPrefixList> {
    let prefixes = page
        .common_prefixes
        .iter()
        .map(|prefix| CommonPrefix {
            prefix: Some(names.show(prefix)),
        })
        .collect::<Vec<_>>();
    (!prefixes.is_empty()).then_some(prefixes)
}

fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys cannot be negative")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS)),
    }
}

fn continuation_token(after: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(after)
}

fn resume_after(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

/// The byte range a read covers: all of it, or the requested part.
fn range_of(range: Option<&Range>, size: u64) -> S3Result<Option<std::ops::Range<u64>>> {
    range
        .map(|range| range.check(size).map_err(|_| invalid_range(size)))
        .transpose()
}

#[async_trait::async_trait]
impl S3 for FileStore {
    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self
            .store
            .read()
            .iter()
            .map(|(name, bucket)| Bucket {
                creation_date: Some(timestamp(bucket.created_ms)),
                name: Some(name.clone()),
                bucket_region: Some(self.region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(self.owner.clone()),
            ..ListBucketsOutput::default()
        }))
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket;
        let location = format!("/{bucket}");
        let now = now_ms();
        self.blocking(move |store| store.create_bucket(&bucket, now).map_err(store_error))
            .await?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(location),
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = req.input.bucket;
        self.blocking(move |store| store.delete_bucket(&bucket).map_err(store_error))
            .await?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.store
            .require_bucket(&req.input.bucket)
            .map_err(store_error)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.region.clone()),
            ..HeadBucketOutput::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.store
            .require_bucket(&req.input.bucket)
            .map_err(store_error)?;
        // us-east-1 is reported as no constraint at all, as S3 reports it.
        let location_constraint = (self.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(self.region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        self.store
            .require_bucket(&input.bucket)
            .map_err(store_error)?;
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
            &self.store,
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
        self.commit(input.bucket, received, meta).await?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(tag),
            size: Some(i64::try_from(size).unwrap_or(i64::MAX)),
            ..PutObjectOutput::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let found = self
            .store
            .find(&input.bucket, &input.key)
            .map_err(store_error)?;
        let bucket = input.bucket.clone();
        let range = input.range;
        let (opened, span, bytes) = self
            .blocking(move |store| {
                let opened = open(store, &bucket, &found)?;
                let size = opened.meta.size;
                let span = range_of(range.as_ref(), size)?.unwrap_or(0..size);
                let length = span.end - span.start;
                let mut bytes = None;
                if length <= READ_WHOLE_LIMIT {
                    let mut buffer = vec![0u8; length as usize];
                    opened
                        .file
                        .read_exact_at(&mut buffer, span.start)
                        .map_err(internal)?;
                    bytes = Some(Bytes::from(buffer));
                }
                Ok((opened, range.map(|_| span.clone()), (bytes, span)))
            })
            .await?;
        let meta = Arc::clone(&opened.meta);
        Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        }
        .check(&meta)?;
        let (bytes, whole) = bytes;
        let length = whole.end - whole.start;
        let body = match bytes {
            Some(bytes) => StreamingBlob::wrap(futures_util::stream::once(async move {
                Ok::<_, std::io::Error>(bytes)
            })),
            None => {
                let mut file = opened.file;
                file.seek(SeekFrom::Start(whole.start)).map_err(internal)?;
                let file = tokio::io::AsyncReadExt::take(tokio::fs::File::from_std(file), length);
                StreamingBlob::wrap(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024))
            }
        };
        let headers = &meta.headers;
        Ok(S3Response::new(GetObjectOutput {
            accept_ranges: Some("bytes".to_owned()),
            body: Some(body),
            cache_control: headers.cache_control.clone(),
            content_disposition: headers.content_disposition.clone(),
            content_encoding: headers.content_encoding.clone(),
            content_language: headers.content_language.clone(),
            content_length: Some(i64::try_from(length).unwrap_or(i64::MAX)),
            content_range: span
                .map(|span| format!("bytes {}-{}/{}", span.start, span.end - 1, meta.size)),
            content_type: headers.content_type.clone(),
            e_tag: Some(etag(&meta)),
            last_modified: Some(timestamp(meta.modified_ms)),
            metadata: metadata_out(&meta),
            ..GetObjectOutput::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let found = self
            .store
            .find(&input.bucket, &input.key)
            .map_err(store_error)?;
        let meta = &found.meta;
        Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        }
        .check(meta)?;
        let span = range_of(input.range.as_ref(), meta.size)?;
        let length = span
            .as_ref()
            .map_or(meta.size, |span| span.end - span.start);
        let headers = &meta.headers;
        Ok(S3Response::new(HeadObjectOutput {
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
            ..HeadObjectOutput::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let DeleteObjectInput { bucket, key, .. } = req.input;
        self.blocking(move |store| store.delete_object(&bucket, &key).map_err(store_error))
            .await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
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
        self.store
            .require_bucket(&input.bucket)
            .map_err(store_error)?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let bucket = input.bucket;
        let keys: Vec<String> = input.delete.objects.into_iter().map(|o| o.key).collect();
        let (deleted, errors) = self
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

    async fn copy_object(
        &self,
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
        self.store
            .require_bucket(&input.bucket)
            .map_err(store_error)?;
        let found = self
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
        let meta = self
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

    async fn list_objects_v2(
        &self,
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
        let page = {
            let index = self.store.read();
            let bucket = index
                .get(&input.bucket)
                .ok_or_else(|| store_error(StoreError::NoSuchBucket))?;
            listing::list(
                &bucket.objects,
                Query {
                    prefix,
                    delimiter: input.delimiter.as_deref(),
                    after,
                    max_keys,
                },
            )
        };
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

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let max_keys = max_keys(input.max_keys)?;
        let prefix = input.prefix.as_deref().unwrap_or_default();
        let page = {
            let index = self.store.read();
            let bucket = index
                .get(&input.bucket)
                .ok_or_else(|| store_error(StoreError::NoSuchBucket))?;
            listing::list(
                &bucket.objects,
                Query {
                    prefix,
                    delimiter: input.delimiter.as_deref(),
                    after: input.marker.as_deref(),
                    max_keys,
                },
            )
        };
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

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        self.store
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
        let upload_id = self
            .blocking(move |store| multipart::create(store, &upload).map_err(upload_error))
            .await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            ..CreateMultipartUploadOutput::default()
        }))
    }

    async fn upload_part(
        &self,
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
        self.blocking(move |store| {
            multipart::find(store, &upload_id, &bucket, &key).map_err(upload_error)
        })
        .await?;
        let received = receive(
            &self.store,
            input.body,
            MAX_OBJECT_SIZE,
            input.content_md5.as_deref(),
        )
        .await?;
        let tag = ETag::Strong(received.etag());
        let (upload_id, part_number) = (input.upload_id, input.part_number);
        self.blocking(move |store| {
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

    async fn complete_multipart_upload(
        &self,
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
        let meta = self
            .blocking(move |store| {
                let upload =
                    multipart::find(store, &upload_id, &bucket, &key).map_err(upload_error)?;
                let (temporary, meta) =
                    multipart::assemble(store, &upload_id, &upload, &parts, now)
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

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.blocking(move |store| {
            multipart::find(store, &input.upload_id, &input.bucket, &input.key)
                .and_then(|_| multipart::remove(store, &input.upload_id))
                .map_err(upload_error)
        })
        .await?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }
}

type Copied = (std::fs::File, ObjectMeta);

/// Copies an opened object's bytes into a new file at `into`, with the source's headers and
/// metadata or the replacements given; the ETag stays the source's, as S3 keeps it.
fn copy_file(
    mut opened: Opened,
    into: &std::path::Path,
    key: String,
    replaced: Option<(Headers, BTreeMap<String, String>)>,
    now_ms: i64,
) -> std::io::Result<Copied> {
    let mut out = std::fs::File::create(into)?;
    opened.file.seek(SeekFrom::Start(0))?;
    let copied = std::io::copy(
        &mut std::io::Read::take(&mut opened.file, opened.meta.size),
        &mut out,
    )?;
    if copied != opened.meta.size {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the source object is shorter than its metadata says",
        ));
    }
    let (headers, metadata) =
        replaced.unwrap_or_else(|| (opened.meta.headers.clone(), opened.meta.metadata.clone()));
    let meta = ObjectMeta {
        key,
        size: opened.meta.size,
        etag: opened.meta.etag.clone(),
        modified_ms: now_ms,
        headers,
        metadata,
    };
    Ok((out, meta))
}
