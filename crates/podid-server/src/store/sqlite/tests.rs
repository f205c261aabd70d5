use podid_core::associations::Tags;

use super::*;

fn association(id: &str, namespace: &str, service_account: &str) -> Association {
    Association {
        cluster_name: "eksdemo1".into(),
        namespace: namespace.into(),
        service_account: service_account.into(),
        role_arn: "arn:aws:iam::111122223333:role/r".into(),
        association_arn: format!(
            "arn:aws:eks:us-west-2:111122223333:podidentityassociation/eksdemo1/{id}"
        ),
        association_id: id.into(),
        tags: Tags::from([("team".to_owned(), "a".to_owned())]),
        created_at: 1_700_000_000.25,
        modified_at: 1_700_000_000.25,
        owner_arn: None,
        disable_session_tags: false,
        target_role_arn: None,
        external_id: None,
        policy: None,
    }
}

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("podid.db")).unwrap();
    (dir, store)
}

#[test]
fn creates_reads_and_survives_a_reopen() {
    let (dir, store) = open();
    let a = association("a-1", "default", "aws-cli-sa");
    assert_eq!(
        store.create(&a, None, 10).unwrap(),
        CreateOutcome::Created(a.clone())
    );
    drop(store);

    let store = SqliteStore::open(&dir.path().join("podid.db")).unwrap();
    assert_eq!(store.get("eksdemo1", "a-1").unwrap(), Some(a.clone()));
    assert_eq!(
        store
            .find("eksdemo1", "default", "aws-cli-sa")
            .unwrap()
            .as_deref(),
        Some(&a)
    );
    assert_eq!(
        store.get("other", "a-1").unwrap(),
        None,
        "ids are per cluster"
    );
}

#[test]
fn one_association_per_service_account() {
    let (_dir, store) = open();
    let first = association("a-1", "default", "sa");
    store.create(&first, None, 10).unwrap();
    let second = association("a-2", "default", "sa");
    assert_eq!(
        store.create(&second, None, 10).unwrap(),
        CreateOutcome::InUse(first)
    );
}

#[test]
fn a_client_request_token_replays_or_refuses() {
    let (_dir, store) = open();
    let request = Idempotency {
        token: "t-1".into(),
        fingerprint: "f-1".into(),
    };
    let a = association("a-1", "default", "sa");
    store.create(&a, Some(&request), 10).unwrap();
    let retry = association("a-2", "default", "sa");
    assert_eq!(
        store.create(&retry, Some(&request), 10).unwrap(),
        CreateOutcome::Replayed(a)
    );

    let changed = Idempotency {
        token: "t-1".into(),
        fingerprint: "f-2".into(),
    };
    let other = association("a-3", "default", "other");
    assert_eq!(
        store.create(&other, Some(&changed), 10).unwrap(),
        CreateOutcome::TokenReused
    );
}

#[test]
fn the_per_cluster_limit_holds() {
    let (_dir, store) = open();
    store
        .create(&association("a-1", "default", "one"), None, 1)
        .unwrap();
    let second = association("a-2", "default", "two");
    assert_eq!(
        store.create(&second, None, 1).unwrap(),
        CreateOutcome::LimitReached(1)
    );
}

#[test]
fn lists_in_pages_with_filters() {
    let (_dir, store) = open();
    for i in 0..5 {
        let namespace = if i % 2 == 0 { "even" } else { "odd" };
        store
            .create(
                &association(&format!("a-{i}"), namespace, &format!("sa{i}")),
                None,
                10,
            )
            .unwrap();
    }
    let mut query = ListQuery {
        cluster: "eksdemo1".into(),
        limit: 2,
        ..ListQuery::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = store.list(&query).unwrap();
        seen.extend(page.associations.iter().map(|a| a.association_id.clone()));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["a-0", "a-1", "a-2", "a-3", "a-4"]);

    let even = ListQuery {
        cluster: "eksdemo1".into(),
        namespace: Some("even".into()),
        limit: 10,
        ..ListQuery::default()
    };
    assert_eq!(store.list(&even).unwrap().associations.len(), 3);
    let one = ListQuery {
        service_account: Some("sa3".into()),
        ..even.clone()
    };
    assert!(
        store.list(&one).unwrap().associations.is_empty(),
        "filters combine"
    );
}

#[test]
fn updates_and_deletes() {
    let (_dir, store) = open();
    let mut a = association("a-1", "default", "sa");
    store.create(&a, None, 10).unwrap();
    a.role_arn = "arn:aws:iam::111122223333:role/other".into();
    a.disable_session_tags = true;
    a.policy = Some("{}".into());
    assert_eq!(store.update(&a).unwrap(), Some(a.clone()));
    assert_eq!(store.get("eksdemo1", "a-1").unwrap(), Some(a.clone()));
    assert_eq!(
        store.find("eksdemo1", "default", "sa").unwrap().as_deref(),
        Some(&a)
    );

    assert_eq!(store.delete("eksdemo1", "a-1").unwrap(), Some(a.clone()));
    assert_eq!(store.find("eksdemo1", "default", "sa").unwrap(), None);
    assert_eq!(store.delete("eksdemo1", "a-1").unwrap(), None);
    assert_eq!(store.update(&a).unwrap(), None);
}

#[test]
fn refuses_a_database_from_a_newer_podid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("podid.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let message = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(message.contains("schema version 99"), "{message}");
}
