//! Reading a request's signature parameters, without any secret.
//!
//! A SigV4 request carries its signature either in the `Authorization` header
//! (`AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request,
//! SignedHeaders=host;x-amz-date, Signature=<hex>`) or, for a presigned URL, in `X-Amz-*` query
//! parameters. [`SignedRequest::parse`] finds either, checks that it is complete and well
//! formed, and exposes the credential scope, so that a server can route the request by service
//! and look up the access key before verifying anything.
//!
//! Parsing runs on every request: values are borrowed from the headers and the query, and only
//! query values that are actually percent-encoded are decoded into new strings.

use std::borrow::Cow;
use std::fmt;

use http::HeaderMap;

use crate::error::{Missing, SigV4Error};
use crate::time::{AmzDate, BasicFormat};

use query::{QueryFields, parse_query};

mod query;

/// The only algorithm this crate signs and verifies.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The longest lifetime a presigned URL may ask for: seven days.
pub const MAX_EXPIRES_SECONDS: u32 = 604_800;

/// Where a request carries its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// The `Authorization` header.
    Header,
    /// `X-Amz-*` query parameters: a presigned URL.
    Query,
}

/// The signature parameters of one request, borrowed from it where possible.
#[derive(Clone)]
pub struct SignedRequest<'a> {
    location: AuthLocation,
    /// `AKID/date/region/service/aws4_request`, decoded.
    credential: Cow<'a, str>,
    /// Byte offsets of the four slashes in `credential`.
    slashes: [usize; 4],
    signed_headers: Cow<'a, str>,
    signature: Cow<'a, str>,
    time: AmzDate,
    time_text: BasicFormat,
    session_token: Option<Cow<'a, str>>,
    expires: Option<u32>,
}

impl<'a> SignedRequest<'a> {
    /// Reads the signature from `headers`, or from the raw `query` (without its `?`) when there
    /// is no `Authorization` header. `Ok(None)` means the request is not signed at all.
    pub fn parse(
        headers: &'a HeaderMap,
        query: Option<&'a str>,
    ) -> Result<Option<Self>, SigV4Error> {
        if let Some(authorization) = headers.get(http::header::AUTHORIZATION) {
            return parse_header(authorization.as_bytes(), headers).map(Some);
        }
        let fields = QueryFields::scan(query.unwrap_or_default());
        if !fields.names_a_signature() {
            return Ok(None);
        }
        parse_query(fields, headers).map(Some)
    }

    pub fn location(&self) -> AuthLocation {
        self.location
    }

    pub fn is_presigned(&self) -> bool {
        self.location == AuthLocation::Query
    }

    pub fn access_key_id(&self) -> &str {
        self.credential_part(0)
    }

    /// The `YYYYMMDD` date of the credential scope.
    pub fn scope_date(&self) -> &str {
        self.credential_part(1)
    }

    pub fn region(&self) -> &str {
        self.credential_part(2)
    }

    pub fn service(&self) -> &str {
        self.credential_part(3)
    }

    /// The credential scope, `date/region/service/aws4_request`, as the string to sign names it.
    pub fn scope(&self) -> &str {
        let start = self.slashes[0] + 1;
        self.credential.get(start..).unwrap_or_default()
    }

    /// The `SignedHeaders` list as sent, names separated by `;`.
    pub fn signed_headers(&self) -> &str {
        &self.signed_headers
    }

    /// The signed header names, in the order sent.
    pub fn signed_header_names(&self) -> impl Iterator<Item = &str> {
        self.signed_headers.split(';')
    }

    /// The hex signature as sent.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// When the request says it was signed (`X-Amz-Date`, else `Date`).
    pub fn request_time(&self) -> AmzDate {
        self.time
    }

    /// [`Self::request_time`] in ISO 8601 basic format, as the string to sign holds it.
    pub fn amz_date(&self) -> &str {
        self.time_text.as_str()
    }

    /// The session token of temporary credentials, if any. It is a secret: never log it.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// A presigned URL's lifetime in seconds (`X-Amz-Expires`), if it names one.
    pub fn expires(&self) -> Option<u32> {
        self.expires
    }

    fn credential_part(&self, index: usize) -> &str {
        let start = match index {
            0 => 0,
            _ => self.slashes.get(index - 1).map_or(0, |slash| slash + 1),
        };
        let end = self.slashes.get(index).copied().unwrap_or(start);
        self.credential.get(start..end).unwrap_or_default()
    }
}

impl fmt::Debug for SignedRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("location", &self.location)
            .field("credential", &self.credential)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &self.signature)
            .field("time", &self.time_text)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires", &self.expires)
            .finish()
    }
}

/// The `Authorization` header's parameters.
#[derive(Default)]
struct HeaderFields<'a> {
    credential: Option<&'a str>,
    signed_headers: Option<&'a str>,
    signature: Option<&'a str>,
}

fn parse_header<'a>(
    raw: &'a [u8],
    headers: &'a HeaderMap,
) -> Result<SignedRequest<'a>, SigV4Error> {
    let dates = RequestDates::from_headers(headers);
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err(SigV4Error::IncompleteAuthorization {
            missing: Missing {
                credential: true,
                signature: true,
                signed_headers: true,
                date: dates.is_empty(),
            },
            authorization: String::from_utf8_lossy(raw).into_owned(),
        });
    };
    let trimmed = text.trim_start_matches(' ');
    let (algorithm, parameters) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
    let fields = header_fields(parameters, text)?;
    let (credential, signed_headers, signature) = fields.require(&dates, text)?;

    let time = dates.parse()?;
    check_algorithm(algorithm)?;
    let slashes = credential_slashes(credential)?;
    Ok(SignedRequest {
        location: AuthLocation::Header,
        credential: Cow::Borrowed(credential),
        slashes,
        signed_headers: Cow::Borrowed(signed_headers),
        signature: Cow::Borrowed(signature),
        time,
        time_text: time.to_basic(),
        session_token: header_text(headers, "x-amz-security-token").map(Cow::Borrowed),
        expires: None,
    })
}

impl<'a> HeaderFields<'a> {
    /// The three parameters, or AWS's list of what is missing (the date included).
    fn require(
        &self,
        dates: &RequestDates<'_>,
        authorization: &str,
    ) -> Result<(&'a str, &'a str, &'a str), SigV4Error> {
        let missing = Missing {
            credential: self.credential.is_none_or(str::is_empty),
            signature: self.signature.is_none_or(str::is_empty),
            signed_headers: self.signed_headers.is_none(),
            date: dates.is_empty(),
        };
        match (self.credential, self.signed_headers, self.signature) {
            (Some(credential), Some(signed_headers), Some(signature)) if !missing.any() => {
                Ok((credential, signed_headers, signature))
            }
            _ => Err(SigV4Error::IncompleteAuthorization {
                missing,
                authorization: authorization.to_owned(),
            }),
        }
    }
}

/// Splits `Credential=..., SignedHeaders=..., Signature=...`; the first of a repeated name wins.
fn header_fields<'a>(parameters: &'a str, whole: &str) -> Result<HeaderFields<'a>, SigV4Error> {
    let mut fields = HeaderFields::default();
    for part in parameters.split(',').map(|part| part.trim_matches(' ')) {
        if part.is_empty() {
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            return Err(SigV4Error::MalformedAuthorizationPair {
                pair: part.to_owned(),
                authorization: whole.to_owned(),
            });
        };
        let value = value.trim_matches(' ');
        let slot = match name.trim_matches(' ') {
            "Credential" => &mut fields.credential,
            "SignedHeaders" => &mut fields.signed_headers,
            "Signature" => &mut fields.signature,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    Ok(fields)
}

/// The request's own statement of when it was signed.
struct RequestDates<'a> {
    amz_date: Option<&'a [u8]>,
    date: Option<&'a [u8]>,
}

impl<'a> RequestDates<'a> {
    fn from_headers(headers: &'a HeaderMap) -> Self {
        Self {
            amz_date: headers.get("x-amz-date").map(|value| value.as_bytes()),
            date: headers
                .get(http::header::DATE)
                .map(|value| value.as_bytes()),
        }
    }

    fn is_empty(&self) -> bool {
        self.amz_date.is_none() && self.date.is_none()
    }

    /// `X-Amz-Date` wins over `Date`, as AWS reads them.
    fn parse(&self) -> Result<AmzDate, SigV4Error> {
        let (raw, parsed) = match (self.amz_date, self.date) {
            (Some(raw), _) => (
                raw,
                std::str::from_utf8(raw).ok().and_then(AmzDate::parse_basic),
            ),
            (None, Some(raw)) => (
                raw,
                std::str::from_utf8(raw)
                    .ok()
                    .and_then(AmzDate::parse_http_date),
            ),
            (None, None) => (&[][..], None),
        };
        parsed.ok_or_else(|| SigV4Error::MalformedDate {
            value: String::from_utf8_lossy(raw).into_owned(),
        })
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| std::str::from_utf8(value.as_bytes()).ok())
}

fn check_algorithm(algorithm: &str) -> Result<(), SigV4Error> {
    if algorithm == ALGORITHM {
        return Ok(());
    }
    Err(SigV4Error::UnsupportedAlgorithm {
        algorithm: algorithm.to_owned(),
    })
}

/// Finds the four slashes of `AKID/date/region/service/aws4_request`.
fn credential_slashes(credential: &str) -> Result<[usize; 4], SigV4Error> {
    let mut slashes = [0usize; 4];
    let mut found = credential.match_indices('/').map(|(index, _)| index);
    for slot in &mut slashes {
        *slot = found
            .next()
            .ok_or_else(|| malformed_credential(credential))?;
    }
    if found.next().is_some() {
        return Err(malformed_credential(credential));
    }
    let terminator = credential.get(slashes[3] + 1..).unwrap_or_default();
    if terminator != "aws4_request" {
        return Err(SigV4Error::InvalidTerminator {
            terminator: terminator.to_owned(),
        });
    }
    Ok(slashes)
}

fn malformed_credential(credential: &str) -> SigV4Error {
    SigV4Error::MalformedCredential {
        credential: credential.to_owned(),
    }
}

#[cfg(test)]
mod tests;
