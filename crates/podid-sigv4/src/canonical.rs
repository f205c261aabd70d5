//! The canonical request and the string to sign, the two texts a SigV4 signature is computed
//! over.
//!
//! The canonical request is six lines: the method; the URI path; the query with its pairs
//! encoded and sorted; one `name:value` line per signed header, then an empty line; the signed
//! header names; and the payload hash. Its SHA-256 goes into the string to sign, next to the
//! request time and the credential scope.
//!
//! The path is encoded in one of two ways. S3 signs the path exactly as it was sent. Every other
//! service normalizes it first (no `.` or `..` segments, no empty segments) and then
//! percent-encodes it once more, so that `%20` in the request becomes `%2520` here.
//!
//! The writer streams into a [`Sink`]: verification hashes as it goes and builds the text only
//! when it has to show a mismatch.

use std::borrow::Cow;

use aws_lc_rs::digest;
use http::HeaderMap;

use crate::encoding::{Sink, decode_component, encode, hex32, is_unreserved, write_encoded};
use crate::parse::ALGORITHM;

/// The payload hash of presigned S3 requests and of bodies the signer chose not to hash.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// How the URI path enters the canonical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRules {
    /// S3: the path exactly as sent.
    AsSent,
    /// Every other service: normalized, then encoded once more.
    NormalizedAndEncoded,
}

impl PathRules {
    pub fn for_service(service: &str) -> Self {
        if service == "s3" {
            Self::AsSent
        } else {
            Self::NormalizedAndEncoded
        }
    }
}

/// Everything the canonical request is built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CanonicalRequest<'r> {
    pub method: &'r str,
    pub path: &'r str,
    pub query: &'r str,
    pub headers: &'r HeaderMap,
    pub signed_headers: &'r str,
    pub payload_hash: &'r str,
    pub path_rules: PathRules,
    /// Presigned URLs leave their own `X-Amz-Signature` out of the canonical query.
    pub omit_signature_param: bool,
}

impl CanonicalRequest<'_> {
    pub fn write(&self, sink: &mut impl Sink) {
        sink.put_str(self.method);
        sink.put(b"\n");
        match self.path_rules {
            PathRules::AsSent if self.path.is_empty() => sink.put(b"/"),
            PathRules::AsSent => sink.put_str(self.path),
            PathRules::NormalizedAndEncoded => write_normalized_path(sink, self.path),
        }
        sink.put(b"\n");
        write_query(sink, self.query, self.omit_signature_param);
        sink.put(b"\n");
        for name in self.signed_headers.split(';') {
            write_lowercase(sink, name);
            sink.put(b":");
            write_header_values(sink, self.headers, name);
            sink.put(b"\n");
        }
        sink.put(b"\n");
        write_lowercase(sink, self.signed_headers);
        sink.put(b"\n");
        sink.put_str(self.payload_hash);
    }

    /// Hex SHA-256 of the canonical request, computed without building it.
    pub fn hash_hex(&self) -> [u8; 64] {
        let mut context = digest::Context::new(&digest::SHA256);
        self.write(&mut context);
        hex32(context.finish().as_ref())
    }

    pub fn text(&self) -> String {
        let mut text = Vec::with_capacity(256);
        self.write(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    }
}

/// `AWS4-HMAC-SHA256\n<time>\n<scope>\n<hex hash of the canonical request>`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_hash: &[u8; 64]) -> Vec<u8> {
    let mut text = Vec::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 67);
    for part in [ALGORITHM.as_bytes(), amz_date.as_bytes(), scope.as_bytes()] {
        text.extend_from_slice(part);
        text.push(b'\n');
    }
    text.extend_from_slice(canonical_hash);
    text
}

fn write_normalized_path(sink: &mut impl Sink, path: &str) {
    let path = if path.is_empty() { "/" } else { path };
    let needs_normalizing = !path.starts_with('/') || path.contains("//") || path.contains('.');
    if !needs_normalizing {
        write_encoded(sink, path.as_bytes(), true);
        return;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    for segment in &segments {
        sink.put(b"/");
        write_encoded(sink, segment.as_bytes(), false);
    }
    // RFC 3986 keeps a trailing slash, and reads a final `.` or `..` as one.
    let trailing = ["/", "/.", "/.."].iter().any(|end| path.ends_with(end));
    if segments.is_empty() || trailing {
        sink.put(b"/");
    }
}

/// Writes the query's pairs encoded and sorted by name, then value; a name without `=` gets an
/// empty value.
fn write_query(sink: &mut impl Sink, query: &str, omit_signature_param: bool) {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(name, value)| (canonical_component(name), canonical_component(value)))
        .filter(|(name, _)| !(omit_signature_param && name == "X-Amz-Signature"))
        .collect();
    pairs.sort_unstable();
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            sink.put(b"&");
        }
        sink.put_str(name);
        sink.put(b"=");
        sink.put_str(value);
    }
}

/// A query component decoded and encoded again the canonical way; borrowed when it was already
/// canonical.
fn canonical_component(raw: &str) -> Cow<'_, str> {
    if raw.bytes().all(is_unreserved) {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(encode(&decode_component(raw), false))
}

fn write_lowercase(sink: &mut impl Sink, text: &str) {
    if text.bytes().any(|byte| byte.is_ascii_uppercase()) {
        sink.put_str(&text.to_ascii_lowercase());
    } else {
        sink.put_str(text);
    }
}

/// Each value trimmed of spaces with inner runs of spaces collapsed; repeated headers joined by
/// commas in the order received.
fn write_header_values(sink: &mut impl Sink, headers: &HeaderMap, name: &str) {
    for (index, value) in headers.get_all(name).iter().enumerate() {
        if index > 0 {
            sink.put(b",");
        }
        let words = value.as_bytes().split(|&byte| byte == b' ');
        for (position, word) in words.filter(|word| !word.is_empty()).enumerate() {
            if position > 0 {
                sink.put(b" ");
            }
            sink.put(word);
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn path(rules: PathRules, raw: &str) -> String {
        let headers = HeaderMap::new();
        let request = CanonicalRequest {
            method: "GET",
            path: raw,
            query: "",
            headers: &headers,
            signed_headers: "",
            payload_hash: "",
            path_rules: rules,
            omit_signature_param: false,
        };
        let text = request.text();
        text.lines().nth(1).unwrap_or_default().to_owned()
    }

    #[test]
    fn normalizes_and_encodes_paths_for_services_but_s3() {
        let rules = PathRules::NormalizedAndEncoded;
        assert_eq!(path(rules, ""), "/");
        assert_eq!(path(rules, "/"), "/");
        assert_eq!(path(rules, "/a%20b/c:d"), "/a%2520b/c%3Ad");
        assert_eq!(path(rules, "/a/./b/../c"), "/a/c");
        assert_eq!(path(rules, "//a///b//"), "/a/b/");
        assert_eq!(path(rules, "/../.."), "/");
        assert_eq!(path(rules, "/a/b/."), "/a/b/");
        assert_eq!(path(rules, "/a/b/.."), "/a/");
        assert_eq!(path(rules, "relative/x"), "/relative/x");
        assert_eq!(path(rules, "/%E2%82%AC"), "/%25E2%2582%25AC");
    }

    #[test]
    fn keeps_s3_paths_as_sent() {
        assert_eq!(path(PathRules::AsSent, "/a%20b//./c"), "/a%20b//./c");
        assert_eq!(path(PathRules::AsSent, ""), "/");
        assert_eq!(PathRules::for_service("s3"), PathRules::AsSent);
        assert_eq!(
            PathRules::for_service("sts"),
            PathRules::NormalizedAndEncoded
        );
    }

    #[test]
    fn sorts_and_encodes_queries() {
        let mut out = Vec::new();
        let query = "b=2&a=z&a=y&empty&&c=a+b%20c&%7E=%2f&X-Amz-Signature=ff";
        write_query(&mut out, query, true);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "a=y&a=z&b=2&c=a%20b%20c&empty=&~=%2F"
        );
        let mut kept = Vec::new();
        write_query(&mut kept, "X-Amz-Signature=ff&a=1", false);
        assert_eq!(String::from_utf8_lossy(&kept), "X-Amz-Signature=ff&a=1");
    }

    #[test]
    fn trims_and_joins_header_values() {
        let mut headers = HeaderMap::new();
        headers.append("x-multi", HeaderValue::from_static("  first   value "));
        headers.append("x-multi", HeaderValue::from_static("second"));
        headers.insert("host", HeaderValue::from_static("example.com"));
        let request = CanonicalRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            signed_headers: "Host;x-multi;x-absent",
            payload_hash: "hash",
            path_rules: PathRules::NormalizedAndEncoded,
            omit_signature_param: false,
        };
        assert_eq!(
            request.text(),
            "POST\n/\n\nhost:example.com\nx-multi:first value,second\nx-absent:\n\n\
             host;x-multi;x-absent\nhash"
        );
        let text_hash = crate::encoding::sha256_hex(request.text().as_bytes());
        assert_eq!(request.hash_hex(), text_hash);
    }
}
