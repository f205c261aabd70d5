//! Percent-decoding, for query strings and the URL-encoded documents IAM returns.

/// Decodes `%XX` escapes, and `+` as a space when `plus_is_space` (form encoding). Malformed
/// escapes are kept as they are; invalid UTF-8 is replaced.
pub fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], escaped) {
            (_, Some(value)) => {
                decoded.push(value);
                index += 3;
                continue;
            }
            (b'+', None) if plus_is_space => decoded.push(b' '),
            (byte, None) => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Splits a query string into decoded pairs.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, true), percent_decode(value, true))
        })
        .collect()
}

/// Encodes every byte but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`), as IAM
/// encodes the policy documents it returns.
pub fn percent_encode(text: &str) -> String {
    encode_except(text, b"-_.~")
}

/// As [`percent_encode`], but leaving `/` as it is: S3's `url` encoding of key names.
pub fn percent_encode_path(text: &str) -> String {
    encode_except(text, b"-_.~/")
}

fn encode_except(text: &str, unencoded: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || unencoded.contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_plus() {
        assert_eq!(percent_decode("a%2Fb+c", true), "a/b c");
        assert_eq!(percent_decode("a%2Fb+c", false), "a/b+c");
        assert_eq!(percent_decode("%zz%4", true), "%zz%4");
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D", false), "{\"a\":1}");
    }

    #[test]
    fn encodes_all_but_unreserved_characters() {
        let text = "{\"a b\": \"é/~-_.\"}";
        assert_eq!(
            percent_encode(text),
            "%7B%22a%20b%22%3A%20%22%C3%A9%2F~-_.%22%7D"
        );
        assert_eq!(percent_decode(&percent_encode(text), false), text);
        assert_eq!(percent_encode_path("odd/a b/ü+%"), "odd/a%20b/%C3%BC%2B%25");
    }

    #[test]
    fn splits_queries() {
        let pairs = query_pairs("namespace=kube%2Dsystem&serviceAccount=a+b&empty=&&flag");
        assert_eq!(
            pairs,
            [
                ("namespace".into(), "kube-system".into()),
                ("serviceAccount".into(), "a b".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
            ]
        );
    }
}
