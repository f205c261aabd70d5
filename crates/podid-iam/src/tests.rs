//! Evaluation cases from AWS's documented examples and evaluation logic, tricky ones included.

use super::*;

fn principal() -> Principal {
    Principal {
        arn: "arn:aws:sts::111122223333:assumed-role/app/eks-demo-pod".into(),
        account: "111122223333".into(),
        role_arn: Some("arn:aws:iam::111122223333:role/app".into()),
        service: None,
    }
}

fn policy(text: &str) -> Policy {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn decide(policies: &Policies<'_>, action: &str, resource: &str, context: &Context) -> Decision {
    let principal = principal();
    evaluate(
        &Request {
            principal: &principal,
            action,
            resource,
            context,
        },
        policies,
    )
}

fn identity(policy: &Policy, action: &str, resource: &str, context: &Context) -> Decision {
    let list = [policy];
    decide(
        &Policies {
            identity: &list,
            ..Policies::default()
        },
        action,
        resource,
        context,
    )
}

const S3_READ_ONLY: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Action": ["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*",
               "s3-object-lambda:List*"], "Resource": "*"}]}"#;

#[test]
fn the_tutorial_trust_policy() {
    let trust = policy(
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"]}]}"#,
    );
    let pods = Principal {
        service: Some("pods.eks.amazonaws.com".into()),
        ..Principal::default()
    };
    let ec2 = Principal {
        service: Some("ec2.amazonaws.com".into()),
        ..Principal::default()
    };
    let role = "arn:aws:iam::111122223333:role/EKS-PodIdentity-S3-ReadOnly-Role-101";
    let context = Context::default();
    let policies = Policies {
        resource: Some(&trust),
        ..Policies::default()
    };
    let ask = |principal: &Principal, action| {
        evaluate(
            &Request {
                principal,
                action,
                resource: role,
                context: &context,
            },
            &policies,
        )
    };
    assert_eq!(ask(&pods, "sts:AssumeRole"), Decision::Allow);
    assert_eq!(ask(&pods, "sts:TagSession"), Decision::Allow);
    assert_eq!(
        ask(&pods, "sts:AssumeRoleWithWebIdentity"),
        Decision::ImplicitDeny
    );
    assert_eq!(ask(&ec2, "sts:AssumeRole"), Decision::ImplicitDeny);
}

#[test]
fn s3_read_only_allows_listing_buckets_but_not_writing() {
    let read_only = policy(S3_READ_ONLY);
    let none = Context::default();
    assert_eq!(
        identity(&read_only, "s3:ListAllMyBuckets", "*", &none),
        Decision::Allow
    );
    assert_eq!(
        identity(&read_only, "S3:GETOBJECT", "arn:aws:s3:::b/k", &none),
        Decision::Allow
    );
    let put = identity(&read_only, "s3:PutObject", "arn:aws:s3:::b/k", &none);
    assert_eq!(put, Decision::ImplicitDeny);
}

#[test]
fn an_explicit_deny_wins() {
    let both = policy(
        r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}"#,
    );
    let none = Context::default();
    assert_eq!(
        identity(&both, "s3:DeleteBucket", "arn:aws:s3:::b", &none),
        Decision::ExplicitDeny
    );
    assert_eq!(
        identity(&both, "s3:CreateBucket", "arn:aws:s3:::b", &none),
        Decision::Allow
    );
}

#[test]
fn not_action_with_allow_allows_everything_else() {
    let all_but_iam = policy(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": "iam:*",
            "Resource": "*"}}"#,
    );
    let none = Context::default();
    assert_eq!(
        identity(&all_but_iam, "s3:GetObject", "arn:aws:s3:::b/k", &none),
        Decision::Allow
    );
    assert_eq!(
        identity(&all_but_iam, "iam:CreateUser", "*", &none),
        Decision::ImplicitDeny
    );
}

#[test]
fn session_policies_intersect() {
    let everything = policy(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*",
            "Resource": "*"}}"#,
    );
    let get_only = policy(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "*"}}"#,
    );
    let (identity_list, session_list) = ([&everything], [&get_only]);
    let policies = Policies {
        identity: &identity_list,
        session: Some(&session_list),
        ..Policies::default()
    };
    let none = Context::default();
    assert_eq!(
        decide(&policies, "s3:GetObject", "arn:aws:s3:::b/k", &none),
        Decision::Allow
    );
    let put = decide(&policies, "s3:PutObject", "arn:aws:s3:::b/k", &none);
    assert_eq!(put, Decision::ImplicitDeny);
}

fn tagged(namespace: Option<&str>) -> Context {
    let mut context = Context::default();
    if let Some(namespace) = namespace {
        context.set("aws:PrincipalTag/kubernetes-namespace", [namespace]);
    }
    context
}

#[test]
fn abac_on_principal_tags() {
    let team_a = policy(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "*", "Condition": {"StringEquals":
            {"aws:PrincipalTag/kubernetes-namespace": "team-a"}}}}"#,
    );
    let get = |context: &Context| identity(&team_a, "s3:GetObject", "arn:aws:s3:::b/k", context);
    assert_eq!(get(&tagged(Some("team-a"))), Decision::Allow);
    assert_eq!(get(&tagged(Some("team-b"))), Decision::ImplicitDeny);
    assert_eq!(
        get(&tagged(None)),
        Decision::ImplicitDeny,
        "a missing key does not match"
    );
}

#[test]
fn missing_keys_with_and_without_if_exists() {
    let condition = |operator: &str| {
        policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Action": "s3:*",
                "Resource": "*", "Condition": {{"{operator}":
                {{"aws:PrincipalTag/kubernetes-namespace": "team-a"}}}}}}}}"#
        ))
    };
    let none = tagged(None);
    let ask = |operator| identity(&condition(operator), "s3:GetObject", "*", &none);
    assert_eq!(ask("StringEquals"), Decision::ImplicitDeny);
    assert_eq!(ask("StringEqualsIfExists"), Decision::Allow);
    assert_eq!(
        ask("StringNotEquals"),
        Decision::Allow,
        "no value equals, so not-equals holds"
    );
    assert_eq!(ask("ForAnyValue:StringEquals"), Decision::ImplicitDeny);
    assert_eq!(
        ask("ForAllValues:StringEquals"),
        Decision::Allow,
        "vacuously true on no values"
    );
}

#[test]
fn set_operators_on_multi_valued_keys() {
    let only_allowed_keys = policy(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*",
            "Resource": "*", "Condition": {"ForAllValues:StringEquals":
            {"aws:TagKeys": ["team", "env"]}}}}"#,
    );
    let with_keys = |keys: &[&str]| {
        let mut context = Context::default();
        context.set("aws:TagKeys", keys.iter().copied());
        identity(&only_allowed_keys, "s3:PutObjectTagging", "*", &context)
    };
    assert_eq!(with_keys(&["team"]), Decision::Allow);
    assert_eq!(with_keys(&["team", "env"]), Decision::Allow);
    assert_eq!(with_keys(&["team", "owner"]), Decision::ImplicitDeny);
}

#[test]
fn variables_in_resources() {
    let own_prefix = policy(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shared/${aws:PrincipalTag/kubernetes-namespace}/*"}}"#,
    );
    let get = |key: &str, context: &Context| {
        identity(
            &own_prefix,
            "s3:GetObject",
            &format!("arn:aws:s3:::shared/{key}"),
            context,
        )
    };
    assert_eq!(
        get("team-a/report.csv", &tagged(Some("team-a"))),
        Decision::Allow
    );
    assert_eq!(
        get("team-b/report.csv", &tagged(Some("team-a"))),
        Decision::ImplicitDeny
    );
    assert_eq!(
        get("team-a/report.csv", &tagged(None)),
        Decision::ImplicitDeny,
        "unresolved"
    );

    // In a 2008-10-17 policy the same text is literal.
    let literal = policy(
        r#"{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shared/${aws:PrincipalTag/kubernetes-namespace}/*"}}"#,
    );
    let resource = "arn:aws:s3:::shared/team-a/x";
    let literal_get = identity(&literal, "s3:GetObject", resource, &tagged(Some("team-a")));
    assert_eq!(literal_get, Decision::ImplicitDeny);
}

#[test]
fn numeric_date_ip_bool_and_null_operators() {
    let guarded = policy(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:ListBucket",
            "Resource": "*", "Condition": {
                "NumericLessThanEquals": {"s3:max-keys": "10"},
                "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]},
                "Bool": {"aws:SecureTransport": "true"},
                "Null": {"aws:TokenIssueTime": "false"}}}}"#,
    );
    let base = || {
        let mut context = Context::default();
        context.set("s3:max-keys", ["5"]);
        context.set("aws:CurrentTime", ["2026-12-03T12:00:00Z"]);
        context.set("aws:SourceIp", ["203.0.113.9"]);
        context.set("aws:SecureTransport", ["true"]);
        context.set("aws:TokenIssueTime", ["2026-12-03T11:00:00Z"]);
        context
    };
    let list = |context: &Context| identity(&guarded, "s3:ListBucket", "*", context);
    assert_eq!(list(&base()), Decision::Allow);
    let changed = |key: &str, value: &str| {
        let mut context = base();
        context.set(key, [value]);
        list(&context)
    };
    assert_eq!(changed("s3:max-keys", "11"), Decision::ImplicitDeny);
    assert_eq!(
        changed("aws:CurrentTime", "2031-05-01T00:00:00Z"),
        Decision::ImplicitDeny
    );
    assert_eq!(
        changed("aws:SourceIp", "198.51.100.1"),
        Decision::ImplicitDeny
    );
    assert_eq!(changed("aws:SourceIp", "2001:db8::1"), Decision::Allow);
    assert_eq!(
        changed("aws:SecureTransport", "false"),
        Decision::ImplicitDeny
    );
    let mut no_token = base();
    no_token.set("aws:TokenIssueTime", Vec::<String>::new());
    assert_eq!(list(&no_token), Decision::ImplicitDeny);
}

#[test]
fn resource_policies_name_principals_by_arn_account_or_role() {
    let bucket = |principal: &str| {
        policy(&format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow",
                "Principal": {{"AWS": "{principal}"}}, "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*"}}}}"#
        ))
    };
    let none = Context::default();
    for named in [
        "111122223333",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:role/app",
        "arn:aws:sts::111122223333:assumed-role/app/eks-demo-pod",
        "*",
    ] {
        let policy = bucket(named);
        let policies = Policies {
            resource: Some(&policy),
            ..Policies::default()
        };
        assert_eq!(
            decide(&policies, "s3:GetObject", "arn:aws:s3:::b/k", &none),
            Decision::Allow
        );
    }
    let other = bucket("arn:aws:iam::444455556666:root");
    let policies = Policies {
        resource: Some(&other),
        ..Policies::default()
    };
    let denied = decide(&policies, "s3:GetObject", "arn:aws:s3:::b/k", &none);
    assert_eq!(denied, Decision::ImplicitDeny);
}

#[test]
fn parse_errors_say_what_and_where() {
    let cases = [
        ("{", "line 1, column 1: not JSON"),
        ("[]", "(document): a policy is a JSON object"),
        (
            r#"{"Statement": []}"#,
            "Statement: at least one statement is needed",
        ),
        (
            r#"{"Version": "2020-01-01", "Statement": {}}"#,
            "Version: \"2020-01-01\" is not",
        ),
        (r#"{"Statment": {}}"#, "Statment: unknown element"),
        (
            r#"{"Statement": {"Action": "s3:*"}}"#,
            "Statement.Effect: missing",
        ),
        (
            r#"{"Statement": [{"Effect": "Allow", "Action": "s3:*"}, {"Effect": "Permit",
            "Action": "s3:*"}]}"#,
            "Statement[1].Effect: \"Permit\" is not Allow or Deny",
        ),
        (
            r#"{"Statement": {"Effect": "Allow"}}"#,
            "Statement: needs Action or NotAction",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "s3:*", "NotAction": "iam:*"}}"#,
            "has both Action and NotAction",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": ["s3:*", "GetObject"]}}"#,
            "Statement.Action[1]: \"GetObject\" is not an action",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "s3:*", "Condition":
            {"StringEqualz": {"a": "b"}}}}"#,
            "Statement.Condition.StringEqualz: unknown condition operator",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "s3:*", "Condition":
            {"ForSomeValues:StringEquals": {"a": "b"}}}}"#,
            "is not ForAnyValue or ForAllValues",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "s3:*", "Principal": {"Robot": "x"}}}"#,
            "Statement.Principal.Robot: unknown principal type",
        ),
        (
            r#"{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": [1]}}"#,
            "Statement.Resource[0]: must be a string",
        ),
    ];
    for (document, expected) in cases {
        let message = parse(document).unwrap_err().to_string();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
}
