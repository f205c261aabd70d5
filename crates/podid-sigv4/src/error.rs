//! Why a request's signature was refused, in AWS's words.
//!
//! Each variant's `Display` is the message AWS's query-protocol services (IAM, STS) return, and
//! [`SigV4Error::code`] and [`SigV4Error::status`] their `<Code>` and HTTP status. JSON-protocol
//! services such as EKS report the same failures under the `*Exception` names that
//! [`SigV4Error::json_code`] gives. No variant holds a secret: the canonical request and the
//! string to sign that a mismatch carries are built from what the client sent.

use std::fmt;

/// Parameters a signature cannot do without, and which of them a request lacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Missing {
    pub credential: bool,
    pub signature: bool,
    pub signed_headers: bool,
    pub date: bool,
}

impl Missing {
    pub fn any(self) -> bool {
        self.credential || self.signature || self.signed_headers || self.date
    }
}

/// Why an `X-Amz-Expires` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiresProblem {
    NotANumber,
    Negative,
    OverAWeek,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// The `Authorization` header lacks parameters, or the request has no date.
    #[error("{}", header_missing_message(*missing, authorization))]
    IncompleteAuthorization {
        missing: Missing,
        authorization: String,
    },

    /// A comma-separated part of the `Authorization` header is not `key=value`.
    #[error(
        "'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: \
         '{authorization}'."
    )]
    MalformedAuthorizationPair { pair: String, authorization: String },

    /// A presigned URL lacks query parameters.
    #[error("{}", query_missing_message(*missing))]
    IncompleteQuery { missing: Missing },

    #[error("Unsupported AWS 'algorithm': '{algorithm}'.")]
    UnsupportedAlgorithm { algorithm: String },

    #[error(
        "Date must be in ISO-8601 'basic format'. Got '{value}'. See \
         http://en.wikipedia.org/wiki/ISO_8601"
    )]
    MalformedDate { value: String },

    #[error(
        "Credential must have exactly 5 slash-delimited elements, e.g. \
         keyid/date/region/service/term, got '{credential}'"
    )]
    MalformedCredential { credential: String },

    #[error(
        "Credential should be scoped with a valid terminator: 'aws4_request', not \
         '{terminator}'."
    )]
    InvalidTerminator { terminator: String },

    #[error("{}", expires_message(*problem))]
    InvalidExpires { problem: ExpiresProblem },

    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,

    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '{scope_date}' != '{request_date}', from '{request_time}'."
    )]
    ScopeDateMismatch {
        scope_date: String,
        request_date: String,
        request_time: String,
    },

    /// The request was signed more than 15 minutes before `now`.
    #[error("Signature expired: {signed} is now earlier than {earliest} ({now} - 15 min.)")]
    SignatureExpired {
        signed: String,
        earliest: String,
        now: String,
    },

    /// The request was signed more than 15 minutes after `now`.
    #[error("Signature not yet current: {signed} is still later than {latest} ({now} + 15 min.)")]
    SignatureNotYetCurrent {
        signed: String,
        latest: String,
        now: String,
    },

    /// A presigned URL was used after its `X-Amz-Expires` lifetime.
    #[error("Request has expired")]
    RequestExpired { expires_at: String, now: String },

    /// `x-amz-content-sha256` names a hash that is not the body's.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch { declared: String, computed: String },

    #[error("{}", mismatch_message(*s3))]
    SignatureMismatch {
        canonical_request: String,
        string_to_sign: String,
        /// S3 words the message differently from the other services.
        s3: bool,
    },
}

impl SigV4Error {
    /// The error code of AWS's query and XML protocols (IAM, STS, S3).
    pub fn code(&self) -> &'static str {
        match self {
            Self::IncompleteAuthorization { .. }
            | Self::MalformedAuthorizationPair { .. }
            | Self::IncompleteQuery { .. }
            | Self::UnsupportedAlgorithm { .. }
            | Self::MalformedDate { .. }
            | Self::MalformedCredential { .. } => "IncompleteSignature",
            Self::InvalidExpires { .. } => "AuthorizationQueryParametersError",
            Self::RequestExpired { .. } => "AccessDenied",
            Self::ContentSha256Mismatch { .. } => "XAmzContentSHA256Mismatch",
            Self::InvalidTerminator { .. }
            | Self::HostNotSigned
            | Self::ScopeDateMismatch { .. }
            | Self::SignatureExpired { .. }
            | Self::SignatureNotYetCurrent { .. }
            | Self::SignatureMismatch { .. } => "SignatureDoesNotMatch",
        }
    }

    /// The error type of AWS's JSON protocols (EKS), sent as `x-amzn-ErrorType` or `__type`.
    pub fn json_code(&self) -> &'static str {
        match self.code() {
            "IncompleteSignature" => "IncompleteSignatureException",
            "SignatureDoesNotMatch" => "InvalidSignatureException",
            "AccessDenied" => "AccessDeniedException",
            other => other,
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self.code() {
            "IncompleteSignature"
            | "AuthorizationQueryParametersError"
            | "XAmzContentSHA256Mismatch" => 400,
            _ => 403,
        }
    }

    /// For a mismatch, the canonical request the server computed.
    pub fn canonical_request(&self) -> Option<&str> {
        match self {
            Self::SignatureMismatch {
                canonical_request, ..
            } => Some(canonical_request),
            _ => None,
        }
    }

    /// For a mismatch, the string to sign the server computed.
    pub fn string_to_sign(&self) -> Option<&str> {
        match self {
            Self::SignatureMismatch { string_to_sign, .. } => Some(string_to_sign),
            _ => None,
        }
    }

    /// The message as STS and IAM send it: for a mismatch, followed by the canonical request
    /// and string to sign the server expected, so that a client can see where it went wrong.
    pub fn detailed_message(&self) -> String {
        match self {
            Self::SignatureMismatch {
                canonical_request,
                string_to_sign,
                ..
            } => format!(
                "{self}\n\nThe Canonical String for this request should have been\n\
                 '{canonical_request}'\n\nThe String-to-Sign should have been\n\
                 '{string_to_sign}'\n"
            ),
            _ => self.to_string(),
        }
    }
}

fn header_missing_message(missing: Missing, authorization: &str) -> MissingMessage<'_> {
    MissingMessage {
        missing,
        authorization: Some(authorization),
    }
}

fn query_missing_message(missing: Missing) -> MissingMessage<'static> {
    MissingMessage {
        missing,
        authorization: None,
    }
}

/// Lists each missing parameter in its own sentence, as AWS does.
struct MissingMessage<'a> {
    missing: Missing,
    /// The header as received, for header authentication; `None` for a presigned URL.
    authorization: Option<&'a str>,
}

impl fmt::Display for MissingMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Missing {
            credential,
            signature,
            signed_headers,
            date,
        } = self.missing;
        let parts = [
            (credential, "Credential"),
            (signature, "Signature"),
            (signed_headers, "SignedHeaders"),
            (date, "Date"),
        ];
        for (is_missing, name) in parts {
            if !is_missing {
                continue;
            }
            match (self.authorization, name) {
                (Some(_), "Date") => f.write_str(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a \
                     'Date' header. ",
                )?,
                (Some(_), name) => write!(f, "Authorization header requires '{name}' parameter. ")?,
                (None, name) => write!(
                    f,
                    "AWS query-string parameters must include 'X-Amz-{name}'. "
                )?,
            }
        }
        match self.authorization {
            Some(authorization) => write!(f, "Authorization={authorization}"),
            None => f.write_str("Re-examine the query-string parameters."),
        }
    }
}

fn expires_message(problem: ExpiresProblem) -> &'static str {
    match problem {
        ExpiresProblem::NotANumber => "X-Amz-Expires should be a number",
        ExpiresProblem::Negative => "X-Amz-Expires must be non-negative",
        ExpiresProblem::OverAWeek => {
            "X-Amz-Expires must be less than a week (in seconds); that is, the given \
             X-Amz-Expires must be less than 604800 seconds"
        }
    }
}

fn mismatch_message(s3: bool) -> &'static str {
    if s3 {
        "The request signature we calculated does not match the signature you provided. Check \
         your key and signing method."
    } else {
        "The request signature we calculated does not match the signature you provided. Check \
         your AWS Secret Access Key and signing method. Consult the service documentation for \
         details."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_missing_header_parameters() {
        let error = SigV4Error::IncompleteAuthorization {
            missing: Missing {
                credential: false,
                signature: true,
                signed_headers: true,
                date: true,
            },
            authorization: "AWS4-HMAC-SHA256 Credential=ABC".into(),
        };
        assert_eq!(
            error.to_string(),
            "Authorization header requires 'Signature' parameter. Authorization header requires \
             'SignedHeaders' parameter. Authorization header requires existence of either a \
             'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=ABC"
        );
        assert_eq!((error.code(), error.status()), ("IncompleteSignature", 400));
        assert_eq!(error.json_code(), "IncompleteSignatureException");
    }

    #[test]
    fn lists_missing_query_parameters() {
        let error = SigV4Error::IncompleteQuery {
            missing: Missing {
                credential: true,
                date: true,
                ..Missing::default()
            },
        };
        assert_eq!(
            error.to_string(),
            "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string \
             parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."
        );
    }

    #[test]
    fn details_a_mismatch() {
        let error = SigV4Error::SignatureMismatch {
            canonical_request: "GET\n/".into(),
            string_to_sign: "AWS4-HMAC-SHA256\n...".into(),
            s3: false,
        };
        assert_eq!(
            (error.code(), error.status()),
            ("SignatureDoesNotMatch", 403)
        );
        assert_eq!(error.json_code(), "InvalidSignatureException");
        assert_eq!(error.canonical_request(), Some("GET\n/"));
        assert_eq!(error.string_to_sign(), Some("AWS4-HMAC-SHA256\n..."));
        assert!(error.detailed_message().ends_with(
            "details.\n\nThe Canonical String for this request should have been\n'GET\n/'\n\n\
             The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n...'\n"
        ));
        let s3 = SigV4Error::SignatureMismatch {
            canonical_request: String::new(),
            string_to_sign: String::new(),
            s3: true,
        };
        assert!(
            s3.to_string()
                .ends_with("Check your key and signing method.")
        );
    }

    #[test]
    fn maps_codes_and_statuses() {
        let expired = SigV4Error::RequestExpired {
            expires_at: "20130525T000000Z".into(),
            now: "20130525T000001Z".into(),
        };
        assert_eq!((expired.code(), expired.status()), ("AccessDenied", 403));
        assert_eq!(expired.json_code(), "AccessDeniedException");
        let expires = SigV4Error::InvalidExpires {
            problem: ExpiresProblem::OverAWeek,
        };
        assert_eq!(
            (expires.code(), expires.status()),
            ("AuthorizationQueryParametersError", 400)
        );
        let sha = SigV4Error::ContentSha256Mismatch {
            declared: "a".into(),
            computed: "b".into(),
        };
        assert_eq!(
            (sha.code(), sha.status()),
            ("XAmzContentSHA256Mismatch", 400)
        );
        assert_eq!(SigV4Error::HostNotSigned.status(), 403);
    }
}
