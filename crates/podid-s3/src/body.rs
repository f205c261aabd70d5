//! Request bodies streamed into temporary files, with the MD5 that S3 makes the ETag of.

use std::path::PathBuf;

use base64::Engine as _;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3Result, s3_error};
use tokio::io::AsyncWriteExt;

use crate::store::Store;

/// A body written to a temporary file: the file is the caller's to finish or remove.
#[derive(Debug)]
pub struct Received {
    pub path: PathBuf,
    pub file: std::fs::File,
    pub size: u64,
    pub md5: [u8; 16],
}

impl Received {
    pub fn etag(&self) -> String {
        hex::encode(self.md5)
    }

    /// Removes the file, for a body that is refused after all.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Streams `body` into a new temporary file of `store`, refusing more than `limit` bytes and
/// checking `Content-MD5` when the client sent one.
pub async fn receive(
    store: &Store,
    body: Option<StreamingBlob>,
    limit: u64,
    content_md5: Option<&str>,
) -> S3Result<Received> {
    let expected_md5 = content_md5.map(decode_md5).transpose()?;
    let path = store.temporary_path();
    let mut file = tokio::fs::File::create(&path).await.map_err(internal)?;
    let written = copy_into(&mut file, body, limit).await;
    let outcome = match written {
        Ok((size, md5)) => match file.flush().await {
            Ok(()) => Ok((size, md5)),
            Err(error) => Err(internal(error)),
        },
        Err(error) => Err(error),
    };
    let (size, md5) = match outcome {
        Ok(done) => done,
        Err(error) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(error);
        }
    };
    let received = Received {
        path,
        file: file.into_std().await,
        size,
        md5,
    };
    if expected_md5.is_some_and(|expected| expected != received.md5) {
        received.discard();
        return Err(s3_error!(
            BadDigest,
            "The Content-MD5 you specified did not match what we received."
        ));
    }
    Ok(received)
}

async fn copy_into(
    file: &mut tokio::fs::File,
    body: Option<StreamingBlob>,
    limit: u64,
) -> S3Result<(u64, [u8; 16])> {
    let mut md5 = Md5::new();
    let mut size = 0u64;
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|error| match error.downcast::<S3Error>() {
                Ok(s3) => *s3,
                Err(_) => s3_error!(
                    IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length \
                     HTTP header."
                ),
            })?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(s3_error!(
                    EntityTooLarge,
                    "Your proposed upload exceeds the maximum allowed size"
                ));
            }
            md5.update(&chunk);
            file.write_all(&chunk).await.map_err(internal)?;
        }
    }
    Ok((size, md5.finalize().into()))
}

/// Reads a body to its end and drops it, for a request refused before its body was needed: a
/// client that sent `Expect: 100-continue` may send the body anyway, and what it sends must not
/// be left on the connection for the next request.
pub async fn drain(body: Option<StreamingBlob>) {
    if let Some(mut body) = body {
        while let Some(Ok(_)) = body.next().await {}
    }
}

fn decode_md5(value: &str) -> S3Result<[u8; 16]> {
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified was invalid."))
}

/// A failure of the store's own, logged here and reported to the client without its detail.
pub fn internal(error: impl std::fmt::Display) -> S3Error {
    tracing::error!(%error, "S3 store failure");
    s3_error!(
        InternalError,
        "We encountered an internal error. Please try again."
    )
}
