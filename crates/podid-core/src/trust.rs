//! Does a role's trust policy let pod identity assume it?
//!
//! This is the structural check the control plane makes before calling STS, so that a missing
//! piece is reported precisely ("does not allow sts:TagSession") rather than as STS's generic
//! AccessDenied. It looks for Allow statements naming the principal; conditions are left to STS,
//! which evaluates the policy in full when the role is assumed.

use serde_json::Value;

/// Checks that `policy` allows `principal` every action of `actions`. `principal` is a service
/// (`pods.eks.amazonaws.com`) or an IAM ARN (for a control plane assuming roles as itself).
/// Returns the first action no statement allows.
pub fn missing_trust<'a>(
    policy: &str,
    principal: &str,
    actions: &[&'a str],
) -> Result<Option<&'a str>, String> {
    let document: Value =
        serde_json::from_str(policy).map_err(|e| format!("trust policy is not JSON: {e}"))?;
    let statements = match &document["Statement"] {
        Value::Array(statements) => statements.iter().collect(),
        statement @ Value::Object(_) => vec![statement],
        _ => return Err("trust policy has no Statement".into()),
    };
    let allowing: Vec<&Value> = statements
        .into_iter()
        .filter(|s| s["Effect"] == "Allow" && names_principal(&s["Principal"], principal))
        .collect();
    Ok(actions.iter().copied().find(|action| {
        !allowing
            .iter()
            .any(|statement| strings(&statement["Action"]).any(|p| glob(p, action)))
    }))
}

fn names_principal(principal: &Value, wanted: &str) -> bool {
    let key = if wanted.starts_with("arn:") {
        "AWS"
    } else {
        "Service"
    };
    match principal {
        Value::String(star) => star == "*",
        Value::Object(map) => map
            .get(key)
            .is_some_and(|v| strings(v).any(|p| p == wanted || p == "*")),
        _ => false,
    }
}

fn strings(value: &Value) -> Box<dyn Iterator<Item = &str> + '_> {
    match value {
        Value::String(one) => Box::new(std::iter::once(one.as_str())),
        Value::Array(many) => Box::new(many.iter().filter_map(Value::as_str)),
        _ => Box::new(std::iter::empty()),
    }
}

/// IAM action matching: case-insensitive, `*` for any run of characters, `?` for one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let text: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(star_at) = star {
            p = star_at + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const PODS: &str = "pods.eks.amazonaws.com";
    const BOTH: [&str; 2] = ["sts:AssumeRole", "sts:TagSession"];

    #[test]
    fn the_tutorial_trust_policy_is_enough() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Principal":{"Service":"pods.eks.amazonaws.com"},
            "Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
        assert_eq!(missing_trust(policy, PODS, &BOTH), Ok(None));
    }

    #[test]
    fn names_the_missing_action() {
        let policy = r#"{"Statement":{"Effect":"Allow",
            "Principal":{"Service":["ec2.amazonaws.com","pods.eks.amazonaws.com"]},
            "Action":"sts:AssumeRole"}}"#;
        assert_eq!(
            missing_trust(policy, PODS, &BOTH),
            Ok(Some("sts:TagSession"))
        );
        assert_eq!(missing_trust(policy, PODS, &["sts:AssumeRole"]), Ok(None));
    }

    #[test]
    fn another_principal_or_a_deny_does_not_count() {
        let other = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},
            "Action":"sts:*"},{"Effect":"Deny","Principal":{"Service":"pods.eks.amazonaws.com"},
            "Action":"sts:*"}]}"#;
        assert_eq!(
            missing_trust(other, PODS, &BOTH),
            Ok(Some("sts:AssumeRole"))
        );
    }

    #[test]
    fn wildcards_and_arn_principals() {
        let policy = r#"{"Statement":[{"Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::111122223333:role/podid-server"},
            "Action":"STS:*"}]}"#;
        let server = "arn:aws:iam::111122223333:role/podid-server";
        assert_eq!(missing_trust(policy, server, &BOTH), Ok(None));
        assert_eq!(
            missing_trust(policy, PODS, &BOTH),
            Ok(Some("sts:AssumeRole"))
        );
    }

    #[test]
    fn malformed_policies_are_errors() {
        assert!(missing_trust("{", PODS, &BOTH).is_err());
        assert!(missing_trust("{}", PODS, &BOTH).is_err());
    }

    #[test]
    fn globs_like_iam() {
        assert!(glob("sts:*", "sts:TagSession"));
        assert!(glob("sts:Assume?ole", "sts:AssumeRole"));
        assert!(glob("*", "anything"));
        assert!(!glob("sts:Tag*", "sts:AssumeRole"));
        assert!(glob("s*:*Role", "sts:AssumeRole"));
    }
}
