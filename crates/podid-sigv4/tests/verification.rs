//! Every verification error and time boundary, on requests signed with this crate's signer.

use http::{HeaderMap, HeaderValue, Method, Uri};
use podid_sigv4::{
    AmzDate, Credentials, RequestParts, SigV4Error, SignError, SignedRequest, SigningParams,
    presign, sign_request,
};

const SECRET: &str = "verification-secret";
const TOKEN: &str = "session-token-value";
/// 2024-06-10T06:13:20Z.
const SIGNED_AT: i64 = 1_718_000_000;
const STS_URI: &str = "https://sts.amazonaws.com/";
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";

fn params(service: &'static str, time_unix: i64) -> SigningParams<'static> {
    SigningParams {
        credentials: Credentials {
            access_key_id: "AKIDVERIFY",
            secret_access_key: SECRET,
            session_token: Some(TOKEN),
        },
        region: "us-east-1",
        service,
        time_unix,
    }
}

fn uri(text: &str) -> Uri {
    text.parse().expect("test URIs are valid")
}

/// An STS POST signed in its headers at `time_unix`.
fn header_signed(time_unix: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let signed = sign_request(
        &Method::POST,
        &uri(STS_URI),
        &mut headers,
        BODY,
        &params("sts", time_unix),
    );
    assert!(signed.is_ok(), "{signed:?}");
    headers
}

fn verify_headers(headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), SigV4Error> {
    let parts = RequestParts {
        method: "POST",
        path: "/",
        query: None,
        headers,
        body,
    };
    let parsed = SignedRequest::parse(headers, None)?.expect("the request is signed");
    parsed.verify_with_secret(&parts, SECRET, now)
}

/// A presigned STS URL's query, signed at `time_unix`.
fn presigned_query(time_unix: i64, expires: u32) -> String {
    let target = uri("https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15");
    let query = presign(
        &Method::GET,
        &target,
        &HeaderMap::new(),
        expires,
        &params("sts", time_unix),
    );
    query.expect("presigning succeeds")
}

fn verify_query(query: &str, now: i64) -> Result<(), SigV4Error> {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("sts.amazonaws.com"));
    let parts = RequestParts {
        method: "GET",
        path: "/",
        query: Some(query),
        headers: &headers,
        body: b"",
    };
    let parsed = SignedRequest::parse(&headers, Some(query))?.expect("the request is signed");
    parsed.verify_with_secret(&parts, SECRET, now)
}

fn basic(unix: i64) -> String {
    AmzDate::from_unix(unix).to_basic().to_string()
}

#[test]
fn header_signatures_live_fifteen_minutes_either_way() {
    let headers = header_signed(SIGNED_AT);
    for now in [SIGNED_AT - 900, SIGNED_AT, SIGNED_AT + 900] {
        assert_eq!(verify_headers(&headers, BODY, now), Ok(()), "at {now}");
    }

    let late = verify_headers(&headers, BODY, SIGNED_AT + 901).expect_err("too late");
    assert_eq!(
        late.to_string(),
        "Signature expired: 20240610T061320Z is now earlier than 20240610T061321Z \
         (20240610T062821Z - 15 min.)"
    );
    assert_eq!((late.code(), late.status()), ("SignatureDoesNotMatch", 403));
    assert_eq!(late.json_code(), "InvalidSignatureException");

    let early = verify_headers(&headers, BODY, SIGNED_AT - 901).expect_err("too early");
    assert_eq!(
        early.to_string(),
        "Signature not yet current: 20240610T061320Z is still later than 20240610T061319Z \
         (20240610T055819Z + 15 min.)"
    );
    assert_eq!(
        (early.code(), early.status()),
        ("SignatureDoesNotMatch", 403)
    );
}

#[test]
fn presigned_urls_live_until_x_amz_expires() {
    let query = presigned_query(SIGNED_AT, 60);
    assert_eq!(verify_query(&query, SIGNED_AT), Ok(()));
    assert_eq!(verify_query(&query, SIGNED_AT + 59), Ok(()));
    let expired = verify_query(&query, SIGNED_AT + 60).expect_err("expired");
    assert_eq!(expired.to_string(), "Request has expired");
    assert_eq!((expired.code(), expired.status()), ("AccessDenied", 403));
    assert_eq!(
        expired,
        SigV4Error::RequestExpired {
            expires_at: basic(SIGNED_AT + 60),
            now: basic(SIGNED_AT + 60),
        }
    );

    let week = presigned_query(SIGNED_AT, 604_800);
    assert_eq!(verify_query(&week, SIGNED_AT + 604_799), Ok(()));
    let code = verify_query(&week, SIGNED_AT + 604_800).map_err(|error| error.code());
    assert_eq!(code, Err("AccessDenied"));

    let future = presigned_query(SIGNED_AT + 901, 3600);
    let code = verify_query(&future, SIGNED_AT).map_err(|error| error.code());
    assert_eq!(code, Err("SignatureDoesNotMatch"));
    assert_eq!(
        verify_query(&presigned_query(SIGNED_AT + 900, 3600), SIGNED_AT),
        Ok(())
    );
}

#[test]
fn presigned_urls_without_expires_live_like_header_signatures() {
    let query = presigned_query(SIGNED_AT, 60);
    let without: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("X-Amz-Expires="))
        .collect();
    let without = without.join("&");
    let headers = HeaderMap::new();
    let parsed = SignedRequest::parse(&headers, Some(&without))
        .ok()
        .flatten()
        .expect("parses");
    assert_eq!(parsed.expires(), None);
    assert_eq!(parsed.check_time(SIGNED_AT + 900), Ok(()));
    let late = parsed
        .check_time(SIGNED_AT + 901)
        .map_err(|error| error.to_string());
    assert_eq!(
        late,
        Err(
            "Signature expired: 20240610T061320Z is now earlier than 20240610T061321Z \
             (20240610T062821Z - 15 min.)"
                .to_owned()
        )
    );
}

#[test]
fn the_scope_date_must_be_the_request_date() {
    let before_midnight = 1_718_063_999; // 2024-06-10T23:59:59Z
    let mut headers = header_signed(before_midnight);
    headers.insert("x-amz-date", HeaderValue::from_static("20240611T000000Z"));
    let error = verify_headers(&headers, BODY, before_midnight + 1).expect_err("other day");
    assert_eq!(
        error.to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
         HTTP: '20240610' != '20240611', from '20240611T000000Z'."
    );
    assert_eq!(
        (error.code(), error.status()),
        ("SignatureDoesNotMatch", 403)
    );
}

#[test]
fn host_must_be_signed() {
    let mut headers = header_signed(SIGNED_AT);
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .replace("content-type;host;", "content-type;");
    headers.insert(
        "authorization",
        HeaderValue::from_str(&authorization).expect("valid"),
    );
    let error = verify_headers(&headers, BODY, SIGNED_AT).expect_err("host unsigned");
    assert_eq!(
        error.to_string(),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );
    assert_eq!(
        (error.code(), error.status()),
        ("SignatureDoesNotMatch", 403)
    );
}

#[test]
fn a_declared_payload_hash_must_be_the_bodys() {
    let mut headers = HeaderMap::new();
    let other_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    headers.insert("x-amz-content-sha256", HeaderValue::from_static(other_hash));
    let signed = sign_request(
        &Method::POST,
        &uri(STS_URI),
        &mut headers,
        BODY,
        &params("sts", SIGNED_AT),
    );
    assert!(signed.is_ok());
    let error = verify_headers(&headers, BODY, SIGNED_AT).expect_err("declared hash is wrong");
    assert_eq!(
        error.to_string(),
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    );
    assert_eq!(
        (error.code(), error.status()),
        ("XAmzContentSHA256Mismatch", 400)
    );
    assert_eq!(verify_headers(&headers, b"", SIGNED_AT), Ok(()));
}

#[test]
fn an_unsigned_payload_covers_any_body() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
    let signed = sign_request(
        &Method::POST,
        &uri(STS_URI),
        &mut headers,
        BODY,
        &params("sts", SIGNED_AT),
    );
    assert!(signed.is_ok());
    assert_eq!(
        verify_headers(&headers, b"any other body", SIGNED_AT),
        Ok(())
    );
}

#[test]
fn signatures_must_be_lowercase_hex() {
    let mut headers = header_signed(SIGNED_AT);
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (start, signature) = authorization
        .split_once("Signature=")
        .expect("has a signature");
    let upper = format!("{start}Signature={}", signature.to_ascii_uppercase());
    headers.insert(
        "authorization",
        HeaderValue::from_str(&upper).expect("valid"),
    );
    let code = verify_headers(&headers, BODY, SIGNED_AT).map_err(|error| error.code());
    assert_eq!(code, Err("SignatureDoesNotMatch"));
}

#[test]
fn the_date_header_stands_in_for_x_amz_date() {
    let mut headers = header_signed(SIGNED_AT);
    headers.remove("x-amz-date");
    headers.insert(
        "date",
        HeaderValue::from_static("Mon, 10 Jun 2024 06:13:20 GMT"),
    );
    let parsed = SignedRequest::parse(&headers, None)
        .ok()
        .flatten()
        .expect("parses");
    assert_eq!(parsed.request_time().unix(), SIGNED_AT);
    // The signature covered an `x-amz-date` header that is gone now: the server's string to
    // sign still takes its time from `Date`.
    let error = verify_headers(&headers, BODY, SIGNED_AT).expect_err("x-amz-date was signed");
    let string_to_sign = error.string_to_sign().unwrap_or_default();
    assert!(
        string_to_sign.starts_with("AWS4-HMAC-SHA256\n20240610T061320Z\n20240610/us-east-1/sts/")
    );
}

#[test]
fn secrets_stay_out_of_debug_output_and_errors() {
    let headers = header_signed(SIGNED_AT);
    let parsed = SignedRequest::parse(&headers, None)
        .ok()
        .flatten()
        .expect("parses");
    assert_eq!(parsed.session_token(), Some(TOKEN));
    assert!(!format!("{parsed:?}").contains(TOKEN));
    let parts = RequestParts {
        method: "POST",
        path: "/",
        query: Some("X-Amz-Security-Token=session-token-value"),
        headers: &headers,
        body: BODY,
    };
    let shown = format!("{parts:?}");
    assert!(
        !shown.contains(TOKEN) && !shown.contains("GetCallerIdentity"),
        "{shown}"
    );
    let credentials = params("sts", SIGNED_AT).credentials;
    let shown = format!("{credentials:?}");
    assert!(!shown.contains(SECRET) && !shown.contains(TOKEN), "{shown}");
    let error = parsed
        .verify_with_secret(&parts, "wrong", SIGNED_AT)
        .expect_err("wrong secret");
    assert!(!error.detailed_message().contains(SECRET));
    assert!(!format!("{:?}", parsed.signing_key(SECRET)).contains(SECRET));
}

#[test]
fn signing_refuses_what_it_cannot_sign() {
    let target = uri("https://sts.amazonaws.com/");
    for seconds in [0, 604_801] {
        let result = presign(
            &Method::GET,
            &target,
            &HeaderMap::new(),
            seconds,
            &params("sts", SIGNED_AT),
        );
        assert!(matches!(result, Err(SignError::ExpiresOutOfRange { seconds: s }) if s == seconds));
    }
    let mut headers = HeaderMap::new();
    let no_host = sign_request(
        &Method::GET,
        &uri("/path"),
        &mut headers,
        b"",
        &params("sts", SIGNED_AT),
    );
    assert_eq!(
        no_host.map_err(|error| error.to_string()),
        Err(
            "request to sign has no host: its URI has no authority and no host header is set"
                .into()
        )
    );
    let mut bad = params("sts", SIGNED_AT);
    bad.credentials.session_token = Some("line\nbreak");
    let invalid = sign_request(&Method::GET, &target, &mut HeaderMap::new(), b"", &bad);
    assert_eq!(
        invalid.map_err(|error| error.to_string()),
        Err("session token is not a valid header value".into())
    );
}
