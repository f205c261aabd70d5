//! The S3 service: the store behind s3s's `S3` trait, each operation handed to its module.

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result};

use crate::body::{Received, internal};
use crate::object_file::{self, ObjectMeta};
use crate::ops::{buckets, listings, objects, uploads};
use crate::shapes::store_error;
use crate::store::Store;

/// S3's largest single PUT.
pub(crate) const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Objects up to this size are read in one go; larger ones are streamed.
pub(crate) const READ_WHOLE_LIMIT: u64 = 256 * 1024;

/// An S3 object store on the local file system.
#[derive(Debug, Clone)]
pub struct FileStore {
    pub(crate) store: Arc<Store>,
    pub(crate) region: String,
    pub(crate) owner: Owner,
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
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, S3Error> + Send + 'static,
    ) -> S3Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(internal)?
    }

    /// Finishes a received body as the object `meta` describes and puts it in place.
    pub(crate) async fn commit(
        &self,
        bucket: String,
        received: Received,
        meta: ObjectMeta,
    ) -> S3Result<()> {
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

#[async_trait::async_trait]
impl S3 for FileStore {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        buckets::list_buckets(self, req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        buckets::create_bucket(self, req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        buckets::delete_bucket(self, req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        buckets::head_bucket(self, req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        buckets::get_bucket_location(self, req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        objects::put_object(self, req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        objects::get_object(self, req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        objects::head_object(self, req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        objects::delete_object(self, req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        objects::delete_objects(self, req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        objects::copy_object(self, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        listings::list_objects_v2(self, req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        listings::list_objects(self, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        uploads::create_multipart_upload(self, req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        uploads::upload_part(self, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        uploads::complete_multipart_upload(self, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        uploads::abort_multipart_upload(self, req).await
    }
}
