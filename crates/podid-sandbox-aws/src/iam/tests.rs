use podid_core::percent::percent_encode;

use super::*;
use crate::bootstrap::administrator;
use crate::caller::identify;
use crate::sessions::SessionKeys;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole",
    "sts:TagSession"]}]}"#;

struct Account {
    _dir: tempfile::TempDir,
    store: AccountStore,
    admin: Caller,
}

fn account() -> Account {
    let dir = tempfile::tempdir().unwrap();
    let store = AccountStore::open(&dir.path().join("iam.json"), "111122223333").unwrap();
    let keys = administrator(&store, "admin", 1_700_000_000).unwrap();
    let sessions = SessionKeys::new(&[1; 32]);
    let admin = identify(&store.view(), &sessions, &keys.access_key_id, None, 0).unwrap();
    Account {
        _dir: dir,
        store,
        admin,
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Account {
    fn call_as(&self, caller: &Caller, pairs: &[(&str, &str)]) -> Result<String, AwsError> {
        let params = Params::parse(form(pairs).as_bytes(), None).unwrap();
        let origin = Origin {
            source_ip: None,
            secure: false,
            now: 1_700_000_000,
        };
        handle(&Call {
            params: &params,
            caller,
            origin: &origin,
            store: &self.store,
        })
    }

    fn call(&self, pairs: &[(&str, &str)]) -> Result<String, AwsError> {
        self.call_as(&self.admin, pairs)
    }

    fn create_role(&self, name: &str) -> String {
        self.call(&[
            ("Action", "CreateRole"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", TRUST),
        ])
        .unwrap()
    }
}

#[test]
fn a_role_is_created_read_and_listed_with_its_trust_policy() {
    let account = account();
    let created = account.create_role("EKS-PodIdentity-S3-ReadOnly-Role-101");
    assert!(created.starts_with("<CreateRoleResponse xmlns=\"https://iam.amazonaws.com/"));
    assert!(created.contains(
        "<Arn>arn:aws:iam::111122223333:role/EKS-PodIdentity-S3-ReadOnly-Role-101</Arn>"
    ));
    assert!(created.contains(&format!(
        "<AssumeRolePolicyDocument>{}</AssumeRolePolicyDocument>",
        percent_encode(TRUST)
    )));
    assert!(created.contains("<MaxSessionDuration>3600</MaxSessionDuration>"));

    let got = account
        .call(&[
            ("Action", "GetRole"),
            ("RoleName", "eks-podidentity-s3-readonly-role-101"),
        ])
        .unwrap();
    assert!(got.contains("<RoleName>EKS-PodIdentity-S3-ReadOnly-Role-101</RoleName>"));

    let again = account
        .call(&[
            ("Action", "CreateRole"),
            ("RoleName", "EKS-PodIdentity-S3-ReadOnly-Role-101"),
            ("AssumeRolePolicyDocument", TRUST),
        ])
        .unwrap_err();
    assert_eq!(again.code, "EntityAlreadyExists");
    assert_eq!(
        again.message,
        "Role with name EKS-PodIdentity-S3-ReadOnly-Role-101 already exists."
    );
}

#[test]
fn listings_come_in_pages() {
    let account = account();
    for name in ["a", "b", "c"] {
        account.create_role(name);
    }
    let first = account
        .call(&[("Action", "ListRoles"), ("MaxItems", "2")])
        .unwrap();
    assert!(first.contains("<RoleName>a</RoleName>") && first.contains("<RoleName>b</RoleName>"));
    assert!(first.contains("<IsTruncated>true</IsTruncated><Marker>c</Marker>"));
    let second = account
        .call(&[("Action", "ListRoles"), ("MaxItems", "2"), ("Marker", "c")])
        .unwrap();
    assert!(second.contains("<RoleName>c</RoleName>") && !second.contains(">a<"));
    assert!(second.contains("<IsTruncated>false</IsTruncated>"));
}

#[test]
fn managed_policies_attach_and_block_deletion() {
    let account = account();
    account.create_role("reader");
    let read_only = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
    account
        .call(&[
            ("Action", "AttachRolePolicy"),
            ("RoleName", "reader"),
            ("PolicyArn", read_only),
        ])
        .unwrap();
    let listed = account
        .call(&[
            ("Action", "ListAttachedRolePolicies"),
            ("RoleName", "reader"),
        ])
        .unwrap();
    assert!(listed.contains(&format!(
        "<member><PolicyName>AmazonS3ReadOnlyAccess</PolicyName><PolicyArn>{read_only}\
         </PolicyArn></member>"
    )));
    assert_eq!(account.store.view().role_policies("reader").len(), 1);

    let conflict = account
        .call(&[("Action", "DeleteRole"), ("RoleName", "reader")])
        .unwrap_err();
    assert_eq!(conflict.code, "DeleteConflict");
    assert_eq!(conflict.status, 409);

    let missing = account
        .call(&[
            ("Action", "AttachRolePolicy"),
            ("RoleName", "reader"),
            ("PolicyArn", "arn:aws:iam::aws:policy/NoSuchPolicy"),
        ])
        .unwrap_err();
    assert_eq!(missing.code, "NoSuchEntity");
    assert_eq!(
        missing.message,
        "Policy arn:aws:iam::aws:policy/NoSuchPolicy does not exist or is not attachable."
    );
}

#[test]
fn customer_policies_have_versions() {
    let account = account();
    let document = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
        "Resource":"*"}}"#;
    let created = account
        .call(&[
            ("Action", "CreatePolicy"),
            ("PolicyName", "read-objects"),
            ("PolicyDocument", document),
        ])
        .unwrap();
    let arn = "arn:aws:iam::111122223333:policy/read-objects";
    assert!(created.contains(&format!("<Arn>{arn}</Arn>")));
    assert!(created.contains("<DefaultVersionId>v1</DefaultVersionId>"));
    let version = account
        .call(&[
            ("Action", "GetPolicyVersion"),
            ("PolicyArn", arn),
            ("VersionId", "v1"),
        ])
        .unwrap();
    assert!(version.contains(&format!(
        "<Document>{}</Document>",
        percent_encode(document)
    )));
    let missing = account
        .call(&[
            ("Action", "GetPolicyVersion"),
            ("PolicyArn", arn),
            ("VersionId", "v2"),
        ])
        .unwrap_err();
    assert_eq!(missing.code, "NoSuchEntity");
}

#[test]
fn bad_documents_are_malformed() {
    let account = account();
    let error = account
        .call(&[
            ("Action", "CreateRole"),
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", "{\"Version\": \"2012-10-17\""),
        ])
        .unwrap_err();
    assert_eq!(error.code, "MalformedPolicyDocument");
    assert!(
        error.message.starts_with("Syntax errors in policy."),
        "{error:?}"
    );
    assert!(account.store.view().state.role("r").is_none());
}

#[test]
fn a_user_without_permissions_is_denied_in_iams_words() {
    let account = account();
    account
        .call(&[("Action", "CreateUser"), ("UserName", "dev")])
        .unwrap();
    let key = account
        .call(&[("Action", "CreateAccessKey"), ("UserName", "dev")])
        .unwrap();
    let id = key
        .split("<AccessKeyId>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap();
    let sessions = SessionKeys::new(&[1; 32]);
    let dev = identify(&account.store.view(), &sessions, id, None, 0).unwrap();
    let denied = account
        .call_as(&dev, &[("Action", "GetRole"), ("RoleName", "admin-role")])
        .unwrap_err();
    assert_eq!(denied.code, "AccessDenied");
    assert_eq!(
        denied.message,
        "User: arn:aws:iam::111122223333:user/dev is not authorized to perform: iam:GetRole on \
         resource: arn:aws:iam::111122223333:role/admin-role because no identity-based policy \
         allows the iam:GetRole action"
    );
    let own = account
        .call_as(&dev, &[("Action", "ListAccessKeys")])
        .unwrap_err();
    assert!(
        own.message
            .contains("on resource: arn:aws:iam::111122223333:user/dev ")
    );
}

#[test]
fn unknown_actions_are_named() {
    let account = account();
    let error = account.call(&[("Action", "CreateGroupX")]).unwrap_err();
    assert_eq!(error.code, "InvalidAction");
    assert_eq!(
        error.message,
        "Could not find operation CreateGroupX for version 2010-05-08"
    );
}
