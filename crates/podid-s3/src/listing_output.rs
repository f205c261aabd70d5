//! Listing pages in S3's shapes: names encoded as asked, continuation tokens, page sizes.

use base64::Engine as _;
use s3s::dto::*;
use s3s::{S3Result, s3_error};

use crate::listing::{self, MAX_KEYS};
use crate::shapes::*;

/// Keys and prefixes in a listing, percent-encoded when the client asked for `url` encoding.
pub struct Names {
    url: bool,
}

impl Names {
    pub fn of(encoding: Option<&EncodingType>) -> Self {
        Self {
            url: encoding.is_some_and(|e| e.as_str() == EncodingType::URL),
        }
    }

    pub fn show(&self, name: &str) -> String {
        match self.url {
            true => podid_core::percent::percent_encode_path(name),
            false => name.to_owned(),
        }
    }
}

pub fn objects_out(page: &listing::Page, names: &Names) -> Option<ObjectList> {
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

pub fn prefixes_out(page: &listing::Page, names: &Names) -> Option<CommonPrefixList> {
    let prefixes = page
        .common_prefixes
        .iter()
        .map(|prefix| CommonPrefix {
            prefix: Some(names.show(prefix)),
        })
        .collect::<Vec<_>>();
    (!prefixes.is_empty()).then_some(prefixes)
}

pub fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys cannot be negative")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS)),
    }
}

pub fn continuation_token(after: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(after)
}

pub fn resume_after(token: &str) -> S3Result<String> {
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
