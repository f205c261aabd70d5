//! Wildcards and policy variables.

use crate::context::Context;

/// IAM wildcard matching: `*` for any run of characters, `?` for one. Actions match without
/// regard to case; resources and condition strings with it.
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |c: char| {
        if ignore_case {
            c.to_ascii_lowercase()
        } else {
            c
        }
    };
    let pattern: Vec<char> = pattern.chars().map(fold).collect();
    let text: Vec<char> = text.chars().map(fold).collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(c) if *c == '?' || *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Replaces `${key}` with the request's value of that context key, and the escapes `${*}`,
/// `${?}` and `${$}` with the literal characters. `None` when a variable names a key the
/// request lacks or that holds several values: such a pattern matches nothing.
pub fn substitute(text: &str, context: &Context) -> Option<String> {
    if !text.contains("${") {
        return Some(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = &after[..end];
        match name {
            "*" | "?" | "$" => out.push_str(name),
            _ => {
                let values = context.values(name)?;
                let [value] = values else { return None };
                out.push_str(value);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("s3:Get*", "s3:getobject", true));
        assert!(!wildcard("s3:Get*", "s3:getobject", false));
        assert!(wildcard(
            "arn:aws:s3:::bucket/*",
            "arn:aws:s3:::bucket/a/b",
            false
        ));
        assert!(wildcard("a?c*", "abcdef", false));
        assert!(!wildcard("a?c", "ac", false));
        assert!(wildcard("*", "", false));
        assert!(wildcard("*a*b", "xxaxxb", false));
    }

    #[test]
    fn variables() {
        let mut context = Context::default();
        context.set("aws:PrincipalTag/team", ["data"]);
        context.set("aws:TagKeys", ["a", "b"]);
        let sub = |text| substitute(text, &context);
        assert_eq!(
            sub("home/${aws:principaltag/team}/*").as_deref(),
            Some("home/data/*")
        );
        assert_eq!(
            sub("literal ${*} ${?} ${$}").as_deref(),
            Some("literal * ? $")
        );
        assert_eq!(sub("${aws:PrincipalTag/missing}"), None);
        assert_eq!(
            sub("${aws:TagKeys}"),
            None,
            "a multi-valued key is not a variable"
        );
        assert_eq!(sub("${unterminated"), None);
    }
}
