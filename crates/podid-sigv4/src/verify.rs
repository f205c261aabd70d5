//! Checking a parsed signature against the request and the secret, in the order AWS checks:
//! the request time against the clock, that `host` is signed, that the scope's date is the
//! request's, then the signature itself.
//!
//! A header-signed request is accepted within 15 minutes of the server's clock either way. A
//! presigned URL is accepted from its `X-Amz-Date` (give or take the same 15 minutes) until
//! `X-Amz-Expires` seconds later; one without `X-Amz-Expires` (STS ignores it anyway) lives like
//! a header-signed request. The bounds are inclusive: exactly 15 minutes is still in time, and a
//! URL expires at `X-Amz-Date + X-Amz-Expires`, so `X-Amz-Expires=0` never works.
//!
//! The payload hash is the `x-amz-content-sha256` header when the request has one (a hex hash
//! there must be the body's), else `UNSIGNED-PAYLOAD` for a presigned S3 URL, else the SHA-256
//! of the body: presigned URLs of the other services sign their (empty) body, as botocore and
//! the AWS SDKs sign them and STS checks them.

use crate::canonical::{CanonicalRequest, PathRules, UNSIGNED_PAYLOAD, string_to_sign};
use crate::encoding::{hex_str, parse_hex32, sha256_hex};
use crate::error::SigV4Error;
use crate::key::SigningKey;
use crate::parse::SignedRequest;
use crate::request::RequestParts;
use crate::time::AmzDate;

/// How far a request's time may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 15 * 60;

impl SignedRequest<'_> {
    /// Verifies the signature of `request` with the signing key of this request's scope, at
    /// `now_unix` (seconds since the epoch).
    pub fn verify(
        &self,
        request: &RequestParts<'_>,
        key: &SigningKey,
        now_unix: i64,
    ) -> Result<(), SigV4Error> {
        self.check_time(now_unix)?;
        self.check_host_signed()?;
        self.check_scope_date()?;

        let payload_hash = self.payload_hash(request)?;
        let canonical = self.canonical_request(request, payload_hash.as_str());
        let string_to_sign = string_to_sign(self.amz_date(), self.scope(), &canonical.hash_hex());
        if key.verifies(&string_to_sign, self.signature()) {
            return Ok(());
        }
        Err(SigV4Error::SignatureMismatch {
            canonical_request: canonical.text(),
            string_to_sign: String::from_utf8_lossy(&string_to_sign).into_owned(),
            s3: self.service() == "s3",
        })
    }

    /// [`Self::verify`] deriving the signing key from the secret access key first.
    pub fn verify_with_secret(
        &self,
        request: &RequestParts<'_>,
        secret_access_key: &str,
        now_unix: i64,
    ) -> Result<(), SigV4Error> {
        let key = self.signing_key(secret_access_key);
        self.verify(request, &key, now_unix)
    }

    /// The signing key for this request's scope.
    pub fn signing_key(&self, secret_access_key: &str) -> SigningKey {
        SigningKey::derive(
            secret_access_key,
            self.scope_date(),
            self.region(),
            self.service(),
        )
    }

    /// Whether the request is within its time window at `now_unix`.
    pub fn check_time(&self, now_unix: i64) -> Result<(), SigV4Error> {
        let signed = self.request_time().unix();
        let now = AmzDate::from_unix(now_unix);
        let latest = AmzDate::from_unix(now_unix.saturating_add(MAX_CLOCK_SKEW_SECONDS));
        if signed > latest.unix() {
            return Err(SigV4Error::SignatureNotYetCurrent {
                signed: self.amz_date().to_owned(),
                latest: latest.to_basic().to_string(),
                now: now.to_basic().to_string(),
            });
        }
        if let Some(expires) = self.expires() {
            let expires_at = AmzDate::from_unix(signed.saturating_add(i64::from(expires)));
            if now_unix >= expires_at.unix() {
                return Err(SigV4Error::RequestExpired {
                    expires_at: expires_at.to_basic().to_string(),
                    now: now.to_basic().to_string(),
                });
            }
            return Ok(());
        }
        let earliest = AmzDate::from_unix(now_unix.saturating_sub(MAX_CLOCK_SKEW_SECONDS));
        if signed < earliest.unix() {
            return Err(SigV4Error::SignatureExpired {
                signed: self.amz_date().to_owned(),
                earliest: earliest.to_basic().to_string(),
                now: now.to_basic().to_string(),
            });
        }
        Ok(())
    }

    fn check_host_signed(&self) -> Result<(), SigV4Error> {
        let signed = self
            .signed_header_names()
            .any(|name| name.eq_ignore_ascii_case("host") || name == ":authority");
        if signed {
            Ok(())
        } else {
            Err(SigV4Error::HostNotSigned)
        }
    }

    fn check_scope_date(&self) -> Result<(), SigV4Error> {
        let request_date = self.amz_date().get(..8).unwrap_or_default();
        if self.scope_date() == request_date {
            return Ok(());
        }
        Err(SigV4Error::ScopeDateMismatch {
            scope_date: self.scope_date().to_owned(),
            request_date: request_date.to_owned(),
            request_time: self.amz_date().to_owned(),
        })
    }

    fn payload_hash<'r>(&self, request: &RequestParts<'r>) -> Result<PayloadHash<'r>, SigV4Error> {
        let declared = request
            .headers
            .get("x-amz-content-sha256")
            .and_then(|value| std::str::from_utf8(value.as_bytes()).ok());
        if let Some(declared) = declared {
            if parse_hex32(declared).is_some() {
                let computed = sha256_hex(request.body);
                if !declared.eq_ignore_ascii_case(hex_str(&computed)) {
                    return Err(SigV4Error::ContentSha256Mismatch {
                        declared: declared.to_owned(),
                        computed: hex_str(&computed).to_owned(),
                    });
                }
            }
            return Ok(PayloadHash::Declared(declared));
        }
        if self.is_presigned() && self.service() == "s3" {
            return Ok(PayloadHash::Declared(UNSIGNED_PAYLOAD));
        }
        Ok(PayloadHash::Computed(sha256_hex(request.body)))
    }

    fn canonical_request<'r>(
        &'r self,
        request: &RequestParts<'r>,
        payload_hash: &'r str,
    ) -> CanonicalRequest<'r> {
        CanonicalRequest {
            method: request.method,
            path: request.path,
            query: request.query.unwrap_or_default(),
            headers: request.headers,
            signed_headers: self.signed_headers(),
            payload_hash,
            path_rules: PathRules::for_service(self.service()),
            omit_signature_param: self.is_presigned(),
        }
    }
}

enum PayloadHash<'r> {
    Declared(&'r str),
    Computed([u8; 64]),
}

impl PayloadHash<'_> {
    fn as_str(&self) -> &str {
        match self {
            Self::Declared(text) => text,
            Self::Computed(hex) => hex_str(hex),
        }
    }
}
