//! Reading EKS Auth's answers, as restJson1 clients do.
//!
//! A refusal names its type in the `X-Amzn-Errortype` header, or in the body's `__type` or
//! `code`, and explains itself in the body's `message` (or `Message`). Errors of JSON parsing
//! are reported by position only: serde's own words may quote a value, which here is a secret.

use hyper::StatusCode;
use podid_core::Secret;
use podid_core::arn;
use podid_core::container::RoleCredentials;
use podid_core::eks_auth::{AssumedRoleUser, ErrorCode, WireCredentials, error_type_name};
use serde::Deserialize;

use crate::upstream::UpstreamError;
use crate::upstream::http_client::Reply;

/// The members of a 200 the agent uses; the others are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Success {
    credentials: WireCredentials,
    assumed_role_user: Option<AssumedRoleUser>,
}

#[derive(Deserialize, Default)]
struct Refusal {
    #[serde(rename = "__type", alias = "code", alias = "Code")]
    error_type: Option<String>,
    #[serde(alias = "Message")]
    message: Option<String>,
}

pub fn credentials(reply: &Reply) -> Result<RoleCredentials, UpstreamError> {
    let success: Success = serde_json::from_slice(&reply.body).map_err(|error| {
        UpstreamError::new(
            ErrorCode::InternalServer,
            format!(
                "EKS Auth's answer is not an AssumeRoleForPodIdentity response (line {}, \
                 column {})",
                error.line(),
                error.column()
            ),
        )
    })?;
    let WireCredentials {
        session_token,
        secret_access_key,
        access_key_id,
        expiration,
    } = success.credentials;
    let role_arn = success
        .assumed_role_user
        .map(|user| user.arn)
        .unwrap_or_default();
    Ok(RoleCredentials {
        access_key_id,
        secret_access_key: Secret::new(secret_access_key),
        session_token: Secret::new(session_token),
        expiration: expiration as i64,
        account_id: arn::account_id(&role_arn).unwrap_or_default().to_owned(),
    })
}

/// What an answer other than 200 stands for.
#[derive(Debug)]
pub struct Refused {
    pub error: UpstreamError,
    /// The request was signed at a time too far from the service's clock (AWS allows 15
    /// minutes either way), so it would pass if signed again with the service's time.
    pub clock_skew: bool,
}

pub fn refusal(reply: &Reply) -> Refused {
    let body: Refusal = serde_json::from_slice(&reply.body).unwrap_or_default();
    let error_type = error_type(reply, &body);
    let code = error_type
        .and_then(ErrorCode::from_error_type)
        .unwrap_or_else(|| code_for_status(reply.status));
    let clock_skew = is_clock_skew(
        error_type.map(error_type_name).unwrap_or_default(),
        body.message.as_deref().unwrap_or_default(),
    );
    let message = body.message.unwrap_or_else(|| {
        format!(
            "EKS Auth refused the request with HTTP {}",
            reply.status.as_u16()
        )
    });
    Refused {
        error: UpstreamError::new(code, message),
        clock_skew,
    }
}

fn is_clock_skew(name: &str, message: &str) -> bool {
    matches!(
        name,
        "RequestTimeTooSkewed" | "RequestInTheFuture" | "RequestExpired"
    ) || (name == "InvalidSignatureException"
        && (message.starts_with("Signature expired")
            || message.starts_with("Signature not yet current")))
}

/// The error type a refusal names: `X-Amzn-Errortype`, else the body's.
fn error_type<'r>(reply: &'r Reply, body: &'r Refusal) -> Option<&'r str> {
    let header = reply
        .headers
        .get("x-amzn-errortype")
        .and_then(|value| value.to_str().ok());
    header.or(body.error_type.as_deref())
}

/// Whether the same request may succeed if sent again: throttling and transient server
/// failures, as the AWS SDKs' standard retry strategy judges them.
pub fn is_transient(status: StatusCode, code: ErrorCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504)
        || matches!(code, ErrorCode::Throttling | ErrorCode::ServiceUnavailable)
}

/// Classifies an error whose type the agent does not know by its HTTP status.
fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        404 => ErrorCode::ResourceNotFound,
        429 => ErrorCode::Throttling,
        503 => ErrorCode::ServiceUnavailable,
        400..=499 => ErrorCode::InvalidRequest,
        _ => ErrorCode::InternalServer,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use hyper::HeaderMap;

    use super::*;

    fn reply(status: u16, headers: &[(&'static str, &'static str)], body: &str) -> Reply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn reads_the_credentials_and_the_account_of_the_role() {
        let body = r#"{"subject":{"namespace":"default","serviceAccount":"s3-reader"},
            "audience":"pods.eks.amazonaws.com",
            "podIdentityAssociation":{"associationArn":"arn:x","associationId":"a-1"},
            "assumedRoleUser":{"arn":"arn:aws:sts::111122223333:assumed-role/r/s",
                               "assumeRoleId":"AROA:s"},
            "credentials":{"sessionToken":"tok","secretAccessKey":"sec",
                           "accessKeyId":"ASIAPOD","expiration":1.7648e9}}"#;
        let credentials = credentials(&reply(200, &[], body)).unwrap();
        assert_eq!(credentials.access_key_id, "ASIAPOD");
        assert_eq!(credentials.secret_access_key.expose(), "sec");
        assert_eq!(credentials.session_token.expose(), "tok");
        assert_eq!(credentials.expiration, 1_764_800_000);
        assert_eq!(credentials.account_id, "111122223333");
    }

    #[test]
    fn a_malformed_success_is_reported_without_its_contents() {
        let body = r#"{"credentials":{"sessionToken":"secret-token","accessKeyId":"A"}}"#;
        let error = credentials(&reply(200, &[], body)).unwrap_err();
        assert_eq!(error.code, ErrorCode::InternalServer);
        assert!(
            error
                .message
                .contains("not an AssumeRoleForPodIdentity response")
        );
        assert!(!error.message.contains("secret-token"), "{}", error.message);
    }

    #[test]
    fn error_types_come_from_the_header_or_the_body() {
        let header = reply(
            400,
            &[(
                "x-amzn-errortype",
                "AccessDeniedException:http://internal.amazon.com/",
            )],
            r#"{"message":"not allowed"}"#,
        );
        assert_eq!(
            refusal(&header).error,
            UpstreamError::new(ErrorCode::AccessDenied, "not allowed")
        );
        let body = reply(
            400,
            &[],
            r#"{"__type":"ExpiredTokenException","Message":"old"}"#,
        );
        assert_eq!(
            refusal(&body).error,
            UpstreamError::new(ErrorCode::ExpiredToken, "old")
        );
        let code = reply(404, &[], r#"{"code":"ResourceNotFoundException"}"#);
        assert_eq!(refusal(&code).error.code, ErrorCode::ResourceNotFound);
    }

    #[test]
    fn unknown_errors_are_classified_by_status() {
        let cases = [
            (404, ErrorCode::ResourceNotFound),
            (429, ErrorCode::Throttling),
            (403, ErrorCode::InvalidRequest),
            (502, ErrorCode::InternalServer),
            (503, ErrorCode::ServiceUnavailable),
        ];
        for (status, code) in cases {
            let error = refusal(&reply(status, &[], "<html>gateway</html>")).error;
            assert_eq!(error.code, code, "{status}");
            assert_eq!(
                error.message,
                format!("EKS Auth refused the request with HTTP {status}")
            );
        }
    }

    #[test]
    fn signatures_refused_for_their_time_are_told_apart() {
        let expired = reply(
            403,
            &[("x-amzn-errortype", "InvalidSignatureException")],
            r#"{"message":"Signature expired: 20261204T100000Z is now earlier than later"}"#,
        );
        assert!(refusal(&expired).clock_skew);
        let future = reply(
            403,
            &[],
            r#"{"__type":"InvalidSignatureException","message":"Signature not yet current: x"}"#,
        );
        assert!(refusal(&future).clock_skew);
        let skewed = reply(400, &[("x-amzn-errortype", "RequestTimeTooSkewed")], "{}");
        assert!(refusal(&skewed).clock_skew);
        let mismatch = reply(
            403,
            &[("x-amzn-errortype", "InvalidSignatureException")],
            r#"{"message":"The request signature we calculated does not match"}"#,
        );
        assert!(!refusal(&mismatch).clock_skew);
        let denied = reply(400, &[("x-amzn-errortype", "AccessDeniedException")], "{}");
        assert!(!refusal(&denied).clock_skew);
    }

    #[test]
    fn only_throttling_and_server_failures_are_tried_again() {
        assert!(is_transient(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Throttling
        ));
        assert!(is_transient(
            StatusCode::BAD_GATEWAY,
            ErrorCode::InternalServer
        ));
        assert!(is_transient(StatusCode::BAD_REQUEST, ErrorCode::Throttling));
        assert!(!is_transient(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidToken
        ));
        assert!(!is_transient(
            StatusCode::FORBIDDEN,
            ErrorCode::AccessDenied
        ));
        assert!(!is_transient(
            StatusCode::NOT_FOUND,
            ErrorCode::ResourceNotFound
        ));
    }
}
