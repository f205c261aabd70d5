//! Buckets and objects under one directory, with an in-memory index of what is there.
//!
//! ```text
//! buckets/<bucket>/bucket.json         when the bucket was made
//! buckets/<bucket>/objects/<sha256>    one file per object (see `object_file`), named by the
//!                                      SHA-256 of its key: keys hold any character, `/` and
//!                                      `..` among them, and must never become paths
//! uploads/<upload id>/...              multipart uploads in progress
//! tmp/                                 files being written, renamed into place when complete
//! ```
//!
//! The index is rebuilt from the files at start, so it never disagrees with them for long: a
//! change is made on disk first, under the index's lock, then in the index. Every change is
//! synced to disk before it is acknowledged.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::listing::{self, Page, Query};
use crate::object_file::{self, ObjectMeta};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwned,
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("The specified key does not exist.")]
    NoSuchKey,
    #[error("The specified bucket is not valid.")]
    InvalidBucketName,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A bucket as the index knows it.
#[derive(Debug, Default)]
pub struct Bucket {
    pub created_ms: i64,
    pub objects: BTreeMap<String, Stored>,
}

/// An object as the index knows it: its metadata, and the inode of the file that holds it, so
/// a reader that opened the file can tell whether it is still the object it looked up.
#[derive(Debug, Clone)]
pub struct Stored {
    pub meta: Arc<ObjectMeta>,
    pub inode: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct BucketFile {
    created_ms: i64,
}

/// The object store. Its methods do blocking file I/O: call them off the async runtime.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    index: RwLock<BTreeMap<String, Bucket>>,
}

impl Store {
    /// Opens the store under `root`, making it if needed, and indexes what it holds. Files
    /// left half-written by a crash are removed.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        for dir in ["buckets", "uploads", "tmp"] {
            fs::create_dir_all(root.join(dir))?;
        }
        for leftover in fs::read_dir(root.join("tmp"))? {
            let _ = fs::remove_file(leftover?.path());
        }
        let mut index = BTreeMap::new();
        for entry in fs::read_dir(root.join("buckets"))? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let dir = entry.path();
            let Ok(bytes) = fs::read(dir.join("bucket.json")) else {
                // A bucket whose creation or deletion was cut short: it was never
                // acknowledged, or its deletion was.
                fs::remove_dir_all(&dir)?;
                continue;
            };
            let file: BucketFile = serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", dir.display()),
                )
            })?;
            let objects = index_objects(&dir.join("objects"))?;
            index.insert(
                name,
                Bucket {
                    created_ms: file.created_ms,
                    objects,
                },
            );
        }
        Ok(Self {
            root,
            index: RwLock::new(index),
        })
    }

    pub fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Bucket>> {
        self.index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Bucket>> {
        self.index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh path under `tmp/` for a file being written.
    pub fn temporary_path(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{:016x}", fastrand::u64(..)))
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join("buckets").join(bucket)
    }

    /// Where the object `key` of `bucket` lives.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        let name = hex::encode(Sha256::digest(key.as_bytes()));
        self.bucket_dir(bucket).join("objects").join(name)
    }

    pub fn create_bucket(&self, bucket: &str, now_ms: i64) -> Result<(), StoreError> {
        if !is_valid_bucket_name(bucket) {
            return Err(StoreError::InvalidBucketName);
        }
        let mut index = self.write();
        if index.contains_key(bucket) {
            return Err(StoreError::BucketAlreadyOwned);
        }
        let dir = self.bucket_dir(bucket);
        fs::create_dir_all(dir.join("objects"))?;
        let json =
            serde_json::to_vec(&BucketFile { created_ms: now_ms }).map_err(io::Error::other)?;
        let temporary = self.temporary_path();
        fs::write(&temporary, json)?;
        File::open(&temporary)?.sync_all()?;
        fs::rename(&temporary, dir.join("bucket.json"))?;
        sync_dir(&dir)?;
        sync_dir(&self.root.join("buckets"))?;
        index.insert(
            bucket.to_owned(),
            Bucket {
                created_ms: now_ms,
                objects: BTreeMap::new(),
            },
        );
        Ok(())
    }

    pub fn delete_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        let mut index = self.write();
        let found = index.get(bucket).ok_or(StoreError::NoSuchBucket)?;
        if !found.objects.is_empty() {
            return Err(StoreError::BucketNotEmpty);
        }
        let dir = self.bucket_dir(bucket);
        // Without its bucket.json the directory is no bucket, whatever happens next.
        fs::remove_file(dir.join("bucket.json"))?;
        sync_dir(&dir)?;
        fs::remove_dir_all(&dir)?;
        index.remove(bucket);
        Ok(())
    }

    /// Looks an object up in the index.
    pub fn find(&self, bucket: &str, key: &str) -> Result<Stored, StoreError> {
        let index = self.read();
        let found = index.get(bucket).ok_or(StoreError::NoSuchBucket)?;
        found.objects.get(key).cloned().ok_or(StoreError::NoSuchKey)
    }

    /// A page of a bucket's listing.
    pub fn list(&self, bucket: &str, query: Query<'_>) -> Result<Page, StoreError> {
        let index = self.read();
        let found = index.get(bucket).ok_or(StoreError::NoSuchBucket)?;
        Ok(listing::list(&found.objects, query))
    }

    pub fn require_bucket(&self, bucket: &str) -> Result<(), StoreError> {
        match self.read().contains_key(bucket) {
            true => Ok(()),
            false => Err(StoreError::NoSuchBucket),
        }
    }

    /// Puts a complete object file (data and trailer, synced) in place as `meta.key` of
    /// `bucket`, replacing any object of that key.
    pub fn commit(
        &self,
        bucket: &str,
        temporary: &Path,
        meta: ObjectMeta,
    ) -> Result<Stored, StoreError> {
        let inode = fs::metadata(temporary)?.ino();
        let path = self.object_path(bucket, &meta.key);
        let stored = Stored {
            meta: Arc::new(meta),
            inode,
        };
        {
            let mut index = self.write();
            let Some(found) = index.get_mut(bucket) else {
                let _ = fs::remove_file(temporary);
                return Err(StoreError::NoSuchBucket);
            };
            fs::rename(temporary, &path)?;
            found
                .objects
                .insert(stored.meta.key.clone(), stored.clone());
        }
        sync_dir(path.parent().unwrap_or(&self.root))?;
        Ok(stored)
    }

    /// Deletes an object; deleting one that is not there succeeds, as in S3.
    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        let path = self.object_path(bucket, key);
        {
            let mut index = self.write();
            let found = index.get_mut(bucket).ok_or(StoreError::NoSuchBucket)?;
            if found.objects.remove(key).is_none() {
                return Ok(());
            }
            match fs::remove_file(&path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error.into()),
                _ => {}
            }
        }
        sync_dir(path.parent().unwrap_or(&self.root))?;
        Ok(())
    }
}

/// Reads every object file's metadata; a file that is not an object of its name is reported
/// and left alone.
fn index_objects(dir: &Path) -> io::Result<BTreeMap<String, Stored>> {
    let mut objects = BTreeMap::new();
    fs::create_dir_all(dir)?;
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let meta = match object_file::read_meta_at(&path) {
            Ok(meta) => meta,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "skipping a damaged object file");
                continue;
            }
        };
        let expected = hex::encode(Sha256::digest(meta.key.as_bytes()));
        if path.file_name().and_then(|name| name.to_str()) != Some(expected.as_str()) {
            tracing::warn!(path = %path.display(), "skipping an object file under another name");
            continue;
        }
        let inode = fs::metadata(&path)?.ino();
        objects.insert(
            meta.key.clone(),
            Stored {
                meta: Arc::new(meta),
                inode,
            },
        );
    }
    Ok(objects)
}

/// S3's rules for new bucket names: 3 to 63 characters of lower-case letters, digits, dots and
/// hyphens, starting and ending with a letter or digit, no two dots in a row, not an IP address.
pub fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes.first().is_some_and(edge_ok)
        && bytes.last().is_some_and(edge_ok)
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// Makes a rename or removal in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::object_file::Headers;

    fn put(store: &Store, bucket: &str, key: &str, data: &[u8]) -> Result<Stored, StoreError> {
        let temporary = store.temporary_path();
        let mut file = File::create(&temporary)?;
        file.write_all(data)?;
        let meta = ObjectMeta {
            key: key.to_owned(),
            size: data.len() as u64,
            etag: "e".into(),
            modified_ms: 1,
            headers: Headers::default(),
            metadata: BTreeMap::new(),
        };
        object_file::finish(&mut file, &meta)?;
        store.commit(bucket, &temporary, meta)
    }

    #[test]
    fn objects_and_buckets_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_bucket("photos", 5).unwrap();
        put(&store, "photos", "../../etc/passwd", b"not a path").unwrap();
        put(&store, "photos", "a/b", b"one").unwrap();
        put(&store, "photos", "a/b", b"two!").unwrap();
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        let index = store.read();
        let photos = &index["photos"];
        assert_eq!(photos.created_ms, 5);
        let keys: Vec<_> = photos.objects.keys().map(String::as_str).collect();
        assert_eq!(keys, ["../../etc/passwd", "a/b"]);
        assert_eq!(photos.objects["a/b"].meta.size, 4);
    }

    #[test]
    fn buckets_follow_s3_rules() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for bad in ["ab", "Photos", "a..b", "-ab", "192.168.1.1", "a/b", ".."] {
            assert!(matches!(
                store.create_bucket(bad, 1),
                Err(StoreError::InvalidBucketName)
            ));
        }
        store.create_bucket("data", 1).unwrap();
        assert!(matches!(
            store.create_bucket("data", 2),
            Err(StoreError::BucketAlreadyOwned)
        ));
        put(&store, "data", "k", b"v").unwrap();
        assert!(matches!(
            store.delete_bucket("data"),
            Err(StoreError::BucketNotEmpty)
        ));
        store.delete_object("data", "k").unwrap();
        store.delete_object("data", "k").unwrap();
        store.delete_bucket("data").unwrap();
        assert!(matches!(
            store.delete_bucket("data"),
            Err(StoreError::NoSuchBucket)
        ));
        assert!(matches!(
            put(&store, "data", "k", b"v"),
            Err(StoreError::NoSuchBucket)
        ));
    }

    #[test]
    fn a_cut_short_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.create_bucket("data", 1).unwrap();
        fs::write(store.temporary_path(), b"half an object").unwrap();
        fs::create_dir_all(dir.path().join("buckets/half-made/objects")).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(!dir.path().join("buckets/half-made").exists());
        assert_eq!(store.read().keys().collect::<Vec<_>>(), ["data"]);
    }
}
