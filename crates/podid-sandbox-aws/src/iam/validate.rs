//! IAM's rules for names, paths, tags and policy documents, with IAM's error codes and wording.

use podid_iam::{Policy, Statement};

use crate::error::AwsError;

/// IAM quotas the sandbox enforces (IAM's defaults).
pub const MAX_TRUST_POLICY_CHARS: usize = 2048;
pub const MAX_INLINE_POLICY_CHARS: usize = 10_240;
pub const MAX_MANAGED_POLICY_CHARS: usize = 6144;
pub const MAX_ATTACHED_POLICIES: usize = 10;
pub const MAX_ACCESS_KEYS: usize = 2;
pub const MAX_POLICY_VERSIONS: usize = 5;
pub const MAX_TAGS: usize = 50;

/// `[\w+=,.@-]+` within `max` characters: the names of users, roles and policies.
pub fn name(member: &str, value: &str, max: usize) -> Result<(), AwsError> {
    length(member, value, 1, max)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !value.chars().all(allowed) {
        return Err(pattern(member, value, r"[\w+=,.@-]+"));
    }
    Ok(())
}

/// `/` or `/…/` of printable ASCII, at most 512 characters.
pub fn path(value: &str) -> Result<(), AwsError> {
    length("path", value, 1, 512)?;
    let printable = value.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if !value.starts_with('/') || !value.ends_with('/') || !printable {
        return Err(pattern(
            "path",
            value,
            r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
        ));
    }
    Ok(())
}

pub fn length(member: &str, value: &str, min: usize, max: usize) -> Result<(), AwsError> {
    let count = value.chars().count();
    if count < min {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: Member must have length greater than or equal to {min}"
        )));
    }
    if count > max {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: Member must have length less than or equal to {max}"
        )));
    }
    Ok(())
}

fn pattern(member: &str, value: &str, regex: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: {regex}"
    ))
}

/// Tag keys of 1–128 characters, values of at most 256, at most 50 tags, keys unique without
/// regard to case.
pub fn tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    if tags.len() > MAX_TAGS {
        return Err(AwsError::limit_exceeded(format!(
            "The number of tags has reached the maximum limit of {MAX_TAGS}."
        )));
    }
    for (index, (key, value)) in tags.iter().enumerate() {
        length(&format!("tags.{}.member.key", index + 1), key, 1, 128)?;
        length(&format!("tags.{}.member.value", index + 1), value, 0, 256)?;
        let repeated = tags[..index]
            .iter()
            .any(|(earlier, _)| earlier.eq_ignore_ascii_case(key));
        if repeated {
            return Err(AwsError::invalid_parameter(format!(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive: {key}"
            )));
        }
    }
    Ok(())
}

/// Which kind of document a policy is: who may assume a role, or what an identity may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Trust,
    Identity,
}

/// Parses and checks a document as IAM would before storing it.
pub fn document(text: &str, kind: DocumentKind, max_chars: usize) -> Result<Policy, AwsError> {
    // IAM counts the quota without white space.
    let counted = text.chars().filter(|c| !c.is_whitespace()).count();
    if counted > max_chars {
        let quota = match kind {
            DocumentKind::Trust => "ACLSizePerRole",
            DocumentKind::Identity if max_chars == MAX_MANAGED_POLICY_CHARS => "PolicySize",
            DocumentKind::Identity => "RolePolicySize",
        };
        return Err(AwsError::limit_exceeded(format!(
            "Cannot exceed quota for {quota}: {max_chars}"
        )));
    }
    let policy = podid_iam::parse(text)
        .map_err(|e| AwsError::malformed_policy(format!("Syntax errors in policy. {e}")))?;
    for (index, statement) in policy.statements.iter().enumerate() {
        statement_fits(statement, kind).map_err(|message| {
            AwsError::malformed_policy(format!("Statement[{index}]: {message}"))
        })?;
    }
    Ok(policy)
}

fn statement_fits(statement: &Statement, kind: DocumentKind) -> Result<(), &'static str> {
    match kind {
        DocumentKind::Trust => {
            if statement.principal.is_none() {
                return Err("Missing required field Principal");
            }
            if statement.resource.is_some() {
                return Err("Has prohibited field Resource");
            }
            let assumes =
                statement.action.negated
                    || statement.action.patterns.iter().all(|action| {
                        action == "*" || action.to_ascii_lowercase().starts_with("sts:")
                    });
            if !assumes {
                return Err("AssumeRole policy may only specify STS AssumeRole actions.");
            }
        }
        DocumentKind::Identity => {
            if statement.principal.is_some() {
                return Err("Policy document should not specify a principal.");
            }
            if statement.resource.is_none() {
                return Err("Policy statement must contain resources.");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Service":"pods.eks.amazonaws.com"},
        "Action":["sts:AssumeRole","sts:TagSession"]}]}"#;

    #[test]
    fn names_and_paths_follow_iams_patterns() {
        assert!(name("roleName", "EKS-PodIdentity-S3-ReadOnly-Role-101", 64).is_ok());
        let error = name("roleName", "has space", 64).unwrap_err();
        assert_eq!(
            error.message,
            "1 validation error detected: Value 'has space' at 'roleName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        );
        assert!(name("roleName", &"r".repeat(65), 64).is_err());
        assert!(name("roleName", "", 64).is_err());
        assert!(path("/").is_ok());
        assert!(path("/team/a/").is_ok());
        assert!(path("team/").is_err());
        assert!(path("/a b/").is_err());
    }

    #[test]
    fn documents_are_checked_for_their_kind() {
        assert!(document(TRUST, DocumentKind::Trust, MAX_TRUST_POLICY_CHARS).is_ok());
        let error = document(TRUST, DocumentKind::Identity, MAX_INLINE_POLICY_CHARS).unwrap_err();
        assert_eq!(error.code, "MalformedPolicyDocument");
        assert!(
            error.message.contains("should not specify a principal"),
            "{error:?}"
        );

        let identity = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
            "Action":"s3:GetObject","Resource":"*"}}"#;
        let error = document(identity, DocumentKind::Trust, MAX_TRUST_POLICY_CHARS).unwrap_err();
        assert!(
            error.message.contains("Missing required field Principal"),
            "{error:?}"
        );

        let broken = document("{\"Version\":", DocumentKind::Identity, 6144).unwrap_err();
        assert!(
            broken.message.starts_with("Syntax errors in policy."),
            "{broken:?}"
        );
        let unknown_operator = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
            "Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}}"#;
        let error = document(unknown_operator, DocumentKind::Identity, 6144).unwrap_err();
        assert!(error.message.contains("StringEqualz"), "{error:?}");
    }

    #[test]
    fn quotas_count_without_white_space() {
        let padded = format!("{}{}", TRUST, " ".repeat(5000));
        assert!(document(&padded, DocumentKind::Trust, MAX_TRUST_POLICY_CHARS).is_ok());
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:*",
            "Resource":"arn:aws:s3:::{}"}}}}"#,
            "b".repeat(7000)
        );
        let error = document(&big, DocumentKind::Identity, MAX_MANAGED_POLICY_CHARS).unwrap_err();
        assert_eq!(error.message, "Cannot exceed quota for PolicySize: 6144");
    }

    #[test]
    fn tags_are_bounded_and_unique() {
        assert!(tags(&[("team".into(), "a".into())]).is_ok());
        let repeated = [("Team".into(), "a".into()), ("team".into(), "b".into())];
        assert_eq!(tags(&repeated).unwrap_err().code, "InvalidParameterValue");
        let many: Vec<_> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(tags(&many).unwrap_err().code, "LimitExceeded");
    }
}
