use super::*;

fn create() -> CreateRequest {
    CreateRequest {
        namespace: Some("default".into()),
        service_account: Some("aws-cli-sa".into()),
        role_arn: Some(
            "arn:aws:iam::111122223333:role/EKS-PodIdentity-S3-ReadOnly-Role-101".into(),
        ),
        ..CreateRequest::default()
    }
}

#[test]
fn accepts_the_tutorial_association() {
    let valid = validate_create(&create()).unwrap();
    assert_eq!(valid.namespace, "default");
    assert!(!valid.disable_session_tags);
    assert!(valid.tags.is_empty());
}

#[test]
fn names_each_missing_member() {
    for (field, clear) in [
        (
            "namespace",
            (|r: &mut CreateRequest| r.namespace = None) as fn(&mut CreateRequest),
        ),
        ("serviceAccount", |r| r.service_account = None),
        ("roleArn", |r| r.role_arn = None),
    ] {
        let mut request = create();
        clear(&mut request);
        assert_eq!(
            validate_create(&request).unwrap_err(),
            format!("{field} is required")
        );
    }
}

#[test]
fn rejects_names_kubernetes_would_reject() {
    for bad in ["", "Default", "-ns", "ns-", "a_b", &"n".repeat(64)] {
        assert!(validate_namespace(bad).is_err(), "{bad:?}");
    }
    assert!(validate_service_account("my.app-sa").is_ok());
    for bad in ["", "App", "a..b", ".a", &"s".repeat(254)] {
        assert!(validate_service_account(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn role_arns_must_name_an_iam_role() {
    assert!(validate_role_arn("arn:aws:iam::111122223333:role/path/to/My+Role", "roleArn").is_ok());
    assert!(validate_role_arn("arn:aws-cn:iam::111122223333:role/r", "roleArn").is_ok());
    for bad in [
        "",
        "role/x",
        "arn:aws:iam::111122223333:user/x",
        "arn:aws:iam::1111:role/x",
        "arn:aws:s3:::bucket",
        "arn:aws:iam::111122223333:role/",
        "arn:aws:iam::111122223333:role/bad*name",
    ] {
        let message = validate_role_arn(bad, "roleArn").unwrap_err();
        assert!(message.starts_with("roleArn"), "{message}");
    }
}

#[test]
fn tags_follow_the_eks_limits() {
    let many: Tags = (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
    assert!(validate_tags(&many).unwrap_err().contains("at most 50"));
    let long_key: Tags = [("k".repeat(129), "v".into())].into();
    assert!(validate_tags(&long_key).unwrap_err().contains("1 to 128"));
    let long_value: Tags = [("k".into(), "v".repeat(257))].into();
    assert!(validate_tags(&long_value).unwrap_err().contains("256"));
    let reserved: Tags = [("aws:owner".into(), "v".into())].into();
    assert!(validate_tags(&reserved).unwrap_err().contains("reserved"));
}

#[test]
fn a_policy_needs_session_tags_disabled_and_valid_json() {
    let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
    let mut request = create();
    request.policy = Some(policy.into());
    assert!(
        validate_create(&request)
            .unwrap_err()
            .contains("disableSessionTags")
    );
    request.disable_session_tags = Some(true);
    assert!(validate_create(&request).is_ok());
    request.policy = Some("{not json".into());
    assert!(
        validate_create(&request)
            .unwrap_err()
            .contains("not valid JSON")
    );
    request.policy = Some("[]".into());
    assert!(
        validate_create(&request)
            .unwrap_err()
            .contains("JSON object")
    );
}

fn stored() -> Association {
    Association {
        cluster_name: "eksdemo1".into(),
        namespace: "default".into(),
        service_account: "aws-cli-sa".into(),
        role_arn: "arn:aws:iam::111122223333:role/a".into(),
        association_arn: "arn".into(),
        association_id: "a-0123456789abcdefg".into(),
        tags: Tags::new(),
        created_at: 1.0,
        modified_at: 1.0,
        owner_arn: None,
        disable_session_tags: false,
        target_role_arn: Some("arn:aws:iam::444455556666:role/t".into()),
        external_id: Some("x".into()),
        policy: None,
    }
}

#[test]
fn updates_change_only_what_they_name() {
    let update = UpdateRequest {
        role_arn: Some("arn:aws:iam::111122223333:role/b".into()),
        ..UpdateRequest::default()
    };
    let updated = apply_update(&stored(), &update).unwrap();
    assert_eq!(updated.role_arn, "arn:aws:iam::111122223333:role/b");
    assert_eq!(updated.target_role_arn, stored().target_role_arn);

    let clear_target = UpdateRequest {
        target_role_arn: Some(String::new()),
        ..Default::default()
    };
    assert_eq!(
        apply_update(&stored(), &clear_target)
            .unwrap()
            .target_role_arn,
        None
    );

    let empty = UpdateRequest::default();
    assert!(
        apply_update(&stored(), &empty)
            .unwrap_err()
            .contains("at least one")
    );

    let policy_alone = UpdateRequest {
        policy: Some("{}".into()),
        ..Default::default()
    };
    assert!(
        apply_update(&stored(), &policy_alone)
            .unwrap_err()
            .contains("disableSessionTags")
    );
}

#[test]
fn ids_and_arns_have_the_eks_shape() {
    let id = association_id([200; 17]);
    assert_eq!(id.len(), 19);
    assert!(id.starts_with("a-"));
    assert!(
        id[2..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(
        association_arn("us-west-2", "111122223333", "eksdemo1", &id),
        format!("arn:aws:eks:us-west-2:111122223333:podidentityassociation/eksdemo1/{id}")
    );
}
