//! Writing the XML of query-protocol answers. The documents are small and flat, so a writer
//! that appends escaped text to a string is all they need.

/// Escapes what XML text may not hold as it is. Quotes need no escape outside attributes,
/// and AWS leaves them plain in its messages.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['<', '>', '&']) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            other => out.push(other),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// An XML document being written.
#[derive(Debug, Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `<tag>text</tag>`, the text escaped.
    pub fn leaf(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.out.push_str(&escape(text));
        self.close(tag)
    }

    /// A leaf only when there is a value.
    pub fn leaf_opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.leaf(tag, text);
        }
        self
    }

    /// `<tag>` with `members` written inside, each as a `<member>`.
    pub fn list<T>(
        &mut self,
        tag: &str,
        members: impl IntoIterator<Item = T>,
        mut write: impl FnMut(&mut Self, T),
    ) -> &mut Self {
        self.open(tag);
        for member in members {
            self.open("member");
            write(self, member);
            self.close("member");
        }
        self.close(tag)
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// The answer to a query-protocol action: `<{Action}Response xmlns=…><{Action}Result>…`,
/// then the request id, as IAM and STS write them. `result` is the written result's content.
pub fn query_response(action: &str, namespace: &str, request_id: &str, result: Xml) -> String {
    format!(
        "<{action}Response xmlns=\"{namespace}\"><{action}Result>{}</{action}Result>\
         <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
         </{action}Response>",
        result.out
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_leaves_and_member_lists() {
        let mut xml = Xml::default();
        xml.list("Roles", ["a&b", "c"], |xml, name| {
            xml.leaf("RoleName", name);
        })
        .leaf("IsTruncated", "false")
        .leaf_opt("Marker", None);
        let text = query_response("ListRoles", "urn:x", "r-1", xml);
        assert_eq!(
            text,
            "<ListRolesResponse xmlns=\"urn:x\"><ListRolesResult><Roles><member><RoleName>a&amp;b\
             </RoleName></member><member><RoleName>c</RoleName></member></Roles><IsTruncated>\
             false</IsTruncated></ListRolesResult><ResponseMetadata><RequestId>r-1</RequestId>\
             </ResponseMetadata></ListRolesResponse>"
        );
        assert_eq!(escape("'\"<>&"), "'\"&lt;&gt;&amp;");
    }
}
