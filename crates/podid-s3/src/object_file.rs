//! One object on disk: its bytes, then a trailer with what S3 reports about it.
//!
//! ```text
//! [data: size bytes][metadata: JSON][metadata length: u32 BE]["PODIDS3\x01"]
//! ```
//!
//! Data first, so a ranged read is a plain offset into the file; metadata last, because the
//! ETag and size are known only once the body has streamed in. The whole file is written under a
//! temporary name, synced, and renamed into place, so an object is either all there or not at
//! all, and a crash never leaves half of one.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"PODIDS3\x01";
/// The fixed part at the end of every object file: the metadata length and the magic.
const TAIL_LEN: u64 = 4 + MAGIC.len() as u64;
/// Metadata is small (headers and user metadata, which S3 limits to 2 KiB); anything larger is
/// a damaged file, not an object.
const MAX_METADATA_LEN: u32 = 64 * 1024;

/// What S3 reports about an object besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// The ETag without its quotes: the MD5 of the bytes in hex, or for an object assembled
    /// from a multipart upload the MD5 of its parts' MD5s followed by `-` and the part count.
    pub etag: String,
    /// Milliseconds since the Unix epoch.
    pub modified_ms: i64,
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub headers: Headers,
    /// `x-amz-meta-*` values, by their names without the prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// The standard headers an object keeps from its upload and returns on every read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
}

impl Headers {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Appends the trailer to a file whose data has been written, and syncs it.
pub fn finish(file: &mut File, meta: &ObjectMeta) -> io::Result<()> {
    let json = serde_json::to_vec(meta).map_err(io::Error::other)?;
    let length = u32::try_from(json.len())
        .ok()
        .filter(|length| *length <= MAX_METADATA_LEN)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "object metadata too large"))?;
    file.write_all(&json)?;
    file.write_all(&length.to_be_bytes())?;
    file.write_all(MAGIC)?;
    file.sync_all()
}

/// Reads the metadata of an open object file.
pub fn read_meta(file: &mut File) -> io::Result<ObjectMeta> {
    let damaged = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let file_len = file.metadata()?.len();
    if file_len < TAIL_LEN {
        return Err(damaged("object file shorter than its trailer"));
    }
    let mut tail = [0u8; TAIL_LEN as usize];
    file.seek(SeekFrom::Start(file_len - TAIL_LEN))?;
    file.read_exact(&mut tail)?;
    if &tail[4..] != MAGIC {
        return Err(damaged("object file without podid's trailer"));
    }
    let length = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if length > MAX_METADATA_LEN || u64::from(length) + TAIL_LEN > file_len {
        return Err(damaged("object file with a damaged trailer"));
    }
    let mut json = vec![0u8; length as usize];
    file.seek(SeekFrom::Start(file_len - TAIL_LEN - u64::from(length)))?;
    file.read_exact(&mut json)?;
    let meta: ObjectMeta =
        serde_json::from_slice(&json).map_err(|_| damaged("object metadata is not valid"))?;
    if meta.size + u64::from(length) + TAIL_LEN != file_len {
        return Err(damaged("object file length does not match its metadata"));
    }
    Ok(meta)
}

/// Reads the metadata of the object file at `path`.
pub fn read_meta_at(path: &Path) -> io::Result<ObjectMeta> {
    read_meta(&mut File::open(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64) -> ObjectMeta {
        ObjectMeta {
            key: "a/b.txt".into(),
            size,
            etag: "0123".into(),
            modified_ms: 1_700_000_000_000,
            headers: Headers {
                content_type: Some("text/plain".into()),
                ..Headers::default()
            },
            metadata: BTreeMap::from([("owner".into(), "team-a".into())]),
        }
    }

    #[test]
    fn metadata_round_trips_after_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"hello").unwrap();
        finish(&mut file, &meta(5)).unwrap();
        assert_eq!(read_meta_at(&path).unwrap(), meta(5));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..5], b"hello");
    }

    #[test]
    fn damaged_files_are_reported_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        std::fs::write(&path, b"short").unwrap();
        assert!(read_meta_at(&path).is_err());

        let mut file = File::create(&path).unwrap();
        file.write_all(b"hello").unwrap();
        // A size that disagrees with the data actually there.
        finish(&mut file, &meta(4)).unwrap();
        let error = read_meta_at(&path).unwrap_err();
        assert!(error.to_string().contains("does not match"), "{error}");
    }
}
