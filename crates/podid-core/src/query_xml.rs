//! Reading the answers of AWS's query protocol (STS): flat XML documents whose values are text
//! elements, found by their name alone.

/// The text of the first `<tag>` element, with XML's escapes decoded; `None` without one.
pub fn leaf_text(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find('<')?;
    Some(unescape(&xml[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_credentials_of_an_sts_answer() {
        let xml = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA1\
                   </AccessKeyId><SecretAccessKey>s/e+c&amp;r</SecretAccessKey></Credentials>\
                   </AssumeRoleResult></AssumeRoleResponse>";
        assert_eq!(leaf_text(xml, "AccessKeyId").as_deref(), Some("ASIA1"));
        assert_eq!(
            leaf_text(xml, "SecretAccessKey").as_deref(),
            Some("s/e+c&r")
        );
        assert_eq!(leaf_text(xml, "SessionToken"), None);
    }
}
