//! Who may do what in the sandbox's S3: s3s checks each request's signature with the secret
//! found here, then every operation is authorized by the policy engine with the caller's
//! policies, session policy and session tags, so `aws:PrincipalTag/*` conditions and
//! `s3:prefix` work as on AWS.

use std::sync::Arc;

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{CopyObjectInput, CopySource, DeleteObjectsInput};
use s3s::dto::{ListObjectsInput, ListObjectsV2Input};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};

use crate::authorize::{Access, Origin, Shown, authorize};
use crate::caller::{AuthError, Caller, identify, secret_for};
use crate::sessions::SessionKeys;
use crate::store::AccountStore;

/// Authentication and authorization for the sandbox's S3.
#[derive(Debug, Clone)]
pub struct S3Gate {
    store: Arc<AccountStore>,
    sessions: Arc<SessionKeys>,
    clock: fn() -> i64,
}

/// The authenticated caller, kept in the request's extensions for the checks that need the
/// operation's input.
#[derive(Debug, Clone)]
struct Authenticated(Arc<Caller>, Origin);

impl S3Gate {
    pub fn new(store: Arc<AccountStore>, sessions: Arc<SessionKeys>, clock: fn() -> i64) -> Self {
        Self {
            store,
            sessions,
            clock,
        }
    }

    fn allow(&self, who: &Authenticated, access: Access<'_>) -> S3Result<()> {
        let view = self.store.view();
        authorize(&view, &who.0, access, &who.1, None)
            .map_err(|denied| s3_error!(AccessDenied, "{}", denied.message))
    }

    /// `s3:ListBucket` with the listing's own condition keys.
    fn allow_listing(
        &self,
        who: &Authenticated,
        bucket: &str,
        prefix: Option<&str>,
        delimiter: Option<&str>,
        max_keys: Option<i32>,
    ) -> S3Result<()> {
        let resource = format!("arn:aws:s3:::{bucket}");
        let mut access = Access::new("s3:ListBucket", &resource);
        access.shown = Shown::Quoted;
        // An absent prefix is the empty prefix, as S3 evaluates `s3:prefix`.
        access
            .context
            .set("s3:prefix", [prefix.unwrap_or_default()]);
        if let Some(delimiter) = delimiter {
            access.context.set("s3:delimiter", [delimiter]);
        }
        if let Some(max_keys) = max_keys {
            access.context.set("s3:max-keys", [max_keys.to_string()]);
        }
        self.allow(who, access)
    }
}

fn authenticated<T>(request: &S3Request<T>) -> S3Result<Authenticated> {
    request
        .extensions
        .get::<Authenticated>()
        .cloned()
        .ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))
}

#[async_trait::async_trait]
impl S3Auth for S3Gate {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let view = self.store.view();
        secret_for(&view, &self.sessions, access_key)
            .map(SecretKey::from)
            .map_err(|_| unknown_key())
    }
}

fn unknown_key() -> s3s::S3Error {
    s3_error!(
        InvalidAccessKeyId,
        "The AWS Access Key Id you provided does not exist in our records."
    )
}

/// The session token of a request: a header when signed in headers, a query parameter when
/// presigned.
fn session_token(cx: &S3AccessContext<'_>) -> Option<String> {
    if let Some(value) = cx.headers().get("x-amz-security-token") {
        return value.to_str().ok().map(str::to_owned);
    }
    let query = cx.uri().query()?;
    podid_core::percent::query_pairs(query)
        .into_iter()
        .find(|(name, _)| name == "X-Amz-Security-Token")
        .map(|(_, value)| value)
}

/// The IAM action of an S3 operation; most operations are named as their action.
fn action_of(operation: &str) -> String {
    let action = match operation {
        "ListBuckets" => "ListAllMyBuckets",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "ListBucket",
        "HeadObject" => "GetObject",
        "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" | "UploadPartCopy" => {
            "PutObject"
        }
        "ListParts" => "ListMultipartUploadParts",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "DeleteObjects" => "DeleteObject",
        other => other,
    };
    format!("s3:{action}")
}

#[async_trait::async_trait]
impl S3Access for S3Gate {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        let access_key = credentials.access_key.clone();
        let token = session_token(cx);
        let now = (self.clock)();
        let view = self.store.view();
        let caller = identify(&view, &self.sessions, &access_key, token.as_deref(), now).map_err(
            |error| match error {
                AuthError::UnknownKey | AuthError::InactiveKey => unknown_key(),
                AuthError::MissingToken | AuthError::BadToken => s3_error!(
                    InvalidToken,
                    "The provided token is malformed or otherwise invalid."
                ),
                AuthError::Expired => s3_error!(ExpiredToken, "The provided token has expired."),
            },
        )?;
        let origin = Origin {
            source_ip: cx
                .extensions_mut()
                .get::<podid_http::PeerAddr>()
                .map(|peer| peer.0.ip()),
            secure: false,
            now,
        };
        let who = Authenticated(Arc::new(caller), origin);
        let operation = cx.s3_op().name();
        // These are authorized once their input is read: they depend on its fields.
        let checked_later = [
            "ListObjects",
            "ListObjectsV2",
            "CopyObject",
            "DeleteObjects",
        ];
        if !checked_later.contains(&operation) {
            let action = action_of(operation);
            let (resource, shown) = match cx.s3_path() {
                S3Path::Root => ("arn:aws:s3:::*".to_owned(), Shown::Omitted),
                S3Path::Bucket { bucket } => (format!("arn:aws:s3:::{bucket}"), Shown::Quoted),
                S3Path::Object { bucket, key } => {
                    (format!("arn:aws:s3:::{bucket}/{key}"), Shown::Quoted)
                }
            };
            let mut access = Access::new(&action, &resource);
            access.shown = shown;
            self.allow(&who, access)?;
        }
        cx.extensions_mut().insert(who);
        Ok(())
    }

    async fn list_objects(&self, request: &mut S3Request<ListObjectsInput>) -> S3Result<()> {
        let who = authenticated(request)?;
        let input = &request.input;
        let (prefix, delimiter) = (input.prefix.as_deref(), input.delimiter.as_deref());
        self.allow_listing(&who, &input.bucket, prefix, delimiter, input.max_keys)
    }

    async fn list_objects_v2(&self, request: &mut S3Request<ListObjectsV2Input>) -> S3Result<()> {
        let who = authenticated(request)?;
        let input = &request.input;
        let (prefix, delimiter) = (input.prefix.as_deref(), input.delimiter.as_deref());
        self.allow_listing(&who, &input.bucket, prefix, delimiter, input.max_keys)
    }

    async fn copy_object(&self, request: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        let who = authenticated(request)?;
        let input = &request.input;
        if let CopySource::Bucket { bucket, key, .. } = &input.copy_source {
            let source = format!("arn:aws:s3:::{bucket}/{key}");
            let mut read = Access::new("s3:GetObject", &source);
            read.shown = Shown::Quoted;
            self.allow(&who, read)?;
        }
        let target = format!("arn:aws:s3:::{}/{}", input.bucket, input.key);
        let mut write = Access::new("s3:PutObject", &target);
        write.shown = Shown::Quoted;
        self.allow(&who, write)
    }

    async fn delete_objects(&self, request: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let who = authenticated(request)?;
        let input = &request.input;
        for object in &input.delete.objects {
            let resource = format!("arn:aws:s3:::{}/{}", input.bucket, object.key);
            let mut access = Access::new("s3:DeleteObject", &resource);
            access.shown = Shown::Quoted;
            self.allow(&who, access)?;
        }
        Ok(())
    }
}

/// Which requests name their bucket in the host (`bucket.localhost`, `bucket.s3.amazonaws.com`,
/// `bucket.s3.us-east-1.amazonaws.com`) and which in the path (an IP address, `localhost`,
/// `s3.amazonaws.com`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxHost;

impl s3s::host::S3Host for SandboxHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<s3s::host::VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.parse::<u16>().is_ok() => name,
            _ => host,
        };
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        let path_style = s3s::host::VirtualHost::new(name);
        if bare.parse::<std::net::IpAddr>().is_ok() {
            return Ok(path_style);
        }
        if let Some(bucket) = name.strip_suffix(".localhost") {
            return Ok(s3s::host::VirtualHost::new("localhost").with_bucket(bucket));
        }
        let aws = name
            .strip_suffix(".amazonaws.com")
            .and_then(|rest| rest.split_once(".s3"));
        match aws {
            Some((bucket, _)) if !bucket.is_empty() => {
                Ok(s3s::host::VirtualHost::new(name).with_bucket(bucket))
            }
            _ => Ok(path_style),
        }
    }
}

/// The sandbox's S3: `storage` behind the gate's authentication and authorization.
pub fn s3_service(storage: impl s3s::S3, gate: S3Gate) -> s3s::service::S3Service {
    let mut builder = s3s::service::S3ServiceBuilder::new(storage);
    builder.set_auth(gate.clone());
    builder.set_access(gate);
    builder.set_host(SandboxHost);
    builder.build()
}

#[cfg(test)]
mod tests {
    use s3s::host::S3Host;

    use super::*;

    #[test]
    fn buckets_are_found_in_the_host_or_the_path() {
        let bucket = |host: &'static str| {
            SandboxHost
                .parse_host_header(host)
                .unwrap()
                .bucket()
                .map(str::to_owned)
        };
        assert_eq!(bucket("127.0.0.1:7770"), None);
        assert_eq!(bucket("[::1]:7770"), None);
        assert_eq!(bucket("localhost:7770"), None);
        assert_eq!(bucket("s3.amazonaws.com"), None);
        assert_eq!(bucket("s3.us-east-1.amazonaws.com"), None);
        assert_eq!(bucket("photos.localhost:7770").as_deref(), Some("photos"));
        assert_eq!(bucket("photos.s3.amazonaws.com").as_deref(), Some("photos"));
        assert_eq!(
            bucket("my.photos.s3.us-east-1.amazonaws.com").as_deref(),
            Some("my.photos")
        );
    }

    #[test]
    fn operations_map_to_their_iam_actions() {
        assert_eq!(action_of("ListBuckets"), "s3:ListAllMyBuckets");
        assert_eq!(action_of("HeadObject"), "s3:GetObject");
        assert_eq!(action_of("UploadPart"), "s3:PutObject");
        assert_eq!(action_of("GetBucketLocation"), "s3:GetBucketLocation");
    }
}
