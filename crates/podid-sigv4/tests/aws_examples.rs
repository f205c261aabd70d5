//! The worked examples of AWS's documentation, with their published signatures: IAM's
//! `ListUsers` request and signing-key derivation from the SigV4 reference, and S3's
//! header-signed and presigned examples.

use http::{HeaderMap, HeaderValue, Method, Uri};
use podid_sigv4::{
    AmzDate, Credentials, RequestParts, SignedRequest, SigningKey, SigningParams, presign,
    sign_request,
};

const IAM_ACCESS_KEY: &str = "AKIDEXAMPLE";
const IAM_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const S3_ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn unix(basic: &str) -> i64 {
    AmzDate::parse_basic(basic).map_or(i64::MIN, AmzDate::unix)
}

fn header_map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                http::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            )
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Verifies a request that already carries its signature, at its own signing time.
fn verify(method: &str, uri: &str, headers: &HeaderMap, body: &[u8], secret: &str, now: i64) {
    let uri: Uri = uri.parse().unwrap_or_default();
    let parts = RequestParts {
        method,
        path: uri.path(),
        query: uri.query(),
        headers,
        body,
    };
    let parsed = SignedRequest::parse(headers, uri.query());
    let Ok(Some(parsed)) = parsed else {
        panic!("request should carry a signature: {parsed:?}");
    };
    assert_eq!(parsed.verify_with_secret(&parts, secret, now), Ok(()));
}

/// Signs `headers` with the signer and returns the `Authorization` header it set.
fn signed_authorization(
    method: Method,
    uri: &str,
    mut headers: HeaderMap,
    body: &[u8],
    params: &SigningParams<'_>,
) -> String {
    let uri: Uri = uri.parse().unwrap_or_default();
    let result = sign_request(&method, &uri, &mut headers, body, params);
    assert!(result.is_ok(), "{result:?}");
    let value = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    value.unwrap_or_default().to_owned()
}

fn params<'a>(
    access_key_id: &'a str,
    secret: &'a str,
    service: &'a str,
    time: &str,
) -> SigningParams<'a> {
    SigningParams {
        credentials: Credentials {
            access_key_id,
            secret_access_key: secret,
            session_token: None,
        },
        region: "us-east-1",
        service,
        time_unix: unix(time),
    }
}

#[test]
fn derives_the_documented_signing_keys() {
    let key = SigningKey::derive(IAM_SECRET, "20150830", "us-east-1", "iam");
    assert_eq!(
        hex(key.expose_bytes()),
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    );
    let key = SigningKey::derive(IAM_SECRET, "20120215", "us-east-1", "iam");
    assert_eq!(
        hex(key.expose_bytes()),
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
    );
}

#[test]
fn iam_list_users() {
    let uri = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08";
    let unsigned = header_map(&[
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("host", "iam.amazonaws.com"),
    ]);
    let time = "20150830T123600Z";
    let authorization = signed_authorization(
        Method::GET,
        uri,
        unsigned.clone(),
        b"",
        &params(IAM_ACCESS_KEY, IAM_SECRET, "iam", time),
    );
    assert_eq!(
        authorization,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );

    let mut signed = unsigned;
    signed.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    signed.insert(
        "authorization",
        HeaderValue::from_str(&authorization).unwrap_or(HeaderValue::from_static("")),
    );
    verify("GET", uri, &signed, b"", IAM_SECRET, unix(time));
}

#[test]
fn s3_get_object_with_range() {
    let uri = "https://examplebucket.s3.amazonaws.com/test.txt";
    let unsigned = header_map(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_SHA256),
    ]);
    let authorization = signed_authorization(
        Method::GET,
        uri,
        unsigned,
        b"",
        &params(S3_ACCESS_KEY, S3_SECRET, "s3", "20130524T000000Z"),
    );
    assert_eq!(
        authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

#[test]
fn s3_put_object() {
    let uri = "https://examplebucket.s3.amazonaws.com/test%24file.text";
    let body = b"Welcome to Amazon S3.";
    let headers = header_map(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "x-amz-content-sha256",
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        ),
    ]);
    let time = "20130524T000000Z";
    let authorization = signed_authorization(
        Method::PUT,
        uri,
        headers.clone(),
        body,
        &params(S3_ACCESS_KEY, S3_SECRET, "s3", time),
    );
    assert_eq!(
        authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, \
         Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    );
    let mut signed = headers;
    signed.insert("x-amz-date", HeaderValue::from_static("20130524T000000Z"));
    signed.insert(
        "authorization",
        HeaderValue::from_str(&authorization).unwrap_or(HeaderValue::from_static("")),
    );
    verify("PUT", uri, &signed, body, S3_SECRET, unix(time));
}

#[test]
fn s3_get_bucket_lifecycle_and_list_objects() {
    let cases = [
        (
            "https://examplebucket.s3.amazonaws.com/?lifecycle",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        ),
        (
            "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
    ];
    for (uri, signature) in cases {
        // The signer adds the `x-amz-content-sha256` header S3 requires.
        let headers = header_map(&[("host", "examplebucket.s3.amazonaws.com")]);
        let authorization = signed_authorization(
            Method::GET,
            uri,
            headers,
            b"",
            &params(S3_ACCESS_KEY, S3_SECRET, "s3", "20130524T000000Z"),
        );
        assert!(
            authorization.ends_with(&format!("Signature={signature}")),
            "{authorization}"
        );
    }
}

#[test]
fn s3_presigned_get_object() {
    let expected_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    let uri: Uri = "https://examplebucket.s3.amazonaws.com/test.txt"
        .parse()
        .unwrap_or_default();
    let time = "20130524T000000Z";
    let query = presign(
        &Method::GET,
        &uri,
        &HeaderMap::new(),
        86_400,
        &params(S3_ACCESS_KEY, S3_SECRET, "s3", time),
    );
    assert_eq!(query.ok().as_deref(), Some(expected_query));

    let headers = header_map(&[("host", "examplebucket.s3.amazonaws.com")]);
    let full = format!("https://examplebucket.s3.amazonaws.com/test.txt?{expected_query}");
    verify("GET", &full, &headers, b"", S3_SECRET, unix(time) + 86_399);
}
