//! Signing, the mirror of verification: the `Authorization` header for a request, or the query
//! of a presigned URL. The sandbox's own clients sign with it, and tests round-trip through it.
//!
//! A header signature covers every header the request has except those that proxies and
//! clients rewrite in flight (`authorization`, `user-agent`, `x-amzn-trace-id`, hop-by-hop
//! headers), plus the `host`, `x-amz-date` and `x-amz-security-token` it adds. A presigned URL
//! signs `host` and whatever other headers are given.

use std::fmt;

use http::header::{AUTHORIZATION, HOST, HeaderName, HeaderValue, InvalidHeaderValue};
use http::{HeaderMap, Method, Uri};

use crate::canonical::{CanonicalRequest, PathRules, UNSIGNED_PAYLOAD, string_to_sign};
use crate::encoding::{encode, hex_str, sha256_hex};
use crate::key::SigningKey;
use crate::parse::{ALGORITHM, MAX_EXPIRES_SECONDS};
use crate::time::AmzDate;

/// Headers left out of a signature because something between client and server may change them.
const UNSIGNED_HEADERS: [&str; 7] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
    "connection",
    "expect",
    "content-length",
];

/// Access keys to sign with. `Debug` hides the secret and the session token.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .finish()
    }
}

/// Who signs, for which scope, at what time.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    pub credentials: Credentials<'a>,
    pub region: &'a str,
    pub service: &'a str,
    /// The signing time in seconds since the Unix epoch.
    pub time_unix: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("request to sign has no host: its URI has no authority and no host header is set")]
    MissingHost,
    #[error("{what} is not a valid header value")]
    InvalidHeaderValue {
        what: &'static str,
        #[source]
        source: InvalidHeaderValue,
    },
    #[error("presigned URL lifetime of {seconds} seconds is outside 1..=604800")]
    ExpiresOutOfRange { seconds: u32 },
}

/// Signs a request in place: sets `host` (from the URI, when missing), `x-amz-date`,
/// `x-amz-security-token` for temporary credentials, and `authorization`. The payload hash is
/// the `x-amz-content-sha256` header when set, else the SHA-256 of `body`; for S3, which
/// requires that header, it is set to the body's hash when missing.
pub fn sign_request(
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    body: &[u8],
    params: &SigningParams<'_>,
) -> Result<(), SignError> {
    ensure_host(headers, uri)?;
    let time = AmzDate::from_unix(params.time_unix).to_basic();
    headers.insert("x-amz-date", header_value(time.as_str(), "x-amz-date")?);
    if let Some(token) = params.credentials.session_token {
        headers.insert(
            "x-amz-security-token",
            header_value(token, "session token")?,
        );
    }
    headers.remove(AUTHORIZATION);

    let computed = sha256_hex(body);
    if params.service == "s3" && !headers.contains_key("x-amz-content-sha256") {
        // S3 refuses header-signed requests that do not state their payload hash.
        headers.insert(
            "x-amz-content-sha256",
            header_value(hex_str(&computed), "payload hash")?,
        );
    }
    let signed_headers = signed_header_list(headers);
    let declared = headers
        .get("x-amz-content-sha256")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let payload_hash = declared.as_deref().unwrap_or(hex_str(&computed));
    let scope = Scope::new(params, time.date());
    let canonical = CanonicalRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or_default(),
        headers,
        signed_headers: &signed_headers,
        payload_hash,
        path_rules: PathRules::for_service(params.service),
        omit_signature_param: false,
    };
    let signature = scope.signature(time.as_str(), &canonical);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
        params.credentials.access_key_id, scope.text
    );
    headers.insert(
        AUTHORIZATION,
        header_value(&authorization, "authorization")?,
    );
    Ok(())
}

/// Presigns a request for `expires_seconds` (1 to 604800) and returns the query to send with
/// it: the URI's own query followed by the `X-Amz-*` parameters, `X-Amz-Signature` last.
/// `headers` are signed too (the URI's host is added when they have none), so the client must
/// send them. S3 URLs leave the payload unsigned; others sign an empty body.
pub fn presign(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    expires_seconds: u32,
    params: &SigningParams<'_>,
) -> Result<String, SignError> {
    if !(1..=MAX_EXPIRES_SECONDS).contains(&expires_seconds) {
        return Err(SignError::ExpiresOutOfRange {
            seconds: expires_seconds,
        });
    }
    let mut headers = headers.clone();
    ensure_host(&mut headers, uri)?;
    headers.remove(AUTHORIZATION);
    let time = AmzDate::from_unix(params.time_unix).to_basic();
    let scope = Scope::new(params, time.date());
    let signed_headers = signed_header_list(&headers);

    let mut query = uri.query().unwrap_or_default().to_owned();
    let credential = format!("{}/{}", params.credentials.access_key_id, scope.text);
    let expires = expires_seconds.to_string();
    let mut auth_params = vec![
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", credential.as_str()),
        ("X-Amz-Date", time.as_str()),
        ("X-Amz-Expires", expires.as_str()),
        ("X-Amz-SignedHeaders", signed_headers.as_str()),
    ];
    if let Some(token) = params.credentials.session_token {
        auth_params.push(("X-Amz-Security-Token", token));
    }
    for (name, value) in auth_params {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&encode(value.as_bytes(), false));
    }

    let empty_body = sha256_hex(b"");
    let payload_hash = match params.service {
        "s3" => UNSIGNED_PAYLOAD,
        _ => hex_str(&empty_body),
    };
    let canonical = CanonicalRequest {
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        headers: &headers,
        signed_headers: &signed_headers,
        payload_hash,
        path_rules: PathRules::for_service(params.service),
        omit_signature_param: true,
    };
    let signature = scope.signature(time.as_str(), &canonical);
    query.push_str("&X-Amz-Signature=");
    query.push_str(&signature);
    Ok(query)
}

/// The credential scope and its signing key.
struct Scope {
    text: String,
    key: SigningKey,
}

impl Scope {
    fn new(params: &SigningParams<'_>, date: &str) -> Self {
        let (region, service) = (params.region, params.service);
        Self {
            text: format!("{date}/{region}/{service}/aws4_request"),
            key: SigningKey::derive(params.credentials.secret_access_key, date, region, service),
        }
    }

    fn signature(&self, amz_date: &str, canonical: &CanonicalRequest<'_>) -> String {
        let text = string_to_sign(amz_date, &self.text, &canonical.hash_hex());
        self.key.sign_hex(&text)
    }
}

fn ensure_host(headers: &mut HeaderMap, uri: &Uri) -> Result<(), SignError> {
    if headers.contains_key(HOST) {
        return Ok(());
    }
    let authority = uri.authority().ok_or(SignError::MissingHost)?;
    headers.insert(HOST, header_value(authority.as_str(), "host")?);
    Ok(())
}

/// The names of the headers to sign, lowercase, sorted and joined by `;`.
fn signed_header_list(headers: &HeaderMap) -> String {
    let mut names: Vec<&str> = headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|name| !UNSIGNED_HEADERS.contains(name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names.join(";")
}

fn header_value(text: &str, what: &'static str) -> Result<HeaderValue, SignError> {
    HeaderValue::from_str(text).map_err(|source| SignError::InvalidHeaderValue { what, source })
}
