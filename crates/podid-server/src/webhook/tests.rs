use std::sync::Arc;

use podid_core::associations::Association;
use podid_core::pod_mutation::{PatchOperation, apply_patch};
use serde_json::{Value, json};

use super::*;
use crate::store::{CreateOutcome, Idempotency, ListQuery, Page};

/// Answers `find` from a list of (cluster, namespace, service account), or fails every call.
struct FakeStore {
    associated: Vec<(&'static str, &'static str, &'static str)>,
    failing: bool,
}

impl FakeStore {
    fn with(associated: &[(&'static str, &'static str, &'static str)]) -> Self {
        Self {
            associated: associated.to_vec(),
            failing: false,
        }
    }

    fn failing() -> Self {
        Self {
            associated: Vec::new(),
            failing: true,
        }
    }
}

fn unused() -> StoreError {
    StoreError::Backend("not used by the webhook".into())
}

impl AssociationStore for FakeStore {
    fn create(
        &self,
        _: &Association,
        _: Option<&Idempotency>,
        _: usize,
    ) -> Result<CreateOutcome, StoreError> {
        Err(unused())
    }

    fn get(&self, _: &str, _: &str) -> Result<Option<Association>, StoreError> {
        Err(unused())
    }

    fn find(
        &self,
        cluster: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Option<Arc<Association>>, StoreError> {
        if self.failing {
            return Err(StoreError::Backend("database is locked".into()));
        }
        let found = self
            .associated
            .contains(&(cluster, namespace, service_account));
        Ok(found.then(|| Arc::new(association(cluster, namespace, service_account))))
    }

    fn list(&self, _: &ListQuery) -> Result<Page, StoreError> {
        Err(unused())
    }

    fn update(&self, _: &Association) -> Result<Option<Association>, StoreError> {
        Err(unused())
    }

    fn delete(&self, _: &str, _: &str) -> Result<Option<Association>, StoreError> {
        Err(unused())
    }
}

fn association(cluster: &str, namespace: &str, service_account: &str) -> Association {
    Association {
        cluster_name: cluster.into(),
        namespace: namespace.into(),
        service_account: service_account.into(),
        role_arn: "arn:aws:iam::111122223333:role/app".into(),
        association_arn: "arn:aws:eks:us-west-2:111122223333:podidentityassociation/c/a-1".into(),
        association_id: "a-1".into(),
        tags: Default::default(),
        created_at: 0.0,
        modified_at: 0.0,
        owner_arn: None,
        disable_session_tags: false,
        target_role_arn: None,
        external_id: None,
        policy: None,
    }
}

fn config(extra: &str) -> ServerConfig {
    let text = format!(
        r#"
        listen = "127.0.0.1:8443"
        store = "/tmp/podid.db"
        {extra}

        [[cluster]]
        name = "eksdemo1"
        account = "111122223333"
        region = "us-west-2"
        issuer = "https://issuer.test"

        [[cluster]]
        name = "v6"
        account = "111122223333"
        region = "us-west-2"
        issuer = "https://issuer.test/v6"
        ip_family = "ipv6"
        "#
    );
    ServerConfig::parse(&text).unwrap()
}

fn pod(service_account: Option<&str>) -> Value {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "app-"},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
    });
    if let Some(name) = service_account {
        pod["spec"]["serviceAccountName"] = json!(name);
    }
    pod
}

fn review_of(object: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "team-a",
            "operation": "CREATE",
            "object": object,
        },
    })
}

const UID: &str = "705ab4f5-6393-11e8-b7cc-42010a800002";

fn send(store: &FakeStore, cluster: &str, query: Option<&str>, review: &Value) -> Answer {
    let target = Target {
        cluster,
        path_mode: None,
        query,
    };
    answer(&config(""), store, &target, review.to_string().as_bytes())
}

const EKSDEMO1: Target<'static> = Target {
    cluster: "eksdemo1",
    path_mode: None,
    query: None,
};

fn associated() -> FakeStore {
    FakeStore::with(&[("eksdemo1", "team-a", "app")])
}

/// The patch an allowed answer carries, decoded.
fn patch_of(answer: &Answer) -> Vec<PatchOperation> {
    let response = &answer.review["response"];
    assert_eq!(response["patchType"], json!("JSONPatch"));
    let encoded = response["patch"].as_str().unwrap();
    serde_json::from_slice(&STANDARD.decode(encoded).unwrap()).unwrap()
}

fn assert_allowed_unchanged(answer: &Answer, outcome: &str) {
    assert_eq!(answer.status, 200);
    assert_eq!(answer.outcome, outcome);
    assert_eq!(
        answer.review,
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": UID, "allowed": true},
        })
    );
}

fn assert_refused(answer: &Answer, status: u16, code: u16, uid: &str, message: &str) {
    assert_eq!(answer.status, status, "{message}");
    assert_eq!(
        answer.review,
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {
                "uid": uid,
                "allowed": false,
                "status": {"code": code, "message": message},
            },
        })
    );
}

// === modes ===

#[test]
fn eks_mode_patches_a_pod_whose_service_account_is_associated() {
    let original = pod(Some("app"));
    let answer = send(
        &associated(),
        "eksdemo1",
        None,
        &review_of(original.clone()),
    );
    assert_eq!((answer.status, answer.outcome), (200, "patched"));
    let response = &answer.review["response"];
    assert_eq!(response["uid"], json!(UID));
    assert_eq!(response["allowed"], json!(true));
    let patched = apply_patch(&original, &patch_of(&answer)).unwrap();
    assert_eq!(
        patched["spec"]["containers"][0]["env"][0],
        json!({"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI",
               "value": "http://169.254.170.23/v1/credentials"})
    );
    assert_eq!(
        patched["spec"]["volumes"][0]["name"],
        json!("eks-pod-identity-token")
    );
}

#[test]
fn eks_mode_leaves_a_pod_without_association_alone() {
    let store = FakeStore::with(&[("eksdemo1", "team-b", "app"), ("other", "team-a", "app")]);
    let answer = send(
        &store,
        "eksdemo1",
        Some("mode=eks"),
        &review_of(pod(Some("app"))),
    );
    assert_allowed_unchanged(&answer, "no_association");
}

#[test]
fn eks_mode_looks_up_the_default_service_account() {
    let store = FakeStore::with(&[("eksdemo1", "team-a", "default")]);
    let answer = send(&store, "eksdemo1", None, &review_of(pod(None)));
    assert_eq!(answer.outcome, "patched");
}

#[test]
fn always_mode_patches_every_pod() {
    let query = Some("timeout=10s&mode=always");
    let answer = send(
        &FakeStore::with(&[]),
        "eksdemo1",
        query,
        &review_of(pod(None)),
    );
    assert_eq!(answer.outcome, "patched");
    assert_eq!(patch_of(&answer).len(), 3);
}

#[test]
fn always_mode_needs_no_store() {
    let answer = send(
        &FakeStore::failing(),
        "eksdemo1",
        Some("mode=always"),
        &review_of(pod(None)),
    );
    assert_eq!(answer.outcome, "patched");
}

#[test]
fn an_unknown_mode_is_a_bad_request() {
    let answer = send(
        &associated(),
        "eksdemo1",
        Some("mode=sometimes"),
        &review_of(pod(None)),
    );
    assert_refused(
        &answer,
        400,
        400,
        UID,
        "unknown mode \"sometimes\": use eks or always",
    );
    assert_eq!(answer.outcome, "malformed");
}

#[test]
fn the_mode_may_be_named_by_the_path() {
    let review = review_of(pod(None)).to_string();
    let send_to = |path_mode, query| {
        let target = Target {
            cluster: "eksdemo1",
            path_mode,
            query,
        };
        answer(
            &config(""),
            &FakeStore::with(&[]),
            &target,
            review.as_bytes(),
        )
    };

    assert_eq!(send_to(Some("always"), None).outcome, "patched");
    assert_eq!(
        send_to(Some("always"), Some("mode=always&timeout=5s")).outcome,
        "patched"
    );
    assert_allowed_unchanged(&send_to(Some("eks"), Some("timeout=5s")), "no_association");
    assert_refused(
        &send_to(Some("eks"), Some("mode=always")),
        400,
        400,
        UID,
        "the path asks for mode \"eks\" but the query for \"always\"",
    );
    assert_refused(
        &send_to(Some("Always"), None),
        400,
        400,
        UID,
        "unknown mode \"Always\": use eks or always",
    );
}

#[test]
fn only_posts_to_the_webhook_paths_are_routed() {
    let cases = [
        (
            Method::POST,
            "admission/eksdemo1/pods",
            Some(("eksdemo1", None)),
        ),
        (
            Method::POST,
            "admission/eksdemo1/pods/always",
            Some(("eksdemo1", Some("always"))),
        ),
        (Method::GET, "admission/eksdemo1/pods", None),
        (Method::POST, "admission/eksdemo1/pods/always/more", None),
        (Method::POST, "admission/eksdemo1", None),
        (Method::POST, "clusters/eksdemo1/pods", None),
    ];
    for (method, path, expected) in cases {
        let segments: Vec<&str> = path.split('/').collect();
        assert_eq!(route(&method, &segments), expected, "{method} {path}");
    }
}

#[test]
fn ipv6_clusters_get_the_ipv6_agent_address() {
    let store = FakeStore::with(&[("v6", "team-a", "app")]);
    let original = pod(Some("app"));
    let answer = send(&store, "v6", None, &review_of(original.clone()));
    let patched = apply_patch(&original, &patch_of(&answer)).unwrap();
    assert_eq!(
        patched["spec"]["containers"][0]["env"][0]["value"],
        json!("http://[fd00:ec2::23]/v1/credentials")
    );
}

// === what is not mutated ===

#[test]
fn only_the_creation_of_pods_is_mutated() {
    let cases = [
        ("operation", json!("UPDATE")),
        (
            "kind",
            json!({"group": "apps", "version": "v1", "kind": "Deployment"}),
        ),
        ("subResource", json!("binding")),
        ("kind", Value::Null),
    ];
    for (field, value) in cases {
        let mut review = review_of(pod(Some("app")));
        review["request"][field] = value;
        let answer = send(&associated(), "eksdemo1", Some("mode=always"), &review);
        assert_allowed_unchanged(&answer, "not_pod_create");
    }
}

#[test]
fn a_pod_that_needs_nothing_is_allowed_unchanged() {
    let mut skipping = pod(Some("app"));
    skipping["metadata"]["annotations"] = json!({"eks.amazonaws.com/skip-containers": "app"});
    let answer = send(
        &FakeStore::failing(),
        "eksdemo1",
        None,
        &review_of(skipping),
    );
    assert_allowed_unchanged(&answer, "unchanged");
}

// === refusals ===

#[test]
fn malformed_reviews_are_bad_requests_that_say_why() {
    let with = |pointer: &str, value: Value| {
        let mut review = review_of(pod(None));
        if let Some(slot) = review.pointer_mut(pointer) {
            *slot = value;
        }
        review.to_string()
    };
    let without = |field: &str| {
        let mut review = review_of(pod(None));
        if let Some(object) = review.as_object_mut() {
            object.remove(field);
        }
        review.to_string()
    };
    let without_uid = {
        let mut review = review_of(pod(None));
        if let Some(request) = review["request"].as_object_mut() {
            request.remove("uid");
        }
        review.to_string()
    };
    let cases = [
        (
            "{".to_owned(),
            "",
            "the body is not JSON: EOF while parsing an object at line 1 column 1",
        ),
        (
            "".to_owned(),
            "",
            "the body is not JSON: EOF while parsing a value at line 1 column 0",
        ),
        (
            "[]".to_owned(),
            "",
            "the body must be an AdmissionReview object, not an array",
        ),
        (
            with("/apiVersion", json!("admission.k8s.io/v1beta1")),
            UID,
            "apiVersion must be \"admission.k8s.io/v1\", not \"admission.k8s.io/v1beta1\"",
        ),
        (without("apiVersion"), UID, "apiVersion is missing"),
        (
            with("/kind", json!("Pod")),
            UID,
            "kind must be \"AdmissionReview\", not \"Pod\"",
        ),
        (
            with("/kind", json!(7)),
            UID,
            "kind must be \"AdmissionReview\", not 7",
        ),
        (without("request"), "", "request is missing"),
        (
            with("/request", json!("x")),
            "",
            "request must be an object, not \"x\"",
        ),
        (without_uid, "", "request.uid is missing"),
        (
            with("/request/uid", json!("")),
            "",
            "request.uid must be a non-empty string, not \"\"",
        ),
        (
            with("/request/uid", json!(5)),
            "",
            "request.uid must be a non-empty string, not 5",
        ),
    ];
    for (body, uid, message) in cases {
        let answer = answer(&config(""), &associated(), &EKSDEMO1, body.as_bytes());
        assert_refused(&answer, 400, 400, uid, message);
        assert_eq!(answer.outcome, "malformed");
    }
}

#[test]
fn an_unknown_cluster_is_not_found() {
    let answer = send(&associated(), "nope", None, &review_of(pod(None)));
    assert_refused(
        &answer,
        404,
        404,
        UID,
        "no cluster named \"nope\" is configured",
    );
    assert_eq!(answer.outcome, "unknown_cluster");
}

#[test]
fn a_pod_that_is_not_a_pod_is_refused() {
    let mut nameless = pod(None);
    nameless["spec"]["containers"] = json!([{"image": "busybox"}]);
    let mut no_namespace = review_of(pod(Some("app")));
    if let Some(request) = no_namespace["request"].as_object_mut() {
        request.remove("namespace");
    }
    let cases = [
        (
            review_of(nameless),
            "request.object is not a valid pod: spec.containers[0].name is missing",
        ),
        (
            review_of(json!({"spec": []})),
            "request.object is not a valid pod: spec must be an object, not an array",
        ),
        (review_of(Value::Null), "request.object is missing"),
        (no_namespace, "request.namespace is missing"),
    ];
    for (review, message) in cases {
        let answer = send(&associated(), "eksdemo1", None, &review);
        assert_refused(&answer, 200, 400, UID, message);
        assert_eq!(answer.outcome, "invalid_pod");
    }
}

#[test]
fn a_store_failure_admits_the_pod_unchanged() {
    let answer = send(
        &FakeStore::failing(),
        "eksdemo1",
        None,
        &review_of(pod(Some("app"))),
    );
    assert_allowed_unchanged(&answer, "failed_open");
}

#[test]
fn a_store_failure_refuses_the_pod_when_failing_closed() {
    let review = review_of(pod(Some("app"))).to_string();
    let config = config("[webhook]\nfail_closed = true");
    let answer = answer(&config, &FakeStore::failing(), &EKSDEMO1, review.as_bytes());
    assert_refused(
        &answer,
        200,
        500,
        UID,
        "internal error; see the server's log",
    );
    assert_eq!(answer.outcome, "failed_closed");
}

#[test]
fn a_store_failure_is_described_for_the_log() {
    let error = WebhookError::Store {
        cluster: "eksdemo1".into(),
        namespace: "team-a".into(),
        service_account: "app".into(),
        source: StoreError::Backend("database is locked".into()),
    };
    assert_eq!(
        error.to_string(),
        "looking up the association of team-a/app in cluster eksdemo1: store failure: database \
         is locked"
    );
}

#[test]
fn a_body_over_the_limit_is_refused_with_its_status() {
    let answer = unreadable(&ApiError::too_large(65536));
    assert_refused(
        &answer,
        413,
        413,
        "",
        "the request body was refused: request body exceeds 65536 bytes",
    );
}
