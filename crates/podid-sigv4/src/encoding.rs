//! The byte-level encodings SigV4 uses: RFC 3986 percent-encoding of everything but the
//! unreserved characters, percent-decoding of query components, and lowercase hex.
//!
//! Output goes to a [`Sink`], so that a canonical request can be hashed as it is written
//! instead of being collected into a string first.

use std::borrow::Cow;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Somewhere bytes can be written: a buffer, or a running SHA-256.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);

    fn put_str(&mut self, text: &str) {
        self.put(text.as_bytes());
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for aws_lc_rs::digest::Context {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// RFC 3986's unreserved characters, the only ones SigV4 leaves unencoded.
pub(crate) fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~')
}

/// Writes `bytes` with every byte but the unreserved ones (and `/` when `keep_slash`) encoded
/// as `%XX`. Runs of bytes that need no encoding are written in one piece.
pub(crate) fn write_encoded(sink: &mut impl Sink, bytes: &[u8], keep_slash: bool) {
    let keep = |byte: u8| is_unreserved(byte) || (keep_slash && byte == b'/');
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        if keep(byte) {
            continue;
        }
        sink.put(bytes.get(start..index).unwrap_or_default());
        let escape = [
            b'%',
            HEX_UPPER[usize::from(byte >> 4)],
            HEX_UPPER[usize::from(byte & 15)],
        ];
        sink.put(&escape);
        start = index + 1;
    }
    sink.put(bytes.get(start..).unwrap_or_default());
}

/// Percent-encodes `text` into a new string (see [`write_encoded`]).
pub(crate) fn encode(text: &[u8], keep_slash: bool) -> String {
    let mut out = Vec::with_capacity(text.len() + 16);
    write_encoded(&mut out, text, keep_slash);
    // Every byte written is ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Decodes a query component: `%XX` escapes and, as in form encoding, `+` as a space.
/// Malformed escapes stay as they are. Borrows when there is nothing to decode.
pub(crate) fn decode_component(text: &str) -> Cow<'_, [u8]> {
    if !text.bytes().any(|byte| byte == b'%' || byte == b'+') {
        return Cow::Borrowed(text.as_bytes());
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escaped = (byte == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (byte, escaped) {
            (_, Some(value)) => {
                decoded.push(value);
                index += 3;
                continue;
            }
            (b'+', None) => decoded.push(b' '),
            (other, None) => decoded.push(other),
        }
        index += 1;
    }
    Cow::Owned(decoded)
}

/// [`decode_component`] as text, replacing invalid UTF-8.
pub(crate) fn decode_text(text: &str) -> Cow<'_, str> {
    match decode_component(text) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// Lowercase hex of a SHA-256 digest or HMAC tag.
pub(crate) fn hex32(bytes: &[u8]) -> [u8; 64] {
    let mut out = [b'0'; 64];
    for (pair, &byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX_LOWER[usize::from(byte >> 4)];
        pair[1] = HEX_LOWER[usize::from(byte & 15)];
    }
    out
}

/// Reads 64 hex digits (either case) into 32 bytes.
pub(crate) fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *slot = (high * 16 + low) as u8;
    }
    Some(out)
}

/// Hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> [u8; 64] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    hex32(digest.as_ref())
}

/// Text of hex digits produced by [`hex32`]; they are always ASCII.
pub(crate) fn hex_str(hex: &[u8; 64]) -> &str {
    std::str::from_utf8(hex).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_all_but_unreserved() {
        assert_eq!(encode(b"a b/c~d-e_f.g", false), "a%20b%2Fc~d-e_f.g");
        assert_eq!(encode(b"a b/c", true), "a%20b/c");
        assert_eq!(encode("é+=&%".as_bytes(), false), "%C3%A9%2B%3D%26%25");
        assert_eq!(encode(b"", false), "");
    }

    #[test]
    fn decodes_query_components() {
        assert!(matches!(decode_component("plain-text"), Cow::Borrowed(_)));
        assert_eq!(decode_component("a%2Fb+c").as_ref(), b"a/b c");
        assert_eq!(decode_component("%zz%4").as_ref(), b"%zz%4");
        assert_eq!(decode_component("%e2%82%ac").as_ref(), "€".as_bytes());
        assert_eq!(decode_text("%ff"), "\u{fffd}");
        assert_eq!(decode_text("%41%"), "A%");
    }

    #[test]
    fn hex_round_trips() {
        let digest = sha256_hex(b"");
        let expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(hex_str(&digest), expected);
        let upper = expected.to_ascii_uppercase();
        assert_eq!(parse_hex32(&upper).map(|bytes| hex32(&bytes)), Some(digest));
        assert_eq!(parse_hex32("e3b0"), None);
        assert_eq!(parse_hex32(&"g".repeat(64)), None);
        assert_eq!(parse_hex32(&"é".repeat(32)), None);
    }
}
