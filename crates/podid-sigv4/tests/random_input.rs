//! Random bytes as `Authorization` headers, queries, dates and paths never panic the parser or
//! the verifier. The generator is seeded, so a failure reproduces.

use http::{HeaderMap, HeaderValue};
use podid_sigv4::{RequestParts, SignedRequest, SigningKey};

const ROUNDS: usize = 20_000;

/// Pieces that steer random input into the parser's deeper branches.
const TOKENS: &[&str] = &[
    "AWS4-HMAC-SHA256 ",
    "AWS4-HMAC-SHA256",
    "Credential=",
    "SignedHeaders=",
    "Signature=",
    "X-Amz-Algorithm=",
    "X-Amz-Credential=",
    "X-Amz-Date=",
    "X-Amz-Expires=",
    "X-Amz-SignedHeaders=",
    "X-Amz-Signature=",
    "X-Amz-Security-Token=",
    "AKID/20240101/us-east-1/sts/aws4_request",
    "20240101T000000Z",
    "aws4_request",
    "host;x-amz-date",
    "%2F",
    "%",
    "%zz",
    "+",
    "/",
    ",",
    ";",
    "=",
    "&",
    " ",
    "..",
    "//",
    "€",
    "\u{0}",
    "604800",
    "-1",
    "99999999999999999999",
];

fn random_text(rng: &mut fastrand::Rng) -> String {
    let mut text = String::new();
    for _ in 0..rng.usize(0..12) {
        if rng.bool() {
            text.push_str(TOKENS[rng.usize(0..TOKENS.len())]);
        } else {
            text.push(rng.char(..));
        }
    }
    text
}

fn random_bytes(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut bytes = random_text(rng).into_bytes();
    for _ in 0..rng.usize(0..4) {
        bytes.push(rng.u8(..));
    }
    bytes
}

const VALID_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts/\
    aws4_request, SignedHeaders=host;x-amz-date, Signature=0123456789abcdef0123456789abcdef\
    0123456789abcdef0123456789abcdef";
const VALID_QUERY: &str = "Action=GetCallerIdentity&X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fsts%2Faws4_request\
    &X-Amz-Date=20240101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host\
    &X-Amz-Signature=0123";

/// A valid value, the same with a random token inserted and a random span cut, or noise.
fn variant(rng: &mut fastrand::Rng, valid: &str) -> Vec<u8> {
    match rng.u8(0..3) {
        0 => valid.as_bytes().to_vec(),
        1 => {
            let mut bytes = valid.as_bytes().to_vec();
            let at = rng.usize(0..=bytes.len());
            let insert = random_bytes(rng);
            bytes.splice(at..at, insert);
            let start = rng.usize(0..=bytes.len());
            let end = (start + rng.usize(0..4)).min(bytes.len());
            bytes.drain(start..end);
            bytes
        }
        _ => random_bytes(rng),
    }
}

fn headers_with(rng: &mut fastrand::Rng) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let fields = [
        ("authorization", VALID_AUTHORIZATION),
        ("x-amz-date", "20240101T000000Z"),
        ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("host", "sts.amazonaws.com"),
    ];
    for (name, valid) in fields {
        if !rng.bool() {
            continue;
        }
        if let Ok(value) = HeaderValue::from_bytes(&variant(rng, valid)) {
            headers.insert(name, value);
        }
    }
    headers
}

#[test]
fn random_requests_never_panic() {
    let mut rng = fastrand::Rng::with_seed(0x5167_0004);
    let key = SigningKey::derive("secret", "20240101", "us-east-1", "sts");
    let (mut parsed_count, mut rejected) = (0usize, 0usize);
    for _ in 0..ROUNDS {
        let headers = headers_with(&mut rng);
        let query = String::from_utf8_lossy(&variant(&mut rng, VALID_QUERY)).into_owned();
        let path = random_text(&mut rng);
        let body = random_bytes(&mut rng);
        match SignedRequest::parse(&headers, Some(&query)) {
            Ok(Some(parsed)) => {
                parsed_count += 1;
                let parts = RequestParts {
                    method: "POST",
                    path: &path,
                    query: Some(&query),
                    headers: &headers,
                    body: &body,
                };
                let now = rng.i64(..);
                let _ = parsed.verify(&parts, &key, now);
                let _ = parsed.check_time(i64::MAX);
                let _ = parsed.check_time(i64::MIN);
            }
            Ok(None) => {}
            Err(error) => {
                rejected += 1;
                assert!(!error.to_string().is_empty());
                assert!(error.status() == 400 || error.status() == 403);
            }
        }
    }
    // The generator must reach both outcomes, or the test exercises nothing.
    assert!(
        parsed_count > 0 && rejected > 0,
        "parsed {parsed_count}, rejected {rejected}"
    );
}

#[test]
fn random_well_formed_requests_reach_the_signature_check() {
    let mut rng = fastrand::Rng::with_seed(7);
    let key = SigningKey::derive("secret", "20240101", "us-east-1", "sts");
    for _ in 0..ROUNDS / 4 {
        let mut headers = HeaderMap::new();
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts/aws4_request, \
             SignedHeaders=host;{}, Signature={}",
            random_text(&mut rng).replace(',', ""),
            random_text(&mut rng).replace(',', "")
        );
        let Ok(value) = HeaderValue::from_str(&authorization) else {
            continue;
        };
        headers.insert("authorization", value);
        headers.insert("x-amz-date", HeaderValue::from_static("20240101T000000Z"));
        let path = random_text(&mut rng);
        let query = random_text(&mut rng);
        let parts = RequestParts {
            method: "GET",
            path: &path,
            query: Some(&query),
            headers: &headers,
            body: b"",
        };
        let parsed = SignedRequest::parse(&headers, None);
        let Ok(Some(parsed)) = parsed else {
            continue;
        };
        let result = parsed.verify(&parts, &key, 1_704_067_200);
        let code = result.map_err(|error| error.code());
        assert_eq!(code, Err("SignatureDoesNotMatch"));
    }
}
