use podid_core::percent::percent_encode;

use super::*;
use crate::bootstrap::{administrator, service_key};
use crate::caller::identify;
use crate::model::Role;

const NOW: i64 = 1_700_000_000;
const POD_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole",
    "sts:TagSession"]}]}"#;

struct Account {
    _dir: tempfile::TempDir,
    store: AccountStore,
    sessions: SessionKeys,
}

fn account() -> Account {
    let dir = tempfile::tempdir().unwrap();
    let store = AccountStore::open(&dir.path().join("iam.json"), "111122223333").unwrap();
    Account {
        _dir: dir,
        store,
        sessions: SessionKeys::new(&[3; 32]),
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The text of the first `<tag>` in `xml`.
fn field<'x>(xml: &'x str, tag: &str) -> &'x str {
    let open = format!("<{tag}>");
    xml.split(&open)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
}

impl Account {
    fn role(&self, name: &str, trust: &str) -> String {
        let role = Role {
            name: name.into(),
            role_id: format!("AROA{}", name.to_ascii_uppercase()),
            path: "/".into(),
            created: 0,
            trust_policy: trust.into(),
            description: None,
            max_session_duration: 3600,
            attached: Vec::new(),
            inline: Default::default(),
            tags: Vec::new(),
        };
        self.store
            .update(|state| {
                state.roles.insert(name.to_ascii_lowercase(), role);
                Ok::<_, ()>(())
            })
            .unwrap();
        format!("arn:aws:iam::111122223333:role/{name}")
    }

    fn caller(&self, access_key_id: &str, token: Option<&str>) -> Caller {
        identify(
            &self.store.view(),
            &self.sessions,
            access_key_id,
            token,
            NOW,
        )
        .unwrap()
    }

    fn call(&self, caller: &Caller, pairs: &[(&str, &str)]) -> Result<String, AwsError> {
        let params = Params::parse(form(pairs).as_bytes(), None).unwrap();
        let origin = Origin {
            source_ip: None,
            secure: false,
            now: NOW,
        };
        handle(&Call {
            params: &params,
            caller,
            origin: &origin,
            store: &self.store,
            sessions: &self.sessions,
        })
    }

    /// Assumes a role; the session as a caller.
    fn session(&self, caller: &Caller, pairs: &[(&str, &str)]) -> Caller {
        let answer = self.call(caller, pairs).unwrap();
        self.caller(
            field(&answer, "AccessKeyId"),
            Some(field(&answer, "SessionToken")),
        )
    }

    fn pod_identity(&self) -> Caller {
        let key = service_key(&self.store, "pods.eks.amazonaws.com").unwrap();
        self.caller(&key.access_key_id, None)
    }
}

fn pod_identity_tags() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Tags.member.1.Key", "kubernetes-namespace"),
        ("Tags.member.1.Value", "default"),
        ("TransitiveTagKeys.member.1", "kubernetes-namespace"),
    ]
}

#[test]
fn pod_identity_assumes_a_role_that_trusts_it_with_tags() {
    let account = account();
    let role = account.role("reader", POD_TRUST);
    let service = account.pod_identity();
    let mut ask = vec![
        ("Action", "AssumeRole"),
        ("RoleArn", role.as_str()),
        ("RoleSessionName", "eks-eksdemo1-aws-cli-1"),
    ];
    ask.extend(pod_identity_tags());
    let answer = account.call(&service, &ask).unwrap();
    assert!(answer.starts_with("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/"));
    assert!(field(&answer, "AccessKeyId").starts_with("ASIA"));
    assert_eq!(
        field(&answer, "Arn"),
        "arn:aws:sts::111122223333:assumed-role/reader/eks-eksdemo1-aws-cli-1"
    );
    assert_eq!(field(&answer, "Expiration"), rfc3339_utc(NOW + 3600));

    let session = account.caller(
        field(&answer, "AccessKeyId"),
        Some(field(&answer, "SessionToken")),
    );
    assert_eq!(session.session().unwrap().tags[0].value, "default");
    let who = account
        .call(&session, &[("Action", "GetCallerIdentity")])
        .unwrap();
    assert_eq!(field(&who, "UserId"), "AROAREADER:eks-eksdemo1-aws-cli-1");
}

#[test]
fn tags_need_tag_session_in_the_trust_policy() {
    let account = account();
    let no_tags = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = account.role("untagged", no_tags);
    let service = account.pod_identity();
    let base = [
        ("Action", "AssumeRole"),
        ("RoleArn", role.as_str()),
        ("RoleSessionName", "s1"),
    ];
    assert!(account.call(&service, &base).is_ok());
    let mut tagged = base.to_vec();
    tagged.extend(pod_identity_tags());
    let error = account.call(&service, &tagged).unwrap_err();
    assert_eq!(error.code, "AccessDenied");
    assert_eq!(
        error.message,
        "User: pods.eks.amazonaws.com is not authorized to perform: sts:TagSession on resource: \
         arn:aws:iam::111122223333:role/untagged"
    );
}

#[test]
fn a_role_trusting_the_account_also_needs_identity_permission() {
    let account = account();
    let by_account = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"AWS":"arn:aws:iam::111122223333:root"},
        "Action":"sts:AssumeRole"}]}"#;
    let role = account.role("shared", by_account);
    let admin = administrator(&account.store, "admin", 0).unwrap();
    let admin = account.caller(&admin.access_key_id, None);
    let ask = [
        ("Action", "AssumeRole"),
        ("RoleArn", role.as_str()),
        ("RoleSessionName", "admin-session"),
    ];
    assert!(
        account.call(&admin, &ask).is_ok(),
        "AdministratorAccess allows sts:AssumeRole"
    );
    let pods = account.pod_identity();
    assert_eq!(account.call(&pods, &ask).unwrap_err().code, "AccessDenied");
}

#[test]
fn chained_sessions_carry_transitive_tags_and_last_an_hour() {
    let account = account();
    let first = account.role("first", POD_TRUST);
    let chained_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"AWS":"arn:aws:iam::111122223333:role/first"},
        "Action":["sts:AssumeRole","sts:TagSession"],
        "Condition":{"StringEquals":{"sts:ExternalId":"ext-1"}}}]}"#;
    let target = account.role("target", chained_trust);
    let service = account.pod_identity();
    let mut ask = vec![
        ("Action", "AssumeRole"),
        ("RoleArn", first.as_str()),
        ("RoleSessionName", "pod"),
    ];
    ask.extend(pod_identity_tags());
    let session = account.session(&service, &ask);

    let mut chain = vec![
        ("Action", "AssumeRole"),
        ("RoleArn", target.as_str()),
        ("RoleSessionName", "pod"),
    ];
    let error = account.call(&session, &chain).unwrap_err();
    assert_eq!(error.code, "AccessDenied", "the external id is missing");
    chain.push(("ExternalId", "ext-1"));
    let chained = account.session(&session, &chain);
    let claims = chained.session().unwrap();
    assert!(claims.chained);
    assert_eq!(claims.tags[0].key, "kubernetes-namespace");
    assert_eq!(claims.transitive_tag_keys, ["kubernetes-namespace"]);

    chain.push(("DurationSeconds", "7200"));
    let error = account.call(&session, &chain).unwrap_err();
    assert_eq!(
        error.message,
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by \
         role chaining."
    );
}

#[test]
fn session_policies_and_odd_requests_are_checked() {
    let account = account();
    let role = account.role("reader", POD_TRUST);
    let service = account.pod_identity();
    let base = [
        ("Action", "AssumeRole"),
        ("RoleArn", role.as_str()),
        ("RoleSessionName", "s1"),
    ];
    let mut bad_policy = base.to_vec();
    bad_policy.push(("Policy", "{\"Statement\": ["));
    assert_eq!(
        account.call(&service, &bad_policy).unwrap_err().code,
        "MalformedPolicyDocument"
    );
    let mut bad_name = base.to_vec();
    bad_name[2] = ("RoleSessionName", "has space");
    assert_eq!(
        account.call(&service, &bad_name).unwrap_err().code,
        "ValidationError"
    );
    let mut too_long = base.to_vec();
    too_long.push(("DurationSeconds", "7200"));
    assert_eq!(
        account.call(&service, &too_long).unwrap_err().message,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    );
    let missing = [
        ("Action", "AssumeRole"),
        ("RoleArn", "arn:aws:iam::111122223333:role/none"),
        ("RoleSessionName", "s1"),
    ];
    assert_eq!(
        account.call(&service, &missing).unwrap_err().message,
        "User: pods.eks.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: \
         arn:aws:iam::111122223333:role/none"
    );
}
