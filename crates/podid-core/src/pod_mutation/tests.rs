use serde_json::{Value, json};

use super::json_patch::{PatchError, PatchProblem};
use super::*;

const URI: &str = CREDENTIALS_URI_IPV4;

fn variables() -> Value {
    json!([
        {"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": URI},
        {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
         "value": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"},
    ])
}

fn mount() -> Value {
    json!({
        "name": "eks-pod-identity-token",
        "mountPath": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount",
        "readOnly": true,
    })
}

fn volume_of(expiration: u64) -> Value {
    json!({
        "name": "eks-pod-identity-token",
        "projected": {
            "defaultMode": 420,
            "sources": [{"serviceAccountToken": {
                "audience": "pods.eks.amazonaws.com",
                "expirationSeconds": expiration,
                "path": "eks-pod-identity-token",
            }}],
        },
    })
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"}, "spec": spec})
}

fn annotated(annotations: Value, spec: Value) -> Value {
    let mut pod = pod(spec);
    pod["metadata"]["annotations"] = annotations;
    pod
}

fn mutate(pod: &Value) -> Vec<PatchOperation> {
    mutate_pod(pod, &MutationSettings::default()).unwrap()
}

/// The pod after its patch; the patch must also leave nothing more to do.
fn mutated(pod: &Value) -> Value {
    let patched = apply_patch(pod, &mutate(pod)).unwrap();
    assert_eq!(
        mutate(&patched),
        vec![],
        "a second pass must change nothing"
    );
    patched
}

fn add(path: &str, value: Value) -> PatchOperation {
    PatchOperation::Add {
        path: path.into(),
        value,
    }
}

// === the patch ===

#[test]
fn a_bare_pod_gets_arrays_created() {
    let bare = pod(json!({"containers": [{"name": "app", "image": "busybox"}]}));
    assert_eq!(
        mutate(&bare),
        vec![
            add("/spec/containers/0/env", variables()),
            add("/spec/containers/0/volumeMounts", json!([mount()])),
            add("/spec/volumes", json!([volume_of(86400)])),
        ]
    );
    let expected = pod(json!({
        "containers": [{"name": "app", "image": "busybox", "env": variables(),
                        "volumeMounts": [mount()]}],
        "volumes": [volume_of(86400)],
    }));
    assert_eq!(mutated(&bare), expected);
}

#[test]
fn existing_arrays_are_appended_to() {
    let existing = pod(json!({
        "containers": [{
            "name": "app",
            "env": [{"name": "LOG_LEVEL", "value": "debug"}],
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}],
        }],
        "volumes": [{"name": "config", "configMap": {"name": "app"}}],
    }));
    assert_eq!(
        mutate(&existing),
        vec![
            add("/spec/containers/0/env/-", variables()[0].clone()),
            add("/spec/containers/0/env/-", variables()[1].clone()),
            add("/spec/containers/0/volumeMounts/-", mount()),
            add("/spec/volumes/-", volume_of(86400)),
        ]
    );
    let patched = mutated(&existing);
    let env = &patched["spec"]["containers"][0]["env"];
    assert_eq!(env[0], json!({"name": "LOG_LEVEL", "value": "debug"}));
    assert_eq!(env.as_array().map(Vec::len), Some(3));
    assert_eq!(
        patched["spec"]["containers"][0]["volumeMounts"],
        json!([{"name": "config", "mountPath": "/etc/app"}, mount()])
    );
    assert_eq!(
        patched["spec"]["volumes"],
        json!([{"name": "config", "configMap": {"name": "app"}}, volume_of(86400)])
    );
}

#[test]
fn null_arrays_are_replaced() {
    let nulls = pod(json!({
        "containers": [{"name": "app", "env": null, "volumeMounts": null}],
        "volumes": null,
        "initContainers": null,
    }));
    let patched = mutated(&nulls);
    assert_eq!(patched["spec"]["containers"][0]["env"], variables());
    assert_eq!(patched["spec"]["volumes"], json!([volume_of(86400)]));
    assert_eq!(patched["spec"]["initContainers"], Value::Null);
}

#[test]
fn every_container_and_init_container_is_mutated() {
    let many = pod(json!({
        "initContainers": [{"name": "migrate"}],
        "containers": [{"name": "app"}, {"name": "sidecar"}],
    }));
    let patched = mutated(&many);
    for (list, index) in [("containers", 0), ("containers", 1), ("initContainers", 0)] {
        let container = &patched["spec"][list][index];
        assert_eq!(container["env"], variables(), "{list}[{index}]");
        assert_eq!(
            container["volumeMounts"],
            json!([mount()]),
            "{list}[{index}]"
        );
    }
    assert_eq!(patched["spec"]["volumes"], json!([volume_of(86400)]));
}

#[test]
fn ephemeral_containers_are_untouched() {
    let debug = pod(json!({
        "containers": [{"name": "app"}],
        "ephemeralContainers": [{"name": "debugger", "image": "busybox"}],
    }));
    let patch = mutate(&debug);
    assert!(
        patch.iter().all(|op| !op.path().contains("ephemeral")),
        "{patch:?}"
    );
    assert_eq!(
        mutated(&debug)["spec"]["ephemeralContainers"],
        json!([{"name": "debugger", "image": "busybox"}])
    );
}

#[test]
fn containers_that_set_a_variable_are_left_alone() {
    for variable in [CREDENTIALS_URI_VARIABLE, TOKEN_FILE_VARIABLE] {
        let own = json!([{"name": variable, "value": "mine"}]);
        let mixed = pod(json!({
            "containers": [{"name": "own", "env": own}, {"name": "app"}],
        }));
        let patched = mutated(&mixed);
        assert_eq!(
            patched["spec"]["containers"][0],
            json!({"name": "own", "env": own})
        );
        assert_eq!(patched["spec"]["containers"][1]["env"], variables());
    }
}

#[test]
fn nothing_to_change_is_an_empty_patch() {
    let configured = pod(json!({
        "containers": [{"name": "app", "env": [{"name": TOKEN_FILE_VARIABLE, "value": "/t"}]}],
    }));
    assert_eq!(mutate(&configured), vec![]);
    let skipped = annotated(
        json!({SKIP_CONTAINERS_ANNOTATION: "app"}),
        json!({"containers": [{"name": "app"}]}),
    );
    assert_eq!(mutate(&skipped), vec![]);
}

#[test]
fn skip_containers_names_containers_and_init_containers() {
    let skipping = annotated(
        json!({SKIP_CONTAINERS_ANNOTATION: "sidecar, migrate ,,"}),
        json!({
            "initContainers": [{"name": "migrate"}, {"name": "warmup"}],
            "containers": [{"name": "app"}, {"name": "sidecar"}],
        }),
    );
    let patched = mutated(&skipping);
    assert_eq!(patched["spec"]["containers"][0]["env"], variables());
    assert_eq!(patched["spec"]["containers"][1], json!({"name": "sidecar"}));
    assert_eq!(
        patched["spec"]["initContainers"][0],
        json!({"name": "migrate"})
    );
    assert_eq!(patched["spec"]["initContainers"][1]["env"], variables());
}

#[test]
fn token_expiration_annotation_sets_the_lifetime() {
    let cases = [
        ("3600", 3600_u64),
        ("+7200", 7200),
        ("600", 600),
        ("599", 600),
        ("0", 600),
        ("-5", 600),
        ("4294967296", 4_294_967_296),
        ("4294967297", 4_294_967_296),
        ("abc", 86400),
        ("1h", 86400),
        (" 3600", 86400),
        ("", 86400),
        ("99999999999999999999", 86400),
    ];
    for (annotation, expected) in cases {
        let timed = annotated(
            json!({TOKEN_EXPIRATION_ANNOTATION: annotation}),
            json!({"containers": [{"name": "app"}]}),
        );
        let patched = mutated(&timed);
        let token = &patched["spec"]["volumes"][0]["projected"]["sources"][0];
        assert_eq!(
            token["serviceAccountToken"]["expirationSeconds"],
            json!(expected),
            "annotation {annotation:?}"
        );
    }
}

#[test]
fn the_default_lifetime_comes_from_the_settings() {
    let settings = MutationSettings {
        credentials_uri: URI.into(),
        default_token_expiration: 3600,
    };
    let plain = pod(json!({"containers": [{"name": "app"}]}));
    let patch = mutate_pod(&plain, &settings).unwrap();
    assert_eq!(
        patch.last(),
        Some(&add("/spec/volumes", json!([volume_of(3600)])))
    );
}

#[test]
fn ipv6_clusters_get_the_ipv6_address() {
    let settings = MutationSettings::for_family(IpFamily::Ipv6);
    let plain = pod(json!({"containers": [{"name": "app"}]}));
    let patched = apply_patch(&plain, &mutate_pod(&plain, &settings).unwrap()).unwrap();
    assert_eq!(
        patched["spec"]["containers"][0]["env"][0],
        json!({"name": CREDENTIALS_URI_VARIABLE, "value": "http://[fd00:ec2::23]/v1/credentials"})
    );
}

#[test]
fn an_existing_volume_is_not_added_twice() {
    let own_volume = json!({"name": "eks-pod-identity-token", "emptyDir": {}});
    let with_volume = pod(json!({
        "containers": [{"name": "app"}],
        "volumes": [own_volume],
    }));
    assert_eq!(
        mutate(&with_volume),
        vec![
            add("/spec/containers/0/env", variables()),
            add("/spec/containers/0/volumeMounts", json!([mount()])),
        ]
    );
    assert_eq!(
        mutated(&with_volume)["spec"]["volumes"],
        json!([own_volume])
    );
}

#[test]
fn an_existing_mount_is_not_added_twice() {
    let by_name = json!({"name": "eks-pod-identity-token", "mountPath": "/token"});
    let at_path = json!({"name": "own-token", "mountPath": format!("{MOUNT_PATH}/")});
    let mounting = pod(json!({
        "containers": [
            {"name": "by-name", "volumeMounts": [by_name]},
            {"name": "at-path", "volumeMounts": [at_path]},
        ],
        "volumes": [{"name": "own-token", "emptyDir": {}}],
    }));
    let patched = mutated(&mounting);
    let containers = &patched["spec"]["containers"];
    assert_eq!(containers[0]["volumeMounts"], json!([by_name]));
    assert_eq!(containers[1]["volumeMounts"], json!([at_path]));
    assert_eq!(containers[0]["env"], variables());
    assert_eq!(containers[1]["env"], variables());
    // The mount by name needs the volume; the other container has its own.
    assert_eq!(
        patched["spec"]["volumes"][1]["name"],
        json!("eks-pod-identity-token")
    );
}

#[test]
fn a_mount_at_the_path_alone_needs_no_volume() {
    let at_path = json!({"name": "own-token", "mountPath": MOUNT_PATH});
    let mounting = pod(json!({
        "containers": [{"name": "app", "volumeMounts": [at_path]}],
        "volumes": [{"name": "own-token", "emptyDir": {}}],
    }));
    assert_eq!(
        mutate(&mounting),
        vec![add("/spec/containers/0/env", variables())]
    );
}

// === pods that are not pods ===

#[test]
fn shape_errors_name_the_field() {
    let cases = [
        (json!([]), "the pod must be an object, not an array"),
        (json!({"metadata": {}}), "spec is missing"),
        (json!({"spec": "x"}), "spec must be an object, not a string"),
        (pod(json!({})), "spec.containers is missing"),
        (
            pod(json!({"containers": {}})),
            "spec.containers must be an array, not an object",
        ),
        (
            pod(json!({"containers": [7]})),
            "spec.containers[0] must be an object, not a number",
        ),
        (
            pod(json!({"containers": [{"image": "x"}]})),
            "spec.containers[0].name is missing",
        ),
        (
            pod(json!({"containers": [{"name": ""}]})),
            "spec.containers[0].name is empty",
        ),
        (
            pod(json!({"containers": [{"name": "a"}, {"name": true}]})),
            "spec.containers[1].name must be a string, not a boolean",
        ),
        (
            pod(json!({"containers": [{"name": "a"}], "initContainers": "b"})),
            "spec.initContainers must be an array, not a string",
        ),
        (
            pod(json!({"containers": [{"name": "a", "env": [{"value": "v"}]}]})),
            "spec.containers[0].env[0].name is missing",
        ),
        (
            pod(json!({"containers": [{"name": "a", "env": {"A": "b"}}]})),
            "spec.containers[0].env must be an array, not an object",
        ),
        (
            pod(json!({"containers": [{"name": "a", "volumeMounts": [null]}]})),
            "spec.containers[0].volumeMounts[0] must be an object, not null",
        ),
        (
            pod(json!({"containers": [{"name": "a", "volumeMounts": [
                {"name": "m", "mountPath": 1}]}]})),
            "spec.containers[0].volumeMounts[0].mountPath must be a string, not a number",
        ),
        (
            pod(json!({"containers": [{"name": "a"}], "volumes": [{"emptyDir": {}}]})),
            "spec.volumes[0].name is missing",
        ),
        (
            json!({"metadata": [], "spec": {"containers": []}}),
            "metadata must be an object, not an array",
        ),
        (
            annotated(json!("a=b"), json!({"containers": []})),
            "metadata.annotations must be an object, not a string",
        ),
        (
            annotated(
                json!({TOKEN_EXPIRATION_ANNOTATION: 3600}),
                json!({"containers": []}),
            ),
            "metadata.annotations.eks.amazonaws.com/token-expiration must be a string, not a \
             number",
        ),
    ];
    for (document, expected) in cases {
        let error = mutate_pod(&document, &MutationSettings::default()).unwrap_err();
        assert_eq!(error.to_string(), expected, "{document}");
    }
}

#[test]
fn shape_errors_carry_the_path() {
    let error = mutate_pod(
        &pod(json!({"containers": [{}]})),
        &MutationSettings::default(),
    );
    assert_eq!(
        error,
        Err(PodError::Missing {
            path: "spec.containers[0].name".into()
        })
    );
}

#[test]
fn the_service_account_defaults_to_default() {
    let named = pod(json!({"serviceAccountName": "aws-cli-sa", "containers": []}));
    assert_eq!(service_account(&named), Ok("aws-cli-sa"));
    assert_eq!(
        service_account(&pod(json!({"containers": []}))),
        Ok("default")
    );
    let empty = pod(json!({"serviceAccountName": "", "containers": []}));
    assert_eq!(service_account(&empty), Ok("default"));
    let wrong = pod(json!({"serviceAccountName": 3}));
    assert_eq!(
        service_account(&wrong).unwrap_err().to_string(),
        "spec.serviceAccountName must be a string, not a number"
    );
}

// === JSON Patch ===

#[test]
fn pointers_escape_tilde_and_slash() {
    assert_eq!(
        pointer(&["metadata", "annotations", "a.b/c~d"]),
        "/metadata/annotations/a.b~1c~0d"
    );
    assert_eq!(pointer(&[]), "");
    assert_eq!(pointer(&[""]), "/");
}

#[test]
fn patches_apply_as_rfc_6902_says() {
    let document = json!({"a": {"b/c": 1, "m~n": 2, "list": [1, 2]}, "": 0});
    let cases = [
        (
            add("/a/new", json!(3)),
            json!({"a": {"b/c": 1, "m~n": 2, "list": [1, 2], "new": 3}, "": 0}),
        ),
        (
            add("/a/b~1c", json!(9)),
            json!({"a": {"b/c": 9, "m~n": 2, "list": [1, 2]}, "": 0}),
        ),
        (
            add("/a/list/0", json!(0)),
            json!({"a": {"b/c": 1, "m~n": 2, "list": [0, 1, 2]}, "": 0}),
        ),
        (
            add("/a/list/2", json!(3)),
            json!({"a": {"b/c": 1, "m~n": 2, "list": [1, 2, 3]}, "": 0}),
        ),
        (
            add("/a/list/-", json!(3)),
            json!({"a": {"b/c": 1, "m~n": 2, "list": [1, 2, 3]}, "": 0}),
        ),
        (
            add("/", json!(5)),
            json!({"a": {"b/c": 1, "m~n": 2, "list": [1, 2]}, "": 5}),
        ),
        (add("", json!([])), json!([])),
        (
            PatchOperation::Remove {
                path: "/a/m~0n".into(),
            },
            json!({"a": {"b/c": 1, "list": [1, 2]}, "": 0}),
        ),
        (
            PatchOperation::Remove {
                path: "/a/list/0".into(),
            },
            json!({"a": {"b/c": 1, "m~n": 2, "list": [2]}, "": 0}),
        ),
        (
            PatchOperation::Replace {
                path: "/a/list/1".into(),
                value: json!("x"),
            },
            json!({"a": {"b/c": 1, "m~n": 2, "list": [1, "x"]}, "": 0}),
        ),
        (
            PatchOperation::Replace {
                path: "/a/b~1c".into(),
                value: json!(null),
            },
            json!({"a": {"b/c": null, "m~n": 2, "list": [1, 2]}, "": 0}),
        ),
        (
            PatchOperation::Replace {
                path: "".into(),
                value: json!(1),
            },
            json!(1),
        ),
    ];
    for (operation, expected) in cases {
        let patched = apply_patch(&document, std::slice::from_ref(&operation));
        assert_eq!(patched, Ok(expected), "{operation:?}");
    }
}

#[test]
fn patch_errors_say_which_operation_and_why() {
    let document = json!({"a": {"list": [1, 2]}, "n": 1});
    let remove = |path: &str| PatchOperation::Remove { path: path.into() };
    let replace = |path: &str| PatchOperation::Replace {
        path: path.into(),
        value: json!(0),
    };
    let cases = [
        (add("a", json!(1)), PatchProblem::NotAPointer),
        (add("/a/~2", json!(1)), PatchProblem::NotAPointer),
        (add("/a/x~", json!(1)), PatchProblem::NotAPointer),
        (add("/b/c", json!(1)), PatchProblem::Missing("/b".into())),
        (add("/a/list/3", json!(1)), bad_index("3", 2)),
        (add("/a/list/01", json!(1)), bad_index("01", 2)),
        (add("/a/list/-1", json!(1)), bad_index("-1", 2)),
        (add("/a/list/x/y", json!(1)), bad_index("x", 2)),
        (
            add("/n/x", json!(1)),
            PatchProblem::NotAContainer("/n".into()),
        ),
        (remove(""), PatchProblem::RemoveRoot),
        (
            remove("/a/missing"),
            PatchProblem::Missing("/a/missing".into()),
        ),
        (remove("/a/list/2"), bad_index("2", 2)),
        (remove("/a/list/-"), bad_index("-", 2)),
        (
            replace("/a/missing"),
            PatchProblem::Missing("/a/missing".into()),
        ),
        (replace("/a/list/2"), bad_index("2", 2)),
    ];
    for (operation, problem) in cases {
        let patch = [add("/ok", json!(true)), operation.clone()];
        let expected = PatchError {
            index: 1,
            op: operation.name(),
            path: operation.path().into(),
            problem,
        };
        assert_eq!(
            apply_patch(&document, &patch),
            Err(expected),
            "{operation:?}"
        );
    }
}

fn bad_index(index: &str, len: usize) -> PatchProblem {
    PatchProblem::BadIndex {
        index: index.into(),
        len,
    }
}

#[test]
fn patch_error_messages_read_well() {
    let error = apply_patch(&json!({}), &[add("/a/b", json!(1))]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "patch operation 0 (add \"/a/b\"): \"/a\" does not exist"
    );
    let error = apply_patch(&json!([]), &[add("/1", json!(1))]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "patch operation 0 (add \"/1\"): \"1\" is not a position in an array of 0 elements"
    );
}

#[test]
fn operations_have_the_rfc_6902_wire_shape() {
    let patch = vec![
        add("/a", json!({"b": 1})),
        PatchOperation::Remove { path: "/c".into() },
        PatchOperation::Replace {
            path: "/d".into(),
            value: json!([]),
        },
    ];
    let wire = json!([
        {"op": "add", "path": "/a", "value": {"b": 1}},
        {"op": "remove", "path": "/c"},
        {"op": "replace", "path": "/d", "value": []},
    ]);
    assert_eq!(serde_json::to_value(&patch).unwrap(), wire);
    let parsed: Vec<PatchOperation> = serde_json::from_value(wire).unwrap();
    assert_eq!(parsed, patch);
    let unknown = serde_json::from_value::<PatchOperation>(json!({"op": "move", "path": "/a"}));
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("unknown variant `move`")
    );
}
