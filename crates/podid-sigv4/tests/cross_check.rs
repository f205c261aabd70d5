//! Cross-check with the AWS SDK's own signer: requests signed by `aws-sigv4` verify here, and
//! changing any signed part of them afterwards fails with the error AWS would give.

use std::time::{Duration, UNIX_EPOCH};

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderValue, Method, Request};
use podid_sigv4::{AmzDate, RequestParts, SignedRequest};

const ACCESS_KEY: &str = "AKIAEXAMPLEACCESSKEY";
const SECRET: &str = "cGFzc3dvcmQvd2l0aCtzbGFzaGVzK2FuZCtwbHVzZXM=";
const SIGNED_AT: i64 = 1_718_000_000;
const VERIFIED_AT: i64 = SIGNED_AT + 10;

/// One request to sign, in a form both signers understand.
struct Case {
    name: &'static str,
    method: &'static str,
    uri: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    service: &'static str,
    session_token: Option<&'static str>,
    presign_for: Option<u64>,
}

const CASES: &[Case] = &[
    Case {
        name: "sts form post with a session token",
        method: "POST",
        uri: "https://sts.us-east-1.amazonaws.com/",
        headers: &[
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("x-custom", "value"),
        ],
        body: b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fapp\
                &RoleSessionName=s1&Version=2011-06-15",
        service: "sts",
        session_token: Some("FwoGZXIvYXdzEJr//////////wEaDM+token/with=chars"),
        presign_for: None,
    },
    Case {
        name: "iam query with reserved characters, repeats, plus and empty values",
        method: "GET",
        uri: "https://iam.amazonaws.com/?Action=ListUsers&PathPrefix=%2Fteam%20a%2F\
              &Marker=a%2Bb%3D%26c&b=2&b=1&flag&empty=&q=a+b&%7Etilde=%7e&Version=2010-05-08",
        headers: &[("x-custom", "  inner    spaces   here  ")],
        body: b"",
        service: "iam",
        session_token: None,
        presign_for: None,
    },
    Case {
        name: "eks json with a unicode path, dot segments and repeated headers",
        method: "POST",
        uri: "https://eks.eu-west-1.amazonaws.com/clusters/%E2%82%AC%20prod/./x/../\
              pod-identity-associations",
        headers: &[
            ("content-type", "application/json"),
            ("x-custom", "one"),
            ("x-multi", "first  value"),
            ("x-multi", "second"),
        ],
        body:
            br#"{"namespace":"default","serviceAccount":"app","roleArn":"arn:aws:iam::1:role/r"}"#,
        service: "eks",
        session_token: None,
        presign_for: None,
    },
    Case {
        name: "s3 get with an encoded key and a query",
        method: "GET",
        uri: "https://bucket.s3.us-east-1.amazonaws.com/dir/a%20b/%E2%82%AC.txt\
              ?list-type=2&prefix=a%2Fb&delimiter=%2F",
        headers: &[("x-custom", "s3 value"), ("range", "bytes=0-9")],
        body: b"",
        service: "s3",
        session_token: Some("s3-session-token"),
        presign_for: None,
    },
    Case {
        name: "s3 put with a body",
        method: "PUT",
        uri: "https://bucket.s3.us-east-1.amazonaws.com/upload/file%2B1.bin",
        headers: &[
            ("x-custom", "put"),
            ("content-type", "application/octet-stream"),
        ],
        body: b"\x00\x01binary body\xff",
        service: "s3",
        session_token: None,
        presign_for: None,
    },
    Case {
        name: "presigned sts get caller identity",
        method: "GET",
        uri: "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
        headers: &[("x-k8s-aws-id", "my-cluster"), ("x-custom", "presigned")],
        body: b"",
        service: "sts",
        session_token: Some("presign/token+with=chars"),
        presign_for: Some(900),
    },
    Case {
        name: "presigned s3 get",
        method: "GET",
        uri: "https://bucket.s3.us-east-1.amazonaws.com/key%20with%20spaces.txt\
              ?response-content-type=text%2Fplain",
        headers: &[("x-custom", "presigned s3")],
        body: b"",
        service: "s3",
        session_token: Some("s3-presign-token"),
        presign_for: Some(3600),
    },
];

fn sign_with_aws(case: &Case) -> Request<Vec<u8>> {
    let mut builder = Request::builder().method(case.method).uri(case.uri);
    let uri: http::Uri = case.uri.parse().expect("case URIs are valid");
    builder = builder.header("host", uri.authority().map_or("", |a| a.as_str()));
    for (name, value) in case.headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder
        .body(case.body.to_vec())
        .expect("case requests are valid");

    let is_s3 = case.service == "s3";
    let mut settings = SigningSettings::default();
    if is_s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        if case.presign_for.is_none() {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
    }
    if let Some(seconds) = case.presign_for {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(seconds));
    }
    let body = match (is_s3, case.presign_for) {
        (true, Some(_)) => SignableBody::UnsignedPayload,
        _ => SignableBody::Bytes(case.body),
    };
    let credentials = aws_credential_types::Credentials::new(
        ACCESS_KEY,
        SECRET,
        case.session_token.map(str::to_owned),
        None,
        "cross-check",
    );
    let identity: Identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(uri_region(case))
        .name(case.service)
        .time(UNIX_EPOCH + Duration::from_secs(SIGNED_AT as u64))
        .settings(settings)
        .build()
        .expect("signing parameters are complete")
        .into();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let signable = SignableRequest::new(
        case.method,
        case.uri,
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
        body,
    )
    .expect("requests are signable");
    let (instructions, _) = sign(signable, &params)
        .expect("aws-sigv4 signs")
        .into_parts();
    instructions.apply_to_request_http1x(&mut request);
    request
}

fn uri_region(case: &Case) -> &'static str {
    if case.uri.contains("eu-west-1") {
        "eu-west-1"
    } else {
        "us-east-1"
    }
}

/// Verifies `request` as the sandbox would, returning AWS's error code on failure.
fn verify(request: &Request<Vec<u8>>, secret: &str) -> Result<(), String> {
    let parsed = SignedRequest::parse(request.headers(), request.uri().query());
    let parsed = match parsed {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return Err("unsigned".into()),
        Err(error) => return Err(error.code().into()),
    };
    let parts = RequestParts::from_http(request, request.body());
    parsed
        .verify_with_secret(&parts, secret, VERIFIED_AT)
        .map_err(|error| format!("{}: {}", error.code(), error.detailed_message()))
}

fn code_of(result: Result<(), String>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(message) => message.split(':').next().unwrap_or_default().to_owned(),
    }
}

fn with_uri(request: &Request<Vec<u8>>, uri: &str) -> Request<Vec<u8>> {
    let mut changed = request.clone();
    *changed.uri_mut() = uri.parse().expect("tampered URIs stay valid");
    changed
}

fn tampered_path(request: &Request<Vec<u8>>) -> Request<Vec<u8>> {
    let uri = request.uri();
    let query = uri
        .query()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let authority = uri.authority().map_or("", |a| a.as_str());
    with_uri(
        request,
        &format!("https://{authority}{}x{query}", uri.path()),
    )
}

/// Changes the value of the query's first pair, which is never a signature parameter here.
fn tampered_query(request: &Request<Vec<u8>>) -> Request<Vec<u8>> {
    let text = request.uri().to_string();
    let Some(start) = text.find('?') else {
        return with_uri(request, &format!("{text}?added=1"));
    };
    let end = text[start..]
        .find('&')
        .map_or(text.len(), |offset| start + offset);
    with_uri(request, &format!("{}x{}", &text[..end], &text[end..]))
}

fn tampered_date(request: &Request<Vec<u8>>) -> Request<Vec<u8>> {
    let signed = AmzDate::from_unix(SIGNED_AT).to_basic();
    let later = AmzDate::from_unix(SIGNED_AT + 1).to_basic();
    let mut changed = request.clone();
    if request.headers().contains_key("x-amz-date") {
        changed
            .headers_mut()
            .insert("x-amz-date", header(later.as_str()));
        return changed;
    }
    let uri = request
        .uri()
        .to_string()
        .replace(signed.as_str(), later.as_str());
    with_uri(request, &uri)
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).expect("test header values are valid")
}

#[test]
fn requests_signed_by_aws_sigv4_verify() {
    for case in CASES {
        let request = sign_with_aws(case);
        assert_eq!(verify(&request, SECRET), Ok(()), "{}", case.name);
        let parsed = SignedRequest::parse(request.headers(), request.uri().query());
        let parsed = parsed.ok().flatten().expect("signed requests parse");
        assert_eq!(parsed.service(), case.service, "{}", case.name);
        assert_eq!(parsed.session_token(), case.session_token, "{}", case.name);
        assert_eq!(
            parsed.is_presigned(),
            case.presign_for.is_some(),
            "{}",
            case.name
        );
    }
}

#[test]
fn tampering_with_any_signed_part_fails() {
    for case in CASES {
        let request = sign_with_aws(case);
        let mismatch = "SignatureDoesNotMatch";

        let mut method = request.clone();
        *method.method_mut() = if case.method == "GET" {
            Method::HEAD
        } else {
            Method::PATCH
        };
        assert_eq!(
            code_of(verify(&method, SECRET)),
            mismatch,
            "method: {}",
            case.name
        );

        assert_eq!(
            code_of(verify(&tampered_path(&request), SECRET)),
            mismatch,
            "path: {}",
            case.name
        );
        assert_eq!(
            code_of(verify(&tampered_query(&request), SECRET)),
            mismatch,
            "query: {}",
            case.name
        );
        assert_eq!(
            code_of(verify(&tampered_date(&request), SECRET)),
            mismatch,
            "date: {}",
            case.name
        );
        assert_eq!(
            code_of(verify(&request, "wrong-secret")),
            mismatch,
            "secret: {}",
            case.name
        );

        let mut signed_header = request.clone();
        signed_header
            .headers_mut()
            .insert("x-custom", header("changed"));
        let code = code_of(verify(&signed_header, SECRET));
        assert_eq!(code, mismatch, "signed header: {}", case.name);

        let mut body = request.clone();
        body.body_mut().push(b'x');
        let expected = match (case.service, case.presign_for) {
            ("s3", Some(_)) => "ok",
            ("s3", None) => "XAmzContentSHA256Mismatch",
            _ => mismatch,
        };
        assert_eq!(
            code_of(verify(&body, SECRET)),
            expected,
            "body: {}",
            case.name
        );
    }
}

#[test]
fn tampering_with_the_session_token_fails() {
    for case in CASES.iter().filter(|case| case.session_token.is_some()) {
        let request = sign_with_aws(case);
        let changed = if request.headers().contains_key("x-amz-security-token") {
            let mut changed = request.clone();
            changed
                .headers_mut()
                .insert("x-amz-security-token", header("other-token"));
            changed
        } else {
            let uri = request.uri().to_string();
            let start = uri
                .find("X-Amz-Security-Token=")
                .expect("presigned token in query");
            let value_start = start + "X-Amz-Security-Token=".len();
            with_uri(
                &request,
                &format!("{}other{}", &uri[..value_start], &uri[value_start..]),
            )
        };
        assert_eq!(
            code_of(verify(&changed, SECRET)),
            "SignatureDoesNotMatch",
            "{}",
            case.name
        );
    }
}

#[test]
fn a_mismatch_shows_the_canonical_request_and_string_to_sign() {
    let request = sign_with_aws(&CASES[0]);
    let Err(message) = verify(&request, "wrong-secret") else {
        panic!("a wrong secret must not verify");
    };
    assert!(
        message.contains("The Canonical String for this request should have been\n'POST\n/\n\n")
    );
    assert!(message.contains("\ncontent-type;host;x-amz-date;x-amz-security-token;x-custom\n"));
    assert!(
        message
            .contains("The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20240610T061320Z\n")
    );
    assert!(!message.contains(SECRET));
}
