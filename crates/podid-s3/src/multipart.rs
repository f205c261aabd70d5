//! Multipart uploads: what the AWS CLI uses for files of 8 MiB and more. Parts are kept under
//! `uploads/<upload id>/` until the upload is completed, when they are joined into one object
//! file, or aborted.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::object_file::{self, Headers, ObjectMeta};
use crate::store::{Store, sync_dir};

/// S3's smallest part but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_PART_NUMBER: i32 = 10_000;

/// What an upload will make of its parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    #[serde(default)]
    pub headers: Headers,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may \
         have been aborted or completed."
    )]
    NoSuchUpload,
    #[error(
        "One or more of the specified parts could not be found. The part may not have been \
         uploaded, or the specified entity tag may not match the part's entity tag."
    )]
    InvalidPart,
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn upload_dir(store: &Store, upload_id: &str) -> Result<PathBuf, UploadError> {
    // Upload ids are ours: 32 hex digits. Anything else names no upload, and never a path.
    let is_ours = upload_id.len() == 32 && upload_id.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_ours {
        return Err(UploadError::NoSuchUpload);
    }
    Ok(store.root().join("uploads").join(upload_id))
}

fn part_path(dir: &Path, part_number: i32) -> PathBuf {
    dir.join(format!("part-{part_number:05}"))
}

pub fn create(store: &Store, upload: &Upload) -> Result<String, UploadError> {
    let upload_id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let dir = upload_dir(store, &upload_id)?;
    fs::create_dir_all(&dir)?;
    let json = serde_json::to_vec(upload).map_err(io::Error::other)?;
    fs::write(dir.join("upload.json"), json)?;
    Ok(upload_id)
}

/// The upload `upload_id`, which must be one for `bucket` and `key`.
pub fn find(
    store: &Store,
    upload_id: &str,
    bucket: &str,
    key: &str,
) -> Result<Upload, UploadError> {
    let dir = upload_dir(store, upload_id)?;
    let bytes = match fs::read(dir.join("upload.json")) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(UploadError::NoSuchUpload);
        }
        Err(error) => return Err(error.into()),
    };
    let upload: Upload = serde_json::from_slice(&bytes).map_err(io::Error::other)?;
    if upload.bucket != bucket || upload.key != key {
        return Err(UploadError::NoSuchUpload);
    }
    Ok(upload)
}

/// Moves a received part into its upload, replacing an earlier part of that number.
pub fn store_part(
    store: &Store,
    upload_id: &str,
    part_number: i32,
    received: &Path,
) -> Result<(), UploadError> {
    let dir = upload_dir(store, upload_id)?;
    File::open(received)?.sync_all()?;
    fs::rename(received, part_path(&dir, part_number))?;
    sync_dir(&dir)?;
    Ok(())
}

/// Joins the named parts, in order, into a temporary object file, checking each part's ETag;
/// returns the file's path and its metadata, for `Store::commit`.
pub fn assemble(
    store: &Store,
    upload_id: &str,
    upload: &Upload,
    parts: &[(i32, String)],
    now_ms: i64,
) -> Result<(PathBuf, ObjectMeta), UploadError> {
    let dir = upload_dir(store, upload_id)?;
    if parts.is_empty() {
        return Err(UploadError::InvalidPart);
    }
    if parts.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
        return Err(UploadError::InvalidPartOrder);
    }
    let temporary = store.temporary_path();
    let joined = join_parts(&dir, parts, &temporary);
    let (mut file, size, digests) = match joined {
        Ok(joined) => joined,
        Err(error) => {
            let _ = fs::remove_file(&temporary);
            return Err(error);
        }
    };
    let mut of_parts = Md5::new();
    for digest in &digests {
        of_parts.update(digest);
    }
    let meta = ObjectMeta {
        key: upload.key.clone(),
        size,
        etag: format!("{}-{}", hex::encode(of_parts.finalize()), parts.len()),
        modified_ms: now_ms,
        headers: upload.headers.clone(),
        metadata: upload.metadata.clone(),
    };
    object_file::finish(&mut file, &meta)?;
    Ok((temporary, meta))
}

type Joined = (File, u64, Vec<[u8; 16]>);

fn join_parts(dir: &Path, parts: &[(i32, String)], into: &Path) -> Result<Joined, UploadError> {
    let mut out = File::create(into)?;
    let mut size = 0;
    let mut digests = Vec::with_capacity(parts.len());
    let mut buffer = vec![0u8; 256 * 1024];
    for (index, (number, etag)) in parts.iter().enumerate() {
        let mut part = match File::open(part_path(dir, *number)) {
            Ok(part) => part,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(UploadError::InvalidPart);
            }
            Err(error) => return Err(error.into()),
        };
        let mut md5 = Md5::new();
        let mut part_size = 0u64;
        loop {
            let read = part.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            md5.update(&buffer[..read]);
            out.write_all(&buffer[..read])?;
            part_size += read as u64;
        }
        let digest: [u8; 16] = md5.finalize().into();
        if hex::encode(digest) != etag.trim_matches('"') {
            return Err(UploadError::InvalidPart);
        }
        if index + 1 < parts.len() && part_size < MIN_PART_SIZE {
            return Err(UploadError::EntityTooSmall);
        }
        size += part_size;
        digests.push(digest);
    }
    Ok((out, size, digests))
}

/// Removes an upload and its parts.
pub fn remove(store: &Store, upload_id: &str) -> Result<(), UploadError> {
    let dir = upload_dir(store, upload_id)?;
    match fs::remove_dir_all(&dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(UploadError::NoSuchUpload),
        other => Ok(other?),
    }
}
