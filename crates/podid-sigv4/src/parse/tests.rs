use http::HeaderValue;

use super::*;
use crate::error::ExpiresProblem;

const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
    Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
    SignedHeaders=content-type;host;x-amz-date, \
    Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            *name,
            HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
        );
    }
    map
}

fn header_error(pairs: &[(&'static str, &str)]) -> SigV4Error {
    let map = headers(pairs);
    match SignedRequest::parse(&map, None) {
        Err(error) => error,
        Ok(parsed) => panic!("expected an error, parsed {parsed:?}"),
    }
}

fn query_error(query: &str) -> SigV4Error {
    let map = HeaderMap::new();
    match SignedRequest::parse(&map, Some(query)) {
        Err(error) => error,
        Ok(parsed) => panic!("expected an error, parsed {parsed:?}"),
    }
}

const PRESIGNED: &str = "Action=GetCallerIdentity&X-Amz-Algorithm=AWS4-HMAC-SHA256\
                         &X-Amz-Credential=AKID%2F20240101%2Feu-west-1%2Fsts%2Faws4_request\
                         &X-Amz-Date=20240101T120000Z&X-Amz-Expires=60\
                         &X-Amz-SignedHeaders=host%3Bx-k8s-aws-id\
                         &X-Amz-Security-Token=to%2Bken&X-Amz-Signature=abc";

#[test]
fn parses_an_authorization_header() {
    let map = headers(&[
        ("authorization", AUTHORIZATION),
        ("x-amz-date", "20150830T123600Z"),
        ("x-amz-security-token", "token"),
    ]);
    let parsed = SignedRequest::parse(&map, Some("Action=ListUsers"))
        .ok()
        .flatten();
    let Some(parsed) = parsed else {
        panic!("header should parse");
    };
    assert_eq!(parsed.location(), AuthLocation::Header);
    assert_eq!(parsed.access_key_id(), "AKIDEXAMPLE");
    assert_eq!(parsed.scope_date(), "20150830");
    assert_eq!(parsed.region(), "us-east-1");
    assert_eq!(parsed.service(), "iam");
    assert_eq!(parsed.scope(), "20150830/us-east-1/iam/aws4_request");
    assert_eq!(parsed.signed_headers(), "content-type;host;x-amz-date");
    let names: Vec<&str> = parsed.signed_header_names().collect();
    assert_eq!(names, ["content-type", "host", "x-amz-date"]);
    assert!(parsed.signature().starts_with("5d672d79"));
    assert_eq!(parsed.request_time().unix(), 1_440_938_160);
    assert_eq!(parsed.amz_date(), "20150830T123600Z");
    assert_eq!(parsed.session_token(), Some("token"));
    assert_eq!((parsed.expires(), parsed.is_presigned()), (None, false));
    assert!(matches!(parsed.credential, Cow::Borrowed(_)));
    assert!(!format!("{parsed:?}").contains("\"token\""));
}

#[test]
fn reads_the_date_header_when_there_is_no_x_amz_date() {
    let map = headers(&[
        ("authorization", AUTHORIZATION),
        ("date", "Sun, 30 Aug 2015 12:36:00 GMT"),
    ]);
    let parsed = SignedRequest::parse(&map, None).ok().flatten();
    assert_eq!(
        parsed.map(|p| p.amz_date().to_owned()),
        Some("20150830T123600Z".into())
    );
}

#[test]
fn parses_a_presigned_query() {
    let map = HeaderMap::new();
    let Some(parsed) = SignedRequest::parse(&map, Some(PRESIGNED)).ok().flatten() else {
        panic!("query should parse");
    };
    assert_eq!(parsed.location(), AuthLocation::Query);
    assert_eq!(parsed.access_key_id(), "AKID");
    assert_eq!((parsed.region(), parsed.service()), ("eu-west-1", "sts"));
    assert_eq!(parsed.signed_headers(), "host;x-k8s-aws-id");
    assert_eq!(parsed.signature(), "abc");
    assert_eq!(parsed.session_token(), Some("to+ken"));
    assert_eq!(parsed.expires(), Some(60));
    assert_eq!(parsed.amz_date(), "20240101T120000Z");
}

#[test]
fn unsigned_requests_parse_to_none() {
    let map = headers(&[("host", "example.com"), ("x-amz-date", "20150830T123600Z")]);
    assert_eq!(
        SignedRequest::parse(&map, None).map(|p| p.is_none()),
        Ok(true)
    );
    let query = Some("Action=ListUsers&X-Amz-Date=20150830T123600Z&X-Amz-Signature=ab");
    assert_eq!(
        SignedRequest::parse(&map, query).map(|p| p.is_none()),
        Ok(true)
    );
}

#[test]
fn names_every_missing_header_parameter() {
    let error = header_error(&[("authorization", "AWS4-HMAC-SHA256 Credential=AKID/x")]);
    assert_eq!(
        error.to_string(),
        "Authorization header requires 'Signature' parameter. Authorization header requires \
         'SignedHeaders' parameter. Authorization header requires existence of either a \
         'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=AKID/x"
    );
    assert_eq!((error.code(), error.status()), ("IncompleteSignature", 400));

    let bearer = header_error(&[("authorization", "Bearer eyJhbGciOi"), ("x-amz-date", "x")]);
    assert_eq!(
        bearer.to_string(),
        "'eyJhbGciOi' not a valid key=value pair (missing equal-sign) in Authorization header: \
         'Bearer eyJhbGciOi'."
    );
    assert_eq!(bearer.code(), "IncompleteSignature");

    let basic = header_error(&[("authorization", "Basic dXNlcjpwYXNz=="), ("date", "x")]);
    assert_eq!(
        basic.to_string(),
        "Authorization header requires 'Credential' parameter. Authorization header requires \
         'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
         Authorization=Basic dXNlcjpwYXNz=="
    );
}

#[test]
fn empty_credential_or_signature_counts_as_missing() {
    let error = header_error(&[
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
        ),
        ("x-amz-date", "20150830T123600Z"),
    ]);
    let expected = Missing {
        credential: true,
        signature: true,
        ..Missing::default()
    };
    assert!(
        matches!(error, SigV4Error::IncompleteAuthorization { missing, .. } if missing == expected)
    );
}

#[test]
fn rejects_malformed_dates() {
    let error = header_error(&[("authorization", AUTHORIZATION), ("x-amz-date", "201")]);
    assert_eq!(
        error.to_string(),
        "Date must be in ISO-8601 'basic format'. Got '201'. See \
         http://en.wikipedia.org/wiki/ISO_8601"
    );
    assert_eq!(error.code(), "IncompleteSignature");
    let date = header_error(&[("authorization", AUTHORIZATION), ("date", "yesterday")]);
    assert_eq!(
        date,
        SigV4Error::MalformedDate {
            value: "yesterday".into()
        }
    );
    let query = query_error(&PRESIGNED.replace("20240101T120000Z", "2024-01-01"));
    assert_eq!(
        query,
        SigV4Error::MalformedDate {
            value: "2024-01-01".into()
        }
    );
}

#[test]
fn rejects_other_algorithms() {
    let header = AUTHORIZATION.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512");
    let error = header_error(&[
        ("authorization", &header),
        ("x-amz-date", "20150830T123600Z"),
    ]);
    assert_eq!(
        error.to_string(),
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'."
    );
    assert_eq!((error.code(), error.status()), ("IncompleteSignature", 400));
    let query = query_error(&PRESIGNED.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256&", ""));
    assert_eq!(query.to_string(), "Unsupported AWS 'algorithm': ''.");
}

#[test]
fn rejects_credentials_of_the_wrong_shape() {
    for credential in [
        "AKID/20150830/us-east-1/iam",
        "AKID/20150830/us-east-1/iam/aws4_request/x",
    ] {
        let header = AUTHORIZATION.replace(
            "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request",
            credential,
        );
        let error = header_error(&[
            ("authorization", &header),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        assert_eq!(
            error.to_string(),
            format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got '{credential}'"
            )
        );
        assert_eq!(error.status(), 400);
    }
    let header = AUTHORIZATION.replace("aws4_request", "aws5_request");
    let error = header_error(&[
        ("authorization", &header),
        ("x-amz-date", "20150830T123600Z"),
    ]);
    assert_eq!(
        error.to_string(),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    );
    assert_eq!(
        (error.code(), error.status()),
        ("SignatureDoesNotMatch", 403)
    );
}

#[test]
fn names_every_missing_query_parameter() {
    let error = query_error("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host");
    assert_eq!(
        error.to_string(),
        "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string \
         parameters must include 'X-Amz-Signature'. AWS query-string parameters must include \
         'X-Amz-Date'. Re-examine the query-string parameters."
    );
    assert_eq!((error.code(), error.status()), ("IncompleteSignature", 400));
}

#[test]
fn bounds_the_presigned_lifetime() {
    let with_expires =
        |value: &str| PRESIGNED.replace("X-Amz-Expires=60", &format!("X-Amz-Expires={value}"));
    let parse = |value: &str| {
        let map = HeaderMap::new();
        let query = with_expires(value);
        SignedRequest::parse(&map, Some(&query)).map(|parsed| parsed.and_then(|p| p.expires()))
    };
    assert_eq!(parse("0"), Ok(Some(0)));
    assert_eq!(parse("604800"), Ok(Some(604_800)));
    let problem = |value: &str| match query_error(&with_expires(value)) {
        SigV4Error::InvalidExpires { problem } => problem,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(problem("604801"), ExpiresProblem::OverAWeek);
    assert_eq!(
        problem("99999999999999999999999"),
        ExpiresProblem::OverAWeek
    );
    assert_eq!(problem("-1"), ExpiresProblem::Negative);
    assert_eq!(problem("soon"), ExpiresProblem::NotANumber);
    assert_eq!(problem(""), ExpiresProblem::NotANumber);
    let error = query_error(&with_expires("604801"));
    assert_eq!(
        error.to_string(),
        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires \
         must be less than 604800 seconds"
    );
    assert_eq!(
        (error.code(), error.status()),
        ("AuthorizationQueryParametersError", 400)
    );
    assert_eq!(
        query_error(&with_expires("-1")).to_string(),
        "X-Amz-Expires must be non-negative"
    );
    assert_eq!(
        query_error(&with_expires("x")).to_string(),
        "X-Amz-Expires should be a number"
    );
}

#[test]
fn non_utf8_authorization_is_incomplete() {
    let mut map = HeaderMap::new();
    let value =
        HeaderValue::from_bytes(b"AWS4-HMAC-SHA256 \xff").unwrap_or(HeaderValue::from_static(""));
    map.insert("authorization", value);
    let error = SignedRequest::parse(&map, None).err();
    assert_eq!(
        error.as_ref().map(SigV4Error::code),
        Some("IncompleteSignature")
    );
}
