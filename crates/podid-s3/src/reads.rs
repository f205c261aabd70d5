//! Reading objects: opening the file the index found, conditional headers, ranges, copies.

use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3Result, s3_error};

use crate::body::internal;
use crate::object_file::{self, Headers, ObjectMeta};
use crate::shapes::*;
use crate::store::{Store, StoreError, Stored};

/// The conditional headers of a GetObject or HeadObject input, which name them alike.
macro_rules! conditions_of {
    ($input:expr) => {
        $crate::reads::Conditions {
            if_match: $input.if_match.as_ref(),
            if_none_match: $input.if_none_match.as_ref(),
            if_modified_since: $input.if_modified_since.as_ref(),
            if_unmodified_since: $input.if_unmodified_since.as_ref(),
        }
    };
}
pub(crate) use conditions_of;

/// GetObject's and HeadObject's conditional headers, as S3 applies them.
pub struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

impl Conditions<'_> {
    pub fn check(&self, meta: &ObjectMeta) -> S3Result<()> {
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

/// An object opened for reading, with the metadata of the file actually opened.
pub struct Opened {
    pub meta: Arc<ObjectMeta>,
    pub file: std::fs::File,
}

/// Opens the object the index found. The file may have been replaced or removed since: the
/// inode tells, and the file's own trailer then says what it holds.
pub fn open(store: &Store, bucket: &str, found: &Stored) -> S3Result<Opened> {
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

/// The byte range a read covers: all of it, or the requested part.
pub fn range_of(range: Option<&Range>, size: u64) -> S3Result<Option<std::ops::Range<u64>>> {
    range
        .map(|range| range.check(size).map_err(|_| invalid_range(size)))
        .transpose()
}

pub type Copied = (std::fs::File, ObjectMeta);

/// Copies an opened object's bytes into a new file at `into`, with the source's headers and
/// metadata or the replacements given; the ETag stays the source's, as S3 keeps it.
pub fn copy_file(
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
